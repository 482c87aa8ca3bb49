"""Backbone factory: any timm model as a one-logit (fake) classifier (EfficientNet, Xception, ResNet, ViT...),
or a backbone of our own registered by name (meso4), as the data adapters are."""

from __future__ import annotations

import os
from collections.abc import Callable

import timm
import torch
from torch import nn

from deepfake_detector.models.meso import Meso4
from deepfake_detector.models.pretrained import WeightSource, load_into
from deepfake_detector.registry import registrar


class BackboneError(RuntimeError):
    pass


BackboneFn = Callable[[int, WeightSource | None], nn.Module]  # (input size, weights) -> one-logit model
BACKBONES: dict[str, BackboneFn] = {}
register = registrar(BACKBONES)  # @register("name") on a function building the backbone


@register("meso4")
def _meso4(input_size: int, weights: WeightSource | None = None) -> nn.Module:
    return Meso4()  # any input size (adaptive pooling); trained from scratch, no pretrained weights


def build_backbone(name: str, input_size: int, weights: WeightSource | None = None) -> nn.Module:
    """A registered backbone, or a timm model with a single output logit, from `weights`
    (models/pretrained.py) or, without them, randomly initialised. ViTs are built for `input_size` (fixed
    patch grid)."""
    if name in BACKBONES:
        return BACKBONES[name](input_size, weights)
    if not timm.is_model(name):
        raise BackboneError(
            f"unknown backbone '{name}'; use one of {sorted(BACKBONES)} or any timm model name "
            "(timm.list_models() lists them)"
        )
    kwargs = {"img_size": input_size} if name.startswith(("vit", "deit")) else {}
    model = timm.create_model(name, pretrained=False, num_classes=1, **kwargs)
    return load_into(model, weights) if weights is not None else model


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
