"""Real-world augmentations (albumentations), all scaled by one `strength` knob in [0, 1]."""

from __future__ import annotations

from collections.abc import Sequence

import albumentations as A
import cv2

from deepfake_detector.config import MultiscaleConfig
from deepfake_detector.models.preprocess import eval_transform

MAX_ROTATION_DEG = 15
MIN_JPEG_QUALITY = 40  # at strength 1
MIN_DOWNSCALE = 0.35  # at strength 1


def multiscale(input_size: int, min_size: int, p: float) -> A.Downscale:
    """Multi-scale training: resample the face (already at `input_size`) to a random side between `min_size`
    and `input_size` px, then back up, so the model sees faces that were small in their source (far from the
    camera, low-resolution video) as well as sharp ones. Unlike the augmentation Downscale below (relative to
    the stored crop, scaled by `strength`), its range is in absolute face pixels and does not depend on the
    augmentation strength."""
    low = min(min_size, input_size) / input_size
    return A.Downscale(
        scale_range=(low, 1.0), interpolation_pair={"downscale": cv2.INTER_AREA, "upscale": cv2.INTER_LINEAR}, p=p
    )


def train_transform(
    input_size: int,
    strength: float,
    mean: Sequence[float],
    std: Sequence[float],
    seed: int | None = None,
    multiscale_cfg: MultiscaleConfig | None = None,
    crop_scale_min: float = 1.0,
) -> A.Compose:
    """Flip, rotation, noise, blur, JPEG and down-up resize: what faces go through in the wild; then, when
    enabled, the multi-scale resampling.

    `seed` seeds albumentations' own generator: since 2.x it ignores the global seeds (seed_everything), and
    without a seed two runs augment differently, so training is not reproducible. `mean`/`std`: the model's
    normalisation (ModelSpec), shared with inference through `eval_transform`. `crop_scale_min` < 1: a random
    resized crop (train.augment.crop_scale_min) takes the place of the plain resize."""
    resize, normalize = eval_transform(input_size, mean, std).transforms
    if crop_scale_min < 1:
        resize = A.RandomResizedCrop(size=(input_size, input_size), scale=(crop_scale_min, 1.0), p=1.0)
    scales = (
        [multiscale(input_size, multiscale_cfg.min_size, multiscale_cfg.p)]
        if multiscale_cfg and multiscale_cfg.enabled
        else []
    )
    p = 0.6 * strength
    return A.Compose(
        [
            A.HorizontalFlip(p=0.5),
            A.Affine(rotate=(-MAX_ROTATION_DEG * strength, MAX_ROTATION_DEG * strength), p=p),
            A.ImageCompression(quality_range=(int(100 - (100 - MIN_JPEG_QUALITY) * strength), 100), p=p),
            A.Downscale(scale_range=(1 - (1 - MIN_DOWNSCALE) * strength, 1.0), p=p / 2),
            A.GaussianBlur(blur_limit=(3, 5), p=p / 2),
            A.GaussNoise(std_range=(0.0, 0.05 * strength), p=p / 2),
            A.ColorJitter(brightness=0.2 * strength, contrast=0.2 * strength, saturation=0.2 * strength, hue=0.0, p=p),
            resize,
            *scales,
            normalize,
        ],
        seed=seed,
    )
