"""Entry point for `bentoml serve service:DeepfakeDetector` and `bentoml build` (see bentofile.yaml).

Makes `src/` importable (in the repo and inside a built Bento, whose copy keeps this layout) and re-exports
the service; the code lives in src/deepfake_detector/serving/service.py.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "src"))

from deepfake_detector.serving.service import DeepfakeDetector  # noqa: E402

__all__ = ["DeepfakeDetector"]
