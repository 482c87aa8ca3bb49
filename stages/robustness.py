"""Stage robustness: the current model and every baseline on the test split under resampling, JPEG, blur,
noise and H.264 re-encoding, by face size, per dataset and per manipulation method. Writes
artifacts/robustness/metrics.json and one CSV + PNG per axis (a column / line per model)."""

import logging
import tempfile
from pathlib import Path

import pandas as pd

from deepfake_detector.config import CURRENT_MODEL, load_params
from deepfake_detector.devices import pin_threads
from deepfake_detector.evaluate import robustness as rb
from deepfake_detector.evaluate.plots import save_curves
from deepfake_detector.evaluate.split_scores import score_frames_and_items
from deepfake_detector.inference import Predictor
from deepfake_detector.io import atomic_path, write_json
from deepfake_detector.logs import UserError, run_stage
from deepfake_detector.media.frames import read_crop
from deepfake_detector.paths import BASELINES_DIR, FACES_CSV, MANIFEST_CSV, ROBUSTNESS_DIR, TRAINED_MODEL_DIR
from deepfake_detector.tables import MANIFEST, load_face_table, read_table

log = logging.getLogger("robustness")
PLOTS = ROBUSTNESS_DIR / "plots"
AXIS_TITLES = {
    "resolution": "crop resampled to (px)",
    "face_px": "detected face size (px, bucket start)",
    "jpeg_quality": "JPEG quality",
    "blur_sigma": "Gaussian blur sigma (px)",
    "noise_std": "Gaussian noise std (0-255)",
    "crf": "H.264 CRF (video level)",
}


def model_dir(name: str) -> Path:
    return TRAINED_MODEL_DIR if name == CURRENT_MODEL else BASELINES_DIR / name / "model"


def write_csv(df: pd.DataFrame, path: Path) -> None:
    with atomic_path(path) as tmp:
        df.to_csv(tmp, index=False)


def main() -> None:
    params = load_params()
    pin_threads(params.compute.threads)
    cfg = params.robustness
    faces = load_face_table(MANIFEST_CSV, FACES_CSV)
    test = faces[faces["split"] == "test"].reset_index(drop=True)
    if test.empty:
        raise UserError("the test split has no faces; check data.split.test in params.yaml")
    predictors = {
        name: Predictor(model_dir(name), backend="torch", detect_device=params.compute.detect_device)
        for name in cfg.models
    }
    crops = [read_crop(p) for p in test["crop_path"]]
    labels = test["label"].to_numpy()
    results = {}
    for name, predictor in predictors.items():
        log.info("%s: %d test faces", name, len(crops))
        frames, items = score_frames_and_items(predictor, test, cfg.batch_size)
        results[name] = {
            **rb.crop_sweeps(predictor, crops, labels, cfg, params.seed),
            "face_px": rb.face_size_aucs(frames, cfg.face_px_edges),
            **rb.breakdown(frames, items, predictor.spec.threshold),
        }
    videos = rb.pick_test_videos(read_table(MANIFEST_CSV, MANIFEST), cfg.max_videos, params.seed)
    log.info("re-encoding %d test videos at CRFs %s", len(videos), cfg.crfs)
    with tempfile.TemporaryDirectory() as workdir:
        crf_aucs, crf_info = rb.crf_sweep(predictors, videos, cfg.crfs, Path(workdir))
    for name in results:
        results[name]["crf"] = crf_aucs[name]
    write_json({**results, "crf_videos": {"n": len(videos), **crf_info}}, ROBUSTNESS_DIR / "metrics.json")
    write_plots(results, cfg.face_px_edges)


def write_plots(results: dict, face_px_edges: list[float]) -> None:
    tables = {axis: rb.axis_table(results, axis) for axis in [*rb.CROP_AXES, "crf"]}
    tables["face_px"] = rb.face_size_table(results, face_px_edges)
    for axis, table in tables.items():
        write_csv(table, PLOTS / f"{axis}.csv")
        curves = {
            model: pd.DataFrame({"level": table["level"].astype(float), "auc": table[model]}).dropna()
            for model in results
        }
        save_curves(curves, "level", "auc", f"AUC vs {AXIS_TITLES[axis]}", PLOTS / f"{axis}.png", xlim=None, marker="o")
        log.info("%s:\n%s", axis, table.to_string(index=False))


if __name__ == "__main__":
    run_stage(main)
