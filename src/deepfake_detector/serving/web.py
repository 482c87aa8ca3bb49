"""The in-browser check's files: MTCNN's three networks as ONNX, the facts the page needs about them, and the
page with its model as a folder any static file server can host.

The page (static/local.js) runs the same cascade as media/mtcnn.py and the same crop, resize, normalisation and
calibration as the Predictor, with ONNX Runtime Web. It reads the classifier's facts from the model folder's
own model.json, and the detector's and the video aggregation's from web.json, which `web_facts` derives from
media/mtcnn.py and scoring.py.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import numpy as np

from deepfake_detector.io import write_json
from deepfake_detector.models.spec import ONNX_FILE, SPEC_FILE

log = logging.getLogger(__name__)

WEB_FACTS = "web.json"  # what the page needs besides model.json: web_facts()
# each network's file and output names, in the order facenet-pytorch's modules return them
NETS = {"pnet": ("reg", "prob"), "rnet": ("reg", "prob"), "onet": ("reg", "points", "prob")}
NET_INPUTS = {"pnet": None, "rnet": 24, "onet": 48}  # input side; None: any (P-Net is fully convolutional)
WEB_FILES = (SPEC_FILE, ONNX_FILE, WEB_FACTS, *(f"{net}.onnx" for net in NETS))
WEB_MODEL_URL = "web_model"  # where the page finds WEB_FILES, relative to itself (the service and a static site)
STATIC_DIR = Path(__file__).parent / "static"


def web_facts(frames_per_video: int) -> dict:
    """What the page needs besides model.json: MTCNN's constants as media/mtcnn.py uses them (facenet-pytorch's),
    the "confident" video aggregation's (scoring.py), and how many frames of a video the service samples
    (serve.frames_per_video), so the page judges the same frames."""
    from deepfake_detector import scoring  # both import torch or pandas: the service's arbiter must not
    from deepfake_detector.media import mtcnn

    return {
        "detector": _detector_facts(mtcnn),
        "frames_per_video": frames_per_video,
        "confident": {"level": scoring.CONFIDENT_LEVEL, "min_share": scoring.CONFIDENT_MIN_SHARE},
    }


def _detector_facts(mtcnn) -> dict:
    return {
        "thresholds": list(mtcnn.THRESHOLDS),
        "factor": mtcnn.PYRAMID_FACTOR,
        "cell": mtcnn.PNET_CELL,
        "norm_shift": float(mtcnn.NORM_SHIFT),
        "norm_scale": float(mtcnn.NORM_SCALE),
        "nets": {
            net: {"file": f"{net}.onnx", "outputs": list(outputs), "input_size": NET_INPUTS[net]}
            for net, outputs in NETS.items()
        },
    }


def export_web_files(out: Path, opset: int, atol: float, frames_per_video: int) -> float:
    """The page's files besides the classifier's: MTCNN's P-Net (any height and width), R-Net and O-Net (any
    batch) as ONNX in `out`, each checked against PyTorch on random inputs, and web.json. Returns the largest
    difference."""
    import torch
    from facenet_pytorch import MTCNN  # the weights ship inside the wheel (works offline)

    from deepfake_detector.models.export import check_onnx, export_graph

    reference = MTCNN(keep_all=True, device="cpu")
    rng = np.random.default_rng(0)
    diff = 0.0
    for net, outputs in NETS.items():
        module, side = getattr(reference, net).eval(), NET_INPUTS[net]
        if side is None:
            example = torch.zeros(1, 3, 37, 53)
            dims = {2: torch.export.Dim("height", min=12, max=4096), 3: torch.export.Dim("width", min=12, max=4096)}
            check = rng.uniform(-1, 1, (1, 3, 71, 49)).astype(np.float32)
        else:
            example = torch.zeros(2, 3, side, side)
            dims = {0: torch.export.Dim("batch", min=1, max=4096)}
            check = rng.uniform(-1, 1, (5, 3, side, side)).astype(np.float32)
        path = export_graph(module, example, out / f"{net}.onnx", opset, "input", outputs, dims)
        diff = max(diff, check_onnx(module, path, check, atol))
    write_json(web_facts(frames_per_video), out / WEB_FACTS)
    log.info("MTCNN exported to ONNX for the page: max |diff| %.1e", diff)
    return diff


def missing_web_files(model_dir: Path) -> list[str]:
    return [name for name in WEB_FILES if not (Path(model_dir) / name).is_file()]


def write_site(model_dir: Path, out: Path) -> Path:
    """The page and `model_dir`'s web files as a folder for any static file server: index.html, static/ and
    web_model/. Only the in-browser check works there (there is no server to upload to)."""
    model_dir, out = Path(model_dir), Path(out)
    missing = missing_web_files(model_dir)
    if missing:
        raise FileNotFoundError(
            f"{model_dir}: no {', '.join(missing)}; point --model at the package stage's "
            "output (artifacts/model), which holds the web model files"
        )
    out.mkdir(parents=True, exist_ok=True)
    shutil.copytree(STATIC_DIR, out / "static", dirs_exist_ok=True)
    shutil.copy2(STATIC_DIR / "index.html", out / "index.html")
    (out / WEB_MODEL_URL).mkdir(exist_ok=True)
    for name in WEB_FILES:
        shutil.copy2(model_dir / name, out / WEB_MODEL_URL / name)
    return out
