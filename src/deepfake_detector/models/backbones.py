"""Backbone factory: any timm model as a one-logit (fake) classifier. EfficientNet, Xception, ResNet, ViT..."""

from __future__ import annotations

import os

import timm
import torch
from torch import nn

from deepfake_detector.models.meso import Meso4
from deepfake_detector.models.pretrained import WeightSource, load_into


class BackboneError(RuntimeError):
    pass


def build_backbone(name: str, input_size: int, weights: WeightSource | None = None) -> nn.Module:
    """A timm model (or `meso4`) with a single output logit, from `weights` (models/pretrained.py) or, without
    them, randomly initialised. ViTs are built for `input_size` (fixed patch grid)."""
    if name == "meso4":
        return Meso4()
    if not timm.is_model(name):
        raise BackboneError(f"unknown backbone '{name}'; try one of: meso4, tf_efficientnet_lite0, efficientnet_b0, "
                            "xception41, resnet18, vit_tiny_patch16_224 (any timm model name)")
    kwargs = {"img_size": input_size} if name.startswith(("vit", "deit")) else {}
    model = timm.create_model(name, pretrained=False, num_classes=1, **kwargs)
    return load_into(model, weights) if weights is not None else model


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def load_weights(model: nn.Module, path: str | os.PathLike) -> nn.Module:
    model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    return model.eval()


class WithEmbedding(nn.Module):
    """A frame model returning (logit, pre-logit embedding): the second output feeds the temporal head."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.model.forward_features(x)
        return self.model.forward_head(features), self.model.forward_head(features, pre_logits=True)
