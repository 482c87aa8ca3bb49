"""Atomic file and folder writes: a failed stage never leaves half-written outputs behind."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temp path beside `path`; rename it over `path` only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    finally:
        tmp_path.unlink(missing_ok=True)


@contextmanager
def atomic_dir(path: str | Path) -> Iterator[Path]:
    """Yield an empty temp folder beside `path`; it replaces `path` only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        yield tmp
        _move_over(tmp, path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@contextmanager
def resumable_dir(path: str | Path, key: str) -> Iterator[tuple[Path, Path]]:
    """atomic_dir for long stages: yields (out, finished). `out` replaces `path` only if the block succeeds, as
    in atomic_dir; but a failed run leaves `out` and `finished` (the records of the units it completed:
    engines.run_units' resume_dir) beside `path`, and the next run with the same `key` (a hash of everything
    the results depend on: run_key) starts from them. Left-overs of another key are removed first."""
    path = Path(path)
    work = path.parent / f".{path.name}.resume-{key[:16]}"
    for stale in path.parent.glob(f".{path.name}.resume-*"):
        if stale != work:
            shutil.rmtree(stale, ignore_errors=True)
    out, finished = work / "out", work / "finished"
    out.mkdir(parents=True, exist_ok=True)
    finished.mkdir(exist_ok=True)
    yield out, finished  # an exception in the block skips the rest: the work stays for the next run
    _move_over(out, path)
    shutil.rmtree(work)


def _move_over(folder: Path, path: Path) -> None:
    """Put the finished `folder` where `path` is, replacing what was there."""
    if path.exists():
        shutil.rmtree(path)
    os.replace(folder, path)


def run_key(*parts: Any) -> str:
    """A hash of what a stage's results depend on (its units and settings, by repr) and of the package's own
    code, so a resumed run never mixes in work done by other code or other params."""
    digest = hashlib.sha256()
    for part in parts:
        digest.update(repr(part).encode())
    for source in sorted(Path(__file__).parent.rglob("*.py")):
        digest.update(source.read_bytes())
    return digest.hexdigest()


def write_json(data: Any, path: str | Path) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")
    return Path(path)


def read_json(path: str | Path) -> Any:
    return json.loads(Path(path).read_text())
