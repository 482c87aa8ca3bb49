"""`fsspec`: a folder or an archive at an fsspec URL (s3://, gs://, az://, ...), copied once into
`<cache_dir>/fsspec/<hash of the url>/`. Protocol packages (s3fs, gcsfs, adlfs) are imported by fsspec
only when needed, so none of them is a dependency of the pipeline."""

from __future__ import annotations

import hashlib
from pathlib import Path

from deepfake_detector.config import SourceConfig
from deepfake_detector.data.sources.base import SourceError, cache_dir, dataset_root, extract, is_archive
from deepfake_detector.io import atomic_dir

FIX = "Copy the data by hand, unpack it and use a 'local' source."
# short timeouts and few retries, so an unreachable store fails in seconds rather than minutes
FAST_FAIL = {"s3": {"config_kwargs": {"connect_timeout": 5, "read_timeout": 60, "retries": {"max_attempts": 2}}}}


def acquire(source: SourceConfig, project_root: Path) -> Path:
    url = str(source.url)
    target = cache_dir(source, project_root, "fsspec") / hashlib.sha256(url.encode()).hexdigest()[:16]
    if target.is_dir():
        return dataset_root(target)
    what = f"fsspec source {url}"
    fs, path = _filesystem(url, what)
    try:
        with atomic_dir(target) as tmp:
            _copy(fs, path, tmp)
    except SourceError:
        raise
    except Exception as err:  # network, permission, missing bucket: the store's own message says which
        raise SourceError(f"{what}: copy failed ({type(err).__name__}: {err}). {FIX}") from None
    return dataset_root(target)


def _filesystem(url: str, what: str):
    try:
        import fsspec
    except ImportError:
        raise SourceError(f"{what}: fsspec is not installed (pip install fsspec). {FIX}") from None
    protocol = url.split("://", 1)[0] if "://" in url else "file"
    try:
        return fsspec.core.url_to_fs(url, **FAST_FAIL.get(protocol, {}))
    except ImportError as err:  # fsspec names the package: "Install s3fs to access S3"
        raise SourceError(f"{what}: the package for '{protocol}://' is missing ({err}). {FIX}") from None
    except ValueError as err:
        raise SourceError(f"{what}: {err}. {FIX}") from None


def _copy(fs, path: str, dest: Path) -> None:
    if not fs.exists(path):
        raise SourceError(f"fsspec source: {path} does not exist on {fs.protocol}. {FIX}")
    if fs.isdir(path):
        fs.get(path.rstrip("/") + "/", str(dest) + "/", recursive=True)  # trailing slashes: copy the contents
        return
    local = dest / Path(path).name
    fs.get_file(path, str(local))
    if is_archive(local):
        extract(local, dest)
        local.unlink()
