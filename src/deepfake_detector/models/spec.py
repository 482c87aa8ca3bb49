"""model.json: everything needed to use a trained model the way it was trained and calibrated."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, Field

from deepfake_detector.config import (
    Aggregation,
    EmbeddingRangeConfig,
    ExplainConfig,
    FacesConfig,
    FinetuneMode,
    JudgeConfig,
)
from deepfake_detector.io import read_json, write_json

SPEC_FILE = "model.json"
TORCH_WEIGHTS = "model.pt"
ONNX_FILE = "model.onnx"
# The normalisation of models trained from scratch (and of specs written before it was recorded); pretrained
# weights bring their own (models/pretrained.py). Defined here so reading a spec does not import timm and torch.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
TEMPORAL_WEIGHTS = "temporal.pt"
TEMPORAL_ONNX = "temporal.onnx"


class TemporalSpec(BaseModel):
    """The temporal head (models/temporal.py) and its calibration on validation videos."""

    kind: Literal["gru"] = "gru"
    input_dim: int
    hidden: int
    temperature: float = 1.0
    bias: float = 0.0
    train_videos: int = 0


class EmbeddingRange(BaseModel):
    """Where the validation faces' embeddings lie, for the "out of distribution" check (judge.py): a diagonal
    Gaussian, and the distance from it that `quantile` of those faces stay within. Fitted by calibration."""

    mean: list[float]
    scale: list[float]  # per dimension: the standard deviation, its variance shrunk toward the mean variance
    max_distance: float
    quantile: float
    faces: int  # the validation faces it was fitted on

    @classmethod
    def fit(cls, embeddings: np.ndarray, cfg: EmbeddingRangeConfig) -> EmbeddingRange:
        variance = embeddings.var(axis=0)
        # shrinkage keeps a dimension that barely varies on validation from calling every new face far away
        variance = (1 - cfg.shrinkage) * variance + cfg.shrinkage * variance.mean()
        fitted = cls(
            mean=embeddings.mean(axis=0).tolist(),
            scale=np.sqrt(np.maximum(variance, 1e-12)).tolist(),
            max_distance=0.0,
            quantile=cfg.quantile,
            faces=len(embeddings),
        )
        max_distance = float(np.quantile(fitted.distance(embeddings), cfg.quantile))
        return fitted.model_copy(update={"max_distance": max_distance})

    def distance(self, embeddings: np.ndarray) -> np.ndarray:
        """Each embedding's root-mean-square z-score: about 1 for a typical validation face."""
        z = (np.asarray(embeddings, dtype=np.float64) - np.asarray(self.mean)) / np.asarray(self.scale)
        return np.sqrt(np.mean(z**2, axis=1))


class MethodHead(BaseModel):
    """Which manipulation a fake face most likely used: softmax(embedding @ coef.T + intercept) over `methods`,
    a linear probe on the frame model's embedding (train/calibrate.fit_method_head). Its probabilities say
    which method *if* the face is fake; whether it is fake is the frame model's verdict alone."""

    methods: list[str]
    coef: list[list[float]]  # one row per method, in embedding units (any standardisation folded in)
    intercept: list[float]
    train_faces: dict[str, int]  # the train split's fake faces it was fitted on, per method
    val_accuracy: float | None = None  # the share of val fakes of its methods given their own method

    def probabilities(self, embeddings: np.ndarray) -> np.ndarray:
        """N x len(methods): each embedding's method probabilities (rows sum to 1)."""
        logits = np.asarray(embeddings, dtype=np.float64) @ np.asarray(self.coef).T + np.asarray(self.intercept)
        logits -= logits.max(axis=1, keepdims=True)
        weights = np.exp(logits)
        return weights / weights.sum(axis=1, keepdims=True)


class SelfBlendSpec(BaseModel):
    """How the model's self-blended training fakes were made (train.self_blend_*), for the model card."""

    rate: float
    only: bool
    # share of the real training crops whose mask followed their 68 landmarks (the rest: MTCNN's 5 points)
    dense_landmark_share: float


class ModelSpec(BaseModel):
    backbone: str
    input_size: int
    # what every path that turns a crop into a tensor applies (models/preprocess.py): the weights' own
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    weights: dict[str, str] | None = None  # pretrained weights the model started from: kind, name, sha256
    temperature: float = 1.0  # calibrated probability = sigmoid(logit / temperature + bias)
    bias: float = 0.0
    threshold: float = 0.5
    # "temporal": videos are scored by the temporal head (temporal.pt / temporal.onnx next to the model)
    video_aggregation: Literal[Aggregation, "temporal"] = "mean"
    frequency_branch: bool = False  # the frame model fuses DCT features (models/frequency.py)
    self_blend: SelfBlendSpec | None = None  # None: trained without self-blended fakes
    finetune_mode: FinetuneMode = "full"  # how it was trained (train.finetune.mode)
    # linear_probe: the frame model is models/probe.ProbeModel, a linear head on this many blocks' features
    probe_layers: int | None = None
    temporal_head: TemporalSpec | None = None
    frames_per_video: int = 8
    faces: FacesConfig  # the crop geometry the model was trained on (params.yaml's faces section), never a default
    version: str = "0"
    provenance: dict[str, Any] = Field(default_factory=dict)  # git commit, params hash, data hash
    # where it trained (train/fit.trained_on): accelerator, processes, strategy, precision; None for old models
    trained_on: dict[str, Any] | None = None
    # when to answer "cannot judge" (params.yaml's judge): written by the package stage into the packaged
    # model.json; None (the trained model) judges every file with a face
    judge: JudgeConfig | None = None
    # how heatmaps are made (params.yaml's explain), written by the package stage like judge; None (the trained
    # model): ExplainConfig's defaults, which are params.yaml's
    explain: ExplainConfig | None = None
    validation: dict[str, float] = Field(default_factory=dict)  # val AUC, ECE, ...
    # the validation faces' embeddings (calibration, train.embedding_range); None: no out-of-distribution check
    embedding_range: EmbeddingRange | None = None
    # which manipulation (calibration, train.method_head); None: no method is reported
    method_head: MethodHead | None = None

    def trained_on_text(self) -> str:
        """One line for the model card and the Bento labels, e.g. "cpu, 2 processes (DDPStrategy), 32-true"."""
        if not self.trained_on:
            return "unknown"
        t = self.trained_on
        return f"{t['accelerator']}, {t['processes']} process(es) ({t['strategy']}), precision {t['precision']}"

    def save(self, model_dir: str | Path) -> Path:
        return write_json(self.model_dump(mode="json"), Path(model_dir) / SPEC_FILE)

    @classmethod
    def load(cls, model_dir: str | Path) -> ModelSpec:
        path = Path(model_dir) / SPEC_FILE
        if not path.exists():
            raise FileNotFoundError(
                f"{model_dir}: no {SPEC_FILE}; point --model at a folder written by the train or package stage "
                "(artifacts/model after `make demo`)"
            )
        return cls.model_validate(read_json(path))
