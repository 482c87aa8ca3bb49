"""Self-blended pseudo-fakes: landmark mapping into crops, where the blend lands, and the dataset switch."""

from __future__ import annotations

import json
from types import SimpleNamespace

import cv2
import numpy as np
import pandas as pd

from deepfake_detector.train.augment import eval_transform
from deepfake_detector.train.data import CropDataset, SelfBlendSettings
from deepfake_detector.train.self_blend import crop_landmarks, face_mask, self_blend

LANDMARKS = np.array([[45.0, 52.0], [83.0, 52.0], [64.0, 70.0], [50.0, 88.0], [78.0, 88.0]])


def _face_like(size: int = 128, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    image = np.full((size, size, 3), 90, np.uint8) + rng.integers(0, 20, (size, size, 3), dtype=np.uint8)
    cv2.ellipse(image, (64, 70), (34, 44), 0, 0, 360, (200, 160, 130), -1)
    return image


def test_crop_landmarks_maps_frame_pixels_into_the_crop():
    # a 100 px box at (200, 100); margin 1.5 -> a 150 px crop starting at (175, 75), resized to 300 px
    row = SimpleNamespace(x1=200.0, y1=100.0, x2=300.0, y2=200.0,
                          landmarks=json.dumps([[250.0, 150.0]] * 5))
    mapped = crop_landmarks(row, margin=1.5, crop_size=300)
    np.testing.assert_allclose(mapped, [[150.0, 150.0]] * 5)
    assert crop_landmarks(SimpleNamespace(landmarks=""), 1.3, 128) is None


def test_mask_covers_the_inner_face_not_the_corners():
    mask = face_mask((128, 128), LANDMARKS, np.random.default_rng(0))
    assert mask[70, 64] > 0.9
    assert mask[:10, :10].max() == 0 and mask[-10:, -10:].max() == 0


def test_self_blend_changes_the_face_region_only_and_is_seeded():
    image = _face_like()
    out = self_blend(image, LANDMARKS, np.random.default_rng(3))
    assert out.shape == image.shape and out.dtype == np.uint8
    diff = np.abs(out.astype(int) - image.astype(int)).sum(axis=2)
    assert diff.sum() > 0
    inside = face_mask((128, 128), LANDMARKS, np.random.default_rng(3)) > 0  # same seed, same mask draw order
    assert diff[~inside].sum() < 0.3 * diff.sum()
    np.testing.assert_array_equal(out, self_blend(image, LANDMARKS, np.random.default_rng(3)))


def test_dataset_turns_reals_into_fakes_at_the_rate(tmp_path):
    rows = []
    for i in range(200):
        path = tmp_path / f"{i}.jpg"
        cv2.imwrite(str(path), _face_like(seed=i))
        rows.append({"crop_path": str(path), "label": 0, "x1": 32.0, "y1": 32.0, "x2": 96.0, "y2": 96.0,
                     "landmarks": json.dumps((LANDMARKS * 64 / 128 + 32).tolist())})
    settings = SelfBlendSettings(rate=0.3, margin=2.0, crop_size=128)
    dataset = CropDataset(pd.DataFrame(rows), eval_transform(64), settings, seed=1)
    labels = np.array([float(dataset[i][1]) for i in range(len(dataset))])
    assert 0.2 < labels.mean() < 0.4
    off = CropDataset(pd.DataFrame(rows), eval_transform(64), SelfBlendSettings(0.0, 2.0, 128), seed=1)
    assert all(float(off[i][1]) == 0.0 for i in range(20))
