"""`local`: the dataset is already on disk (absolute, or relative to the project root)."""

from __future__ import annotations

from pathlib import Path

from deepfake_detector.config import SourceConfig
from deepfake_detector.data.sources.base import SourceError


def acquire(source: SourceConfig, project_root: Path) -> Path:
    path = Path(source.path or "")
    path = path if path.is_absolute() else project_root / path
    if not path.is_dir():
        raise SourceError(
            f"local source: {path} is not a folder. Put the dataset there in its published layout "
            f"(docs/datasets.md) or point source.path at where it is."
        )
    return path
