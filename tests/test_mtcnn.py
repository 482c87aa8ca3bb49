"""media/mtcnn.py (the MTCNN the FaceDetector runs) against facenet-pytorch's own MTCNN.detect.

On frames the project renders (the demo corpus, a 600x600 portrait, a small face on a 1280x720 frame) and on
the shared real data: the resampling is bit-identical to torch's, every detection is where facenet-pytorch puts
it, and the main faces the pipeline crops are the ones the previous FaceDetector (facenet-pytorch's batched
MTCNN.detect, reproduced below) found, also with the default `faces.min_face_frac`.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from facenet_pytorch import MTCNN

from deepfake_detector.config import FacesConfig
from deepfake_detector.devices import usable_cores
from deepfake_detector.media.faces import Face, FaceDetector, track_main_face
from deepfake_detector.media.frames import read_image, sample_frames
from deepfake_detector.media.mtcnn import (
    FastMTCNN,
    frame_workers,
    pyramid_scales,
    resample_frame,
    resample_regions,
)

MAIN_FACE_TOLERANCE_PX = 1.0  # main face boxes before/after, in source pixels
SAME_DETECTION_PX = 0.01  # FastMTCNN vs facenet-pytorch on the same frame: float rounding only


def previous_detect(mtcnn: MTCNN, frames: list[np.ndarray], cfg: FacesConfig) -> list[list[Face]]:
    """FaceDetector.detect as it was before media/mtcnn.py: facenet-pytorch's MTCNN.detect on batches of
    same-size frames, downsized to detect_max_side, boxes mapped back, min_prob applied, largest first."""
    h, w = frames[0].shape[:2]
    scale = min(1.0, cfg.detect_max_side / max(h, w))
    if scale < 1.0:
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        frames = [cv2.resize(f, size, interpolation=cv2.INTER_AREA) for f in frames]
    out = []
    for start in range(0, len(frames), cfg.batch_size):
        boxes, probs, points = mtcnn.detect(np.stack(frames[start : start + cfg.batch_size]), landmarks=True)
        for b, p, lm in zip(boxes, probs, points, strict=True):
            if b is None:
                out.append([])
                continue
            b = np.asarray(b, dtype=float).reshape(-1, 4) / scale
            p = np.asarray(p, dtype=float).reshape(-1)
            lm = np.asarray(lm, dtype=float).reshape(-1, 5, 2) / scale
            faces = [Face(tuple(x), y, float(z)) for x, y, z in zip(b, lm, p, strict=True) if z >= cfg.min_prob]
            out.append(sorted(faces, key=lambda f: f.area, reverse=True))
    return out


def on_canvas(rgb: np.ndarray, face_h: int, size: tuple[int, int] = (1280, 720)) -> np.ndarray:
    """A picture scaled to face_h pixels high on a grey frame, off centre."""
    w, h = size
    face = cv2.resize(rgb, (face_h * rgb.shape[1] // rgb.shape[0], face_h), interpolation=cv2.INTER_AREA)
    canvas = np.full((h, w, 3), 128, np.uint8)
    top, left = h // 3 - face_h // 2, w // 3 - face.shape[1] // 2
    canvas[top : top + face_h, left : left + face.shape[1]] = face
    return canvas


@pytest.fixture(scope="module")
def demo_items(tiny_corpus: Path) -> list[list[np.ndarray]]:
    """Items as the pipeline sees them: demo images (256 px), demo videos' frames, a 600x600 portrait and 720p
    frames with the picture 480 and 288 px high (its face ~13% of the short side, like the smallest real main face)."""
    images = [[read_image(p)] for p in sorted(tiny_corpus.rglob("*.jpg"))]
    videos = [[f.rgb for f in sample_frames(p, 4)] for p in sorted(tiny_corpus.rglob("*.mp4"))[:4]]
    face = images[0][0]
    extra = [
        [cv2.resize(face, (600, 600), interpolation=cv2.INTER_CUBIC)],
        [on_canvas(face, 480)],
        [on_canvas(face, 288)],
    ]
    return images + videos + extra


@pytest.fixture(scope="module")
def reference() -> MTCNN:
    return MTCNN(keep_all=True, device="cpu", min_face_size=FacesConfig().min_face_detect_px)


@pytest.fixture(scope="module")
def fast() -> FastMTCNN:
    return FastMTCNN()


def _torch_area(frame: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """facenet-pytorch's imresample and normalisation, as HWC."""
    x = torch.as_tensor(frame.copy()).permute(2, 0, 1)[None].float()
    return ((F.interpolate(x, size=size, mode="area") - 127.5) * 0.0078125)[0].permute(1, 2, 0).numpy()


def test_resampling_is_bit_identical_to_torch_area_interpolation(demo_items) -> None:
    frame = demo_items[-1][0]  # 1280x720
    integral = cv2.integral(frame, sdepth=cv2.CV_32S)
    h, w = frame.shape[:2]
    for scale in (0.6, 0.6 * 0.709**3, 0.6 * 0.709**9, 0.01, 1.0, 1.7):  # pyramid levels, and up-sampling
        size = (max(1, int(h * scale + 1)), max(1, int(w * scale + 1)))
        assert np.array_equal(resample_frame(integral, *size), _torch_area(frame, size)), size
    # candidate boxes: rows [r0, r1) x cols [c0, c1), some smaller than the output (up-sampled), some at an edge
    regions = np.array([[0, 24, 0, 24], [100, 137, 200, 251], [5, 6, 7, 9], [700, 720, 1270, 1280], [0, 720, 0, 1280]])
    for size in (24, 48):
        got = resample_regions(integral, regions, size)
        for (r0, r1, c0, c1), crop in zip(regions, got, strict=True):
            assert np.array_equal(crop, _torch_area(frame[r0:r1, c0:c1], (size, size))), (r0, r1, c0, c1, size)


def test_pyramid_keeps_facenet_levels_and_skips_only_the_small_face_ones() -> None:
    h, w, min_face, factor = 360, 640, 20, 0.709
    expected, scale, minl = [], 12 / min_face, min(h, w) * 12 / min_face  # facenet-pytorch's detect_face loop
    while minl >= 12:
        expected.append(scale)
        scale, minl = scale * factor, minl * factor
    assert pyramid_scales(h, w, min_face, factor) == expected
    skipped = pyramid_scales(h, w, min_face, factor, skip_below=0.075 * 360)  # 27 px
    assert skipped == expected[1:]  # only the level of 20-px faces goes; 28.2 px and up stay, unchanged
    assert [round(12 / s, 1) for s in skipped[:2]] == [28.2, 39.8]


def test_detections_equal_facenet_pytorch_on_demo_frames(demo_items, reference: MTCNN, fast: FastMTCNN) -> None:
    frames = [
        f if max(f.shape[:2]) <= 640 else cv2.resize(f, (640, 360), interpolation=cv2.INTER_AREA)
        for item in demo_items
        for f in item
    ]
    _assert_same_detections(frames, reference, fast)


def test_main_faces_as_before_on_demo_media(demo_items, reference: MTCNN) -> None:
    cfg = FacesConfig()
    assert cfg.min_face_frac > 0  # the default skips the small-face levels: the main faces must not move
    _assert_same_main_faces(demo_items, FaceDetector(cfg), reference, cfg)


@pytest.mark.real_data
def test_real_frames_detections_and_main_faces_as_before(shared_data: Path, reference: MTCNN, fast: FastMTCNN) -> None:
    videos = [
        "ffpp_c23_dev/original_sequences/youtube/c23/videos/004.mp4",  # 1280x720
        "ffpp_c23_dev/original_sequences/youtube/c23/videos/035.mp4",  # 640x480
        "ffpp_c23_dev/original_sequences/youtube/c23/videos/033.mp4",  # 854x480
        "ffpp_c40_dev/original_sequences/actors/c40/videos/01__kitchen_pan.mp4",  # 1920x1080, c40
        "dfdc_train_sample/abofeumbvv.mp4",  # 1920x1080, the smallest main face of the shared data
    ]
    present = [shared_data / v for v in videos if (shared_data / v).is_file()]
    if not present:
        pytest.skip(f"none of the sample videos are in {shared_data}")
    items = [[f.rgb for f in sample_frames(p, 3)] for p in present]
    cfg = FacesConfig()
    _assert_same_main_faces(items, FaceDetector(cfg), reference, cfg)
    frames = [
        cv2.resize(f, (640, round(640 * f.shape[0] / f.shape[1])), interpolation=cv2.INTER_AREA)
        for item in items
        for f in item
    ]
    _assert_same_detections(frames, reference, fast)


def _assert_same_detections(frames: list[np.ndarray], reference: MTCNN, fast: FastMTCNN) -> None:
    """Every face facenet-pytorch finds (before min_prob), at the same place, with the same probability."""
    found = 0
    for i, frame in enumerate(frames):
        boxes, probs, points = reference.detect(frame, landmarks=True)
        got = fast.detect([frame], reference.min_face_size)[0]
        if boxes is None:
            assert len(got.boxes) == 0, i
            continue
        order = np.argsort(
            -(got.boxes[:, 2] - got.boxes[:, 0]) * (got.boxes[:, 3] - got.boxes[:, 1])
        )  # largest first, as facenet
        assert len(got.boxes) == len(boxes), i
        assert np.abs(got.boxes[order] - boxes).max() < SAME_DETECTION_PX, i
        assert np.abs(got.landmarks[order] - points).max() < SAME_DETECTION_PX, i
        assert np.abs(got.probs[order] - probs).max() < 1e-5, i
        found += len(boxes)
    assert found >= len(frames) // 2  # the frames have faces: the comparison is not vacuous


def _assert_same_main_faces(
    items: list[list[np.ndarray]], detector: FaceDetector, reference: MTCNN, cfg: FacesConfig
) -> None:
    compared = 0
    for n, frames in enumerate(items):
        before = track_main_face(previous_detect(reference, frames, cfg))
        after = detector.main_faces(frames)
        for k, (old, new) in enumerate(zip(before, after, strict=True)):
            assert (old is None) == (new is None), (n, k)
            if old is not None:
                assert np.abs(np.array(old.box) - np.array(new.box)).max() < MAIN_FACE_TOLERANCE_PX, (
                    n,
                    k,
                    old.box,
                    new.box,
                )
                compared += 1
    assert compared >= sum(map(len, items)) * 3 // 4  # nearly every frame has a main face


@pytest.mark.real_data
def test_a_frame_gets_the_same_faces_alone_or_in_a_batch(shared_data: Path) -> None:
    """facenet-pytorch's batched MTCNN.detect let a frame's batch-mates move its boxes (frame 1 of this video:
    3.9 px between a batch of 4 and alone); FaceDetector gives every frame its single-frame result."""
    path = shared_data / "ffpp_c23_dev/original_sequences/youtube/c23/videos/159.mp4"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    frames = [f.rgb for f in sample_frames(path, 4)]
    detector = FaceDetector(FacesConfig())
    together = detector.detect(frames)
    for frame, faces in zip(frames, together, strict=True):
        alone = detector.detect([frame])[0]
        assert [f.box for f in alone] == [f.box for f in faces]
        assert len(faces) >= 1


def test_batched_pnet_for_gpus_finds_the_faces_one_frame_at_a_time_finds(demo_items, fast: FastMTCNN) -> None:
    """On a GPU, P-Net takes all same-size frames of a pyramid level in one call (batch_pnet, the default
    there); forced here on the CPU, every frame gets the faces it gets alone, up to float rounding."""
    videos = [item for item in demo_items if len(item) > 1]  # a video's frames share one size
    compared = 0
    for frames in videos:
        alone = fast.detect(frames, FacesConfig().min_face_detect_px, batch_pnet=False)
        batched = fast.detect(frames, FacesConfig().min_face_detect_px, batch_pnet=True)
        for a, b in zip(alone, batched, strict=True):
            assert len(a.boxes) == len(b.boxes)
            assert np.abs(a.boxes - b.boxes).max(initial=0) < SAME_DETECTION_PX
            assert np.abs(a.probs - b.probs).max(initial=0) < 1e-5
            compared += len(a.boxes)
    assert compared >= sum(map(len, videos)) // 2  # the frames have faces: the comparison is not vacuous


def test_frames_detected_side_by_side_get_the_faces_they_get_one_after_another(demo_items, fast: FastMTCNN) -> None:
    """With torch on one thread (the service's serve.torch_threads), a video's frames are detected on the idle
    cores side by side (frame_workers); each frame's detections are bit-identical to running them in turn."""
    if usable_cores() < 2:
        pytest.skip("one usable CPU core: frames are never detected side by side here")
    videos = [item for item in demo_items if len(item) > 1]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        assert frame_workers() == usable_cores()
        min_face = FacesConfig().min_face_detect_px
        for frames in videos:
            side_by_side = fast.detect(frames, min_face)
            in_turn = [fast._detect_one_no_grad(np.ascontiguousarray(f), min_face, 0.0) for f in frames]
            for a, b in zip(side_by_side, in_turn, strict=True):
                assert np.array_equal(a.boxes, b.boxes) and np.array_equal(a.probs, b.probs)
                assert np.array_equal(a.landmarks, b.landmarks)
        assert sum(len(d.boxes) for d in side_by_side) >= 1  # the frames have faces
    finally:
        torch.set_num_threads(threads)
