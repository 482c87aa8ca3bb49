"""A fingerprint of every local dataset folder outside the project, so DVC re-runs the download stage
when such a folder changes.

DVC hashes `data/` itself (a dependency of the download stage), but a profile may read data in place from
anywhere (the real profile reads ../shared/data), and dvc.yaml cannot list a path that only some profiles
have. The `sources` stage writes this fingerprint on every run; when it is unchanged DVC skips everything
downstream. A file counts as changed when it appears, disappears, or changes size or modification time.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from deepfake_detector.config import DatasetConfig


def folder_fingerprint(root: Path) -> dict:
    """File count, total bytes and a hash over (relative path, size, mtime) of every file under `root`."""
    listing = hashlib.sha256()
    files = total = 0
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        stat = path.stat()
        listing.update(f"{path.relative_to(root).as_posix()}\t{stat.st_size}\t{stat.st_mtime_ns}\n".encode())
        files += 1
        total += stat.st_size
    return {"files": files, "bytes": total, "listing_sha256": listing.hexdigest()}


def fingerprint_sources(datasets: list[DatasetConfig], project_root: Path) -> dict[str, dict]:
    """Per dataset: the fingerprint of a local folder outside the project; None when DVC already tracks it
    (inside the project) or when the source is remote (its url and checksum are params already)."""
    project_root = project_root.resolve()
    result: dict[str, dict] = {}
    for dataset in datasets:
        entry: dict = {"kind": dataset.source.kind, "path": dataset.source.path, "fingerprint": None}
        if dataset.source.kind == "local" and dataset.source.path:
            root = (project_root / dataset.source.path).resolve()
            if not root.is_relative_to(project_root) and root.is_dir():
                entry["fingerprint"] = folder_fingerprint(root)
        result[dataset.name] = entry
    return result
