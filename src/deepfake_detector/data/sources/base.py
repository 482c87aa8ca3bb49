"""What every source shares: the error type, the cache folder, safe archive extraction."""

from __future__ import annotations

import socket
import tarfile
import zipfile
from pathlib import Path

from deepfake_detector.config import SourceConfig


class SourceError(RuntimeError):
    """A dataset could not be fetched; the message names the source and how to provide the data instead."""


def cache_dir(source: SourceConfig, project_root: Path, kind: str) -> Path:
    folder = Path(source.cache_dir)
    return (folder if folder.is_absolute() else project_root / folder) / kind


def is_archive(path: Path) -> bool:
    return zipfile.is_zipfile(path) or tarfile.is_tarfile(path)


def extract(archive: Path, dest: Path) -> None:
    """Unpack a zip or tar(.gz/.bz2/.xz) into `dest`, refusing members that would land outside it."""
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zf:
            for name in zf.namelist():
                if not (dest / name).resolve().is_relative_to(dest.resolve()):
                    raise SourceError(f"{archive}: member {name} would extract outside {dest}; refusing it")
            zf.extractall(dest)
    elif tarfile.is_tarfile(archive):
        with tarfile.open(archive) as tf:
            try:
                tf.extractall(dest, filter="data")  # rejects absolute paths, "..", links out and devices
            except tarfile.FilterError as err:
                raise SourceError(f"{archive}: unsafe member refused ({err})") from None
    else:
        raise SourceError(f"{archive}: not a zip or tar archive; point the source at a .zip or .tar(.gz)")


def dataset_root(folder: Path) -> Path:
    """Archives usually wrap everything in one top folder: that folder is the dataset root."""
    entries = [p for p in folder.iterdir() if p.name not in ("__MACOSX", ".DS_Store")]
    return entries[0] if len(entries) == 1 and entries[0].is_dir() else folder


def check_reachable(host: str, what: str, fix: str, timeout: float = 5.0) -> None:
    """Fail in seconds, not after a client's long retries, when the host cannot be reached at all."""
    try:
        socket.create_connection((host, 443), timeout=timeout).close()
    except OSError as err:
        raise SourceError(f"{what}: cannot reach {host} ({err}). {fix}") from None
