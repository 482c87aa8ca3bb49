"""One training run: loaders + Lightning trainer + best checkpoint by validation AUC. Used by tune and train."""

from __future__ import annotations

import copy
import logging
from dataclasses import dataclass
from pathlib import Path

import lightning as L
import pandas as pd
import torch
from lightning.pytorch.callbacks import Callback

from deepfake_detector.config import ComputeConfig, TrainConfig
from deepfake_detector.devices import torch_device
from deepfake_detector.models.pretrained import WeightSource, find_weights
from deepfake_detector.models.spec import IMAGENET_MEAN, IMAGENET_STD
from deepfake_detector.train.data import make_loaders
from deepfake_detector.train.module import FrameClassifier
from deepfake_detector.train.probe import fit_probe

log = logging.getLogger(__name__)


@dataclass
class FitResult:
    model: torch.nn.Module  # the timm backbone with the best validation AUC, in eval mode
    best_val_auc: float
    epochs_run: int
    mean: tuple[float, float, float]  # the input normalisation it was trained with (the weights' own)
    std: tuple[float, float, float]
    weights: WeightSource | None = None  # where its pretrained weights came from
    trained_on: dict | None = None  # the hardware and parallelism it trained with, as Lightning resolved them
    probe_c: float | None = None  # mode linear_probe: the logistic regression's C validation picked


def fit(
    faces: pd.DataFrame,
    train: TrainConfig,
    seed: int,
    compute: ComputeConfig | None = None,
    max_train_items: int | None = None,
    logger=None,
    callbacks: list[Callback] | None = None,
    progress: bool = True,
    features_dir: Path | None = None,
) -> FitResult:
    """One fit of the train section `train` (params.train, a baseline's, a trial's: TrainConfig.overridden) on
    `compute`'s hardware (None: ComputeConfig's defaults). `max_train_items`: a sample of the train split (the
    tune stage's trials); `features_dir`: mode linear_probe's cached features (the embed stage's output), None
    computes them."""
    compute = compute or ComputeConfig()
    # first, so missing weights fail in seconds, before any data is read
    weights = find_weights(train.backbone, train.weights) if train.pretrained else None
    if train.finetune.mode == "linear_probe":
        return fit_linear_probe(faces, train, weights, seed, compute, max_train_items, features_dir)
    mean, std = (weights.mean, weights.std) if weights else (IMAGENET_MEAN, IMAGENET_STD)
    L.seed_everything(seed, workers=True, verbose=False)
    train_loader, val_loader = make_loaders(faces, train, mean, std, seed, max_train_items)
    module = FrameClassifier(train, mean, std, weights)
    if weights:
        log.info("pretrained weights: %s %s (mean %s, std %s)", weights.kind, weights.name, mean, std)
    keep_best = KeepBest()
    trainer = L.Trainer(
        max_epochs=train.epochs,
        accelerator=compute.accelerator,
        devices=compute.devices,
        strategy=compute.strategy,
        precision=compute.precision,
        deterministic=True,
        logger=logger if logger is not None else False,
        callbacks=[keep_best, *(callbacks or [])],
        enable_checkpointing=False,
        enable_progress_bar=progress,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        log_every_n_steps=5,
    )
    trainer.fit(module, train_loader, val_loader)
    if trainer.global_rank > 0:
        # a DDP worker: Lightning started it by re-running this very command; it has done its share of the
        # training, and only rank 0 (the process the user started) goes on to calibrate and write the model
        raise SystemExit(0)
    if keep_best.state is not None:
        module.model.load_state_dict(keep_best.state)
    log.info("best val AUC %.4f at epoch %d of %d", keep_best.best_auc, keep_best.best_epoch, trainer.current_epoch)
    return FitResult(
        module.model.eval(), keep_best.best_auc, trainer.current_epoch, mean, std, weights, trained_on(trainer)
    )


def fit_linear_probe(
    faces: pd.DataFrame,
    train: TrainConfig,
    weights: WeightSource,
    seed: int,
    compute: ComputeConfig,
    max_train_items: int | None,
    features_dir: Path | None,
) -> FitResult:
    """Mode linear_probe: no training loop, a head fitted on the frozen backbone's features (train/probe.py)."""
    ignored = {
        "train.frequency_branch": train.frequency_branch,
        "train.multiscale": train.multiscale.enabled,
        "train.self_blend_rate": train.self_blend_rate > 0,
    }
    if any(ignored.values()):
        log.warning(
            "train.finetune.mode linear_probe fits a linear head on frozen features of the unaugmented "
            "crops: %s not used",
            [k for k, on in ignored.items() if on],
        )
    device = torch_device(compute.accelerator, "compute.accelerator")
    probe = fit_probe(faces, train, weights, seed, device, max_train_items, features_dir)
    log.info(
        "linear probe over %d block(s): val AUC %.4f with C=%g", train.finetune.probe_layers, probe.val_auc, probe.c
    )
    trained = {"accelerator": device, "processes": 1, "strategy": "linear probe", "precision": "32-true"}
    return FitResult(probe.model, probe.val_auc, 0, weights.mean, weights.std, weights, trained, probe.c)


def trained_on(trainer: L.Trainer) -> dict:
    """The hardware and parallelism Lightning actually used (params.compute's `auto` resolved)."""
    accelerator = type(trainer.accelerator).__name__.removesuffix("Accelerator").lower()  # cpu, cuda, mps
    return {
        "accelerator": accelerator,
        "processes": trainer.world_size,
        "strategy": type(trainer.strategy).__name__,
        "precision": str(trainer.precision),
    }


class KeepBest(Callback):
    """Keeps a copy of the weights with the best validation AUC (in memory: the model is small, and no
    checkpoint files can go stale or be mixed up between runs)."""

    def __init__(self):
        self.best_auc, self.best_epoch, self.state = float("-inf"), -1, None

    def on_validation_end(self, trainer, pl_module):
        auc = trainer.callback_metrics.get("val_auc")
        if auc is not None and float(auc) > self.best_auc:
            self.best_auc, self.best_epoch = float(auc), trainer.current_epoch
            self.state = copy.deepcopy(pl_module.model.state_dict())
