"""Self-blended pseudo-fakes: landmark mapping into crops, the paper's face-shaped mask, where the blend lands,
and the dataset switch."""

from __future__ import annotations

import json
from types import SimpleNamespace

import cv2
import numpy as np
import pandas as pd
import pytest

from deepfake_detector.config import TrainConfig
from deepfake_detector.models.preprocess import eval_transform
from deepfake_detector.models.spec import IMAGENET_MEAN, IMAGENET_STD
from deepfake_detector.train.data import CropDataset, make_loaders
from deepfake_detector.train.self_blend import crop_landmarks, hull_mask, self_blend

LANDMARKS = np.array([[45.0, 52.0], [83.0, 52.0], [64.0, 70.0], [50.0, 88.0], [78.0, 88.0]])


def _face_like(size: int = 128, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    image = np.full((size, size, 3), 90, np.uint8) + rng.integers(0, 20, (size, size, 3), dtype=np.uint8)
    cv2.ellipse(image, (64, 70), (34, 44), 0, 0, 360, (200, 160, 130), -1)
    return image


def _row(**fields) -> SimpleNamespace:
    return SimpleNamespace(**{"crop_x": 0, "crop_y": 0, "crop_side": 0, "landmarks": "", "landmarks68": "", **fields})


def _rendered_face(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A demo-renderer face (RGB, 128 px) and its true 68 landmarks in pixels."""
    from deepfake_detector.demo.face import Expression, Pose, sample_identity, sample_scene
    from deepfake_detector.demo.render import render_face

    rng = np.random.default_rng(seed)
    bgr, points = render_face(sample_identity(rng), Pose(yaw=8, roll=4), Expression(), sample_scene(rng), 128, seed)
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), points.astype(np.float64)


def test_crop_landmarks_maps_frame_pixels_into_the_recorded_square():
    # the crop was cut from the 150 px square at (175, 75): a point at (250, 150) is at its centre
    row = _row(crop_x=175, crop_y=75, crop_side=150, landmarks=json.dumps([[250.0, 150.0]] * 5))
    np.testing.assert_allclose(crop_landmarks(row), [[0.5, 0.5]] * 5)
    assert crop_landmarks(_row(crop_side=150)) is None  # no landmarks (face crops used whole)
    assert crop_landmarks(_row(landmarks=json.dumps([[1.0, 2.0]] * 5))) is None  # no crop recorded


def test_landmarks_land_on_the_face_in_crops_of_face_crop_datasets(tmp_path):
    """A face-crop image whose margin square exceeds it is cropped shrunk and shifted to fit (fit_inside).
    Mapped through the square crop_faces records, every landmark lands on its marker in the stored crop.
    (The mapping this replaced re-derived the square from faces.margin alone, ignoring the shrink and shift:
    on this image it put every landmark 9-11 px off in the 128 px crop, outside its 3 px marker.)"""
    from deepfake_detector.config import FacesConfig
    from deepfake_detector.media.faces import Face
    from deepfake_detector.media.frames import read_crop
    from deepfake_detector.preprocess.crop_faces import face_row  # crop_faces' writer: crop + recorded square

    image = np.zeros((224, 224, 3), np.uint8)
    points = np.array([[70.0, 90.0], [150.0, 86.0], [112.0, 130.0], [80.0, 170.0], [146.0, 168.0]])
    for x, y in points:
        cv2.circle(image, (int(x), int(y)), 5, (255, 255, 255), -1)
    face = Face((40.0, 40.0, 200.0, 220.0), points, 0.99)  # a box near the border, as MTCNN gives on crops
    cfg = FacesConfig(margin=1.3, crop_size=128)
    row = face_row("set/img", 0, image, face, cfg, True, out=tmp_path, final=tmp_path)
    assert row["crop_side"] == 224 < 1.3 * 180  # the square was shrunk to the image
    crop = read_crop(tmp_path / "set/img/000000.jpg")
    mapped = crop_landmarks(SimpleNamespace(**row)) * crop.shape[0]
    for x, y in mapped:
        assert crop[int(round(y)), int(round(x))].mean() > 200, (x, y)


def test_68_landmarks_are_preferred_and_mapped_like_the_5():
    dense = [[250.0, 150.0]] * 68
    row = _row(
        crop_x=175, crop_y=75, crop_side=150, landmarks=json.dumps([[0.0, 0.0]] * 5), landmarks68=json.dumps(dense)
    )
    np.testing.assert_allclose(crop_landmarks(row), [[0.5, 0.5]] * 68)


def test_mask_is_the_face_outline_from_68_landmarks():
    """The paper's mask: the convex hull of the 68 points, so it follows the jaw and brows of this face (a
    different face, a different shape), covers every landmark and nothing far outside them."""
    image, points = _rendered_face()
    mask = hull_mask(image.shape[:2], points, np.random.default_rng(0))
    hull = cv2.convexHull(np.round(points).astype(np.int32))
    assert set(np.unique(mask)) == {0.0, 1.0}
    assert abs(mask.sum() - cv2.contourArea(hull)) < 0.05 * cv2.contourArea(hull)  # the hull's area, to the pixel edge
    inside = [mask[int(round(y)), int(round(x))] for x, y in points if 0 <= x < 128 and 0 <= y < 128]
    assert np.mean(inside) > 0.9  # hull vertices sit on its rasterised edge
    x, y, w, h = cv2.boundingRect(hull)
    assert mask[:y].sum() == 0 and mask[y + h + 1 :].sum() == 0 and mask[:, :x].sum() == 0


def test_5_point_fallback_is_an_ellipse_on_the_inner_face():
    mask = hull_mask((128, 128), LANDMARKS, np.random.default_rng(0))
    assert mask[70, 64] == 1.0
    assert mask[:10, :10].max() == 0 and mask[-10:, -10:].max() == 0


def test_self_blend_changes_only_inside_the_face_mask_and_is_seeded():
    """Outside the blend mask the pseudo-fake is the real crop to the pixel; inside it differs; the mask lies
    within the crop, around the landmarks' hull (the soft edge spreads by the blur's width at most); the same
    generator gives the same blend."""
    image, points = _rendered_face(1)
    hull = hull_mask(image.shape[:2], points, np.random.default_rng(0))
    near_hull = cv2.dilate(hull, np.ones((25, 25), np.uint8)) > 0  # affine shift + elastic + blur widths
    changed_inside = 0
    for seed in range(8):
        blend = self_blend(image, points, np.random.default_rng(seed))
        assert blend.image.shape == image.shape and blend.image.dtype == np.uint8
        outside = blend.mask == 0
        np.testing.assert_array_equal(blend.image[outside], image[outside])
        assert blend.mask.max() >= 0.25 and not blend.mask[~near_hull].any()
        assert blend.mask[0].max() == 0 and blend.mask[-1].max() == 0  # inside the crop
        diff = np.abs(blend.image.astype(int) - image.astype(int)).sum(axis=2)
        changed_inside += int(diff[blend.mask > 0.5 * blend.mask.max()].mean() > 1)
    assert changed_inside >= 6  # the copy differs from the crop (its colour and frequency jitter)
    again = self_blend(image, points, np.random.default_rng(3))
    np.testing.assert_array_equal(again.image, self_blend(image, points, np.random.default_rng(3)).image)


def test_dataset_turns_reals_into_fakes_at_the_rate(tmp_path):
    rows = []
    for i in range(200):
        path = tmp_path / f"{i}.jpg"
        cv2.imwrite(str(path), _face_like(seed=i))
        rows.append(
            {
                "crop_path": str(path),
                "label": 0,
                "crop_x": 0,
                "crop_y": 0,
                "crop_side": 256,
                "landmarks": json.dumps((LANDMARKS * 2).tolist()),
            }
        )
    dataset = CropDataset(pd.DataFrame(rows), eval_transform(64, IMAGENET_MEAN, IMAGENET_STD), 0.3, seed=1)
    labels = np.array([float(dataset[i][1]) for i in range(len(dataset))])
    assert 0.2 < labels.mean() < 0.4
    off = CropDataset(pd.DataFrame(rows), eval_transform(64, IMAGENET_MEAN, IMAGENET_STD), 0.0, seed=1)
    assert all(float(off[i][1]) == 0.0 for i in range(20))


def _table(tmp_path, n_per_split: int = 24) -> pd.DataFrame:
    rows = []
    for split in ("train", "val"):
        for i in range(n_per_split):
            path = tmp_path / f"{split}{i}.jpg"
            cv2.imwrite(str(path), _face_like(seed=i))
            rows.append(
                {
                    "crop_path": str(path),
                    "label": i % 2,
                    "split": split,
                    "crop_x": 0,
                    "crop_y": 0,
                    "crop_side": 128,
                    "landmarks": "",
                }
            )
    return pd.DataFrame(rows)


def test_self_blend_only_trains_on_real_faces_and_blends_every_fake(tmp_path):
    """train.self_blend_only: the dataset's training fakes are dropped; fakes come only from self-blending
    (at the rate), and validation keeps the dataset's own fakes for picking the epoch and calibrating."""
    faces = _table(tmp_path)
    toy = {"input_size": 32, "augment": {"strength": 0.0}, "batch_size": 8, "balance": "label"}
    only = TrainConfig().overridden({**toy, "self_blend_rate": 0.5, "self_blend_only": True})
    train, val = make_loaders(faces, only, IMAGENET_MEAN, IMAGENET_STD, seed=0)
    assert len(train.dataset) == 12 and set(train.dataset.labels) == {0.0}  # the 12 real train crops
    drawn = np.concatenate([labels.numpy() for _ in range(10) for _, labels in train])
    assert 0.3 < drawn.mean() < 0.7  # about half self-blended fakes
    assert sorted(set(val.dataset.labels)) == [0.0, 1.0] and len(val.dataset) == 24
    mixed, _ = make_loaders(
        faces, TrainConfig().overridden({**toy, "self_blend_rate": 0.5}), IMAGENET_MEAN, IMAGENET_STD, seed=0
    )
    assert len(mixed.dataset) == 24  # without `only` the dataset's fakes stay in


def test_self_blend_only_needs_a_blend_rate():
    with pytest.raises(ValueError, match="self_blend_rate > 0"):
        TrainConfig(self_blend_only=True, self_blend_rate=0.0)
    assert TrainConfig(self_blend_only=True, self_blend_rate=0.5).self_blend_only
