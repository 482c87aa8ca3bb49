"""The linear probe (train.finetune.mode linear_probe): one linear layer on a frozen backbone's features.

The features are the pooled features of the backbone's last block (its cls token or average, as its own head
pools them) and, with `layers` > 1, of the blocks before it, each L2-normalised and concatenated (CLIP-based
detectors read intermediate blocks too: low-level traces fade towards the last one). `block_features` is
their one definition: the embed stage caches them and ProbeModel's forward computes them, so a head fitted on
the cache scores the saved model's crops the same.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from deepfake_detector.logs import UserError


class ProbeError(UserError, ValueError):
    """The backbone cannot give the requested features; the message says what to change."""


def block_features(backbone: nn.Module, x: torch.Tensor, layers: int) -> torch.Tensor:
    """(N, D) features: the pooled features of the backbone's last `layers` blocks, each L2-normalised, the
    last block first."""
    if layers == 1:
        pooled = [backbone.forward_head(backbone.forward_features(x), pre_logits=True)]
    else:
        # each block's tokens through the final norm, then pooled by the head (a ViT's cls token or average)
        prefix = backbone.num_prefix_tokens > 0
        blocks = backbone.forward_intermediates(
            x,
            indices=layers,
            norm=True,
            output_fmt="NLC",
            intermediates_only=True,
            return_prefix_tokens=prefix,
        )
        tokens = [torch.cat([b[1], b[0]], dim=1) if prefix else b for b in reversed(blocks)]
        pooled = [backbone.forward_head(t, pre_logits=True) for t in tokens]
    return torch.cat([F.normalize(p, dim=1) for p in pooled], dim=1)


def check_layers(backbone: nn.Module, name: str, layers: int) -> None:
    """Intermediate blocks are read from token models (ViTs): their blocks share one width and one pooling."""
    if layers > 1 and not (hasattr(backbone, "num_prefix_tokens") and hasattr(backbone, "forward_intermediates")):
        raise ProbeError(
            f"train.finetune.probe_layers {layers} reads intermediate blocks of a ViT-style backbone; "
            f"'{name}' is not one: set probe_layers: 1 (its pooled features) or use a ViT"
        )
    depth = len(getattr(backbone, "blocks", []))
    if layers > 1 and layers > depth:
        raise ProbeError(f"train.finetune.probe_layers {layers}: '{name}' has {depth} blocks")


class ProbeModel(nn.Module):
    """A frozen backbone's block features -> one logit. Same interface as a timm model (forward_features /
    forward_head(pre_logits) / num_features), so the embedding, the temporal head and the export work as usual:
    its embedding is the concatenated normalised features."""

    def __init__(self, backbone: nn.Module, name: str, input_size: int, layers: int):
        super().__init__()
        check_layers(backbone, name, layers)
        backbone.reset_classifier(0)
        self.backbone = backbone.eval().requires_grad_(False)
        self.layers = layers
        with torch.no_grad():  # the width of the concatenation (block widths differ in some models)
            self.num_features = block_features(self.backbone, torch.zeros(1, 3, input_size, input_size), layers).shape[
                1
            ]
        self.classifier = nn.Linear(self.num_features, 1)

    def train(self, mode: bool = True) -> ProbeModel:
        super().train(mode)
        self.backbone.eval()  # frozen: no dropout, no batch-norm statistics updates
        return self

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return block_features(self.backbone, x, self.layers)

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        return x if pre_logits else self.classifier(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))
