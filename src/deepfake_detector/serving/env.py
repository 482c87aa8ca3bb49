"""Environment variables the service reads at start-up (set by `deepfake serve`, tests, or `docker run -e`)."""

from __future__ import annotations

import os

from deepfake_detector.config import ServeConfig

# The service, its Bento and the stored model share this name (bentofile.yaml's `name` too; a test checks it)
BENTO_NAME = "deepfake_detector"
MODEL_DIR_ENV = "DEEPFAKE_MODEL_DIR"  # a plain model folder instead of the BentoML store
SERVE_CONFIG_ENV = "DEEPFAKE_SERVE_CONFIG"  # ServeConfig as JSON, e.g. '{"max_upload_mb": 20}'


def serve_config() -> ServeConfig:
    raw = os.environ.get(SERVE_CONFIG_ENV)
    return ServeConfig.model_validate_json(raw) if raw else ServeConfig()
