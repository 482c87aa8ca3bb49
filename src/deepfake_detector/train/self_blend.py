"""Self-blended images (SBI, Shiohara & Yamasaki, CVPR 2022), made on the fly from real face crops.

A real face is blended with a slightly transformed copy of itself inside a face-shaped mask, as the paper does:
1. the mask is the convex hull of the face's 68 landmarks (crop_faces records them; media/landmarks.py);
2. source-target augmentation: the copy gets a colour shift (RGB shift, hue / saturation / value, brightness /
   contrast) and a frequency change (down-and-up resampling or sharpening). The paper jitters the copy or the
   face and trains on both images of the pair; here each real face is drawn alone, so a jittered face would
   make the jitter itself a cue (a pseudo-fake's background would differ from every real face's). Resampling
   or sharpening the copy gives both directions of the mismatch (inside blurrier or sharper than outside);
3. the copy is shifted and rescaled a little (affine), the mask deformed elastically;
4. the mask is blurred twice at random kernel sizes (eroded between them, so the blend stays inside the hull)
   and scaled by a blend ratio drawn from {0.25, 0.5, 0.75, 1, 1, 1}.
The result carries the blending boundary and the colour and frequency mismatch that most face manipulations
leave, and no method-specific artefact: why detectors trained on it generalise to unseen manipulations.
Crops with only MTCNN's 5 points get a landmark-fitted ellipse instead of the hull; crops with none (face crops
used whole) an ellipse around the crop's centre.
"""

from __future__ import annotations

import json
from typing import NamedTuple

import albumentations as A
import cv2
import numpy as np

BLEND_RATIOS = (0.25, 0.5, 0.75, 1.0, 1.0, 1.0)  # the paper's draw: a full blend half of the time
MASK_SIDE = 256  # the blur and deformation below are the paper's, in pixels of a mask of about this side
MASK_SIDE_RANGE = (
    192,
    257,
)  # the paper's random mask size before blurring (per axis: a slight aspect change)
BLUR_KERNELS = range(5, 26, 2)  # the paper's two Gaussian kernels, odd sizes
SECOND_BLUR_SIGMA = (5, 46)


class SelfBlend(NamedTuple):
    image: np.ndarray  # RGB uint8, the pseudo-fake
    mask: np.ndarray  # float32 in [0, 1], H x W: how much of the copy each pixel took (0: the crop's own pixel)


def crop_landmarks(row) -> np.ndarray | None:
    """A faces-table row's landmarks (the 68 points when recorded, else MTCNN's 5), mapped from frame pixels
    into its crop, as fractions of the crop side (multiply by the stored crop's size). Reads the crop square
    crop_faces recorded, so shrunk and shifted squares (face-crop datasets) map right."""
    cell = getattr(row, "landmarks68", "") or row.landmarks
    if not cell or row.crop_side <= 0:
        return None
    points = np.asarray(json.loads(cell), dtype=np.float64).reshape(-1, 2)
    if not np.isfinite(points).all():
        return None
    return (points - np.array([row.crop_x, row.crop_y])) / row.crop_side


def hull_mask(shape: tuple[int, int], landmarks: np.ndarray | None, rng: np.random.Generator) -> np.ndarray:
    """The face region, 1 inside and 0 outside: the convex hull of 68 landmarks (the paper's mask), or an
    ellipse fitted to MTCNN's 5 points (eyes, nose, mouth corners span too little of the face for a hull), or
    one around the centre when there are no landmarks."""
    h, w = shape
    mask = np.zeros((h, w), np.float32)
    if landmarks is not None and len(landmarks) >= 68:
        cv2.fillConvexPoly(mask, cv2.convexHull(np.round(landmarks).astype(np.int32)), 1.0)
        return mask
    if landmarks is None:  # a centred face, as face-crop datasets frame it
        landmarks = np.array(
            [
                [0.38 * w, 0.42 * h],
                [0.62 * w, 0.42 * h],
                [0.5 * w, 0.55 * h],
                [0.4 * w, 0.68 * h],
                [0.6 * w, 0.68 * h],
            ]
        )
    eyes, mouth = landmarks[:2].mean(0), landmarks[3:].mean(0)
    centre = (eyes + mouth) / 2 + rng.normal(0, 0.02 * w, 2)
    eye_dist = np.linalg.norm(landmarks[1] - landmarks[0])
    axes = (eye_dist * rng.uniform(0.9, 1.3), np.linalg.norm(mouth - eyes) * rng.uniform(1.1, 1.6))
    angle = np.degrees(np.arctan2(*(landmarks[1] - landmarks[0])[::-1]))
    cv2.ellipse(
        mask,
        tuple(np.round(centre).astype(int)),
        tuple(np.round(axes).astype(int).clip(2)),
        angle,
        0,
        360,
        1.0,
        -1,
    )
    return mask


class SelfBlender:
    """The paper's transforms, built once; every call draws its randomness from the caller's generator, so a
    seeded dataset blends the same way on every run."""

    def __init__(self):
        colour = A.Compose(
            [
                A.RGBShift(r_shift_limit=20, g_shift_limit=20, b_shift_limit=20, p=0.3),
                A.HueSaturationValue(hue_shift_limit=0.3, sat_shift_limit=0.3, val_shift_limit=0.3, p=1),
                A.RandomBrightnessContrast(brightness_limit=0.1, contrast_limit=0.1, p=1),
            ]
        )
        frequency = A.OneOf(
            [
                A.Downscale(
                    scale_range=(0.25, 0.5),
                    p=1,
                    interpolation_pair={"downscale": cv2.INTER_NEAREST, "upscale": cv2.INTER_LINEAR},
                ),
                A.Sharpen(alpha=(0.2, 0.5), lightness=(0.5, 1.0), p=1),
            ],
            p=1,
        )
        self.jitter = A.Compose([colour, frequency])
        self.shift = A.Compose(
            [A.Affine(translate_percent={"x": (-0.03, 0.03), "y": (-0.015, 0.015)}, scale=(0.95, 1 / 0.95), p=1)]
        )
        self.deform = A.Compose([A.ElasticTransform(alpha=50, sigma=7, p=1)])

    def __call__(self, image: np.ndarray, landmarks: np.ndarray | None, rng: np.random.Generator) -> SelfBlend:
        """RGB uint8 crop and its landmarks in crop pixels -> the pseudo-fake and its blend mask."""
        h, w = image.shape[:2]
        mask = hull_mask((h, w), landmarks, rng)
        source = self._draw(self.jitter, rng, image=image)["image"]
        moved = self._draw(self.shift, rng, image=source, mask=mask)
        source = moved["image"]
        mask = self._at_mask_side(moved["mask"], lambda m: self._draw(self.deform, rng, image=m)["image"])
        mask = _soften(mask, rng) * rng.choice(BLEND_RATIOS)
        blended = source.astype(np.float32) * mask[..., None] + image.astype(np.float32) * (1 - mask[..., None])
        return SelfBlend(np.clip(np.round(blended), 0, 255).astype(np.uint8), mask.astype(np.float32))

    @staticmethod
    def _draw(transform: A.Compose, rng: np.random.Generator, **data) -> dict:
        transform.set_random_seed(int(rng.integers(2**31)))
        return transform(**data)

    @staticmethod
    def _at_mask_side(mask: np.ndarray, fn) -> np.ndarray:
        """fn applied to the mask resized to MASK_SIDE, so the paper's pixel settings mean the same on any crop."""
        h, w = mask.shape
        done = fn(cv2.resize(mask, (MASK_SIDE, MASK_SIDE), interpolation=cv2.INTER_LINEAR))
        return cv2.resize(done, (w, h), interpolation=cv2.INTER_LINEAR)


def _soften(mask: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The paper's blend mask: at a random size near MASK_SIDE, blurred and made binary again (a smoother
    outline: the paper's uint8 mask rounds at one half), then blurred into a soft boundary of random width."""
    h, w = mask.shape
    size = (int(rng.integers(*MASK_SIDE_RANGE)), int(rng.integers(*MASK_SIDE_RANGE)))
    soft = cv2.resize(mask, size, interpolation=cv2.INTER_LINEAR)
    first, second = (int(rng.choice(BLUR_KERNELS)) for _ in range(2))
    soft = (cv2.GaussianBlur(soft, (first, first), 0) >= 0.5).astype(np.float32)
    soft = _normalised(cv2.GaussianBlur(soft, (second, second), float(rng.integers(*SECOND_BLUR_SIGMA))))
    return np.clip(cv2.resize(soft, (w, h), interpolation=cv2.INTER_LINEAR), 0, 1)


def _normalised(mask: np.ndarray) -> np.ndarray:
    top = float(mask.max())
    return mask / top if top > 0 else mask


_BLENDER: SelfBlender | None = None


def self_blend(image: np.ndarray, landmarks: np.ndarray | None, rng: np.random.Generator) -> SelfBlend:
    """RGB uint8 crop -> a self-blended pseudo-fake of the same size, with its mask (one shared SelfBlender)."""
    global _BLENDER
    _BLENDER = _BLENDER or SelfBlender()
    return _BLENDER(image, landmarks, rng)
