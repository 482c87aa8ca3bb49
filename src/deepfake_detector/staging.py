"""Object storage between a stage and its Ray workers (compute.ray_storage: an fsspec URL such as s3://bucket/work),
for clusters whose nodes share no filesystem. The stage (on the head node) uploads each unit's input files; a
worker fetches them into its own scratch folder, writes the unit's files there and uploads them; the stage
downloads them into its output folder as results arrive. The output folder, the tables and the DVC cache stay
on the head, with the very bytes the local engine writes (docs/compute.md#object-storage-instead-of-a-shared-folder).

Layout under <ray_storage>/<run>/: `in/<the file's path on the head>` and `out/<unit index>/<the unit's files>`.
The run folder is removed when the stage succeeds; a failed stage leaves it, and its re-run uploads only what
is missing."""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deepfake_detector.logs import UserError


@dataclass(frozen=True)
class Staging:
    """One stage run's folder in object storage. Holds only text, so it pickles to workers; every process opens
    the filesystem itself (fsspec keeps one instance per process)."""

    root: str  # <ray_storage>/<run>

    def _fs(self) -> tuple[Any, str]:
        import fsspec

        try:
            return fsspec.core.url_to_fs(self.root)
        except (ImportError, ValueError) as err:  # fsspec names the package: "Install s3fs to access S3"
            raise UserError(
                f"compute.ray_storage={self.root.rsplit('/', 1)[0]}: {err}. Install the protocol's "
                "package (s3fs, gcsfs, adlfs) or set compute.ray_storage: '' (a shared folder)"
            ) from None

    def _remote(self, fs_root: str, *parts: str) -> str:
        return "/".join([fs_root, *(part.strip("/") for part in parts)])

    def check(self) -> None:
        """Fail before any work if the storage cannot be written (wrong URL, no credentials, no bucket)."""
        fs, root = self._fs()
        probe = self._remote(root, "probe")
        try:
            if _is_folder(fs):
                fs.makedirs(root, exist_ok=True)
            fs.pipe_file(probe, b"ok")
            fs.rm_file(probe)
        except Exception as err:  # each protocol raises its own errors (botocore's, OSError, ...)
            raise UserError(
                f"compute.ray_storage: cannot write {self.root} ({type(err).__name__}: {err}); fix "
                "the URL or the credentials, or set compute.ray_storage: '' (a shared folder)"
            ) from None

    def put_inputs(self, paths: Iterable[str]) -> int:
        """Upload the files workers will read, except those already uploaded (by a failed earlier run) and those
        missing here (the worker then reports them as missing, as the local engine does). Returns the count."""
        fs, root = self._fs()
        there = set(fs.find(self._remote(root, "in")))
        todo = sorted({p for p in paths if Path(p).is_file() and self._remote(root, "in", p) not in there})
        _put(fs, todo, [self._remote(root, "in", p) for p in todo])
        return len(todo)

    def fetch(self, path: str, scratch: Path) -> str:
        """On a worker: a local copy of the head's file `path` (under `scratch`), or `path` itself if the stage
        did not upload it because it does not exist."""
        fs, root = self._fs()
        local = scratch / path.lstrip("/")
        local.parent.mkdir(parents=True, exist_ok=True)
        try:
            fs.get_file(self._remote(root, "in", path), str(local))
        except FileNotFoundError:
            return path
        return str(local)

    def put_outputs(self, index: int, folder: Path) -> None:
        """On a worker: upload every file unit `index` wrote under `folder`."""
        fs, root = self._fs()
        files = sorted(p for p in folder.rglob("*") if p.is_file())
        _put(
            fs,
            [str(p) for p in files],
            [self._remote(root, "out", str(index), p.relative_to(folder).as_posix()) for p in files],
        )

    def get_outputs(self, index: int, out: Path) -> None:
        """On the head: download unit `index`'s files into `out`, where the worker's folder would have been."""
        fs, root = self._fs()
        prefix = self._remote(root, "out", str(index))
        fs.invalidate_cache(prefix)  # the worker wrote them after this process may have listed the folder
        for remote in fs.find(prefix):
            local = out / remote[len(prefix) + 1 :]
            local.parent.mkdir(parents=True, exist_ok=True)
            fs.get_file(remote, str(local))

    def remove(self) -> None:
        fs, root = self._fs()
        if fs.find(root):
            fs.rm(root, recursive=True)


def _put(fs: Any, local: list[str], remote: list[str]) -> None:
    """Upload `local[i]` to `remote[i]` in one call (s3fs, gcsfs send them concurrently)."""
    if not local:
        return
    if _is_folder(fs):
        for parent in {r.rsplit("/", 1)[0] for r in remote}:
            fs.makedirs(parent, exist_ok=True)
    fs.put(local, remote)


def _is_folder(fs: Any) -> bool:
    """A file:// storage (a mounted disk) needs its sub-folders made; object stores have no folders."""
    from fsspec.implementations.local import LocalFileSystem

    return isinstance(fs, LocalFileSystem)


def clear(folder: Path) -> Path:
    """`folder`, empty (a worker's scratch between units, so its disk holds one unit at a time)."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder
