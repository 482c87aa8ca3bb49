"""What made an artefact: the code's git commit, the params hash and the data hash (in model cards, Bentos)."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import yaml

UNKNOWN_TIME = "1970-01-01T00:00:00+00:00"
CODE_PATHS = ("src", "stages")  # what turns params and data into artefacts (dvc.yaml's code deps live here)


def _last_code_commit(field: str) -> str | None:
    """`field` (a git log format, e.g. %H) of the last commit that changed CODE_PATHS; None without git."""
    try:
        out = subprocess.run(
            ["git", "log", "-1", f"--format={field}", "--", *CODE_PATHS],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def git_commit() -> str:
    """The last commit that changed the code (src/, stages/), "-dirty" when they differ from it.

    Not HEAD: a commit that only records results (dvc.lock, metrics, docs) must not change the model it
    records, or re-running the pipeline on that commit could never reproduce the committed outputs. Needs the
    history (a shallow clone names its one commit)."""
    commit = _last_code_commit("%H")
    if commit is None:
        return "unknown"
    try:
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no", "--", *CODE_PATHS],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        dirty = ""
    return commit + ("-dirty" if dirty else "")


def git_commit_time() -> str:
    """When git_commit() was committed (ISO 8601): a build time that is the same for every build of it."""
    return _last_code_commit("%cI") or UNKNOWN_TIME


def params_hash(path: str | Path = "params.yaml") -> str:
    data = yaml.safe_load(Path(path).read_text())
    return hashlib.sha256(yaml.safe_dump(data, sort_keys=True).encode()).hexdigest()[:12]


def data_hash(path: str | Path = "data.dvc") -> str:
    """The md5 DVC recorded for data/ (changes whenever the versioned data changes)."""
    path = Path(path)
    if not path.exists():
        return "unknown"
    outs = (yaml.safe_load(path.read_text()) or {}).get("outs", [])
    return str(outs[0].get("md5", "unknown")) if outs else "unknown"


def provenance() -> dict[str, str]:
    return {"git_commit": git_commit(), "params_hash": params_hash(), "data_hash": data_hash()}
