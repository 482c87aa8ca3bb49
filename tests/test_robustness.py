"""Robustness evaluation: the degradations, the sweeps' determinism, the breakdowns and the H.264 re-encode."""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from deepfake_detector.demo.face import Expression, Pose, sample_identity, sample_scene
from deepfake_detector.demo.render import render_face
from deepfake_detector.evaluate import robustness as rb
from deepfake_detector.inference import Predictor
from deepfake_detector.media.frames import MediaError, sample_frames
from deepfake_detector.models.spec import ModelSpec
from deepfake_detector.scoring import video_scores


@pytest.fixture(scope="module")
def crop() -> np.ndarray:
    """A rendered face at the demo's crop size (RGB uint8): real texture, edges and smooth skin."""
    rng = np.random.default_rng(5)
    bgr, _ = render_face(sample_identity(rng), Pose(), Expression(), sample_scene(rng), 128, 5)
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def _change(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(float) - b.astype(float)).mean())


@pytest.mark.parametrize("size", [16, 32, 96, 128, 224])
def test_resample_returns_the_requested_size(crop: np.ndarray, size: int) -> None:
    out = rb.resample(crop, size)
    assert out.shape == (size, size, 3) and out.dtype == np.uint8


def test_lower_jpeg_quality_changes_the_image_more(crop: np.ndarray) -> None:
    changes = [_change(crop, rb.jpeg(crop, q)) for q in (95, 70, 40, 10)]
    assert changes == sorted(changes) and changes[0] < changes[-1] / 3, changes
    assert rb.jpeg(crop, 10).shape == crop.shape


def test_blur_removes_detail_as_sigma_grows(crop: np.ndarray) -> None:
    sharpness = [cv2.Laplacian(rb.blur(crop, s), cv2.CV_64F).var() for s in (0, 1, 2, 4)]
    assert sharpness == sorted(sharpness, reverse=True), sharpness
    np.testing.assert_array_equal(rb.blur(crop, 0), crop)


def test_noise_is_seeded_per_crop_and_scales_with_std(crop: np.ndarray) -> None:
    a = rb.noise(crop, 10, rb.crop_rng(42, 3))
    np.testing.assert_array_equal(a, rb.noise(crop, 10, rb.crop_rng(42, 3)))
    assert not np.array_equal(a, rb.noise(crop, 10, rb.crop_rng(42, 4)))
    assert _change(crop, a) < _change(crop, rb.noise(crop, 30, rb.crop_rng(42, 3)))
    np.testing.assert_array_equal(rb.noise(crop, 0, rb.crop_rng(42, 3)), crop)
    assert a.dtype == np.uint8


def test_scores_do_not_depend_on_batching(tiny_model_dir: Path, crop: np.ndarray) -> None:
    predictor = Predictor(tiny_model_dir, backend="torch")
    crops = [np.roll(crop, 7 * i, axis=1) for i in range(5)]
    whole = rb.score_degraded(predictor, crops, rb.noise, 15, seed=1, batch_size=8)
    np.testing.assert_allclose(
        rb.score_degraded(predictor, crops, rb.noise, 15, seed=1, batch_size=2), whole, rtol=1e-5
    )
    assert not np.allclose(rb.score_degraded(predictor, crops, rb.noise, 15, seed=2, batch_size=8), whole)


def test_face_size_buckets() -> None:
    buckets = rb.face_size_bucket(pd.Series([10.0, 64.0, 100.0, 300.0]), [64, 128, 256])
    assert buckets.tolist() == ["<64", "64-128", "64-128", ">=256"]


def _frames() -> pd.DataFrame:
    """Two datasets; 'a' has two methods, one perfectly separated from its reals, one not at all."""
    rows = [
        ("a/r1", "a", 0, "real", 0.2),
        ("a/r2", "a", 0, "real", 0.4),
        ("a/f1", "a", 1, "swap", 0.9),
        ("a/f2", "a", 1, "swap", 0.8),
        ("a/g1", "a", 1, "reenact", 0.15),
        ("a/g2", "a", 1, "reenact", 0.1),
        ("b/r1", "b", 0, "real", 0.5),
        ("b/f1", "b", 1, "other", 0.6),
    ]
    df = pd.DataFrame(rows, columns=["item_id", "dataset", "label", "method", "prob"])
    return pd.concat([df, df.assign(prob=df["prob"] * 0.9)]).reset_index(drop=True)  # two frames per item


def test_breakdown_per_dataset_and_method() -> None:
    frames = _frames()
    out = rb.breakdown(frames, video_scores(frames, "mean"), threshold=0.5)
    assert set(out["by_dataset"]) == {"a", "b"} and set(out["by_method"]) == {"swap", "reenact", "other"}
    swap = out["by_method"]["swap"]  # judged against dataset a's reals only
    assert swap["video"]["n"] == 4 and swap["video"]["roc_auc"] == 1.0 and swap["frame"]["n"] == 8
    assert swap["video"]["eer"] == 0.0 and swap["video"]["average_precision"] == 1.0
    assert out["by_method"]["reenact"]["video"]["roc_auc"] == 0.0
    assert out["by_method"]["other"]["video"]["n"] == 2
    for key in ("roc_auc", "average_precision", "f1", "precision", "recall", "eer"):
        assert key in out["by_dataset"]["a"]["frame"] and key in out["by_dataset"]["a"]["video"]


def test_pick_test_videos_balanced_capped_and_deterministic() -> None:
    manifest = pd.DataFrame(
        {
            "item_id": [f"v{i:02d}" for i in range(20)],
            "label": [i % 4 == 0 for i in range(20)],
            "media": ["video"] * 18 + ["image"] * 2,
            "split": ["test"] * 16 + ["train"] * 4,
            "path": "x",
        }
    ).astype({"label": int})
    picked = rb.pick_test_videos(manifest, 6, seed=1)
    assert len(picked) == 6 and picked["label"].sum() == 3
    assert set(picked["split"]) == {"test"} and set(picked["media"]) == {"video"}
    pd.testing.assert_frame_equal(picked, rb.pick_test_videos(manifest, 6, seed=1))
    assert len(rb.pick_test_videos(manifest, 100, seed=1)) == 16  # every test video
    assert rb.pick_test_videos(manifest.assign(media="image"), 6, seed=1).empty


def test_axis_tables_have_a_column_per_model() -> None:
    results = {
        "current": {"jpeg_quality": {"90": 0.8, "10": 0.6}, "face_px": {"<64": {"roc_auc": 0.7, "n": 3}}},
        "meso4": {"jpeg_quality": {"90": 0.7, "10": 0.5}, "face_px": {}},
    }
    table = rb.axis_table(results, "jpeg_quality")
    assert list(table.columns) == ["level", "current", "meso4"] and table["level"].tolist() == ["90", "10"]
    sizes = rb.face_size_table(results, [64, 128])
    assert sizes["bucket"].tolist() == ["<64", "64-128", ">=128"] and sizes["level"].tolist() == [0, 64, 128]
    assert sizes["current"].tolist()[0] == 0.7 and sizes["n"].tolist() == [3, 0, 0]
    assert sizes["meso4"].isna().all()


# --------------------------------------------------------------------------------------------- H.264


@pytest.fixture(scope="module")
def demo_video(tiny_corpus: Path) -> Path:
    return sorted((tiny_corpus / "real" / "videos").glob("*.mp4"))[0]


def test_h264_reencode_is_readable_and_higher_crf_is_smaller(demo_video: Path, tmp_path: Path) -> None:
    every_frame = 10_000  # more than the video has: sample_frames returns them all
    frame_count = len(sample_frames(demo_video, every_frame))
    sizes = {}
    for crf in (18, 30, 45):
        out = rb.reencode_h264(demo_video, tmp_path / f"crf{crf}.mp4", crf)
        assert len(sample_frames(out, every_frame)) == frame_count
        frames = sample_frames(out, 3)
        assert len(frames) == 3 and frames[0].rgb.shape == sample_frames(demo_video, 1)[0].rgb.shape
        sizes[crf] = out.stat().st_size
    assert sizes[18] > sizes[30] > sizes[45], sizes
    again = rb.reencode_h264(demo_video, tmp_path / "again.mp4", 30)
    assert again.read_bytes() == (tmp_path / "crf30.mp4").read_bytes()  # deterministic


def test_h264_reencode_of_a_broken_file_names_it(tmp_path: Path) -> None:
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video" * 100)
    with pytest.raises(MediaError, match="broken.mp4: H.264 re-encode at CRF 23 failed"):
        rb.reencode_h264(broken, tmp_path / "out.mp4", 23)


def test_crf_sweep_scores_through_the_predictor_and_counts_failures(
    tiny_model_dir: Path, demo_video: Path, tmp_path: Path
) -> None:
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video" * 100)
    videos = pd.DataFrame({"path": [str(demo_video), str(broken)], "label": [0, 1]})
    predictor = Predictor(tiny_model_dir, backend="torch")
    aucs, info = rb.crf_sweep({"tiny": predictor}, videos, [30], tmp_path)
    assert aucs == {"tiny": {"30": None}}  # one scored video: a single class, no AUC
    assert info["30"]["no_verdict"] == {"tiny": 1} and info["30"]["mean_kb"] > 0
    assert not list(tmp_path.glob("crf*.mp4"))  # re-encoded files are removed as it goes


def test_shared_detection_gives_each_model_its_own_predict_path_verdict(
    tiny_model_dir: Path, demo_video: Path, tmp_path: Path
) -> None:
    """The CRF sweep decodes and detects once per face setting; verdicts must equal predict_path's."""
    wider = tmp_path / "wider"
    shutil.copytree(tiny_model_dir, wider)
    spec = ModelSpec.load(wider)
    spec.model_copy(update={"faces": spec.faces.model_copy(update={"margin": 1.6})}).save(wider)
    predictors = {
        "a": Predictor(tiny_model_dir, backend="torch"),
        "b": Predictor(tiny_model_dir, backend="torch"),
        "wider": Predictor(wider, backend="torch"),
    }
    verdicts = rb.score_video_with_each(predictors, demo_video)
    for name, predictor in predictors.items():
        assert verdicts[name] == pytest.approx(predictor.predict_path(demo_video).fake_probability, abs=1e-6)
    assert verdicts["wider"] != pytest.approx(verdicts["a"], abs=1e-6)  # its own crops, not the shared ones
