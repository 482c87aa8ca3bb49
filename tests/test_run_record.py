"""scripts/run_record.py: what a script's or benchmark's report records of its run (commit, command)."""

from __future__ import annotations

import sys
from pathlib import Path

from test_provenance import _commit, _git

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))

from run_record import command_line, head_commit  # noqa: E402


def test_a_scripts_run_records_head_and_its_own_folders_edits(tmp_path, monkeypatch):
    """head_commit: HEAD (a script's run depends on more than src/), "-dirty" only for edits to its code paths."""
    _git(tmp_path, "init", "-q")
    _commit(tmp_path, "benchmarks/bench.py", "run()\n")
    head = _commit(tmp_path, "docs/results.md", "numbers\n")
    monkeypatch.chdir(tmp_path)
    assert head_commit(("src", "benchmarks")) == head
    (tmp_path / "docs/results.md").write_text("new numbers\n")  # not code: no mark
    assert head_commit(("src", "benchmarks")) == head
    (tmp_path / "benchmarks/bench.py").write_text("run(faster=True)\n")
    assert head_commit(("src", "benchmarks")) == f"{head}-dirty"


def test_a_recorded_command_runs_again_in_any_checkout(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    argv = [str(tmp_path / "benchmarks/bench.py"), "--out", str(tmp_path / "reports/x"), "--root", "/data/ffpp"]
    assert command_line(argv) == "python benchmarks/bench.py --out reports/x --root /data/ffpp"
