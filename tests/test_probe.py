"""Fine-tuning modes (train.finetune.mode): layernorm trains only the backbone's normalisation layers and the head;
linear_probe fits a linear head on a frozen backbone's features, cached by the embed stage. Offline, on a
randomly initialised small ViT given as train.weights or in a hub cache filled by hand."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import timm
import torch
import yaml
from test_finetune import blocky_or_smooth
from test_pretrained import fill_hub_cache

from deepfake_detector.config import AugmentConfig, FinetuneConfig, Params, TrainConfig, load_params, merged
from deepfake_detector.inference import Predictor
from deepfake_detector.media.frames import read_crop
from deepfake_detector.model_card import weights_line
from deepfake_detector.models.backbones import WithEmbedding, build_backbone
from deepfake_detector.models.export import check_onnx, export_onnx
from deepfake_detector.models.frequency import build_model
from deepfake_detector.models.preprocess import to_model_input
from deepfake_detector.models.pretrained import find_weights
from deepfake_detector.models.probe import ProbeError, ProbeModel, block_features
from deepfake_detector.models.spec import TORCH_WEIGHTS
from deepfake_detector.scoring import calibrated_probability
from deepfake_detector.tables import FACES, MANIFEST, write_table
from deepfake_detector.train.fit import fit
from deepfake_detector.train.probe import FEATURES_FILE, INDEX_FILE, FeaturesError, embed_faces, fit_probe

ROOT = Path(__file__).resolve().parents[1]
VIT, SIZE, WIDTH = "vit_tiny_patch16_224", 32, 192  # 2 x 2 patches of 16 px: fast on a CPU
LAYERS = {"probe_layers": 2}
PROBE = {"mode": "linear_probe", **LAYERS}


@pytest.fixture(scope="module")
def toy_faces(tmp_path_factory) -> pd.DataFrame:
    """48 separable face crops (blocky fakes, smooth reals) as the face table: 32 train, 16 val, one image each."""
    faces = blocky_or_smooth(tmp_path_factory.mktemp("toy_faces"), n=48)
    return faces.assign(
        item_id=[f"toy/{i}.png" for i in range(len(faces))],
        frame_idx=0,
        media="image",
        dataset="toy",
        method=np.where(faces["label"] == 1, "blocky", "real"),
    )


@pytest.fixture(scope="module")
def vit_weights(tmp_path_factory) -> str:
    """A randomly initialised small ViT's state dict: the pretrained weights of these tests (train.weights)."""
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("vit") / "vit_tiny_random.pth"
    torch.save(build_backbone(VIT, SIZE).state_dict(), path)
    return str(path)


def settings(mode: str, weights: str | None, epochs: int = 2, **finetune) -> TrainConfig:
    return TrainConfig(
        backbone=VIT,
        input_size=SIZE,
        lr=1e-3,
        weight_decay=0.0,
        augment=AugmentConfig(strength=0.0),
        frequency_branch=False,
        epochs=epochs,
        batch_size=8,
        pretrained=True,
        weights=weights,
        finetune=FinetuneConfig(mode=mode, warmup_epochs=0.0, **finetune),
    )


def vit_params(weights: str, **finetune) -> Params:
    """params.yaml with the small ViT as the pretrained backbone, as `dvc exp run -S ...` would set it."""
    raw = load_params(ROOT / "params.yaml").model_dump(by_alias=True)
    raw["train"] = merged(raw["train"], {"backbone": VIT, "input_size": SIZE, "weights": weights, "finetune": finetune})
    return Params.model_validate(raw)


def changed_tensors(before: dict[str, torch.Tensor], model: torch.nn.Module) -> set[str]:
    after = model.state_dict()
    return {k for k, v in before.items() if not torch.equal(v, after[k])}


def crops_of(faces: pd.DataFrame) -> list[np.ndarray]:
    return [read_crop(p) for p in faces["crop_path"]]


def test_block_features_are_the_last_blocks_pooled_and_normalised():
    torch.manual_seed(0)
    backbone = build_backbone(VIT, SIZE).eval()
    x = torch.randn(3, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        three, last = block_features(backbone, x, 3), block_features(backbone, x, 1)
        pooled = backbone.forward_head(backbone.forward_features(x), pre_logits=True)
    assert three.shape == (3, 3 * WIDTH)
    np.testing.assert_allclose(three.view(3, 3, WIDTH).norm(dim=2).numpy(), 1.0, rtol=1e-6)
    assert torch.allclose(three[:, :WIDTH], last, atol=1e-6)  # the last block first, as the head pools it
    assert torch.allclose(last, pooled / pooled.norm(dim=1, keepdim=True), atol=1e-6)
    with pytest.raises(ProbeError, match="probe_layers 2 reads intermediate blocks of a ViT-style backbone"):
        ProbeModel(build_backbone("resnet10t", SIZE), "resnet10t", SIZE, 2)
    with pytest.raises(ProbeError, match="has 12 blocks"):
        ProbeModel(build_backbone(VIT, SIZE), VIT, SIZE, 13)


def test_layernorm_mode_trains_only_the_norms_and_the_head(toy_faces, vit_weights):
    before = torch.load(vit_weights, weights_only=True)
    model = fit(toy_faces, settings("layernorm", vit_weights), seed=0, progress=False).model
    trainable = {k for k in before if "norm" in k or k.startswith("head.")}
    assert len(trainable) == 12 * 4 + 2 + 2  # two LayerNorms per block and the final one; the head
    assert changed_tensors(before, model) == trainable  # every other tensor is exactly as pretrained


def test_layernorm_mode_on_a_cnn_trains_batch_norm_scales_and_keeps_their_statistics(toy_faces, tmp_path):
    torch.manual_seed(0)
    cnn = build_backbone("resnet10t", SIZE)
    torch.save(cnn.state_dict(), tmp_path / "resnet10t.pth")
    before = cnn.state_dict()
    cnn_settings = TrainConfig(
        backbone="resnet10t",
        input_size=SIZE,
        lr=1e-3,
        weight_decay=0.0,
        augment=AugmentConfig(strength=0.0),
        frequency_branch=False,
        epochs=1,
        batch_size=8,
        pretrained=True,
        weights=str(tmp_path / "resnet10t.pth"),
        finetune=FinetuneConfig(mode="layernorm", freeze_bn=False),
    )
    changed = changed_tensors(before, fit(toy_faces, cnn_settings, seed=0, progress=False).model)
    affine = {
        f"{name}.{p}"
        for name, m in cnn.named_modules()
        if isinstance(m, torch.nn.BatchNorm2d)
        for p in ("weight", "bias")
    }
    assert len(affine) > 20
    assert changed == affine | {"fc.weight", "fc.bias"}  # not the convolutions, not the running statistics


@pytest.mark.parametrize("mode", ["full", "layernorm", "linear_probe"])
def test_every_mode_trains_from_a_hub_cache_filled_by_hand(mode, toy_faces, tmp_path, monkeypatch):
    """A ViT's weights from the hub cache (224 px weights, their position embeddings resampled to 32 px by timm's
    filter): each mode moves what it should and leaves the rest as pretrained."""
    torch.manual_seed(1)
    pretrained = timm.create_model(VIT, num_classes=1000)
    hub_id = fill_hub_cache(tmp_path, monkeypatch, VIT, pretrained)
    source = find_weights(VIT)
    assert (source.kind, source.name, source.mean) == ("hub", hub_id, (0.5, 0.5, 0.5))
    result = fit(
        toy_faces,
        settings(mode, None, epochs=1, **(LAYERS if mode == "linear_probe" else {})),
        seed=0,
        progress=False,
    )
    model = result.model.backbone if mode == "linear_probe" else result.model
    assert result.weights.kind == "hub" and model.pos_embed.shape == (1, 1 + 4, WIDTH)
    stem, first_norm = model.patch_embed.proj.weight, model.blocks[0].norm1.weight
    assert torch.equal(stem, pretrained.patch_embed.proj.weight) == (mode != "full")
    assert torch.equal(first_norm, pretrained.blocks[0].norm1.weight) == (mode == "linear_probe")


def test_linear_probe_head_on_cached_features_is_the_saved_models_forward(toy_faces, vit_weights, tmp_path):
    """The embed stage's cache, the head fitted on it, the model saved and loaded by the Predictor, and the model
    of the training run: one set of logits and probabilities. The toy set separates on the probe."""
    params = vit_params(vit_weights, **PROBE)
    counts = embed_faces(params.train, toy_faces, tmp_path / "embed")
    assert (counts["faces"], counts["dimensions"]) == (len(toy_faces), 2 * WIDTH)
    index = pd.read_csv(tmp_path / "embed" / INDEX_FILE)
    assert index["crop_path"].tolist() == toy_faces["crop_path"].tolist()
    from deepfake_detector.train.run import train_and_calibrate

    metrics = train_and_calibrate(
        params, toy_faces, tmp_path / "model", tmp_path / "metrics.json", features_dir=tmp_path / "embed"
    )
    assert metrics["best_val_auc"] > 0.9 and metrics["probe_c"] in params.train.finetune.probe_c
    predictor = Predictor(tmp_path / "model", backend="torch")
    spec = predictor.spec
    assert (spec.finetune_mode, spec.probe_layers, spec.frequency_branch) == ("linear_probe", 2, False)
    assert weights_line(spec).startswith(
        f"frozen pretrained weights under a linear probe on 2 block(s): file `{vit_weights}`"
    )
    head = torch.load(tmp_path / "model" / TORCH_WEIGHTS, weights_only=True)
    cached = np.load(tmp_path / "embed" / FEATURES_FILE)
    from_cache = cached @ head["classifier.weight"].numpy()[0] + head["classifier.bias"].numpy()[0]
    crops = crops_of(toy_faces)
    np.testing.assert_allclose(predictor.logits(crops), from_cache, atol=1e-5)
    trained = fit(toy_faces, settings("linear_probe", vit_weights, **LAYERS), seed=params.seed, progress=False).model
    with torch.no_grad():
        own = trained(torch.from_numpy(to_model_input(crops, SIZE, spec.mean, spec.std))).numpy()[:, 0]
    np.testing.assert_allclose(
        predictor.score_crops(crops), calibrated_probability(own, spec.temperature, spec.bias), atol=1e-6
    )


def test_train_uses_the_cache_and_refuses_a_missing_or_stale_one(toy_faces, vit_weights, tmp_path):
    params, cache = vit_params(vit_weights, **PROBE), tmp_path / "embed"
    weights = find_weights(VIT, vit_weights)

    def fit_from(folder: Path | None, layers: int = 2):
        return fit_probe(
            toy_faces, settings("linear_probe", vit_weights, probe_layers=layers), weights, 0, features_dir=folder
        )

    with pytest.raises(FeaturesError, match="no cached features .* re-run the embed stage"):
        fit_from(cache)
    embed_faces(params.train.model_copy(update={"finetune": FinetuneConfig()}), toy_faces, cache)
    with pytest.raises(FeaturesError, match=r"holds no features \(train.finetune.mode is full when"):
        fit_from(cache)
    embed_faces(params.train, toy_faces.iloc[1:], cache)
    with pytest.raises(
        FeaturesError,
        match=r"stale features, computed with \{'probe_layers': 2\} but training "
        r"needs \{'probe_layers': 1\}",
    ):
        fit_from(cache, layers=1)
    with pytest.raises(FeaturesError, match="none for 1 of the 48 faces training uses"):
        fit_from(cache)
    embed_faces(params.train, toy_faces, cache)
    np.save(cache / FEATURES_FILE, -np.load(cache / FEATURES_FILE))  # mirrored features: a mirrored head
    computed, cached = (fit_from(folder).model.classifier.weight.detach().numpy() for folder in (None, cache))
    assert np.abs(computed).max() > 1.0
    np.testing.assert_allclose(cached, -computed, rtol=1e-3, atol=1e-5)


def test_embed_stage_writes_one_row_per_found_face(toy_faces, vit_weights, tmp_path):
    """stages/embed.py in a project folder: features of the found faces only, and a summary with the counts."""
    faces = toy_faces.assign(
        found=[i % 8 != 0 for i in range(len(toy_faces))],
        x1=0.0,
        y1=0.0,
        x2=48.0,
        y2=48.0,
        landmarks="",
        landmarks68="",
        prob=0.99,
        face_px=48.0,
        crop_x=0,
        crop_y=0,
        crop_side=48,
    )
    write_table(faces, tmp_path / "artifacts" / "faces.csv", FACES)
    manifest = faces.assign(path=faces["crop_path"], group=faces["item_id"], cropped=True, width=48, height=48)
    write_table(manifest, tmp_path / "artifacts" / "manifest.csv", MANIFEST)
    raw = yaml.safe_load((ROOT / "params.yaml").read_text())
    raw["train"] = merged(
        raw["train"], {"backbone": VIT, "input_size": SIZE, "weights": vit_weights, "finetune": PROBE}
    )
    raw["compute"]["accelerator"] = "cpu"
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(raw))
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "HF_HUB_OFFLINE": "1"}
    subprocess.run(
        [sys.executable, str(ROOT / "stages" / "embed.py")],
        cwd=tmp_path,
        env=env,
        check=True,
        capture_output=True,
        timeout=300,
    )
    found = faces[faces["found"]].sort_values("item_id")
    index = pd.read_csv(tmp_path / "artifacts" / "embed" / INDEX_FILE)
    assert sorted(index["crop_path"]) == sorted(found["crop_path"]) and len(found) == 42
    assert np.load(tmp_path / "artifacts" / "embed" / FEATURES_FILE).shape == (42, 2 * WIDTH)
    summary = yaml.safe_load((tmp_path / "artifacts" / "summaries" / "embed.json").read_text())
    assert summary["counts"]["faces"] == 42 and summary["counts"]["dimensions"] == 2 * WIDTH


def test_a_probe_model_exports_to_onnx_with_its_embedding(tmp_path):
    """The package stage's export: the ViT's intermediate blocks and the normalisation are plain ONNX."""
    torch.manual_seed(0)
    model = WithEmbedding(build_model(VIT, SIZE, (0.5,) * 3, (0.5,) * 3, probe_layers=2)).eval()
    export_onnx(model, SIZE, tmp_path / "model.onnx", output_names=("logit", "embedding"))
    batch = np.random.default_rng(0).standard_normal((3, 3, SIZE, SIZE)).astype(np.float32)
    assert check_onnx(model, tmp_path / "model.onnx", batch, atol=1e-4) < 1e-4
