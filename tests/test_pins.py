"""Versions are pinned in one place, requirements.lock (with requirements-nodeps.lock for the --no-deps
installs): the Bento's own list (bentofile.yaml) and its image setup script must name the same versions, or the
served image runs other code than the one tested."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
PIN = re.compile(r"^([A-Za-z0-9_.\-\[\]]+)==([^\s#;]+)")


def _name(package: str) -> str:
    """PEP 503's normal form, extras dropped: `PyYAML` and `pyyaml`, `dlib_bin` and `dlib-bin` are one name."""
    return re.sub(r"[-_.]+", "-", package.split("[")[0]).lower()


def _lock(*files: str) -> dict[str, str]:
    pins = {}
    for name in files:
        for line in (ROOT / name).read_text().splitlines():
            match = PIN.match(line.strip())
            if match:
                pins[_name(match[1])] = match[2]
    return pins


def test_the_bentos_packages_are_the_locked_versions():
    locked = _lock("requirements.lock")
    packages = yaml.safe_load((ROOT / "bentofile.yaml").read_text())["python"]["packages"]
    mismatched = {}
    for spec in packages:
        name, version = PIN.match(spec).groups()
        public = version.split("+")[0]  # torch==2.14.1+cpu: the CPU build of the locked 2.14.1
        if locked.get(_name(name)) != public:
            mismatched[name] = (version, locked.get(_name(name), "not in requirements.lock"))
    assert len(packages) >= 19 and not mismatched, mismatched


def test_the_image_setup_script_installs_the_locked_no_deps_packages():
    locked = _lock("requirements-nodeps.lock")
    script = (ROOT / "src/deepfake_detector/serving/bento_setup.sh").read_text()
    installed = {_name(name): version for name, version in re.findall(r"([A-Za-z0-9_.\-]+)==([^\s]+)", script)}
    assert installed and installed == {name: locked[name] for name in installed}, (installed, locked)
