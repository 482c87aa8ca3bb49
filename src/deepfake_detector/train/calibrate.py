"""Calibration on validation data: a temperature for the logits and a decision threshold."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from scipy.optimize import minimize_scalar
from scipy.special import expit
from sklearn.metrics import f1_score, roc_auc_score, roc_curve

from deepfake_detector.config import TrainConfig
from deepfake_detector.evaluate.metrics import video_scores
from deepfake_detector.inference import Predictor
from deepfake_detector.models.spec import ModelSpec
from deepfake_detector.train.data import read_crop

TEMPERATURE_BOUNDS = (0.05, 20.0)


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """The temperature T minimising the negative log-likelihood of sigmoid(logits / T)."""

    def nll(t: float) -> float:
        p = np.clip(expit(logits / t), 1e-7, 1 - 1e-7)
        return float(-np.mean(labels * np.log(p) + (1 - labels) * np.log(1 - p)))

    return float(minimize_scalar(nll, bounds=TEMPERATURE_BOUNDS, method="bounded").x)


def choose_threshold(probs: np.ndarray, labels: np.ndarray, metric: str = "f1") -> float:
    """The probability threshold that maximises F1 (or Youden's J) on validation data."""
    if metric == "youden":
        fpr, tpr, thresholds = roc_curve(labels, probs)
        return float(np.clip(thresholds[np.argmax(tpr - fpr)], 0.0, 1.0))
    candidates = np.unique(np.round(probs, 4))
    scores = [f1_score(labels, probs >= t, zero_division=0) for t in candidates]
    return float(candidates[int(np.argmax(scores))]) if len(candidates) else 0.5


def expected_calibration_error(probs: np.ndarray, labels: np.ndarray, bins: int = 10) -> float:
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(probs, edges[1:-1]), 0, bins - 1)
    ece = 0.0
    for b in range(bins):
        mask = which == b
        if mask.any():
            ece += mask.mean() * abs(probs[mask].mean() - labels[mask].mean())
    return float(ece)


def calibrate_on_validation(model_dir: Path, faces: pd.DataFrame, train_cfg: TrainConfig) -> ModelSpec:
    """Fit temperature, threshold and video aggregation on the val split; store them in model.json.

    Scores go through the Predictor, so calibration sees exactly what inference will compute.
    """
    val = faces[faces["split"] == "val"]
    predictor = Predictor(model_dir, backend="torch")
    logits = predictor.logits([read_crop(p) for p in val["crop_path"]])
    labels = val["label"].to_numpy()
    temperature = fit_temperature(logits, labels)
    probs = expit(logits / temperature)
    threshold = choose_threshold(probs, labels, train_cfg.threshold_metric)
    frame_scores = val.assign(prob=probs)
    aggregation = train_cfg.video_aggregation
    if aggregation == "auto":
        def video_auc(how: str) -> float:
            videos = video_scores(frame_scores, how)
            return roc_auc_score(videos["label"], videos["prob"]) if videos["label"].nunique() == 2 else 0.0
        aggregation = max(("mean", "median", "confident", "max"), key=video_auc)  # ties keep the earlier
    spec = ModelSpec.load(model_dir).model_copy(update={
        "temperature": temperature,
        "threshold": threshold,
        "video_aggregation": aggregation,
        "validation": {
            "val_frame_auc": float(roc_auc_score(labels, probs)) if len(set(labels)) == 2 else float("nan"),
            "val_ece": expected_calibration_error(probs, labels),
            "val_ece_uncalibrated": expected_calibration_error(expit(logits), labels),
            "val_faces": int(len(val)),
        },
    })
    spec.save(model_dir)
    return spec
