"""The work of extract_frames (frames.py) and crop_faces (faces.py), one unit at a time: a manifest item -> its
frames, a batch of items' frames -> their face crops. The stages hand these units to an engine (engines.py):
run here one after another, or by Ray workers, the same functions give the same rows. Each worker writes files
under `out` (a folder every worker can reach) and returns a Done: its table rows, and what it skipped and why."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Done:
    """What one unit gave: its table rows, and (file, reason) for each file it skipped."""

    rows: list[dict] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)


def gather(done: list[Done], skip: Callable[[str, str], None]) -> list[dict]:
    """Every unit's rows, in unit order; `skip(file, reason)` (a stage summary's) hears of each skipped file."""
    for result in done:
        for path, reason in result.skipped:
            skip(path, reason)
    return [row for result in done for row in result.rows]
