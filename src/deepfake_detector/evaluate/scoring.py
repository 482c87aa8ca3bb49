"""Scores of a split's face crops and items through the Predictor: what evaluate, robustness and the
ablation script all measure, so they cannot disagree on how an item's verdict is made."""

from __future__ import annotations

import numpy as np
import pandas as pd

from deepfake_detector.inference import Predictor
from deepfake_detector.media.frames import read_crop
from deepfake_detector.scoring import video_scores


def score_faces(predictor: Predictor, faces: pd.DataFrame, batch_size: int) -> tuple[np.ndarray, np.ndarray | None]:
    """Calibrated probabilities (and embeddings, when the temporal head scores videos), read and scored a
    batch at a time so memory stays flat."""
    paths = faces["crop_path"].tolist()
    probs, embeddings = [], []
    for i in range(0, len(paths), batch_size):
        crops = [read_crop(p) for p in paths[i : i + batch_size]]
        batch_probs, batch_embeddings = predictor.score_crops_and_embeddings(crops)
        probs.append(batch_probs)
        if batch_embeddings is not None:
            embeddings.append(batch_embeddings)
    return np.concatenate(probs) if probs else np.zeros(0), np.concatenate(embeddings) if embeddings else None


def score_frames_and_items(predictor: Predictor, faces: pd.DataFrame, batch_size: int
                           ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(frames with a `prob` column, one row per item with its verdict `prob`) for the given face rows."""
    faces = faces.reset_index(drop=True)
    probs, embeddings = score_faces(predictor, faces, batch_size)
    frames = faces.assign(prob=probs)
    items = video_scores(frames, lambda rows: predictor.item_probability(
        rows["media"].iloc[0], rows["prob"].to_numpy(), None if embeddings is None else embeddings[rows.index]))
    return frames, items
