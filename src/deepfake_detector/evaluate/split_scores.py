"""Scores of a split's face crops and items through the Predictor: what evaluate, robustness and the
ablation script all measure, so they cannot disagree on how an item's verdict is made."""

from __future__ import annotations

import numpy as np
import pandas as pd

from deepfake_detector.inference import Predictor
from deepfake_detector.media.frames import read_crops_in_chunks
from deepfake_detector.scoring import video_scores

METHOD_COLUMN = "method_prob."  # + a method name: the method head's probability of it (score_frames_and_items)


def score_faces(predictor: Predictor, faces: pd.DataFrame, batch_size: int) -> tuple[np.ndarray, np.ndarray | None]:
    """Predictor.assess_crops' columns for each face (and the embeddings, when the temporal head scores
    videos), read and scored a batch at a time so memory stays flat."""
    assessed, embeddings = [np.zeros((0, 2 + len(predictor.methods)))], []
    for crops in read_crops_in_chunks(faces["crop_path"].tolist(), batch_size):
        batch, batch_embeddings = predictor.assess_with_embeddings(crops)
        assessed.append(batch)
        if batch_embeddings is not None:
            embeddings.append(batch_embeddings)
    return np.concatenate(assessed), np.concatenate(embeddings) if embeddings else None


def score_frames_and_items(
    predictor: Predictor, faces: pd.DataFrame, batch_size: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(frames with a `prob` column, and one METHOD_COLUMN per method of the method head; one row per item
    with its verdict `prob`) for the given face rows."""
    faces = faces.reset_index(drop=True)
    assessed, embeddings = score_faces(predictor, faces, batch_size)
    methods = {f"{METHOD_COLUMN}{m}": assessed[:, 2 + i] for i, m in enumerate(predictor.methods)}
    frames = faces.assign(prob=assessed[:, 0], **methods)
    items = video_scores(
        frames,
        lambda rows: predictor.item_probability(
            rows["media"].iloc[0], rows["prob"].to_numpy(), None if embeddings is None else embeddings[rows.index]
        ),
    )
    return frames, items
