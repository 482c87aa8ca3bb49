"""The BentoML service as a real `bentoml serve` process: end to end over HTTP, under concurrent load, and
stopped by a signal. The fixture `server` is shared with the browser and OpenAPI tests."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from test_service import BAD_UPLOADS, CONFIG, check_prediction, media  # noqa: F401  (fixture: the demo media)

READY_TIMEOUT_S = 180


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running_server(model_dir: Path, workdir: Path):
    """`deepfake serve`'s function on `model_dir` in a subprocess; yields the base URL, kills the process group
    at the end."""
    port = free_port()
    log, home = workdir / "server.log", workdir / "bentoml_home"
    code = (
        "from pathlib import Path; from deepfake_detector.config import ServeConfig; "
        "from deepfake_detector.serving.server import serve; "
        f"raise SystemExit(serve(Path({str(model_dir)!r}), {port}, '127.0.0.1', "
        f"ServeConfig.model_validate_json({CONFIG.model_dump_json()!r}), Path({str(home)!r})))"
    )
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-c", code], stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url, proc, log)
        yield url
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, 15)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            proc.wait(timeout=10)


@pytest.fixture(scope="module")
def server(tiny_model_dir, tmp_path_factory):
    with running_server(tiny_model_dir, tmp_path_factory.mktemp("server")) as url:
        yield url


def wait_ready(url: str, proc: subprocess.Popen, log: Path) -> None:
    import httpx

    deadline = time.monotonic() + READY_TIMEOUT_S
    while True:
        if proc.poll() is not None:
            pytest.fail(f"server exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            pytest.fail(f"server not ready in {READY_TIMEOUT_S} s:\n{log.read_text()[-3000:]}")
        time.sleep(0.5)


def port_is_free(port: int) -> bool:
    """Nothing listens on the port (connections in TIME_WAIT do not count)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
            s.listen()
        except OSError:
            return False
    return True


@pytest.mark.slow
@pytest.mark.timeout(600)
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "Ctrl-C"])
def test_deepfake_serve_stops_with_its_server_on_a_signal(tiny_model_dir, tmp_path, sig):
    """`deepfake serve` stopped by SIGTERM or Ctrl-C takes the BentoML server and its worker with it: it exits
    with 128 + the signal, no process it started is left, and the port is free."""
    import psutil

    port, log = free_port(), tmp_path / "serve.log"
    cmd = [
        str(Path(sys.executable).parent / "deepfake"),
        "serve",
        "--model",
        str(tiny_model_dir),
        "--port",
        str(port),
        "--params",
        str(tmp_path / "absent.yaml"),
    ]
    env = {**os.environ, "BENTOML_HOME": str(tmp_path / "bentoml")}
    with open(log, "wb") as out:
        cli = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        wait_ready(f"http://127.0.0.1:{port}", cli, log)
        started = psutil.Process(cli.pid).children(recursive=True)
        assert len(started) >= 2, "the BentoML server and at least one worker"
        cli.send_signal(sig)
        assert cli.wait(timeout=120) == 128 + sig, log.read_text()[-3000:]
        _, alive = psutil.wait_procs(started, timeout=5)
        assert alive == [], f"left running: {[p.cmdline() for p in alive]}"
        assert port_is_free(port)
    finally:
        if cli.poll() is None:
            cli.kill()


def http_post(url: str, field: str, path: Path):
    import httpx

    with open(path, "rb") as f:
        return httpx.post(f"{url}/predict_{field}", files={field: (path.name, f.read())}, timeout=120)


@pytest.mark.slow
@pytest.mark.timeout(400)
def test_real_server_end_to_end(server, media):  # noqa: F811
    import httpx

    assert httpx.get(f"{server}/healthz").status_code == 200
    card = httpx.get(f"{server}/model").json()
    assert card["version"] == "test"
    assert card["torch_threads"] == CONFIG.torch_threads  # set in the BentoML worker, which sets no thread env
    assert "Deepfake detector" in httpx.get(f"{server}/").text
    for kind in ("image", "video"):
        response = http_post(server, kind, media[kind])
        assert response.status_code == 200, response.text
        check_prediction(response.json(), kind)
    for field, key, status in BAD_UPLOADS:
        response = http_post(server, field, media[key])
        assert response.status_code == status, (key, response.text)
        assert json.loads(response.text)["error"]


@pytest.mark.slow
@pytest.mark.timeout(400)
def test_real_server_concurrent_requests(server, media):  # noqa: F811
    """24 clients at once (images, videos and bad files mixed): every one answered, and answered right
    (the same probabilities as a request alone, although their face crops were batched together)."""
    import httpx

    expected = {kind: http_post(server, kind, media[kind]).json()["fake_probability"] for kind in ("image", "video")}
    batches_before = httpx.get(f"{server}/model").json()["batching"]["batches"]
    jobs = [("image", "image", 200)] * 16 + [("video", "video", 200)] * 4 + [("image", "text_as_jpg", 415)] * 4
    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        responses = list(pool.map(lambda job: http_post(server, job[0], media[job[1]]), jobs))
    for (_, key, status), response in zip(jobs, responses, strict=True):
        assert response.status_code == status, response.text
        if key in expected:
            assert response.json()["fake_probability"] == pytest.approx(expected[key], abs=1e-6)
            assert response.json()["timings_ms"]["server"] > 0
    batching = httpx.get(f"{server}/model").json()["batching"]
    assert 0 < batching["batches"] - batches_before <= 20, "the 20 good requests go through the batcher"
