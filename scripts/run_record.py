"""What made a report of scripts/ or benchmarks/: the commit, the command and the machine of a run.

Outside src/ on purpose: the pipeline's models record provenance.git_commit(), the last commit that changed
src/ or stages/, so code here can change without making the committed demo outputs stale."""

from __future__ import annotations

import json
import os
import platform
import shlex
import subprocess
import sys
from pathlib import Path


def head_commit(code_paths: tuple[str, ...]) -> str:
    """HEAD, with "-dirty" when `code_paths` differ from it: the commit a script's run records.

    Not provenance.git_commit() (the last commit that changed src/ or stages/, what the pipeline's models record): a
    script's run is also made by its own folder (scripts/, benchmarks/, ablations/)."""

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], capture_output=True, text=True, timeout=10, check=True).stdout.strip()

    try:
        dirty = git("status", "--porcelain", "--untracked-files=no", "--", *code_paths)
        return git("rev-parse", "HEAD") + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def command_line(argv: list[str]) -> str:
    """The command as typed, absolute paths inside the working directory made relative to it (the project
    root), so the command runs again in any checkout."""
    cwd = Path.cwd()

    def relative(arg: str) -> str:
        path = Path(arg)
        return str(path.relative_to(cwd)) if path.is_absolute() and path.is_relative_to(cwd) else arg

    return shlex.join(["python", *map(relative, argv)])


def machine() -> dict[str, object]:
    """The CPU and its load when a benchmark starts: its numbers mean little without them."""
    name = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        names = [line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines() if "model name" in line]
        name = names[0] if names else name
    return {"cpu": name, "cores": os.cpu_count(), "load_average_before": round(os.getloadavg()[0], 2)}


def benchmark_made_by(code_paths: tuple[str, ...] = ("src", "benchmarks")) -> dict[str, object]:
    """Who starts this benchmark run, on what: its command, commit and machine (taken before it loads the CPU)."""
    return {"command": command_line(sys.argv), "git_commit": head_commit(code_paths), **machine()}


def write_benchmark(out: Path, made_by: dict, about: str, rows: list[dict]) -> None:
    """OUT/benchmark.json: who made the run on what (made_by: command, git_commit, machine()), a sentence on
    what the rows measure, and the rows (column -> value; None for a cell that does not apply). The
    `table=benchmark` blocks of the docs render it (scripts/write_results.py)."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "benchmark.json").write_text(json.dumps(made_by | {"about": about, "rows": rows}, indent=2) + "\n")
