"""The Lightning module: a timm backbone trained with BCE; validation AUC picks the best checkpoint.

Fine-tuning (train.finetune): the backbone can train at a lower learning rate than the new head, stay frozen
for the first epochs, and keep its batch-norm statistics; the learning rate warms up linearly, then decays
on a cosine to zero, per step. In mode layernorm only the backbone's normalisation layers' scales and shifts
train with the head, the rest of it stays as pretrained (mode linear_probe trains no module: train/probe.py)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import lightning as L
import torch
from timm.layers import RmsNorm, RmsNorm2d
from torch import nn
from torchmetrics.classification import BinaryAUROC

from deepfake_detector.config import TrainConfig
from deepfake_detector.models.frequency import FrequencyFusion, build_model
from deepfake_detector.models.pretrained import WeightSource


def head_parameters(model: nn.Module) -> list[nn.Parameter]:
    """Parameters that start from scratch even on a pretrained backbone: the classifier (and the frequency
    branch); a model without a known head (meso4) is all head."""
    if isinstance(model, FrequencyFusion):
        return [*model.classifier.parameters(), *model.frequency.parameters()]
    if hasattr(model, "get_classifier"):
        return list(model.get_classifier().parameters())
    return list(model.parameters())


# whose affine scale and shift train in mode layernorm (timm's LayerNorm2d, BatchNormAct2d... subclass these)
NORM_LAYERS = (nn.LayerNorm, nn.GroupNorm, nn.RMSNorm, RmsNorm, RmsNorm2d, nn.modules.batchnorm._BatchNorm)


def norm_parameters(model: nn.Module) -> list[nn.Parameter]:
    """The affine parameters of the model's normalisation layers."""
    return [p for m in model.modules() if isinstance(m, NORM_LAYERS) for p in m.parameters(recurse=False)]


def warmup_cosine(step: int, warmup_steps: int, total_steps: int) -> float:
    """Learning-rate factor: linear from 0 to 1 over the warm-up, then a cosine down to 0."""
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
    return 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


class FrameClassifier(L.LightningModule):
    def __init__(
        self, train: TrainConfig, mean: Sequence[float], std: Sequence[float], weights: WeightSource | None = None
    ):
        super().__init__()
        # what the loggers record (the train stage's dvclive/params.yaml, a DVC output): these keys, in this order
        self.save_hyperparameters(
            {
                "backbone": train.backbone,
                "input_size": train.input_size,
                "lr": train.lr,
                "weight_decay": train.weight_decay,
                "epochs": train.epochs,
                "mean": mean,
                "std": std,
                "frequency_branch": train.frequency_branch,
            }
        )
        self.finetune = train.finetune
        # only pretrained weights have statistics worth keeping: a from-scratch model (a baseline merged onto
        # a freeze_bn profile) would otherwise normalise with its initial mean 0 / variance 1 for the whole run
        layernorm = self.finetune.mode == "layernorm"
        self.keep_bn_statistics = (self.finetune.freeze_bn or layernorm) and weights is not None
        self.model = build_model(train.backbone, train.input_size, mean, std, weights, train.frequency_branch)
        head = {id(p) for p in head_parameters(self.model)}
        self.head_params = [p for p in self.model.parameters() if id(p) in head]
        self.backbone_params = [p for p in self.model.parameters() if id(p) not in head]
        if layernorm:
            self.backbone_params = self.trainable_norms(self.backbone_params)
        if self.finetune.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        self.loss = nn.BCEWithLogitsLoss()
        self.val_auc = BinaryAUROC()

    def trainable_norms(self, backbone_params: list[nn.Parameter]) -> list[nn.Parameter]:
        """Freezes the backbone but its normalisation layers' parameters, which it returns."""
        norms = {id(p) for p in norm_parameters(self.model)}
        for p in backbone_params:
            p.requires_grad_(id(p) in norms)
        return [p for p in backbone_params if id(p) in norms]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.finetune.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return self.model(x).squeeze(1)

    def on_train_epoch_start(self):
        frozen = self.current_epoch < self.finetune.freeze_backbone_epochs
        for p in self.backbone_params:
            p.requires_grad_(not frozen)
        if self.keep_bn_statistics or frozen:  # a frozen backbone keeps its statistics too
            head = {id(p) for p in self.head_params}
            for module in self.model.modules():
                if isinstance(module, nn.modules.batchnorm._BatchNorm) and not any(
                    id(p) in head for p in module.parameters()
                ):
                    module.eval()

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
        self.log("val_loss", self.loss(logits, y), prog_bar=True, on_step=False, on_epoch=True)

    def on_validation_epoch_end(self):
        self.log("val_auc", self.val_auc.compute(), prog_bar=True)
        self.val_auc.reset()

    def configure_optimizers(self):
        hp, ft = self.hparams, self.finetune
        groups = [{"params": self.head_params, "lr": hp.lr}]
        if self.backbone_params:
            groups.append({"params": self.backbone_params, "lr": hp.lr * ft.backbone_lr_scale})
        # fused: the update runs in PyTorch's own vector code; the default path's square root is MKL's, whose
        # kernel follows the CPU (AVX-512 or AVX2) and so moved the weights from one machine to another
        optimizer = torch.optim.AdamW(groups, weight_decay=hp.weight_decay, fused=True)
        total = max(1, int(self.trainer.estimated_stepping_batches))
        warmup = int(round(ft.warmup_epochs * total / max(1, hp.epochs)))
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: warmup_cosine(step, warmup, total))
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}
