"""The Lightning module: a timm backbone trained with BCE; validation AUC picks the best checkpoint."""

from __future__ import annotations

import lightning as L
import torch
from torch import nn
from torchmetrics.classification import BinaryAUROC

from deepfake_detector.models.frequency import build_model


class FrameClassifier(L.LightningModule):
    def __init__(self, backbone: str, input_size: int, lr: float, weight_decay: float, epochs: int, pretrained: bool,
                 frequency_branch: bool = False):
        super().__init__()
        self.save_hyperparameters()
        self.model = build_model(backbone, input_size, pretrained, frequency_branch)
        self.loss = nn.BCEWithLogitsLoss()
        self.val_auc = BinaryAUROC()
        self.val_logits: list[torch.Tensor] = []
        self.val_labels: list[torch.Tensor] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x).squeeze(1)

    def training_step(self, batch, _):
        x, y = batch
        loss = self.loss(self(x), y)
        self.log("train_loss", loss, prog_bar=True, on_step=False, on_epoch=True)
        return loss

    def validation_step(self, batch, _):
        x, y = batch
        logits = self(x)
        # probabilities, not logits: torchmetrics applies a sigmoid only to batches with values outside [0, 1],
        # so raw logits that happen to fall inside [0, 1] would be ranked on a different scale than the rest
        self.val_auc.update(torch.sigmoid(logits), y.int())
        self.val_logits.append(logits.detach())
        self.val_labels.append(y)
        self.log("val_loss", self.loss(logits, y), prog_bar=True, on_step=False, on_epoch=True)

    def on_validation_epoch_end(self):
        self.log("val_auc", self.val_auc.compute(), prog_bar=True)
        self.val_auc.reset()
        self.val_logits.clear()
        self.val_labels.clear()

    def configure_optimizers(self):
        hp = self.hparams
        optimizer = torch.optim.AdamW(self.parameters(), lr=hp.lr, weight_decay=hp.weight_decay)
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(1, hp.epochs))
        return {"optimizer": optimizer, "lr_scheduler": scheduler}
