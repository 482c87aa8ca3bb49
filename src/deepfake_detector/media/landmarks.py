"""68-point face landmarks (the iBUG 300-W scheme) inside a detected face box, from dlib's shape predictor.

crop_faces records them once per crop, like the crop square, for what needs the face's outline rather than
MTCNN's 5 points: self-blending's face-shaped mask (train/self_blend.py). The model file ships in the PyPI
package `face_recognition_models` and loads with `dlib-bin` (both offline). dlib's notes say the model's
training data (iBUG 300-W) excludes commercial use: a team that ships a product trains with
`faces.dense_landmarks: false` (MTCNN's 5 points) or brings its own landmark model.
"""

from __future__ import annotations

import importlib.util
import json
import logging
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

POINTS = 68
MODEL_FILE = "shape_predictor_68_face_landmarks.dat"
INSTALL_HINT = "pip install dlib-bin face_recognition_models (both are in requirements.lock)"


def model_path() -> Path | None:
    """The 68-point model inside the installed face_recognition_models package, found without importing it
    (its __init__ imports pkg_resources, which recent setuptools no longer ship)."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "models" / MODEL_FILE
    return path if path.is_file() else None


class Landmarker:
    """dlib's 68-point shape predictor, started from a face box (x1, y1, x2, y2) in image pixels."""

    def __init__(self, path: Path):
        import dlib

        self._dlib = dlib
        self._predictor = dlib.shape_predictor(str(path))

    def __call__(self, rgb: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray:
        """68 x 2 points in image pixels (dlib's are whole pixels). The box may reach past the image."""
        x1, y1, x2, y2 = (int(round(v)) for v in box)
        shape = self._predictor(np.ascontiguousarray(rgb), self._dlib.rectangle(x1, y1, x2, y2))
        return np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float64)


def load_landmarker(enabled: bool) -> Landmarker | None:
    """The 68-point landmarker when `faces.dense_landmarks` asks for it and it is installed; otherwise None,
    saying why (crops then carry MTCNN's 5 points only, which self-blending falls back to)."""
    if not enabled:
        return None
    try:
        import dlib  # noqa: F401  (the binary wheel dlib-bin)
    except ImportError:
        path = None
    else:
        path = model_path()
    if path is None:
        log.warning(
            "68-point landmarks are off: dlib or its model is not installed (%s); self-blending will "
            "use MTCNN's 5 points",
            INSTALL_HINT,
        )
        return None
    return Landmarker(path)


def landmarks_json(points: np.ndarray | None) -> str:
    """faces.csv's `landmarks68` cell: JSON [[x, y] * 68] in frame pixels, "" when none were computed."""
    return "" if points is None else json.dumps(points.tolist())
