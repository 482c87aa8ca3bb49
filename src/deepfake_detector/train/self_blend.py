"""Self-blended images (SBI, Shiohara & Yamasaki, CVPR 2022), made on the fly from real face crops.

A real face is blended with a slightly transformed, colour- and frequency-jittered copy of itself inside a
deformed, blurred mask around its landmarks. The result carries the blending boundary and statistical
mismatch that most face manipulations leave, without any method-specific artefact, which is why detectors
trained on them generalise to unseen manipulations, and why they work on datasets with no fakes at all.
"""

from __future__ import annotations

import json

import cv2
import numpy as np

BLEND_RATIOS = (0.25, 0.5, 0.75, 1.0)  # the paper's choices


def crop_landmarks(row) -> np.ndarray | None:
    """The 5 MTCNN landmarks of a faces-table row, mapped from frame pixels into its crop, as fractions of
    the crop side (multiply by the stored crop's size). Reads the crop square crop_faces recorded, so
    shrunk and shifted squares (face-crop datasets) map right."""
    if not row.landmarks or row.crop_side <= 0:
        return None
    points = np.asarray(json.loads(row.landmarks), dtype=np.float64).reshape(5, 2)
    if not np.isfinite(points).all():
        return None
    return (points - np.array([row.crop_x, row.crop_y])) / row.crop_side


def face_mask(shape: tuple[int, int], landmarks: np.ndarray | None, rng: np.random.Generator) -> np.ndarray:
    """A soft float mask over the inner face: an ellipse fitted to the landmarks, jittered, warped, blurred."""
    h, w = shape
    if landmarks is None:  # no landmarks (e.g. crops indexed without detection): assume a centred face
        landmarks = np.array([[0.38 * w, 0.42 * h], [0.62 * w, 0.42 * h], [0.5 * w, 0.55 * h],
                              [0.4 * w, 0.68 * h], [0.6 * w, 0.68 * h]])
    eyes, mouth = landmarks[:2].mean(0), landmarks[3:].mean(0)
    centre = (eyes + mouth) / 2 + rng.normal(0, 0.02 * w, 2)
    eye_dist = np.linalg.norm(landmarks[1] - landmarks[0])
    axes = (eye_dist * rng.uniform(0.9, 1.3), np.linalg.norm(mouth - eyes) * rng.uniform(1.1, 1.6))
    angle = np.degrees(np.arctan2(*(landmarks[1] - landmarks[0])[::-1]))
    mask = np.zeros((h, w), np.float32)
    cv2.ellipse(mask, tuple(np.round(centre).astype(int)), tuple(np.round(axes).astype(int).clip(2)),
                angle, 0, 360, 1.0, -1)
    mask = _elastic(mask, rng, amplitude=0.04 * w)
    k = int(rng.integers(3, 8)) * 2 + 1  # odd kernel: a soft boundary of random width
    return cv2.GaussianBlur(mask, (k, k), 0)


def self_blend(image: np.ndarray, landmarks: np.ndarray | None, rng: np.random.Generator) -> np.ndarray:
    """RGB uint8 crop -> a self-blended pseudo-fake of the same size."""
    h, w = image.shape[:2]
    source = _jitter(image, rng)
    mask = face_mask((h, w), landmarks, rng)[..., None] * rng.choice(BLEND_RATIOS)
    blended = source.astype(np.float32) * mask + image.astype(np.float32) * (1 - mask)
    return np.clip(blended, 0, 255).astype(np.uint8)


def _jitter(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The source face: colour shift, slight scale/shift, and a blur or sharpen (frequency jitter)."""
    out = image.astype(np.float32)
    out = out * rng.uniform(0.9, 1.1, 3) + rng.uniform(-12, 12, 3)
    h, w = image.shape[:2]
    scale = rng.uniform(0.95, 1.05)
    shift = rng.uniform(-0.02, 0.02, 2) * (w, h)
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), 0, scale)
    matrix[:, 2] += shift
    out = cv2.warpAffine(out, matrix, (w, h), borderMode=cv2.BORDER_REFLECT)
    if rng.random() < 0.5:
        out = cv2.GaussianBlur(out, (3, 3), rng.uniform(0.3, 1.2))
    else:
        out = cv2.addWeighted(out, 1.5, cv2.GaussianBlur(out, (0, 0), 1.0), -0.5, 0)
    return np.clip(out, 0, 255).astype(np.uint8)


def _elastic(mask: np.ndarray, rng: np.random.Generator, amplitude: float) -> np.ndarray:
    """Deform the mask with a smooth random displacement field, so the boundary is not a clean ellipse."""
    h, w = mask.shape
    coarse = rng.normal(0, amplitude, (2, 4, 4)).astype(np.float32)
    dx, dy = (cv2.resize(c, (w, h), interpolation=cv2.INTER_CUBIC) for c in coarse)
    grid_x, grid_y = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    return cv2.remap(mask, grid_x + dx, grid_y + dy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
