"""Calibration on validation data: a temperature and bias for the logits (Platt scaling) and a threshold."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from scipy.optimize import minimize, minimize_scalar
from scipy.special import expit
from sklearn.metrics import f1_score, roc_auc_score, roc_curve
from sklearn.model_selection import GroupKFold

from deepfake_detector.config import AGGREGATIONS, MethodHeadConfig, TrainConfig
from deepfake_detector.inference import Predictor
from deepfake_detector.media.frames import read_crops_in_chunks
from deepfake_detector.models.runtime import TemporalTorch
from deepfake_detector.models.spec import (
    TEMPORAL_WEIGHTS,
    EmbeddingRange,
    MethodHead,
    ModelSpec,
    TemporalSpec,
)
from deepfake_detector.scoring import video_scores
from deepfake_detector.train.fit_temporal import train_temporal_head, video_sequences
from deepfake_detector.train.probe import fit_logistic

TEMPERATURE_BOUNDS = (0.05, 20.0)
ECE_FOLDS = 2  # cross-fitted ECE: calibrate on one half of the val items, measure on the other
EMBED_CHUNK = 256  # crops read and embedded at a time
log = logging.getLogger(__name__)


def _nll(logits: np.ndarray, labels: np.ndarray, temperature: float, bias: float = 0.0) -> float:
    p = np.clip(expit(logits / temperature + bias), 1e-7, 1 - 1e-7)
    return float(-np.mean(labels * np.log(p) + (1 - labels) * np.log(1 - p)))


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """The temperature T minimising the negative log-likelihood of sigmoid(logits / T)."""
    return float(minimize_scalar(lambda t: _nll(logits, labels, t), bounds=TEMPERATURE_BOUNDS, method="bounded").x)


def fit_calibration(logits: np.ndarray, labels: np.ndarray, kind: str = "platt") -> tuple[float, float]:
    """(T, b) minimising the negative log-likelihood of sigmoid(logits / T + b). "temperature" keeps b = 0;
    "platt" also fits the bias, which corrects a model that leans to one class (self-blended training makes
    real faces look a little fake), where a temperature alone cannot."""
    temperature = fit_temperature(logits, labels)
    if kind == "temperature":
        return temperature, 0.0
    low, high = np.log(TEMPERATURE_BOUNDS)
    best = minimize(
        lambda x: _nll(logits, labels, np.exp(x[0]), x[1]),
        x0=[np.log(temperature), 0.0],
        bounds=[(low, high), (None, None)],
        method="L-BFGS-B",
    )
    return float(np.exp(best.x[0])), float(best.x[1])


def cross_fitted_ece(logits: np.ndarray, labels: np.ndarray, groups: np.ndarray, kind: str) -> float | None:
    """ECE of calibration fitted on other val items than those measured (folds by item, so a video's frames
    stay together): the calibration error to expect on new data, not the in-sample one."""
    if len(np.unique(groups)) < ECE_FOLDS:
        return None
    probs = np.empty(len(logits))
    for fit_rows, measure_rows in GroupKFold(n_splits=ECE_FOLDS).split(logits, labels, groups):
        temperature, bias = fit_calibration(logits[fit_rows], labels[fit_rows], kind)
        probs[measure_rows] = expit(logits[measure_rows] / temperature + bias)
    return expected_calibration_error(probs, labels)


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


def item_auc(items: pd.DataFrame) -> float:
    return float(roc_auc_score(items["label"], items["prob"])) if items["label"].nunique() == 2 else 0.0


def embed_faces(predictor: Predictor, rows: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Frame logits and embeddings of `rows`' crops, read a chunk at a time so memory stays flat."""
    parts = [
        predictor.logits_and_embeddings(crops)
        for crops in read_crops_in_chunks(rows["crop_path"].tolist(), EMBED_CHUNK)
    ]
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def fit_method_head(
    embeddings: np.ndarray, methods: np.ndarray, cfg: MethodHeadConfig, seed: int = 0
) -> MethodHead | None:
    """A multinomial logistic regression from fake faces' embeddings to their manipulation method, over the
    methods with at least `cfg.min_faces` faces; None (with a warning) when fewer than two methods qualify.
    The standardisation it is fitted with is folded into its weights, so it applies to raw embeddings."""
    counts = pd.Series(methods).value_counts()
    kept = sorted(counts[counts >= cfg.min_faces].index)
    if len(kept) < 2:
        log.warning(
            "train.method_head: the train split's fakes have %s faces per method; it needs two methods "
            "with at least %d faces (method_head.min_faces), so no method head",
            counts.to_dict(),
            cfg.min_faces,
        )
        return None
    rows = np.isin(methods, kept)
    coef, intercept, classes = fit_logistic(embeddings[rows], methods[rows], cfg.regularization, seed)
    if len(kept) == 2:  # scikit-learn keeps one row for two classes: p(second) = sigmoid(row); as a softmax pair
        coef, intercept = np.vstack([-coef / 2, coef / 2]), np.concatenate([-intercept / 2, intercept / 2])
    return MethodHead(
        methods=[str(m) for m in classes],
        coef=coef.tolist(),
        intercept=intercept.tolist(),
        train_faces={str(m): int(counts[m]) for m in kept},
    )


def method_accuracy(head: MethodHead, embeddings: np.ndarray, methods: np.ndarray) -> float | None:
    """The share of fake faces of the head's methods whose most likely method is their own (None: none)."""
    rows = np.isin(methods, head.methods)
    if not rows.any():
        return None
    guessed = np.asarray(head.methods)[head.probabilities(embeddings[rows]).argmax(axis=1)]
    return float(np.mean(guessed == methods[rows]))


def has_videos_of_both_labels(faces: pd.DataFrame) -> bool:
    """The temporal head needs real and fake videos in train (to learn) and in val (to be compared)."""
    for split in ("train", "val"):
        videos = faces[(faces["split"] == split) & (faces["media"] == "video")]
        if videos["label"].nunique() < 2:
            log.warning(
                "train.temporal_head: the %s split has no real and fake videos (images only, or one "
                "class), so the head is not trained; videos use the aggregation rule",
                split,
            )
            return False
    return True


def calibrate_on_validation(model_dir: Path, faces: pd.DataFrame, train_cfg: TrainConfig, seed: int = 0) -> ModelSpec:
    """Fit temperature and bias, threshold, video aggregation and the range of the faces' embeddings (for the
    out-of-distribution check) on the val split, and the method head on the train split's fakes (with
    train.method_head enabled); store them in model.json. With train.temporal_head enabled,
    also train the temporal head and use it for videos if it beats the aggregation rule on validation videos.

    Scores go through the Predictor, so calibration sees exactly what inference will compute.
    """
    val = faces[faces["split"] == "val"].reset_index(drop=True)
    predictor = Predictor(model_dir, backend="torch")
    temporal = train_cfg.temporal_head.enabled and has_videos_of_both_labels(faces)
    logits, embeddings = embed_faces(predictor, val)
    # the train faces the heads learn from, embedded once: every video for the temporal head, fakes for the other
    train = faces[faces["split"] == "train"]
    train = (train if temporal else train[train["label"] == 1]).reset_index(drop=True)
    train_embeddings = embed_faces(predictor, train)[1] if temporal or train_cfg.method_head.enabled else None
    labels = val["label"].to_numpy()
    temperature, bias = fit_calibration(logits, labels, train_cfg.calibration)
    probs = expit(logits / temperature + bias)
    threshold = choose_threshold(probs, labels, train_cfg.threshold_metric)
    frame_scores = val.assign(prob=probs)
    aggregation = train_cfg.video_aggregation
    if aggregation == "auto":  # ties keep the earlier
        aggregation = max(AGGREGATIONS, key=lambda how: item_auc(video_scores(frame_scores, how)))
    validation = {
        "val_frame_auc": float(roc_auc_score(labels, probs)) if len(set(labels)) == 2 else float("nan"),
        "val_ece": expected_calibration_error(probs, labels),
        "val_ece_uncalibrated": expected_calibration_error(expit(logits), labels),
        "val_faces": int(len(val)),
    }
    cross_fitted = cross_fitted_ece(logits, labels, val["item_id"].to_numpy(), train_cfg.calibration)
    if cross_fitted is not None:
        validation["val_ece_cross_fitted"] = cross_fitted
    update = {
        "temperature": temperature,
        "bias": bias,
        "threshold": threshold,
        "temporal_head": None,
        "embedding_range": EmbeddingRange.fit(embeddings, train_cfg.embedding_range),
        "method_head": None,
    }
    if train_cfg.method_head.enabled:
        update["method_head"] = calibrate_method_head(
            train, train_embeddings, val, embeddings, train_cfg.method_head, seed
        )
    if temporal:
        head_spec, head_auc = calibrate_temporal_head(
            model_dir, predictor, train, train_embeddings, frame_scores, embeddings, train_cfg, seed
        )
        rule_auc = item_auc(video_scores(frame_scores, aggregation))
        validation.update(val_item_auc_aggregation=rule_auc, val_item_auc_temporal=head_auc)
        update["temporal_head"] = head_spec
        aggregation = "temporal" if head_auc > rule_auc else aggregation
    spec = ModelSpec.load(model_dir).model_copy(
        update={**update, "video_aggregation": aggregation, "validation": validation}
    )
    spec.save(model_dir)
    return spec


def calibrate_method_head(
    train: pd.DataFrame,
    train_embeddings: np.ndarray,
    val: pd.DataFrame,
    val_embeddings: np.ndarray,
    cfg: MethodHeadConfig,
    seed: int,
) -> MethodHead | None:
    """The method head fitted on the train split's fake faces, with its accuracy on the val split's."""
    fakes, val_fakes = (train["label"] == 1).to_numpy(), (val["label"] == 1).to_numpy()
    head = fit_method_head(train_embeddings[fakes], train.loc[fakes, "method"].astype(str).to_numpy(), cfg, seed)
    if head is None:
        return None
    accuracy = method_accuracy(head, val_embeddings[val_fakes], val.loc[val_fakes, "method"].astype(str).to_numpy())
    log.info("method head over %s: val accuracy %s", head.train_faces, accuracy)
    return head.model_copy(update={"val_accuracy": accuracy})


def calibrate_temporal_head(
    model_dir: Path,
    predictor: Predictor,
    train: pd.DataFrame,
    train_embeddings: np.ndarray,
    val_scores: pd.DataFrame,
    val_embeddings: np.ndarray,
    train_cfg: TrainConfig,
    seed: int,
) -> tuple[TemporalSpec, float]:
    """Train the head on the train split's videos (`train`: the split's faces, `train_embeddings` theirs),
    save it next to the frame model, calibrate it on the val videos. Returns its spec and the val item-level
    AUC it gives (images keep their frame score)."""
    _, sequences, labels = video_sequences(train, train_embeddings)
    cfg = train_cfg.temporal_head
    head = train_temporal_head(sequences, labels, cfg, seed)
    torch.save(head.state_dict(), model_dir / TEMPORAL_WEIGHTS)
    spec = TemporalSpec(
        kind=cfg.kind, input_dim=train_embeddings.shape[1], hidden=cfg.hidden, train_videos=len(sequences)
    )
    scorer = TemporalTorch(model_dir / TEMPORAL_WEIGHTS, predictor.spec.model_copy(update={"temporal_head": spec}))
    items, val_sequences, val_labels = video_sequences(val_scores, val_embeddings)
    val_logits = np.array([scorer.logit(s) for s in val_sequences])
    temperature, bias = fit_calibration(val_logits, val_labels, train_cfg.calibration)
    spec = spec.model_copy(update={"temperature": temperature, "bias": bias})
    head_probs = dict(zip(items, expit(val_logits / temperature + bias), strict=True))
    scored = video_scores(val_scores, lambda rows: head_probs.get(rows["item_id"].iloc[0], rows["prob"].iloc[0]))
    return spec, item_auc(scored)
