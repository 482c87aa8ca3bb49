"""Face crop -> model input: resize and normalise, the one preprocessing every path shares (training,
validation, the Predictor, the ONNX check, the service). The mean and std are the model's own, recorded in
model.json (`ModelSpec.mean/std`): pretrained weights come with theirs (models/pretrained.py)."""

from __future__ import annotations

from collections.abc import Sequence

import albumentations as A
import numpy as np


def eval_transform(input_size: int, mean: Sequence[float], std: Sequence[float]) -> A.Compose:
    """Resize + normalise: the only preprocessing at inference, and the last two steps of training's."""
    return A.Compose([A.Resize(input_size, input_size), A.Normalize(mean=tuple(mean), std=tuple(std))])


def to_model_input(crops: list[np.ndarray], input_size: int, mean: Sequence[float], std: Sequence[float]) -> np.ndarray:
    """RGB uint8 crops -> float32 NCHW batch, exactly as validation saw them."""
    transform = eval_transform(input_size, mean, std)
    batch = (
        np.stack([transform(image=c)["image"] for c in crops]) if crops else np.zeros((0, input_size, input_size, 3))
    )
    return np.ascontiguousarray(batch.transpose(0, 3, 1, 2), dtype=np.float32)
