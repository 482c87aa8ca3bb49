"""The frequency branch: 8x8 block-DCT log-magnitudes of the face through a small CNN, fused with the backbone.

Up-sampling, blending and re-compression leave traces in the DCT spectrum (F3-Net, Qian et al. 2020) that an
RGB backbone trained on little data may not pick up. The DCT is a fixed (non-trainable) stride-8 convolution
whose 64 kernels are the DCT-II basis, so the model exports to plain ONNX (no FFT operators).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from scipy.fft import dct
from torch import nn

from deepfake_detector.models.backbones import build_backbone
from deepfake_detector.models.pretrained import WeightSource
from deepfake_detector.models.probe import ProbeModel

BLOCK = 8  # JPEG's block size: compression artefacts live on this grid
LUMA = (0.299, 0.587, 0.114)  # ITU-R BT.601, as JPEG
LOG_EPS = 1e-4  # keeps log|c| finite on flat blocks
BRANCH_WIDTH = 32  # features the branch adds to the backbone's


def dct_kernels(block: int = BLOCK) -> np.ndarray:
    """(block^2, 1, block, block) kernels: kernel u*block+v is the orthonormal 2-D DCT-II basis (u, v)."""
    basis = dct(np.eye(block), norm="ortho", axis=0)  # basis[u, x]
    return np.einsum("ux,vy->uvxy", basis, basis).reshape(block * block, 1, block, block).astype(np.float32)


class BlockDCT(nn.Module):
    """Normalised RGB -> luma in [0, 1] -> per-block DCT coefficients (N, 64, H/8, W/8) -> log magnitude."""

    def __init__(self, mean: Sequence[float], std: Sequence[float]):
        super().__init__()
        # the model's input is normalised with (mean, std); luma of the original pixels is affine in it
        weight = torch.tensor([w * s for w, s in zip(LUMA, std, strict=True)], dtype=torch.float32).view(1, 3, 1, 1)
        bias = torch.tensor(sum(w * m for w, m in zip(LUMA, mean, strict=True)), dtype=torch.float32)
        self.register_buffer("luma_weight", weight)
        self.register_buffer("luma_bias", bias)
        self.register_buffer("kernels", torch.from_numpy(dct_kernels()))

    def coefficients(self, x: torch.Tensor) -> torch.Tensor:
        luma = (x * self.luma_weight).sum(dim=1, keepdim=True) + self.luma_bias
        return nn.functional.conv2d(luma, self.kernels, stride=BLOCK)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.log(self.coefficients(x).abs() + LOG_EPS)


def _conv(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True))


class FrequencyBranch(nn.Module):
    """Block DCT -> small CNN over the grid of blocks -> pooled (N, BRANCH_WIDTH) features."""

    def __init__(self, mean: Sequence[float], std: Sequence[float], width: int = BRANCH_WIDTH):
        super().__init__()
        self.dct = BlockDCT(mean, std)
        self.cnn = nn.Sequential(
            nn.BatchNorm2d(BLOCK * BLOCK),
            _conv(BLOCK * BLOCK, width),
            _conv(width, width),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
        )
        self.num_features = width

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.cnn(self.dct(x))


class FrequencyFusion(nn.Module):
    """Backbone pre-logit features ++ frequency features -> one logit. Same interface as a timm model
    (forward_features / forward_head(pre_logits) / num_features), so the temporal head can use it too."""

    def __init__(self, backbone: nn.Module, mean: Sequence[float], std: Sequence[float]):
        super().__init__()
        if hasattr(backbone, "reset_classifier"):
            backbone.reset_classifier(0)  # timm: its own classifier is replaced by ours
        self.backbone = backbone
        self.frequency = FrequencyBranch(mean, std)
        self.num_features = backbone.num_features + self.frequency.num_features
        self.classifier = nn.Linear(self.num_features, 1)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        pooled = self.backbone.forward_head(self.backbone.forward_features(x), pre_logits=True)
        return torch.cat([pooled, self.frequency(x)], dim=1)

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        return x if pre_logits else self.classifier(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))


def build_model(
    backbone: str,
    input_size: int,
    mean: Sequence[float],
    std: Sequence[float],
    weights: WeightSource | None = None,
    frequency_branch: bool = False,
    probe_layers: int | None = None,
) -> nn.Module:
    """The frame model model.json describes: the backbone alone, fused with the frequency branch (which
    undoes the input normalisation `mean`/`std` to read the pixels' luma), or, with `probe_layers`, the frozen
    backbone under a linear probe (models/probe.py)."""
    model = build_backbone(backbone, input_size, weights)
    if probe_layers is not None:
        return ProbeModel(model, backbone, input_size, probe_layers)
    return FrequencyFusion(model, mean, std) if frequency_branch else model
