"""Stage package: ONNX export (checked against PyTorch) of the classifier and of MTCNN (for the page's in-browser
check), model card, BentoML model + Bento archive."""

import logging

import numpy as np

from deepfake_detector.config import load_params
from deepfake_detector.devices import pin_threads
from deepfake_detector.inference import Predictor
from deepfake_detector.io import atomic_dir, read_json
from deepfake_detector.logs import run_stage
from deepfake_detector.media.frames import read_crop
from deepfake_detector.model_card import render_model_card
from deepfake_detector.models.export import export_model
from deepfake_detector.paths import (
    BENTO_DIR,
    BENTOML_HOME,
    EVALUATE_DIR,
    FACES_CSV,
    MANIFEST_CSV,
    MODEL_DIR,
    SUMMARIES,
    TRAINED_MODEL_DIR,
)
from deepfake_detector.serving.bento import package_bento
from deepfake_detector.serving.web import export_web_files
from deepfake_detector.tables import load_face_table

log = logging.getLogger("package")
CHECK_CROPS = 16  # real test crops compared between PyTorch and ONNX Runtime, besides random inputs


def check_inputs(predictor: Predictor, seed: int) -> np.ndarray:
    """Random inputs plus real crops, preprocessed exactly as inference does."""
    faces = load_face_table(MANIFEST_CSV, FACES_CSV)
    crops = [read_crop(p) for p in faces["crop_path"].head(CHECK_CROPS)]
    size = predictor.spec.input_size
    noise = np.random.default_rng(seed).standard_normal((4, 3, size, size)).astype(np.float32)
    return np.concatenate([noise, predictor.model_input(crops)])


def main() -> None:
    params = load_params()
    pin_threads(params.compute.threads)
    torch_predictor = Predictor(TRAINED_MODEL_DIR, backend="torch")
    spec = torch_predictor.spec
    metrics = read_json(EVALUATE_DIR / "metrics.json")
    with atomic_dir(MODEL_DIR) as out:
        inputs = check_inputs(torch_predictor, params.seed)
        diff = export_model(torch_predictor, out, inputs, params.package.onnx_opset, params.package.onnx_atol)
        # the page's in-browser check runs MTCNN too (serving/web.py): its three networks ship beside the model
        diff = max(
            diff,
            export_web_files(out, params.package.onnx_opset, params.package.onnx_atol, params.serve.frames_per_video),
        )
        # + when to answer "cannot judge", and how heatmaps are made
        spec.model_copy(update={"judge": params.judge, "explain": params.explain}).save(out)
        card = render_model_card(
            spec, metrics, read_json(SUMMARIES / "download.json")["counts"], params.package.onnx_atol
        )
        (out / "model_card.md").write_text(card)
    labels = {
        "version": spec.version,
        **{k: str(v) for k, v in spec.provenance.items()},
        "trained_on": spec.trained_on_text(),
        **{f"weights_{k}": v for k, v in (spec.weights or {"kind": "none"}).items()},
    }
    bento = package_bento(MODEL_DIR, BENTOML_HOME, BENTO_DIR, labels)
    log.info("model: %s (ONNX, max |diff| %.1e); bento archive: %s", MODEL_DIR, diff, bento)


if __name__ == "__main__":
    run_stage(main)
