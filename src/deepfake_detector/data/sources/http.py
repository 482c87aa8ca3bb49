"""`http`: a zip/tar(.gz) archive at a URL, downloaded with resume, checked against its sha256 and
extracted into `<cache_dir>/http/<sha256>/`. A re-run with that folder present downloads nothing."""

from __future__ import annotations

import hashlib
from pathlib import Path

import requests

from deepfake_detector.config import SourceConfig
from deepfake_detector.data.sources.base import SourceError, cache_dir, dataset_root, extract
from deepfake_detector.io import atomic_dir

TIMEOUT = (5, 60)  # seconds to connect, seconds between bytes: an unreachable host fails fast
CHUNK = 1 << 20


def acquire(source: SourceConfig, project_root: Path) -> Path:
    url, sha256 = str(source.url), str(source.sha256).lower()
    cache = cache_dir(source, project_root, "http")
    target = cache / sha256
    if target.is_dir():
        return dataset_root(target)
    cache.mkdir(parents=True, exist_ok=True)
    partial = cache / f"{sha256}.part"  # kept across failed runs, so the next run resumes it
    download(url, partial)
    verify(partial, sha256, url)
    with atomic_dir(target) as tmp:
        extract(partial, tmp)
    partial.unlink()
    return dataset_root(target)


def download(url: str, dest: Path) -> None:
    """Fetch `url` into `dest`, asking only for the missing bytes when `dest` holds a partial download."""
    have = dest.stat().st_size if dest.exists() else 0
    headers = {"Range": f"bytes={have}-"} if have else {}
    try:
        with requests.get(url, headers=headers, stream=True, timeout=TIMEOUT) as resp:
            if resp.status_code == 416:  # nothing left to fetch: the partial file is already complete
                return
            resp.raise_for_status()
            resumed = resp.status_code == 206 and resp.headers.get("Content-Range", "").startswith(f"bytes {have}-")
            with dest.open("ab" if resumed else "wb") as out:  # a 200 means the server restarted from byte 0
                for chunk in resp.iter_content(CHUNK):
                    out.write(chunk)
    except requests.RequestException as err:
        raise SourceError(
            f"http source {url}: download failed ({err}). Re-run to resume from {dest}, or download the archive "
            f"by hand, unpack it and use a 'local' source."
        ) from None


def verify(path: Path, sha256: str, url: str) -> None:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            digest.update(block)
    if digest.hexdigest() != sha256:
        path.unlink()  # a corrupt or changed file must not be resumed
        raise SourceError(
            f"http source {url}: sha256 is {digest.hexdigest()}, expected {sha256}. The download is corrupt or "
            f"the archive changed; if the new archive is trusted, put its sha256 in params.yaml."
        )
