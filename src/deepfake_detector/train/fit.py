"""One training run: loaders + Lightning trainer + best checkpoint by validation AUC. Used by tune and train."""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass

import lightning as L
import pandas as pd
import torch
from lightning.pytorch.callbacks import Callback, ModelCheckpoint

from deepfake_detector.train.data import SelfBlendSettings, make_loaders
from deepfake_detector.train.module import FrameClassifier

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FitSettings:
    backbone: str
    input_size: int
    lr: float
    weight_decay: float
    augment_strength: float
    epochs: int
    batch_size: int
    pretrained: bool = False
    balance_classes: bool = True
    num_workers: int = 0
    max_train_items: int | None = None
    self_blend: SelfBlendSettings | None = None  # on-the-fly self-blended fakes from real crops


@dataclass
class FitResult:
    model: torch.nn.Module  # the timm backbone with the best validation AUC, in eval mode
    best_val_auc: float
    epochs_run: int


def fit(
    faces: pd.DataFrame,
    settings: FitSettings,
    seed: int,
    logger=None,
    callbacks: list[Callback] | None = None,
    progress: bool = True,
) -> FitResult:
    L.seed_everything(seed, workers=True, verbose=False)
    train_loader, val_loader = make_loaders(
        faces, settings.input_size, settings.augment_strength, settings.batch_size, settings.balance_classes,
        seed, settings.num_workers, settings.max_train_items, settings.self_blend,
    )
    module = FrameClassifier(
        settings.backbone, settings.input_size, settings.lr, settings.weight_decay, settings.epochs, settings.pretrained
    )
    with tempfile.TemporaryDirectory(prefix="ckpt-") as ckpt_dir:
        checkpoint = ModelCheckpoint(dirpath=ckpt_dir, monitor="val_auc", mode="max", save_top_k=1)
        trainer = L.Trainer(
            max_epochs=settings.epochs,
            accelerator="cpu",
            deterministic=True,
            logger=logger if logger is not None else False,
            callbacks=[checkpoint, *(callbacks or [])],
            enable_progress_bar=progress,
            enable_model_summary=False,
            num_sanity_val_steps=0,
            log_every_n_steps=5,
        )
        trainer.fit(module, train_loader, val_loader)
        best = FrameClassifier.load_from_checkpoint(checkpoint.best_model_path, weights_only=False)
        best_auc = float(checkpoint.best_model_score) if checkpoint.best_model_score is not None else float("nan")
    log.info("best val AUC %.4f after %d epochs", best_auc, trainer.current_epoch)
    return FitResult(best.model.eval(), best_auc, trainer.current_epoch)
