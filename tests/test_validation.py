"""validate_tables on small real tables and files: a clean dataset passes, each defect is named."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import cv2
import imagehash
import numpy as np
import pandas as pd
import pytest
from PIL import Image

from deepfake_detector.config import ValidateConfig
from deepfake_detector.tables import FACES, MANIFEST
from deepfake_detector.validation import ValidationReport, _cross_split_duplicates, validate_tables

CFG = ValidateConfig()


def face_image(seed: int, size: int = 224) -> np.ndarray:
    """A face-like picture: smooth random texture, a skin ellipse, two eyes and a mouth."""
    rng = np.random.default_rng(seed)
    texture = cv2.resize(rng.integers(0, 255, (8, 8, 3), dtype=np.uint8), (size, size), interpolation=cv2.INTER_CUBIC)
    img = cv2.add(texture // 2, rng.integers(0, 40, (size, size, 3), dtype=np.uint8))
    c, r = size // 2, size // 3
    skin = tuple(int(v) for v in rng.integers(120, 230, 3))
    cv2.ellipse(img, (c, c), (int(r * 0.8), r), 0, 0, 360, skin, -1)
    for dx in (-r // 3, r // 3):
        cv2.circle(img, (c + dx, c - r // 4), r // 8, (30, 30, 30), -1)
    cv2.ellipse(img, (c, c + r // 2), (r // 3, r // 8), 0, 0, 180, (40, 40, 120), -1)
    return img


def write_jpg(path: Path, img: np.ndarray, quality: int = 95) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), img, [cv2.IMWRITE_JPEG_QUALITY, quality])
    return str(path)


def write_video(path: Path, seed: int, n_frames: int = 6) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10, (128, 128))
    for i in range(n_frames):
        writer.write(cv2.resize(face_image(seed * 100 + i), (128, 128)))
    writer.release()
    return str(path)


def make_dataset(root: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """16 images (balanced train/val/test, one group each) plus one video with 2 face rows."""
    items, faces = [], []
    layout = [("train", 4), ("val", 2), ("test", 2)]
    seed = 0
    for split, n in layout:
        for label in (0, 1):
            for _ in range(n):
                seed += 1
                name = f"{split}_{label}_{seed}"
                img = face_image(seed)
                items.append(_item(name, write_jpg(root / "media" / f"{name}.jpg", img), "image", label, split))
                crop = write_jpg(root / "crops" / f"{name}.jpg", img)
                faces.append(_face(name, 0, crop))
    video = write_video(root / "media" / "clip.mp4", seed=99)
    items.append(_item("clip", video, "video", 0, "train"))
    for frame in (0, 3):
        crop = write_jpg(root / "crops" / f"clip_{frame}.jpg", face_image(990 + frame))
        faces.append(_face("clip", frame, crop))
    return MANIFEST.check(pd.DataFrame(items)), FACES.check(pd.DataFrame(faces))


def _item(name: str, path: str, media: str, label: int, split: str) -> dict:
    return {
        "item_id": f"toy/{name}",
        "dataset": "toy",
        "path": path,
        "media": media,
        "label": label,
        "method": "real" if label == 0 else "swap",
        "group": name,
        "split": split,
        "cropped": media == "image",
        "width": 224,
        "height": 224,
    }


def _face(name: str, frame: int, crop: str) -> dict:
    return {
        "item_id": f"toy/{name}",
        "frame_idx": frame,
        "found": True,
        "x1": 10.0,
        "y1": 10.0,
        "x2": 150.0,
        "y2": 170.0,
        "landmarks": json.dumps([[50, 60], [100, 60], [75, 90], [55, 120], [95, 120]]),
        "landmarks68": "",
        "prob": 0.99,
        "face_px": 160.0,
        "crop_x": -24,
        "crop_y": -14,
        "crop_side": 208,
        "crop_path": crop,
    }


def failed(report: ValidationReport) -> dict[str, str]:
    """'suite.column' -> that check's examples, one per line, for every failed check."""
    return {f"{r.suite}.{r.column}": "\n".join(r.examples) for r in report.failures}


def crop_of(faces: pd.DataFrame, item: str) -> str:
    return str(faces.loc[faces["item_id"] == f"toy/{item}", "crop_path"].iloc[0])


def item_name(manifest: pd.DataFrame, split: str, label: int, k: int = 0) -> str:
    rows = manifest[(manifest["split"] == split) & (manifest["label"] == label) & (manifest["media"] == "image")]
    return str(rows["item_id"].iloc[k]).removeprefix("toy/")


@pytest.fixture
def data(tmp_path: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    return make_dataset(tmp_path / "data")


def test_clean_dataset_passes_and_writes_reports(data, tmp_path):
    manifest, faces = data
    out = tmp_path / "validation"
    report = validate_tables(manifest, faces, CFG, out)
    assert report.success, report.to_text()
    assert failed(report) == {}
    assert len(report.results) >= 15
    saved = json.loads((out / "report.json").read_text())
    assert saved["success"] is True and len(saved["results"]) == len(report.results)
    assert (out / "report.txt").read_text().startswith("Data validation PASSED")
    index = (out / "index.html").read_text()
    assert "PASSED" in index and "manifest_groups" in index
    # Every suite links to its rendered GX data docs page, and those pages exist.
    assert set(report.gx_pages) == {r.suite for r in report.results}
    for page in report.gx_pages.values():
        assert (out / page).is_file() and page in index
    assert (out / "gx_docs" / "index.html").is_file()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".validation")]  # no temp dir left


def test_group_in_two_splits(data, tmp_path):
    manifest, faces = data
    leaked = item_name(manifest, "train", 1)
    manifest.loc[manifest["item_id"] == f"toy/{item_name(manifest, 'test', 1)}", "group"] = leaked
    report = validate_tables(manifest, faces, CFG, tmp_path / "out")
    assert set(failed(report)) == {"manifest_groups.n_splits"}
    assert f"{leaked} (n_splits=2, splits=test,train)" in failed(report)["manifest_groups.n_splits"]
    text = (tmp_path / "out" / "report.txt").read_text()
    assert "FAILED" in text and leaked in text and "fix: A group" in text


def test_held_out_fakes_may_share_a_group_with_training_items(data, tmp_path):
    manifest, faces = data
    fake = manifest["item_id"] == f"toy/{item_name(manifest, 'test', 1)}"
    manifest.loc[fake, "group"] = item_name(manifest, "train", 0)  # a test fake in a training group
    manifest.loc[fake, "method"] = "reenact"
    assert not validate_tables(manifest, faces, CFG, tmp_path / "strict").success
    report = validate_tables(manifest, faces, CFG, tmp_path / "out", holdout_methods=["reenact"])
    assert report.success, report.to_text()


@pytest.mark.parametrize("defect", ["garbage image", "truncated image", "truncated video"])
def test_corrupt_media(data, tmp_path, defect):
    manifest, faces = data
    if defect == "truncated video":
        path = Path(manifest.loc[manifest["media"] == "video", "path"].iloc[0])
    else:
        path = Path(manifest.loc[manifest["media"] == "image", "path"].iloc[3])
    raw = path.read_bytes()
    path.write_bytes(b"not an image at all" * 50 if defect == "garbage image" else raw[: len(raw) // 2])
    report = validate_tables(manifest, faces, CFG, tmp_path / "out")
    assert set(failed(report)) == {"manifest.decodes"}
    assert failed(report)["manifest.decodes"] == f"{path} (decodes=False)"
    assert str(path) in report.to_text()


def test_missing_media_file(data, tmp_path):
    manifest, faces = data
    path = Path(manifest["path"].iloc[0])
    path.unlink()
    report = validate_tables(manifest, faces, CFG, tmp_path / "out")
    assert set(failed(report)) == {"manifest.exists"}  # decodes is not judged on a missing file
    assert str(path) in failed(report)["manifest.exists"]


def test_class_imbalance(data, tmp_path):
    manifest, faces = data
    train_fakes = manifest.index[(manifest["split"] == "train") & (manifest["label"] == 1)]
    manifest.loc[train_fakes[:3], "label"] = 0  # train: 8 real (incl. the video), 1 fake
    report = validate_tables(manifest, faces, CFG, tmp_path / "out")
    assert set(failed(report)) == {"manifest_splits.class_ratio"}
    assert failed(report)["manifest_splits.class_ratio"] == "train (class_ratio=8.0, n_real=8, n_fake=1)"
    # The bound is the configured one: a looser bound accepts the same split.
    loose = validate_tables(manifest, faces, ValidateConfig(max_class_ratio=8.0), tmp_path / "out")
    assert loose.success, loose.to_text()


def test_all_black_crop(data, tmp_path):
    manifest, faces = data
    crop = crop_of(faces, item_name(manifest, "val", 0))
    write_jpg(Path(crop), np.zeros((224, 224, 3), np.uint8))
    report = validate_tables(manifest, faces, CFG, tmp_path / "out")
    assert set(failed(report)) == {"faces_crops.crop_not_blank"}
    assert failed(report)["faces_crops.crop_not_blank"] == f"{crop} (crop_not_blank=False, split=val)"


def test_unreadable_crop(data, tmp_path):
    manifest, faces = data
    crop = crop_of(faces, item_name(manifest, "test", 1))
    Path(crop).write_bytes(b"\xff\xd8\xff garbage")
    report = validate_tables(manifest, faces, CFG, tmp_path / "out")
    assert set(failed(report)) == {"faces_crops.crop_decodes"}  # blank/duplicate are not judged on it
    assert crop in failed(report)["faces_crops.crop_decodes"]


def test_missing_crop(data, tmp_path):
    manifest, faces = data
    crop = crop_of(faces, item_name(manifest, "train", 0))
    Path(crop).unlink()
    report = validate_tables(manifest, faces, CFG, tmp_path / "out")
    assert set(failed(report)) == {"faces_crops.crop_exists"}
    assert crop in failed(report)["faces_crops.crop_exists"]


@pytest.mark.parametrize("quality", [None, 70])
def test_duplicate_image_across_splits(data, tmp_path, quality):
    """The same face in train and test; also re-encoded at another JPEG quality (phash still matches)."""
    manifest, faces = data
    train_crop = crop_of(faces, item_name(manifest, "train", 0))
    test_crop = crop_of(faces, item_name(manifest, "test", 1))
    if quality is None:
        shutil.copy(train_crop, test_crop)
        cfg = CFG
    else:
        write_jpg(Path(test_crop), cv2.imread(train_crop), quality=quality)
        assert Path(test_crop).read_bytes() != Path(train_crop).read_bytes()
        assert phash_distance(train_crop, test_crop) <= 4  # the premise, measured by imagehash itself
        cfg = ValidateConfig(max_hash_distance=4)
    report = validate_tables(manifest, faces, cfg, tmp_path / "out")
    assert set(failed(report)) == {"faces_crops.unique_across_splits"}, report.to_text()
    examples = failed(report)["faces_crops.unique_across_splits"].splitlines()
    assert sorted(examples) == sorted(
        [
            f"{train_crop} (unique_across_splits=False, split=train, duplicate_of={test_crop})",
            f"{test_crop} (unique_across_splits=False, split=test, duplicate_of={train_crop})",
        ]
    )


def phash_distance(a: str, b: str) -> int:
    return int(imagehash.phash(Image.open(a).convert("L")) - imagehash.phash(Image.open(b).convert("L")))


def test_hash_distance_threshold_and_split_rule():
    """Hashes 3 bits apart match at distance 3, not 2; a match inside one split is no leak."""
    a, b, c = 0b0, 0b111, 0b1 << 40
    splits = np.array(["train", "test", "train", "train"])
    assert _cross_split_duplicates([a, b, c, None], splits, 3).tolist() == [1, 0, -1, -1]
    assert _cross_split_duplicates([a, b, c, None], splits, 2).tolist() == [-1, -1, -1, -1]
    assert _cross_split_duplicates([a, a, None, a], np.array(["val", "val", "test", "val"]), 0).tolist() == [-1] * 4


def test_different_faces_within_hash_distance_are_not_duplicates(data, tmp_path):
    """A loose distance must still tell the synthetic faces apart (guards the test above)."""
    manifest, faces = data
    report = validate_tables(manifest, faces, ValidateConfig(max_hash_distance=4), tmp_path / "out")
    assert report.success, report.to_text()


def test_low_face_detection_rate(data, tmp_path):
    manifest, faces = data
    missed = faces.index[:3]  # 3 of 18 frames without a face: rate 0.83 < 0.9
    faces.loc[missed, ["found", "crop_path", "landmarks"]] = [False, "", ""]
    report = validate_tables(manifest, faces, CFG, tmp_path / "out")
    assert set(failed(report)) == {"faces_datasets.detection_rate"}
    assert failed(report)["faces_datasets.detection_rate"].startswith("toy (detection_rate=0.83")
    assert validate_tables(manifest, faces, ValidateConfig(min_detection_rate=0.8), tmp_path / "out").success


def test_face_too_small(data, tmp_path):
    manifest, faces = data
    crop = crop_of(faces, item_name(manifest, "val", 1))
    faces.loc[faces["crop_path"] == crop, "face_px"] = 8.0
    report = validate_tables(manifest, faces, CFG, tmp_path / "out")
    assert set(failed(report)) == {"faces_crops.face_px"}
    assert failed(report)["faces_crops.face_px"] == f"{crop} (face_px=8.0, split=val)"
    text = report.to_text()
    assert f"FAIL faces_crops.face_px: expect_column_values_to_be_between between {CFG.min_face_source_px}" in text
    assert "faces.min_face_detect_px" in text and "validate.min_face_source_px" in text  # the fix names the knobs


def test_failed_report_files(data, tmp_path):
    manifest, faces = data
    crop = crop_of(faces, item_name(manifest, "val", 0))
    write_jpg(Path(crop), np.zeros((224, 224, 3), np.uint8))
    out = tmp_path / "out"
    validate_tables(manifest, faces, CFG, out)
    saved = json.loads((out / "report.json").read_text())
    assert saved["success"] is False and saved["n_failed"] == 1
    bad = [r for r in saved["results"] if not r["success"]]
    assert bad[0]["column"] == "crop_not_blank" and crop in bad[0]["examples"][0] and bad[0]["fix"]
    index = (out / "index.html").read_text()
    assert "FAILED" in index and crop in index and "Fix:" in index


@pytest.mark.real_data
def test_real_dfdc_face_crops_pass(shared_data, tmp_path):
    """First 150 real + first 150 fake DFDC crops, read in place; groups split by hashing `original`.

    `shared_data` (conftest) skips with a reason when ../shared/data is absent.
    """
    root = shared_data / "dfdc_faces_dev"
    meta = pd.read_csv(root / "metadata.csv", keep_default_na=False)
    meta = pd.concat([meta[meta["label"] == "REAL"].head(150), meta[meta["label"] == "FAKE"].head(150)])
    group = meta["original"].where(meta["original"] != "", meta["videoname"])
    bucket = group.map(lambda g: int(hashlib.sha256(g.encode()).hexdigest(), 16) % 100)
    paths = [str(root / "faces_224" / v.replace(".mp4", ".jpg")) for v in meta["videoname"]]
    manifest = MANIFEST.check(
        pd.DataFrame(
            {
                "item_id": "dfdc_faces/" + meta["videoname"],
                "dataset": "dfdc_faces",
                "path": paths,
                "media": "image",
                "label": (meta["label"] == "FAKE").astype(int),
                "method": np.where(meta["label"] == "FAKE", "dfdc", "real"),
                "group": group,
                "split": np.select([bucket < 70, bucket < 85], ["train", "val"], "test"),
                "cropped": True,
                "width": 224,
                "height": 224,
            }
        )
    )
    faces = FACES.check(
        pd.DataFrame(
            {
                "item_id": manifest["item_id"],
                "frame_idx": 0,
                "found": True,
                "x1": 0.0,
                "y1": 0.0,
                "x2": 224.0,
                "y2": 224.0,
                "landmarks": "",
                "landmarks68": "",
                "prob": 1.0,
                "face_px": meta["original_width"].astype(float).to_numpy(),
                "crop_x": 0,
                "crop_y": 0,
                "crop_side": 224,
                "crop_path": paths,
            }
        )
    )
    report = validate_tables(manifest, faces, CFG, tmp_path / "out")
    assert report.success, report.to_text()
    assert (tmp_path / "out" / "index.html").is_file()
