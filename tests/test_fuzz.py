"""Never a crash: whatever image or video a user brings, the Predictor (behind the CLI and the service) ends in
a verdict or a clear per-file error naming the file, never an exception; the pipeline's extract_frames and
crop_faces units, fed the same files, give their rows or skip the file with a reason naming it. Property-based
(hypothesis, seeded: the same examples on every run), with the known past crash, a 12x12 image, among the
explicit examples."""

from __future__ import annotations

import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from PIL import Image

from deepfake_detector.config import load_params
from deepfake_detector.engines import in_place
from deepfake_detector.inference import Predictor
from deepfake_detector.prediction import Prediction
from deepfake_detector.preprocess.crop_faces import FaceCropper, FaceItem
from deepfake_detector.preprocess.extract_frames import FrameExtractor, FrameItem

FUZZ = settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture(scope="module")
def predictor(tiny_model_dir) -> Predictor:
    return Predictor(tiny_model_dir)


@pytest.fixture(scope="module")
def face(tiny_corpus) -> np.ndarray:
    """A rendered demo portrait (RGB uint8) that MTCNN finds a face in: pasted into some of the fuzzed images so
    the crop and model paths run on them too, not only the no-face path."""
    path = sorted((tiny_corpus / "real").rglob("*.jpg"))[0]
    return cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)


def assert_verdict_or_clear_error(result: Prediction, path: Path) -> None:
    assert isinstance(result, Prediction)
    event(result.verdict or result.error.replace(str(path), "<file>")[:60])
    if result.error is None and result.verdict == "cannot_judge":
        assert result.reason["code"] and result.reason["message"] and result.fake_probability is None, result
    elif result.error is None:
        assert result.verdict in ("fake", "real") and 0.0 <= result.fake_probability <= 1.0, result
    else:
        assert str(path) in result.error and len(result.error) < 400, result.error  # names the file, one sentence


def pixels(
    height: int,
    width: int,
    channels: int,
    bits: int,
    pattern: str,
    seed: int,
    face: np.ndarray | None = None,
    face_share: float = 0.5,
) -> np.ndarray:
    """An image of the given shape and depth; with `face`, the portrait pasted in the middle, its side
    `face_share` of the image's short side."""
    top, dtype = (255, np.uint8) if bits == 8 else (65535, np.uint16)
    if pattern == "flat":
        rgba = np.full((height, width, 4), top // 2, dtype=np.float64)
    elif pattern == "noise":
        rgba = np.random.default_rng(seed).integers(0, top + 1, (height, width, 4)).astype(np.float64)
    else:  # a horizontal gradient
        rgba = np.repeat(np.linspace(0, top, width)[None, :, None], height, 0).repeat(4, 2)
    side = int(min(height, width) * face_share)
    if face is not None and side >= 4:
        y, x = (height - side) // 2, (width - side) // 2
        rgba[y : y + side, x : x + side, :3] = cv2.resize(face, (side, side)) * (top / 255)
        rgba[y : y + side, x : x + side, 3] = top
    if channels == 1:
        return rgba[:, :, :3].mean(axis=2).astype(dtype)
    return rgba[:, :, :channels].astype(dtype)


def write_image(array: np.ndarray, path: Path) -> Path:
    """PNG keeps 16 bits and 1-4 channels (two channels through PIL's grey + alpha); JPEG and WebP get 8 bits."""
    channels = 1 if array.ndim == 2 else array.shape[2]
    if channels == 2:
        Image.fromarray((array >> 8).astype(np.uint8) if array.dtype == np.uint16 else array, "LA").save(path)
        return path
    if path.suffix != ".png" and array.dtype == np.uint16:
        array = (array >> 8).astype(np.uint8)
    if path.suffix == ".jpg" and channels == 4:
        array, channels = array[:, :, :3], 3
    if channels >= 3:
        array = array[:, :, [2, 1, 0, 3][:channels]]  # cv2 writes BGR(A)
    ok, data = cv2.imencode(path.suffix, array)
    assert ok, f"cv2 cannot write {array.shape} {array.dtype} as {path.suffix}"
    path.write_bytes(data.tobytes())
    return path


sizes = st.one_of(st.integers(1, 40), st.integers(41, 700), st.sampled_from([1500, 3000]))
channel_counts, bit_depths = st.sampled_from([1, 2, 3, 4]), st.sampled_from([8, 16])
patterns, image_suffixes = (
    st.sampled_from(["flat", "noise", "ramp"]),
    st.sampled_from([".png", ".jpg", ".webp", ".bmp"]),
)
# any image, as the Predictor and the crop stage are both fed (in this order: hypothesis draws by keyword)
ANY_IMAGE = dict(
    height=sizes,
    width=sizes,
    channels=channel_counts,
    bits=bit_depths,
    pattern=patterns,
    suffix=image_suffixes,
    seed=st.integers(0, 3),
    with_face=st.booleans(),
    face_share=st.floats(0.05, 1.0),
)


@given(**ANY_IMAGE)
@example(
    height=12, width=12, channels=3, bits=8, pattern="noise", suffix=".png", seed=0, with_face=False, face_share=0.5
)  # crashed MTCNN once
@example(height=1, width=1, channels=1, bits=8, pattern="flat", suffix=".png", seed=0, with_face=False, face_share=0.5)
@example(
    height=1, width=3000, channels=3, bits=16, pattern="ramp", suffix=".png", seed=0, with_face=False, face_share=0.5
)
@example(
    height=3000, width=2, channels=4, bits=8, pattern="noise", suffix=".png", seed=0, with_face=False, face_share=0.5
)
@example(
    height=600, width=600, channels=4, bits=16, pattern="noise", suffix=".png", seed=0, with_face=True, face_share=0.6
)  # a face in a 16-bit RGBA PNG
@example(
    height=200, width=1500, channels=1, bits=8, pattern="flat", suffix=".jpg", seed=0, with_face=True, face_share=1.0
)  # a grey face filling a wide strip, touching its edges
@FUZZ
def test_any_image_ends_in_a_verdict_or_a_clear_error(
    predictor, face, tmp_path, height, width, channels, bits, pattern, suffix, seed, with_face, face_share
):
    if channels == 2:
        suffix = ".png"
    array = pixels(height, width, channels, bits, pattern, seed, face if with_face else None, face_share)
    path = write_image(array, tmp_path / f"fuzz{suffix}")
    assert_verdict_or_clear_error(predictor.predict_path(path), path)


@given(
    side=st.integers(160, 900),
    aspect=st.sampled_from([1.0, 0.5, 2.0, 4.0]),
    channels=channel_counts,
    bits=bit_depths,
    pattern=patterns,
    suffix=image_suffixes,
    face_share=st.floats(0.5, 1.0),
)
@settings(FUZZ, max_examples=15)
def test_a_clear_face_is_judged_in_every_format_depth_and_channel_count(
    predictor, face, tmp_path, side, aspect, channels, bits, pattern, suffix, face_share
):
    """Grey, grey + alpha, RGB, RGBA, 8 or 16 bits, any of the accepted formats: a face filling half the short
    side or more gets a verdict (decoding reduces every such file to 8-bit RGB)."""
    if channels == 2:
        suffix = ".png"
    array = pixels(side, int(side * aspect), channels, bits, pattern, 0, face, face_share)
    result = predictor.predict_path(write_image(array, tmp_path / f"face{suffix}"))
    assert result.error is None and result.verdict in ("fake", "real") and len(result.faces) == 1, result


# any video (the kinds write_video makes); each test adds the containers it tries
ANY_VIDEO = dict(
    kind=st.sampled_from(["plain", "one_frame", "absurd_fps", "slow_fps", "rotated", "variable_fps", "audio_only"]),
    width=st.sampled_from([16, 64, 255, 640, 1280]),
    height=st.sampled_from([16, 48, 360, 720]),
)


def ffmpeg(*args: str) -> None:
    import imageio_ffmpeg

    done = subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-loglevel", "error", *args], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr


def write_video(kind: str, width: int, height: int, path: Path) -> Path:
    """Videos as users bring them, odd ones included (made with the ffmpeg that imageio-ffmpeg ships)."""
    size = f"{width}x{height}"
    noise = ["-f", "lavfi", "-i", f"testsrc2=size={size}:rate=25:duration=1"]
    h264 = ["-c:v", "libx264", "-pix_fmt", "yuv420p"] if width % 2 == 0 and height % 2 == 0 else ["-c:v", "mpeg4"]
    recipes = {
        "plain": [*noise, *h264, str(path)],
        "one_frame": [*noise, "-frames:v", "1", *h264, str(path)],
        "absurd_fps": ["-f", "lavfi", "-i", f"testsrc2=size={size}:rate=1000:duration=0.05", *h264, str(path)],
        "slow_fps": ["-f", "lavfi", "-i", f"testsrc2=size={size}:rate=0.5:duration=4", *h264, str(path)],
        "rotated": ["-display_rotation", "90", *noise, *h264, str(path)],  # an input option: before -i
        "variable_fps": [*noise, "-vf", "select='not(mod(n,3))+eq(n,1)'", "-fps_mode", "vfr", *h264, str(path)],
        "audio_only": ["-f", "lavfi", "-i", "sine=frequency=440:duration=1", "-c:a", "aac", str(path)],
    }
    ffmpeg(*recipes[kind])
    return path


@given(**ANY_VIDEO, suffix=st.sampled_from([".mp4", ".mkv", ".webm", ".mov"]))
@example(kind="audio_only", width=64, height=48, suffix=".mp4")
@example(kind="one_frame", width=64, height=48, suffix=".mp4")
@settings(FUZZ, max_examples=16)
def test_any_video_ends_in_a_verdict_or_a_clear_error(predictor, tmp_path, kind, width, height, suffix):
    if suffix == ".webm":
        suffix = ".mkv"  # H.264 does not go in WebM; the container is what varies here
    path = write_video(kind, width, height, tmp_path / f"fuzz{suffix}")
    assert_verdict_or_clear_error(predictor.predict_path(path), path)


def test_the_cli_says_a_12x12_image_cannot_be_judged_not_a_traceback(tiny_model_dir, tmp_path):
    from pipeline_helpers import run

    path = write_image(pixels(12, 12, 3, 8, "noise", 0), tmp_path / "tiny.png")
    done = run(["deepfake", "predict", "--model", str(tiny_model_dir), str(path)], tmp_path, check=False)
    assert "Traceback" not in done.stderr, done.stderr
    assert done.stdout.strip() == (
        f"{path}: CANNOT_JUDGE (no_face) no face found in 1 frame(s); use a file where a face is clearly visible"
    )


# -- the pipeline: extract_frames' and crop_faces' units on the same files ---------------------------------
@pytest.fixture(scope="module")
def preprocess(tmp_path_factory):
    """The two stages' units with params.yaml's settings, writing under one folder (as the stages' final one)."""
    params, out = load_params(), tmp_path_factory.mktemp("preprocessed")
    extract = FrameExtractor(params.frames, params.data.max_file_mb, out / "frames", out / "frames", in_place)
    # detect_threads 0: the test process keeps its torch threads (the stage pins them for identical boxes)
    crop = FaceCropper(params.faces, "cpu", 0, out / "faces", out / "faces", in_place)
    return extract, crop, params.faces.crop_size


def assert_crop_rows_or_a_clear_skip(preprocess, path: Path, media: str, cropped: bool) -> None:
    """The file through extract_frames then crop_faces, as the stages run them: every frame gets a faces row
    (with its crop written when a face was found), or the file is skipped with a reason naming it."""
    extract, crop, crop_size = preprocess
    frames = extract(FrameItem("fuzz", str(path), media))
    skipped = list(frames.skipped)
    if frames.rows:
        pairs = tuple((row["frame_idx"], row["path"]) for row in frames.rows)
        faces = crop([FaceItem("fuzz", str(path), cropped, pairs)])
        skipped += faces.skipped
        if not faces.skipped:
            assert [row["frame_idx"] for row in faces.rows] == [i for i, _ in pairs]
            for row in faces.rows:
                assert row["found"] == bool(row["crop_path"]), row
                if row["found"]:
                    assert cv2.imread(row["crop_path"]).shape == (crop_size, crop_size, 3)
            event(f"{sum(r['found'] for r in faces.rows)} of {len(faces.rows)} frames with a face")
    for file, reason in skipped:
        assert file == str(path) and str(path) in reason and len(reason) < 400, reason
        event(reason.replace(str(path), "<file>")[:60])
    assert frames.rows or skipped


@given(**ANY_IMAGE, cropped=st.booleans())
@example(
    height=12,
    width=12,
    channels=3,
    bits=8,
    pattern="noise",
    suffix=".png",
    seed=0,
    with_face=False,
    face_share=0.5,
    cropped=False,
)  # crashed MTCNN once
@example(
    height=1,
    width=1,
    channels=1,
    bits=8,
    pattern="flat",
    suffix=".png",
    seed=0,
    with_face=False,
    face_share=0.5,
    cropped=True,
)  # a 1x1 "face crop", padded before detection
@example(
    height=600,
    width=600,
    channels=4,
    bits=16,
    pattern="noise",
    suffix=".png",
    seed=0,
    with_face=True,
    face_share=0.6,
    cropped=False,
)
@example(
    height=200,
    width=1500,
    channels=1,
    bits=8,
    pattern="flat",
    suffix=".jpg",
    seed=0,
    with_face=True,
    face_share=1.0,
    cropped=True,
)
@settings(FUZZ, max_examples=25)
def test_any_image_through_the_crop_stage_gives_rows_or_a_clear_skip(
    preprocess, face, tmp_path, height, width, channels, bits, pattern, suffix, seed, with_face, face_share, cropped
):
    if channels == 2:
        suffix = ".png"
    array = pixels(height, width, channels, bits, pattern, seed, face if with_face else None, face_share)
    path = write_image(array, tmp_path / f"fuzz{suffix}")
    assert_crop_rows_or_a_clear_skip(preprocess, path, "image", cropped)


@given(**ANY_VIDEO, suffix=st.sampled_from([".mp4", ".mkv", ".mov"]))
@example(kind="audio_only", width=64, height=48, suffix=".mp4")
@example(kind="one_frame", width=64, height=48, suffix=".mp4")
@settings(FUZZ, max_examples=12)
def test_any_video_through_the_crop_stage_gives_rows_or_a_clear_skip(preprocess, tmp_path, kind, width, height, suffix):
    path = write_video(kind, width, height, tmp_path / f"fuzz{suffix}")
    assert_crop_rows_or_a_clear_skip(preprocess, path, "video", cropped=False)


def test_a_face_through_the_crop_stage_is_found_and_cut(preprocess, face, tmp_path):
    """The generators above reach the found-a-face path too: the demo portrait in a PNG gives one crop."""
    path = write_image(pixels(400, 400, 3, 8, "ramp", 0, face, 0.8), tmp_path / "face.png")
    extract, crop, _ = preprocess
    frames = extract(FrameItem("face", str(path), "image"))
    rows = crop([FaceItem("face", str(path), False, ((0, frames.rows[0]["path"]),))]).rows
    assert len(rows) == 1 and rows[0]["found"] and rows[0]["face_px"] > 100
