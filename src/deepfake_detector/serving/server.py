"""`deepfake serve`: run the BentoML service on a model folder or on the packaged model in the BentoML store."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from deepfake_detector.config import ServeConfig
from deepfake_detector.serving.env import MODEL_DIR_ENV, SERVE_CONFIG_ENV

SERVICE = "deepfake_detector.serving.service:DeepfakeDetector"
STOP_TIMEOUT_S = 30  # graceful shutdown of the server and its workers before they are killed


def serve_command(port: int = 3000, host: str = "127.0.0.1") -> list[str]:
    return [sys.executable, "-m", "bentoml", "serve", SERVICE, "--port", str(port), "--host", host]


def serve_env(
    model_dir: Path | None, config: ServeConfig | None = None, bentoml_home: Path | None = None
) -> dict[str, str]:
    """Environment for the server process: which model, which limits, which BentoML store."""
    env = {**os.environ, "BENTOML_DO_NOT_TRACK": "True"}
    env.pop(MODEL_DIR_ENV, None)
    if model_dir is not None:
        model_dir = Path(model_dir).resolve()
        if not (model_dir / "model.json").is_file():
            raise FileNotFoundError(f"{model_dir}: no model.json; pass a folder written by the train or package stage")
        env[MODEL_DIR_ENV] = str(model_dir)
    if config is not None:
        env[SERVE_CONFIG_ENV] = config.model_dump_json()
    if bentoml_home is not None:
        env["BENTOML_HOME"] = str(Path(bentoml_home).resolve())
    return env


def serve(
    model_dir: Path | None,
    port: int = 3000,
    host: str = "127.0.0.1",
    config: ServeConfig | None = None,
    bentoml_home: Path | None = None,
) -> int:
    """Serve until the server exits or this process gets SIGTERM / SIGINT (Ctrl-C); returns the exit status.

    `model_dir` None serves `deepfake_detector:latest` from the BentoML store in `bentoml_home` (the package
    stage's store, artifacts/bentoml); `config` is params.yaml's `serve` section (defaults when None).
    The server runs in its own process group; a stop signal is forwarded to the whole group (the BentoML
    arbiter and its workers), and nothing of it outlives this function, so the port is free afterwards.
    """
    env = serve_env(model_dir, config, bentoml_home)
    server = subprocess.Popen(serve_command(port, host), env=env, start_new_session=True)
    stopping: list[int] = []

    def forward(signum, _frame):
        stopping.append(signum)
        _signal_group(server, signal.SIGTERM)  # BentoML's graceful shutdown; Ctrl-C means the same here

    previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        code = server.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        stop_group(server)
    if stopping:  # stopped on request: the shell convention for "ended by signal N"
        return 128 + stopping[0]
    return code if code >= 0 else 128 - code


def stop_group(server: subprocess.Popen, timeout_s: float = STOP_TIMEOUT_S) -> None:
    """Stop the server's process group: SIGTERM, then SIGKILL for whatever is left after `timeout_s`."""
    if server.poll() is None:
        _signal_group(server, signal.SIGTERM)
        try:
            server.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            pass
    _signal_group(server, signal.SIGKILL)  # workers left behind by an arbiter that exited
    server.wait()


def _signal_group(server: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(server.pid, sig)
    except ProcessLookupError:  # the group is gone already
        pass
