"""Provenance names the code that made an artefact: the last commit changing src/ or stages/, not HEAD, so a
commit that only records results (dvc.lock, metrics, docs) leaves the recorded provenance, and the outputs
that embed it, unchanged."""

from __future__ import annotations

import subprocess
from pathlib import Path

from deepfake_detector.provenance import git_commit


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True).stdout.strip()


def _commit(repo: Path, path: str, text: str) -> str:
    (repo / path).parent.mkdir(parents=True, exist_ok=True)
    (repo / path).write_text(text)
    _git(repo, "add", path)
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", path)
    return _git(repo, "rev-parse", "HEAD")


def test_git_commit_is_the_last_code_change_and_marks_edited_code(tmp_path, monkeypatch):
    _git(tmp_path, "init", "-q")
    code = _commit(tmp_path, "src/pkg/model.py", "x = 1\n")
    _commit(tmp_path, "dvc.lock", "results\n")  # recording results is not a code change
    _commit(tmp_path, "docs/results.md", "numbers\n")
    monkeypatch.chdir(tmp_path)
    assert git_commit() == code
    (tmp_path / "dvc.lock").write_text("being rewritten by dvc repro\n")
    assert git_commit() == code  # a stage running mid-pipeline sees the same
    stage = _commit(tmp_path, "stages/train.py", "main()\n")
    assert git_commit() == stage
    (tmp_path / "src/pkg/model.py").write_text("x = 2\n")
    assert git_commit() == f"{stage}-dirty"
