"""Training the temporal head on frozen frame embeddings of the train split's videos.

Runs after the frame model is trained: each train video becomes the sequence of its faces' embeddings in
frame order (computed through the Predictor, so exactly as inference computes them), and the GRU learns the
video label from it. Calibration and the comparison with plain aggregation happen on validation videos
(train/calibrate.py).
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import torch
from torch import nn
from tqdm import tqdm

from deepfake_detector.config import TemporalHeadConfig
from deepfake_detector.models.temporal import TemporalHead

log = logging.getLogger(__name__)
MIN_STD = 1e-6  # embedding dimensions constant over the training set are left unscaled


def video_sequences(frames: pd.DataFrame, embeddings: np.ndarray) -> tuple[list[str], list[np.ndarray], np.ndarray]:
    """(item ids, one (T, D) sequence per video item, labels). `frames` rows are aligned with `embeddings` and
    sorted by frame within an item (as load_face_table returns them); image items are left out."""
    positions = frames.reset_index(drop=True)
    items, sequences, labels = [], [], []
    for item_id, rows in positions[positions["media"] == "video"].groupby("item_id", sort=True):
        items.append(item_id)
        sequences.append(embeddings[rows.index.to_numpy()])
        labels.append(float(rows["label"].iloc[0]))
    return items, sequences, np.array(labels, dtype=np.float32)


def pad(sequences: list[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
    """Zero-padded (N, T_max, D) batch and the true lengths."""
    lengths = torch.tensor([len(s) for s in sequences])
    batch = torch.zeros(len(sequences), int(lengths.max()), sequences[0].shape[1])
    for i, s in enumerate(sequences):
        batch[i, : len(s)] = torch.from_numpy(np.asarray(s, dtype=np.float32))
    return batch, lengths


def train_temporal_head(
    sequences: list[np.ndarray], labels: np.ndarray, cfg: TemporalHeadConfig, seed: int
) -> TemporalHead:
    """AdamW on BCE, classes weighted to balance; deterministic given `seed`. Returns the head in eval mode."""
    if len(sequences) < 2 or len(np.unique(labels)) < 2:
        raise ValueError(
            f"the temporal head needs real and fake train videos; got {len(sequences)} video(s) "
            f"with labels {sorted(set(labels.tolist()))}. Set train.temporal_head.enabled: false"
        )
    torch.manual_seed(seed)
    stacked = np.concatenate(sequences)
    head = TemporalHead(stacked.shape[1], cfg.hidden, cfg.dropout)
    head.mean.copy_(torch.from_numpy(stacked.mean(axis=0)))
    head.std.copy_(torch.from_numpy(np.maximum(stacked.std(axis=0), MIN_STD)))
    positives = labels.sum()
    loss_fn = nn.BCEWithLogitsLoss(pos_weight=torch.tensor((len(labels) - positives) / positives))
    # fused, as the frame model's (train/module.py): the same update on every CPU
    optimizer = torch.optim.AdamW(head.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay, fused=True)
    rng = np.random.default_rng(seed)
    targets = torch.from_numpy(labels)
    head.train()
    for _ in tqdm(range(cfg.epochs), desc="temporal head", unit="epoch", leave=False):
        order = rng.permutation(len(sequences))
        for start in range(0, len(order), cfg.batch_size):
            chosen = order[start : start + cfg.batch_size]
            batch, lengths = pad([sequences[i] for i in chosen])
            optimizer.zero_grad()
            loss = loss_fn(head(batch, lengths).reshape(-1), targets[chosen])
            loss.backward()
            optimizer.step()
    log.info("temporal head trained on %d videos (%d fake), %d epochs", len(labels), int(positives), cfg.epochs)
    return head.eval()
