"""Sources for real: http against a local server, fsspec on its memory store, and the offline failures."""

from __future__ import annotations

import hashlib
import importlib
import io
import socket
import sys
import tarfile
import threading
import time
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from deepfake_detector.config import SourceConfig
from deepfake_detector.data.sources import SourceError, acquire

FILES = {"mydata/real/a.txt": b"real a", "mydata/fake/Deepfakes/b.txt": b"fake b" * 1000}


def make_zip(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buf.getvalue()


def make_tar_gz(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class Server:
    """A local HTTP server with Range support that records every request and the bytes it sent."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.requests: list[tuple[str, str | None]] = []  # (path, Range header)
        self.sent = 0
        self.honour_range = True
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (the stdlib's name)
                server.requests.append((self.path, self.headers.get("Range")))
                data = server.files.get(self.path)
                if data is None:
                    self.send_error(404)
                    return
                start = 0
                if self.headers.get("Range") and server.honour_range:
                    start = int(self.headers["Range"].removeprefix("bytes=").split("-")[0])
                    if start >= len(data):
                        self.send_error(416)
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                else:
                    self.send_response(200)
                self.send_header("Content-Length", str(len(data) - start))
                self.end_headers()
                self.wfile.write(data[start:])
                server.sent += len(data) - start

            def log_message(self, *args):  # keep pytest output quiet
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def serve(self, name: str, data: bytes) -> str:
        self.files[f"/{name}"] = data
        return f"{self.url}/{name}"


@pytest.fixture
def server():
    srv = Server()
    srv.thread.start()
    yield srv
    srv.httpd.shutdown()
    srv.httpd.server_close()


def http_source(tmp_path: Path, url: str, data: bytes, sha256: str | None = None) -> SourceConfig:
    return SourceConfig(kind="http", url=url, sha256=sha256 or sha(data), cache_dir=str(tmp_path / "cache"))


def assert_dataset(root: Path) -> None:
    assert root.name == "mydata"  # the archive's single top folder is the dataset root
    assert (root / "real/a.txt").read_bytes() == FILES["mydata/real/a.txt"]
    assert (root / "fake/Deepfakes/b.txt").read_bytes() == FILES["mydata/fake/Deepfakes/b.txt"]


@pytest.mark.parametrize("name,make", [("data.zip", make_zip), ("data.tar.gz", make_tar_gz)])
def test_http_download_verify_extract_then_cache_hit(tmp_path, server, name, make):
    data = make(FILES)
    source = http_source(tmp_path, server.serve(name, data), data)
    root = acquire(source, tmp_path)
    assert_dataset(root)
    assert root.parent == tmp_path / "cache" / "http" / sha(data)  # the cache is keyed by the checksum
    assert list((tmp_path / "cache" / "http").glob("*.part")) == []
    assert len(server.requests) == 1
    assert acquire(source, tmp_path) == root
    assert len(server.requests) == 1  # cache hit: no request at all


def test_http_bad_checksum(tmp_path, server):
    data = make_zip(FILES)
    source = http_source(tmp_path, server.serve("data.zip", data), data, sha256="0" * 64)
    with pytest.raises(SourceError, match=rf"http source .*data.zip: sha256 is {sha(data)}, expected 0{{64}}"):
        acquire(source, tmp_path)
    cache = tmp_path / "cache" / "http"
    assert list(cache.iterdir()) == []  # neither a dataset folder nor a corrupt partial file is left


def test_http_resumes_partial_download(tmp_path, server):
    data = make_tar_gz({**FILES, "mydata/big.bin": bytes(range(256)) * 400})
    source = http_source(tmp_path, server.serve("data.tar.gz", data), data)
    half = len(data) // 2
    partial = tmp_path / "cache" / "http" / f"{sha(data)}.part"
    partial.parent.mkdir(parents=True)
    partial.write_bytes(data[:half])  # as left by an interrupted run
    assert_dataset(acquire(source, tmp_path))
    assert server.requests == [("/data.tar.gz", f"bytes={half}-")]
    assert server.sent == len(data) - half  # only the missing bytes travelled


def test_http_restarts_when_server_ignores_range(tmp_path, server):
    server.honour_range = False
    data = make_zip(FILES)
    source = http_source(tmp_path, server.serve("data.zip", data), data)
    partial = tmp_path / "cache" / "http" / f"{sha(data)}.part"
    partial.parent.mkdir(parents=True)
    partial.write_bytes(data[:100])
    assert_dataset(acquire(source, tmp_path))
    assert server.sent == len(data)


def test_http_unreachable_fails_fast(tmp_path):
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    source = http_source(tmp_path, f"http://127.0.0.1:{port}/data.zip", b"")
    start = time.monotonic()
    with pytest.raises(SourceError, match=r"http source .*download failed.*use a 'local' source"):
        acquire(source, tmp_path)
    assert time.monotonic() - start < 10


def test_http_refuses_unsafe_archive(tmp_path, server):
    data = make_tar_gz({"../escape.txt": b"x"})
    with pytest.raises(SourceError, match="unsafe member"):
        acquire(http_source(tmp_path, server.serve("evil.tar.gz", data), data), tmp_path)
    assert not (tmp_path / "cache" / "http" / "escape.txt").exists()


def test_local_source(tmp_path):
    (tmp_path / "data" / "ds").mkdir(parents=True)
    assert acquire(SourceConfig(kind="local", path="data/ds"), tmp_path) == tmp_path / "data" / "ds"
    with pytest.raises(SourceError, match=r"local source: .*missing is not a folder"):
        acquire(SourceConfig(kind="local", path="data/missing"), tmp_path)


# --- fsspec ------------------------------------------------------------------------------------------


def test_fsspec_memory_folder_and_archive(tmp_path):
    fsspec = pytest.importorskip("fsspec")
    memory = fsspec.filesystem("memory")
    for name, data in FILES.items():
        memory.pipe(f"/bucket-{tmp_path.name}/{name}", data)
    source = SourceConfig(kind="fsspec", url=f"memory://bucket-{tmp_path.name}", cache_dir=str(tmp_path / "cache"))
    assert_dataset(acquire(source, tmp_path))
    memory.rm(f"/bucket-{tmp_path.name}", recursive=True)
    assert_dataset(acquire(source, tmp_path))  # served from the cache: the store is empty now

    memory.pipe(f"/zips-{tmp_path.name}/data.zip", make_zip(FILES))
    zipped = SourceConfig(kind="fsspec", url=f"memory://zips-{tmp_path.name}/data.zip", cache_dir=str(tmp_path / "c"))
    assert_dataset(acquire(zipped, tmp_path))


def test_fsspec_missing_path(tmp_path):
    source = SourceConfig(kind="fsspec", url="memory://no-such-bucket/x", cache_dir=str(tmp_path / "cache"))
    with pytest.raises(SourceError, match="does not exist"):
        acquire(source, tmp_path)
    assert not (tmp_path / "cache" / "fsspec").exists() or not any((tmp_path / "cache" / "fsspec").iterdir())


@pytest.mark.parametrize("url,package", [("s3://bucket/data", "s3fs"), ("gs://bucket/data", "gcsfs")])
def test_fsspec_protocol_package_missing(tmp_path, url, package, monkeypatch):
    # the package as on a machine without it (the test extras install s3fs): its import fails, and fsspec
    # has no class for the protocol cached from an earlier test
    monkeypatch.setitem(sys.modules, package, None)
    loaded = importlib.import_module("fsspec.registry")._registry  # (`fsspec.registry` is its read-only view)
    monkeypatch.delitem(loaded, url.split("://")[0], raising=False)
    start = time.monotonic()
    with pytest.raises(SourceError, match=rf"fsspec source {url}: the package for .* is missing.*{package}"):
        acquire(SourceConfig(kind="fsspec", url=url, cache_dir=str(tmp_path / "cache")), tmp_path)
    assert time.monotonic() - start < 5


# --- kaggle and huggingface, offline -----------------------------------------------------------------


@pytest.fixture
def no_kaggle_credentials(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    for var in ("KAGGLE_CONFIG_DIR", "KAGGLE_USERNAME", "KAGGLE_KEY", "KAGGLE_API_TOKEN"):
        monkeypatch.delenv(var, raising=False)


def test_kaggle_without_credentials(tmp_path, no_kaggle_credentials):
    source = SourceConfig(kind="kaggle", kaggle="competitions/deepfake-detection-challenge", cache_dir=str(tmp_path))
    with pytest.raises(SourceError, match=r"kaggle source 'competitions/deepfake-detection-challenge': no Kaggle "):
        acquire(source, tmp_path)


def test_kaggle_offline_fails_fast(tmp_path, no_kaggle_credentials, monkeypatch):
    monkeypatch.setenv("KAGGLE_USERNAME", "someone")
    monkeypatch.setenv("KAGGLE_KEY", "0" * 32)
    source = SourceConfig(kind="kaggle", kaggle="someone/deepfake-faces", cache_dir=str(tmp_path))
    start = time.monotonic()
    # without the package: "pip install kaggle"; with it, and no network: "cannot reach"
    with pytest.raises(SourceError, match=r"kaggle source 'someone/deepfake-faces': .*use a 'local' source"):
        acquire(source, tmp_path)
    assert time.monotonic() - start < 15


def test_kaggle_cache_hit_needs_nothing(tmp_path, no_kaggle_credentials):
    cached = tmp_path / "kaggle" / "someone__deepfake-faces" / "faces_224"
    cached.mkdir(parents=True)
    source = SourceConfig(kind="kaggle", kaggle="someone/deepfake-faces", cache_dir=str(tmp_path))
    assert acquire(source, tmp_path) == cached


def test_huggingface_offline_fails_fast(tmp_path, monkeypatch):
    pytest.importorskip("huggingface_hub")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    source = SourceConfig(kind="huggingface", repo_id="someone/no-such-dataset", cache_dir=str(tmp_path))
    start = time.monotonic()
    with pytest.raises(SourceError, match=r"huggingface source 'someone/no-such-dataset': offline .*not in the cache"):
        acquire(source, tmp_path)
    assert time.monotonic() - start < 10


def test_huggingface_offline_uses_cache(tmp_path, monkeypatch):
    pytest.importorskip("huggingface_hub")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    repo = tmp_path / "huggingface" / "datasets--someone--faces"  # huggingface_hub's own cache layout
    revision = "a" * 40
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(revision)
    snapshot = repo / "snapshots" / revision
    (snapshot / "real").mkdir(parents=True)
    (snapshot / "real" / "a.jpg").write_bytes(b"x")
    source = SourceConfig(kind="huggingface", repo_id="someone/faces", cache_dir=str(tmp_path))
    assert acquire(source, tmp_path) == snapshot


def test_huggingface_unreachable_fails_fast(tmp_path, monkeypatch):
    pytest.importorskip("huggingface_hub")
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    source = SourceConfig(kind="huggingface", repo_id="someone/no-such-dataset", cache_dir=str(tmp_path))
    start = time.monotonic()
    with pytest.raises(SourceError, match=r"huggingface source 'someone/no-such-dataset': download failed"):
        acquire(source, tmp_path)
    assert time.monotonic() - start < 15


def test_fingerprint_of_an_outside_folder_changes_with_its_files(tmp_path):
    from deepfake_detector.config import DatasetConfig
    from deepfake_detector.data.sources.fingerprint import fingerprint_sources

    project, outside = tmp_path / "project", tmp_path / "shared" / "set"
    (project / "data" / "demo").mkdir(parents=True)
    outside.mkdir(parents=True)
    (outside / "a.jpg").write_bytes(b"x" * 10)
    datasets = [
        DatasetConfig(name="inside", adapter="folder", source={"kind": "local", "path": "data/demo"}),
        DatasetConfig(name="outside", adapter="folder", source={"kind": "local", "path": "../shared/set"}),
        DatasetConfig(
            name="remote",
            adapter="folder",
            source={"kind": "http", "url": "https://example.org/a.zip", "sha256": "0" * 64},
        ),
    ]
    first = fingerprint_sources(datasets, project)
    assert first["inside"]["fingerprint"] is None  # DVC hashes data/ itself
    assert first["remote"]["fingerprint"] is None  # url and checksum are params already
    assert first["outside"]["fingerprint"]["files"] == 1 and first["outside"]["fingerprint"]["bytes"] == 10
    assert fingerprint_sources(datasets, project) == first  # deterministic
    (outside / "b.jpg").write_bytes(b"y")
    assert fingerprint_sources(datasets, project)["outside"] != first["outside"]


@pytest.mark.slow
def test_dvc_reindexes_when_an_outside_dataset_folder_changes(tmp_path, tiny_corpus):
    """A profile that reads a dataset in place outside the project: DVC skips download while the folder is
    unchanged and re-runs it when a file is added."""
    import shutil

    import yaml
    from pipeline_helpers import commit, copy_project, run

    project, outside = tmp_path / "project", tmp_path / "shared" / "demo"
    copy_project(project)
    shutil.copytree(tiny_corpus, outside)
    (project / "data").mkdir()
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["data"]["datasets"][0]["source"]["path"] = "../shared/demo"
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    run(["git", "init", "-q"], project)
    commit(project, "outside data")
    run(["dvc", "repro", "download"], project)
    items = len((project / "artifacts/manifest.csv").read_text().splitlines())
    again = run(["dvc", "repro", "download"], project)
    assert "Stage 'download' didn't change, skipping" in again.stdout
    shutil.copy(outside / "real/images/id00_img00.jpg", outside / "real/images/added.jpg")
    with (outside / "labels.csv").open("a") as labels:
        labels.write("real/images/added.jpg,real,real,pair00\n")
    changed = run(["dvc", "repro", "download"], project)
    assert "Running stage 'download'" in changed.stdout
    assert len((project / "artifacts/manifest.csv").read_text().splitlines()) == items + 1
