"""From logits to verdict scores: the calibrated probability, and the aggregation of a video's frame scores
into one score per item. Inference (the Predictor), calibration (train) and the metrics (evaluate) all score
with these, so they cannot disagree; the aggregation names are config.AGGREGATIONS."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
from scipy.special import expit

from deepfake_detector.config import AGGREGATIONS

CONFIDENT_LEVEL = 0.8  # "confident" aggregation: frames this far from 0.5 (in 2|p-0.5|) count as confident
CONFIDENT_MIN_SHARE = 0.25  # ...and are averaged alone when at least this share of frames is confident

__all__ = [
    "AGGREGATIONS",
    "CONFIDENT_LEVEL",
    "CONFIDENT_MIN_SHARE",
    "aggregate",
    "calibrated_probability",
    "video_scores",
]


def calibrated_probability(logits, temperature: float, bias: float) -> np.ndarray:
    """sigmoid(logit / temperature + bias), in float64: model.json's calibration applied to model outputs."""
    return expit(np.asarray(logits, dtype=np.float64) / temperature + bias)


def aggregate(probs: np.ndarray, how: str) -> float:
    """One video score from frame scores. `confident` (DFDC winner): average only the confident frames
    when enough of them exist, else the mean."""
    if how == "median":
        return float(np.median(probs))
    if how == "max":
        return float(np.max(probs))
    if how == "confident":
        confident = probs[np.abs(probs - 0.5) * 2 >= CONFIDENT_LEVEL]
        if len(confident) >= CONFIDENT_MIN_SHARE * len(probs):
            return float(np.mean(confident))
    return float(np.mean(probs))


def video_scores(frame_scores: pd.DataFrame, how: str | Callable[[pd.DataFrame], float]) -> pd.DataFrame:
    """One row per item: its label and the aggregate of its frame probabilities (images: their one frame).

    `how` is an aggregation rule, or a function of an item's frame rows (e.g. one that runs the temporal head)."""
    grouped = frame_scores.groupby("item_id", sort=True)
    score = how if callable(how) else (lambda rows: aggregate(rows["prob"].to_numpy(), how))
    return pd.DataFrame(
        {
            "label": grouped["label"].first(),
            "prob": pd.Series({item: score(rows) for item, rows in grouped}, dtype=float).rename_axis("item_id"),
            "method": grouped["method"].first(),
            "dataset": grouped["dataset"].first(),
        }
    ).reset_index()
