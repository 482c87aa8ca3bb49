"""Meso-4 (Afchar et al., "MesoNet", WIFS 2018): a tiny CNN built for the mesoscopic traces of face
manipulation. Few parameters, so it learns from small datasets from scratch; also the classic baseline."""

from __future__ import annotations

from torch import nn


def _block(c_in: int, c_out: int, kernel: int, pool: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, kernel, padding=kernel // 2, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(pool),
    )


class Meso4(nn.Module):
    num_features = 16  # width of the pre-logit embedding (forward_head with pre_logits=True), as in timm

    def __init__(self, num_classes: int = 1):
        super().__init__()
        self.features = nn.Sequential(_block(3, 8, 3, 2), _block(8, 8, 5, 2), _block(8, 16, 5, 2), _block(16, 16, 5, 4))
        self.head = nn.Sequential(
            nn.AdaptiveAvgPool2d(4),
            nn.Flatten(),
            nn.Dropout(0.5),
            nn.Linear(16 * 4 * 4, 16),
            nn.LeakyReLU(0.1),
            nn.Dropout(0.5),
            nn.Linear(16, num_classes),
        )

    # timm's interface, so the frequency branch and the temporal head treat every backbone alike
    def forward_features(self, x):
        return self.features(x)

    def forward_head(self, x, pre_logits: bool = False):
        return self.head[:-1](x) if pre_logits else self.head(x)

    def forward(self, x):
        return self.forward_head(self.forward_features(x))

    def reset_classifier(self, num_classes: int) -> None:
        """timm's: a new last layer, or none (0: forward gives the pre-logits), so a wrapper's own classifier
        (the frequency branch's) leaves no unused weights behind (DDP stops on those)."""
        self.head[-1] = nn.Linear(self.num_features, num_classes) if num_classes else nn.Identity()
