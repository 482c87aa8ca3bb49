"""Stage evaluate: precision, recall, F1, ROC-AUC, AP, accuracy and EER on the test split, frame and video
level, the method head's accuracy per manipulation method, plus ROC/PR/confusion plots. Scores come from the
Predictor, the same path as the CLI and service."""

import logging

import pandas as pd

from deepfake_detector.config import load_params
from deepfake_detector.devices import pin_threads
from deepfake_detector.evaluate.metrics import (
    binary_metrics,
    confusion_counts,
    confusion_rows,
    method_head_metrics,
    pr_points,
    roc_points,
)
from deepfake_detector.evaluate.plots import save_curves
from deepfake_detector.evaluate.split_scores import METHOD_COLUMN, score_frames_and_items
from deepfake_detector.inference import Predictor
from deepfake_detector.io import atomic_path, write_json
from deepfake_detector.logs import UserError, run_stage
from deepfake_detector.paths import EVALUATE_DIR, FACES_CSV, MANIFEST_CSV, TRAINED_MODEL_DIR
from deepfake_detector.tables import MANIFEST, load_face_table, read_table

log = logging.getLogger("evaluate")
PLOTS = EVALUATE_DIR / "plots"


def write_csv(df: pd.DataFrame, path) -> None:
    with atomic_path(path) as tmp:
        df.to_csv(tmp, index=False)


def main() -> None:
    params = load_params()
    pin_threads(params.compute.threads)
    faces = load_face_table(MANIFEST_CSV, FACES_CSV)
    test = faces[faces["split"] == "test"].reset_index(drop=True)
    if test.empty:
        raise UserError("the test split has no faces; check data.split.test in params.yaml")
    predictor = Predictor(TRAINED_MODEL_DIR, backend="torch")
    threshold, how = predictor.spec.threshold, predictor.spec.video_aggregation
    frames, videos = score_frames_and_items(predictor, test, params.evaluate.batch_size)
    manifest = read_table(MANIFEST_CSV, MANIFEST)
    test_items = manifest[manifest["split"] == "test"]
    metrics = {
        "frame": binary_metrics(frames["label"], frames["prob"], threshold),
        "video": binary_metrics(videos["label"], videos["prob"], threshold),
        "video_by_dataset": {d: binary_metrics(g["label"], g["prob"], threshold) for d, g in videos.groupby("dataset")},
        "video_recall_by_method": {
            m: float((g["prob"] >= threshold).mean()) for m, g in videos[videos["label"] == 1].groupby("method")
        },
        "confusion_video": confusion_counts(videos["label"], videos["prob"], threshold),
        "threshold": threshold,
        "video_aggregation": how,
        "test_items": len(test_items),
        "test_items_without_face": int(len(test_items) - len(videos)),
    }
    if predictor.methods:  # which manipulation, on the test fakes (docs/serving.md#manipulation-method)
        columns = {m: f"{METHOD_COLUMN}{m}" for m in predictor.methods}
        metrics["method_head"] = method_head_metrics(frames[frames["label"] == 1], columns)
    write_json(metrics, EVALUATE_DIR / "metrics.json")
    write_csv(videos, EVALUATE_DIR / "predictions.csv")
    write_plots(frames, videos, threshold)
    log.info("frame: %s", {k: metrics["frame"][k] for k in ("roc_auc", "f1", "accuracy")})
    log.info("video: %s", {k: metrics["video"][k] for k in ("roc_auc", "f1", "accuracy")})
    if "method_head" in metrics:
        log.info("method head: video accuracy %s", metrics["method_head"].get("video_accuracy"))


def write_plots(frames: pd.DataFrame, videos: pd.DataFrame, threshold: float) -> None:
    levels = {"frame": frames, "video": videos}
    rocs = {name: roc_points(d["label"], d["prob"]) for name, d in levels.items()}
    prs = {name: pr_points(d["label"], d["prob"]) for name, d in levels.items()}
    for name in levels:
        write_csv(rocs[name], PLOTS / f"roc_{name}.csv")
        write_csv(prs[name], PLOTS / f"pr_{name}.csv")
    write_csv(confusion_rows(videos["label"], videos["prob"], threshold), PLOTS / "confusion_video.csv")
    save_curves(rocs, "fpr", "tpr", "ROC (test split)", PLOTS / "roc.png")
    save_curves(prs, "recall", "precision", "Precision-recall (test split)", PLOTS / "pr.png")


if __name__ == "__main__":
    run_stage(main)
