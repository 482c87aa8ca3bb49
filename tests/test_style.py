"""The code style CI enforces (`make lint`): ruff's rules, the line length pyproject.toml sets, and ruff format."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def python_folders() -> list[str]:
    """The folders `make lint` checks, read from the Makefile so the two cannot drift apart."""
    return re.search(r"^PY_DIRS := (.+)$", (ROOT / "Makefile").read_text(), re.M)[1].split()


def ruff(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ruff", *args, *python_folders()], cwd=ROOT, capture_output=True, text=True, timeout=300
    )


def test_ruff_rules_pass_including_the_line_length():
    done = ruff("check", "--output-format", "concise")
    assert done.returncode == 0, done.stdout + done.stderr


def test_code_is_ruff_formatted():
    done = ruff("format", "--check")
    assert done.returncode == 0, f"run `ruff format {' '.join(python_folders())}`:\n{done.stdout}{done.stderr}"
