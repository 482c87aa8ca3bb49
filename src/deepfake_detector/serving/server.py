"""`deepfake serve`: run the BentoML service on a model folder or on the packaged model in the BentoML store."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from deepfake_detector.config import ServeConfig
from deepfake_detector.serving.env import MODEL_DIR_ENV, SERVE_CONFIG_ENV

SERVICE = "deepfake_detector.serving.service:DeepfakeDetector"


def serve_command(port: int = 3000, host: str = "127.0.0.1") -> list[str]:
    return [sys.executable, "-m", "bentoml", "serve", SERVICE, "--port", str(port), "--host", host]


def serve_env(model_dir: Path | None, config: ServeConfig | None = None, bentoml_home: Path | None = None) -> dict[str, str]:
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


def serve(model_dir: Path | None, port: int = 3000, host: str = "127.0.0.1", config: ServeConfig | None = None,
          bentoml_home: Path | None = None) -> int:
    """Serve until interrupted; returns the server's exit code.

    `model_dir` None serves `deepfake_detector:latest` from the BentoML store in `bentoml_home` (the package
    stage's store, artifacts/bentoml); `config` is params.yaml's `serve` section (defaults when None).
    """
    env = serve_env(model_dir, config, bentoml_home)
    try:
        return subprocess.call(serve_command(port, host), env=env)
    except KeyboardInterrupt:  # Ctrl-C reaches the server too; it shuts down on its own
        return 130
