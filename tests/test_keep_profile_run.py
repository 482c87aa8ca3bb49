"""scripts/keep_profile_run.py keeps only what the profile's run made: a later stage whose outputs are still the
ones another model left (a profile run down to evaluate in the demo's checkout) is reported as not run, and
its outputs are not copied."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT_ROOT / "scripts"))

import keep_profile_run  # noqa: E402

# write.py PATH: writes the length of model.txt's text as PATH's JSON, so an output shows which model made it.
WRITE_PY = """import json, pathlib, sys
path = pathlib.Path(sys.argv[1])
path.parent.mkdir(parents=True, exist_ok=True)
path.write_text(json.dumps({"model": len(pathlib.Path("model.txt").read_text()), "provenance": {"git_commit": "abc"}}))
"""
# A pipeline shaped like the project's: train and evaluate from the model's input, robustness after them.
DVC_YAML = """stages:
  evaluate:
    cmd: {python} write.py artifacts/evaluate/metrics.json && {python} write.py artifacts/train/metrics.json
      && {python} write.py artifacts/train/model/model.json
    deps: [model.txt, write.py]
    outs: [artifacts/evaluate/metrics.json, artifacts/train/metrics.json, artifacts/train/model/model.json]
  robustness:
    cmd: {python} write.py artifacts/robustness/metrics.json
    deps: [model.txt, write.py, artifacts/evaluate/metrics.json]
    outs: [artifacts/robustness/metrics.json]
"""


def _dvc(*args: str, cwd: Path) -> None:
    subprocess.run([sys.executable, "-m", "dvc", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture()
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    _dvc("init", "--no-scm", cwd=tmp_path)
    (tmp_path / "dvc.yaml").write_text(DVC_YAML.format(python=sys.executable))  # the venv's, whatever PATH says
    (tmp_path / "write.py").write_text(WRITE_PY)
    (tmp_path / "params.yaml").write_text("seed: 1\n")
    (tmp_path / "model.txt").write_text("the demo's model")
    _dvc("repro", cwd=tmp_path)  # the demo: every stage ran on its model
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_a_stage_run_on_this_model_is_kept(project: Path) -> None:
    files, not_run = keep_profile_run.copies("p")
    assert not_run == ["baselines", "package"]  # no outputs at all
    assert files[Path("artifacts/robustness/metrics.json")] == "robustness.json"


def test_outputs_another_model_left_are_not_the_runs(project: Path) -> None:
    (project / "model.txt").write_text("the profile's model")
    _dvc("repro", "evaluate", cwd=project)  # the profile's run stops after evaluate
    files, not_run = keep_profile_run.copies("p")
    assert not_run == ["robustness", "baselines", "package"]
    assert Path("artifacts/robustness/metrics.json") not in files
    assert json.loads((project / "artifacts/robustness/metrics.json").read_text())["model"] == len("the demo's model")
