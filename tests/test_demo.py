"""Behavioural tests of the synthetic demo corpus: determinism, layout, decodable videos, manipulations, MTCNN."""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path

import cv2
import imageio_ffmpeg
import numpy as np
import pytest

from deepfake_detector.demo import METHODS, face_swap, generate_corpus, reenact, resynthesize, self_blend
from deepfake_detector.demo.face import Expression, Pose, sample_identity, sample_scene
from deepfake_detector.demo.manipulate import face_width, hull_mask
from deepfake_detector.demo.render import render_face

TINY = dict(identities=4, images_per_identity=2, videos_per_identity=1, frames_per_video=8)
MICRO = dict(identities=2, images_per_identity=1, videos_per_identity=1, frames_per_video=3)
OPEN = Expression()


def _hashes(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _labels(root: Path) -> list[dict[str, str]]:
    with open(root / "labels.csv") as f:
        return list(csv.DictReader(f))


def _frames(path: Path) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(path))
    frames = []
    while (frame := cap.read())[0]:
        frames.append(frame[1])
    cap.release()
    return frames


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("demo") / "corpus"
    return out, generate_corpus(out, seed=1, **TINY)


def test_same_seed_same_bytes_other_seed_differs(tmp_path: Path) -> None:
    a, b, c = (generate_corpus(tmp_path / name, seed=seed, **MICRO) for name, seed in [("a", 5), ("b", 5), ("c", 6)])
    assert a == b
    assert (tmp_path / "a" / "labels.csv").read_bytes() == (tmp_path / "b" / "labels.csv").read_bytes()
    assert _hashes(tmp_path / "a") == _hashes(tmp_path / "b")
    media_a = {k: v for k, v in _hashes(tmp_path / "a").items() if k.endswith((".jpg", ".mp4"))}
    media_c = {k: v for k, v in _hashes(tmp_path / "c").items() if k.endswith((".jpg", ".mp4"))}
    assert media_a.keys() == media_c.keys()
    assert all(media_a[k] != media_c[k] for k in media_a)


def test_labels_match_files(tiny: tuple[Path, dict]) -> None:
    root, summary = tiny
    rows = _labels(root)
    on_disk = {str(p.relative_to(root)) for p in root.rglob("*") if p.suffix in (".jpg", ".mp4")}
    assert {r["path"] for r in rows} == on_disk
    assert len(rows) == summary["files"] == 4 * (2 + 1) * 2
    for r in rows:
        assert r["label"] == ("real" if r["method"] == "real" else "fake")
        assert r["path"].startswith("real/" if r["label"] == "real" else f"fake/{r['method']}/")
    assert sum(r["label"] == "real" for r in rows) == sum(r["label"] == "fake" for r in rows)
    per_method = {m: sum(r["method"] == m for r in rows) for m in METHODS}
    assert set(per_method.values()) == {3}, per_method  # 2 images + 1 video per method
    # Both identities of a pair share its group, and swaps never cross groups.
    groups = {r["group"] for r in rows}
    assert groups == {"pair00", "pair01"}
    for r in rows:
        identity = int(Path(r["path"]).name[2:4])
        assert r["group"] == f"pair{identity // 2:02d}"
    assert (root / "README.md").read_text().startswith("# Synthetic deepfake demo corpus")
    assert summary["bytes"] == sum((root / r["path"]).stat().st_size for r in rows)


def test_videos_decode_with_expected_frames(tiny: tuple[Path, dict]) -> None:
    root, _ = tiny
    videos = [r["path"] for r in _labels(root) if r["path"].endswith(".mp4")]
    assert len(videos) == 8
    for rel in videos:
        frames = _frames(root / rel)
        assert len(frames) == TINY["frames_per_video"], rel
        assert frames[0].shape == (256, 256, 3)
        # The head moves: consecutive frames are not identical.
        assert np.abs(frames[0].astype(int) - frames[-1].astype(int)).mean() > 0.5


def test_videos_are_h264_yuv420p_which_browsers_play(tiny: tuple[Path, dict]) -> None:
    root, _ = tiny
    for rel in (r["path"] for r in _labels(root) if r["path"].endswith(".mp4")):
        reader = imageio_ffmpeg.read_frames(str(root / rel))
        meta = next(reader)
        reader.close()
        assert meta["codec"] == "h264" and meta["pix_fmt"].startswith("yuv420p"), (rel, meta)
        assert meta["fps"] == 12 and meta["size"] == (256, 256)


def _face(seed: int, expr: Expression = OPEN) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return render_face(sample_identity(rng), Pose(yaw=8, roll=4), expr, sample_scene(rng), 256, seed)


def _inside_fraction(before: np.ndarray, after: np.ndarray, lm: np.ndarray) -> float:
    """Share of the absolute pixel change that falls inside the (slightly grown) face hull."""
    change = np.abs(after.astype(float) - before.astype(float)).sum(2)
    grow = int(0.25 * face_width(lm))
    face = cv2.dilate(hull_mask(before.shape, lm), np.ones((grow, grow), np.uint8)) > 0
    assert change[face].mean() > 1.0, "the manipulation barely changed the face"
    return float(change[face].sum() / change.sum())


def test_manipulations_change_mostly_the_face() -> None:
    img, lm = _face(11)
    source, source_lm = _face(12)
    driver, driver_lm = _face(11, Expression(eye_open=0.1, mouth_open=0.8))
    fakes = {
        "faceswap": face_swap(img, lm, source, source_lm),
        "reenact": reenact(img, lm, driver, driver_lm)[0],
        "resynthesis": resynthesize(img, lm, 4, "checkerboard"),
        "resynthesis_nearest": resynthesize(img, lm, 3, "nearest"),
        "selfblend": self_blend(img, lm, np.random.default_rng(3)),
    }
    for name, fake in fakes.items():
        assert fake.shape == img.shape and fake.dtype == np.uint8, name
        assert _inside_fraction(img, fake, lm) > 0.9, name


def test_self_blend_is_pure_and_seeded() -> None:
    img, lm = _face(21)
    before = img.copy()
    a = self_blend(img, lm, np.random.default_rng(0))
    b = self_blend(img, lm, np.random.default_rng(0))
    assert a.shape == img.shape and a.dtype == np.uint8
    assert np.array_equal(img, before)
    assert np.array_equal(a, b)
    assert any(not np.array_equal(a, self_blend(img, lm, np.random.default_rng(s))) for s in range(1, 4))


def test_identities_must_pair(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="even"):
        generate_corpus(tmp_path / "x", identities=3)


def test_mtcnn_finds_faces_in_real_and_fake(tiny: tuple[Path, dict]) -> None:
    """Every image and every second video frame (benchmarks/demo_detection_rate.py checks them all)."""
    facenet = pytest.importorskip("facenet_pytorch")
    detector = facenet.MTCNN(keep_all=True, device="cpu")
    root, _ = tiny
    found: dict[str, list[bool]] = {}
    for row in _labels(root):
        path = root / row["path"]
        for frame in _frames(path)[::2] if path.suffix == ".mp4" else [cv2.imread(str(path))]:
            _, probs = detector.detect(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
            best = 0.0 if probs is None else float(np.nan_to_num(np.asarray(probs, dtype=float)).max())
            found.setdefault(row["method"], []).append(best >= 0.9)
    assert sum(map(len, found.values())) == 4 * 2 * 2 + 8 * 4
    assert set(found) == {"real", *METHODS}
    hits = [hit for hits in found.values() for hit in hits]
    assert np.mean(hits) >= 0.95, {m: f"{sum(h)}/{len(h)}" for m, h in found.items()}
