"""The temporal head: a GRU over a video's per-frame embeddings (in frame order) -> one video logit.

Plain aggregation (mean, median, ...) only sees the set of frame scores; the GRU sees their order, so it can
use what changes between frames (flicker of a blended face, identity drift) that no frame shows alone.
"""

from __future__ import annotations

import torch
from torch import nn


class TemporalHead(nn.Module):
    """(N, T, D) embeddings -> (N, 1) logits. `lengths` marks padding (training); inference passes one whole video."""

    def __init__(self, input_dim: int, hidden: int, dropout: float = 0.0):
        super().__init__()
        # standardisation fitted on the training embeddings (buffers: stored with the weights, not trained)
        self.register_buffer("mean", torch.zeros(input_dim))
        self.register_buffer("std", torch.ones(input_dim))
        self.project = nn.Sequential(nn.Linear(input_dim, hidden), nn.ReLU(), nn.Dropout(dropout))
        self.gru = nn.GRU(hidden, hidden, batch_first=True)  # one direction: outputs never see the padding after them
        self.classifier = nn.Sequential(nn.Dropout(dropout), nn.Linear(2 * hidden, 1))

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        outputs, _ = self.gru(self.project((x - self.mean) / self.std))
        if lengths is None:
            pooled, last = outputs.mean(dim=1), outputs[:, -1]
        else:
            mask = (torch.arange(x.shape[1])[None, :] < lengths[:, None]).unsqueeze(-1).float()
            pooled = (outputs * mask).sum(dim=1) / lengths[:, None].float()
            last = outputs[torch.arange(len(lengths)), lengths - 1]
        return self.classifier(torch.cat([pooled, last], dim=1))
