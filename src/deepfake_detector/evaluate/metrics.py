"""Binary detection metrics (scikit-learn) at frame and video level (item scores: scoring.video_scores), and
the curves behind the plots."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import bootstrap
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    confusion_matrix,
    f1_score,
    precision_recall_curve,
    precision_score,
    recall_score,
    roc_auc_score,
    roc_curve,
)


def equal_error_rate(labels: np.ndarray, probs: np.ndarray) -> float:
    fpr, tpr, _ = roc_curve(labels, probs)
    fnr = 1 - tpr
    i = int(np.nanargmin(np.abs(fnr - fpr)))
    return float((fpr[i] + fnr[i]) / 2)


def roc_auc_or_none(labels, probs) -> float | None:
    """ROC-AUC, or None unless both classes are present (an empty or one-class set has no ranking)."""
    labels = np.asarray(labels, dtype=int)
    return float(roc_auc_score(labels, np.asarray(probs, dtype=float))) if len(np.unique(labels)) == 2 else None


def _pairwise_auc(fakes: np.ndarray, reals: np.ndarray, axis: int = -1) -> np.ndarray:
    """ROC-AUC as P(fake scores above real) + half the ties, over the last axis (batched for the bootstrap)."""
    above = np.mean(fakes[..., :, None] > reals[..., None, :], axis=(-2, -1))
    ties = np.mean(fakes[..., :, None] == reals[..., None, :], axis=(-2, -1))
    return above + 0.5 * ties


def auc_confidence_interval(
    labels, probs, level: float = 0.95, resamples: int = 2000, seed: int = 0
) -> tuple[float, float] | None:
    """Percentile bootstrap interval of the ROC-AUC, fakes and reals resampled separately (both classes stay
    in every resample). On a 14-video test set it is about +-0.2 wide: differences inside it are noise."""
    labels, probs = np.asarray(labels, dtype=int), np.asarray(probs, dtype=float)
    if len(np.unique(labels)) < 2:
        return None
    result = bootstrap(
        (probs[labels == 1], probs[labels == 0]),
        _pairwise_auc,
        vectorized=True,
        batch=200,
        confidence_level=level,
        n_resamples=resamples,
        method="percentile",
        rng=seed,
    )
    return float(result.confidence_interval.low), float(result.confidence_interval.high)


def binary_metrics(labels: np.ndarray, probs: np.ndarray, threshold: float) -> dict[str, float | int | None]:
    """Threshold metrics at `threshold`, ranking metrics (AUC, AP, EER) when both classes are present."""
    labels = np.asarray(labels, dtype=int)
    probs = np.asarray(probs, dtype=float)
    predicted = (probs >= threshold).astype(int)
    both = len(np.unique(labels)) == 2
    return {
        "n": int(len(labels)),
        "n_fake": int(labels.sum()),
        "n_real": int((labels == 0).sum()),
        "accuracy": float(accuracy_score(labels, predicted)) if len(labels) else None,
        "precision": float(precision_score(labels, predicted, zero_division=0)),
        "recall": float(recall_score(labels, predicted, zero_division=0)),
        "f1": float(f1_score(labels, predicted, zero_division=0)),
        "roc_auc": roc_auc_or_none(labels, probs),
        "average_precision": float(average_precision_score(labels, probs)) if both else None,
        "eer": equal_error_rate(labels, probs) if both else None,
    }


def roc_points(labels: np.ndarray, probs: np.ndarray) -> pd.DataFrame:
    fpr, tpr, thresholds = roc_curve(labels, probs)
    return pd.DataFrame({"fpr": fpr, "tpr": tpr, "threshold": np.clip(thresholds, 0, 1)})


def pr_points(labels: np.ndarray, probs: np.ndarray) -> pd.DataFrame:
    precision, recall, _ = precision_recall_curve(labels, probs)
    return pd.DataFrame({"recall": recall, "precision": precision})


def confusion_rows(labels: np.ndarray, probs: np.ndarray, threshold: float) -> pd.DataFrame:
    """actual/predicted pairs, the format of DVC's confusion-matrix template."""
    names = np.array(["real", "fake"])
    return pd.DataFrame(
        {
            "actual": names[np.asarray(labels, dtype=int)],
            "predicted": names[(np.asarray(probs) >= threshold).astype(int)],
        }
    )


def confusion_counts(labels: np.ndarray, probs: np.ndarray, threshold: float) -> list[list[int]]:
    return confusion_matrix(labels, (np.asarray(probs) >= threshold).astype(int), labels=[0, 1]).tolist()


def method_head_metrics(fakes: pd.DataFrame, columns: dict[str, str]) -> dict:
    """How well the method head names the manipulation of fake faces whose method it knows. `fakes`: frame rows
    with `item_id`, `method` and, per method of the head, a column of its probability (`columns`: method ->
    column). Frame level, and video level (an item's frame probabilities averaged, as Predictor.manipulation
    does): accuracy, recall per method, and the video confusion counts (rows: true method, columns: the
    head's, both in `columns`' order). Fakes of methods it never trained on are only counted."""
    methods = list(columns)
    known = fakes[fakes["method"].isin(methods)]
    result = {
        "methods": methods,
        "unknown_methods": sorted(set(fakes["method"]) - set(methods)),
        "frames": int(len(known)),
        "videos": int(known["item_id"].nunique()),
    }
    if known.empty:
        return result
    frame_guess = np.asarray(methods)[known[list(columns.values())].to_numpy().argmax(axis=1)]
    items = known.groupby("item_id").agg(method=("method", "first"), **{m: (c, "mean") for m, c in columns.items()})
    video_guess = np.asarray(methods)[items[methods].to_numpy().argmax(axis=1)]
    recalls = recall_score(items["method"], video_guess, labels=methods, average=None, zero_division=0)
    return {
        **result,
        "frame_accuracy": float(accuracy_score(known["method"], frame_guess)),
        "video_accuracy": float(accuracy_score(items["method"], video_guess)),
        "video_recall_by_method": {
            m: float(r) for m, r in zip(methods, recalls, strict=True) if (items["method"] == m).any()
        },
        "video_confusion": confusion_matrix(items["method"], video_guess, labels=methods).tolist(),
    }
