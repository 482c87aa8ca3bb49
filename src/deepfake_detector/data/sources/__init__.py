"""Sources: fetch a dataset (or find it on disk) and return its local root for the adapter.

Every remote kind caches what it fetched under `source.cache_dir`, so a re-run fetches nothing, and
fails in seconds with a `SourceError` naming the source and the fix when the data cannot be reached.
"""

from __future__ import annotations

from pathlib import Path

from deepfake_detector.config import SourceConfig
from deepfake_detector.data.sources import fsspec, http, huggingface, kaggle, local
from deepfake_detector.data.sources.base import SourceError

FETCHERS = {
    "local": local.acquire,
    "http": http.acquire,
    "kaggle": kaggle.acquire,
    "huggingface": huggingface.acquire,
    "fsspec": fsspec.acquire,
}


def acquire(source: SourceConfig, project_root: Path) -> Path:
    """The local root of the dataset described by `source`, downloading it first if needed."""
    return FETCHERS[source.kind](source, Path(project_root))


__all__ = ["SourceError", "acquire"]
