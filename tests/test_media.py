"""Media decoding (frames.py: images, face crops, videos) and face detection, tracking and cropping (faces.py) on
real files."""

from __future__ import annotations

import struct
import subprocess
import zlib
from pathlib import Path

import cv2
import imageio_ffmpeg
import numpy as np
import pytest

from deepfake_detector.config import FacesConfig
from deepfake_detector.demo.face import Expression, Pose, sample_identity, sample_scene
from deepfake_detector.demo.render import render_face
from deepfake_detector.media.faces import (
    Face,
    FaceDetector,
    crop_square,
    cut_margin,
    cut_square,
    iou,
    track_faces,
    track_main_face,
)
from deepfake_detector.media.frames import (
    MediaError,
    read_crop,
    read_image,
    sample_frames,
    uniform_indices,
)
from deepfake_detector.media.video import _display_ranks

STEP = 10  # pixel value per frame index in the test videos


def _cut(rgb: np.ndarray, face: Face, margin: float, size: int, fit_inside: bool = False) -> np.ndarray:
    """A face cut as crop_faces (preprocess/faces.face_row) and the Predictor cut it: its square, then the cut."""
    return cut_square(rgb, crop_square(rgb.shape, face, margin, fit_inside), size)


def _write_video(path: Path, n: int, fourcc: str = "mp4v", fps: float = 10.0, size: tuple[int, int] = (96, 64)):
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, size)
    assert writer.isOpened()
    for i in range(n):
        writer.write(np.full((size[1], size[0], 3), i * STEP, np.uint8))
    writer.release()
    return path


def _png_header(width: int, height: int) -> bytes:
    """A PNG that claims width x height 1-bit pixels but carries only a few rows of data."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    rows = zlib.compress(b"\x00" * ((width + 7) // 8 + 1) * 4)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")


# ----------------------------------------------------------------------------------------------- frames


def test_uniform_indices_cover_the_whole_video() -> None:
    idx = uniform_indices(100, 10)
    assert idx == [5, 15, 25, 35, 45, 55, 65, 75, 85, 95]
    assert uniform_indices(1000, 8)[0] < 1000 / 8 and uniform_indices(1000, 8)[-1] >= 1000 * 7 / 8
    assert uniform_indices(10, 1) == [5]  # the middle, not the first frame
    assert uniform_indices(5, 20) == [0, 1, 2, 3, 4]  # never more than the video has
    assert uniform_indices(0, 4) == [] and uniform_indices(-3, 4) == []
    for count in (1, 2, 7, 31, 240):
        for n in (1, 3, 8, 16):
            got = uniform_indices(count, n)
            assert got == sorted(set(got)) and len(got) == min(n, count)
            assert 0 <= got[0] and got[-1] < count


def test_sample_frames_returns_the_requested_frames(tmp_path: Path) -> None:
    path = _write_video(tmp_path / "v.mp4", 24, fps=12.0)
    frames = sample_frames(path, 4)
    assert [f.index for f in frames] == uniform_indices(24, 4) == [3, 9, 15, 21]
    for f in frames:
        assert f.rgb.shape == (64, 96, 3) and f.rgb.dtype == np.uint8
        assert f.t == pytest.approx(f.index / 12.0)
        assert abs(f.rgb.mean() - f.index * STEP) < STEP / 2, (f.index, f.rgb.mean())  # the pixels of that frame


def test_sample_frames_more_than_the_video_has(tmp_path: Path) -> None:
    path = _write_video(tmp_path / "short.mp4", 3)
    frames = sample_frames(path, 16)
    assert [f.index for f in frames] == [0, 1, 2]
    assert [round(f.rgb.mean() / STEP) for f in frames] == [0, 1, 2]


def test_truncated_avi_returns_the_frames_that_exist(tmp_path: Path) -> None:
    """The header still claims 24 frames; decoding stops where the bytes end instead of failing."""
    full = _write_video(tmp_path / "v.avi", 24, fourcc="MJPG").read_bytes()
    cut = tmp_path / "cut.avi"
    cut.write_bytes(full[: int(len(full) * 0.9)])
    frames = sample_frames(cut, 4)
    assert 1 <= len(frames) < 4
    assert [f.index for f in frames] == uniform_indices(24, 4)[: len(frames)]
    assert all(abs(f.rgb.mean() - f.index * STEP) < STEP / 2 for f in frames)


@pytest.mark.parametrize(
    ("name", "make", "message"),
    [
        ("truncated.mp4", lambda good: good[: len(good) // 3], "cannot open as video"),
        ("empty.mp4", lambda good: b"", "empty file"),
        ("garbage.mp4", lambda good: np.random.default_rng(0).bytes(5000), "cannot open as video"),
    ],
)
def test_broken_videos_raise_media_error_naming_the_file(tmp_path: Path, name, make, message) -> None:
    good = _write_video(tmp_path / "good.mp4", 12).read_bytes()
    path = tmp_path / name
    path.write_bytes(make(good))
    with pytest.raises(MediaError, match=message) as info:
        sample_frames(path, 4)
    assert str(path) in str(info.value)


def test_missing_video(tmp_path: Path) -> None:
    path = tmp_path / "nope.mp4"
    with pytest.raises(MediaError, match="file not found") as info:
        sample_frames(path, 4)
    assert str(path) in str(info.value)


def _encode(tmp_path: Path, name: str, *args: str) -> Path:
    """A 3-second 320x240 clip of a moving, textured picture (so B-frames carry real work), encoded by FFmpeg."""
    out = tmp_path / name
    source = ["-f", "lavfi", "-i", "testsrc2=size=320x240:rate=24:duration=3"]
    run = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-loglevel", "error", *source, *args, str(out)])
    assert run.returncode == 0
    return out


def _ffmpeg_frames(path: Path) -> list[np.ndarray]:
    """Every frame as the FFmpeg command line decodes it to RGB: a reference independent of our decoder."""
    frames = imageio_ffmpeg.read_frames(str(path))
    width, height = next(frames)["size"]
    return [np.frombuffer(raw, np.uint8).reshape(height, width, 3) for raw in frames]


@pytest.mark.parametrize(
    ("name", "args"),
    [
        ("b_pyramid.mp4", ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-bf", "3"]),  # x264's default GOP
        ("b_pyramid.mkv", ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-bf", "3"]),
        ("no_b_frames.mp4", ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-bf", "0"]),
        ("slices.mov", ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-x264-params", "slices=4"]),
        ("part2.avi", ["-c:v", "mpeg4", "-bf", "2"]),
    ],
)
def test_sampled_frames_are_the_frames_ffmpeg_decodes(tmp_path: Path, name: str, args: list[str]) -> None:
    """Skipping the B-frames nothing refers to (media/video.py) changes no pixel of the frames kept."""
    path = _encode(tmp_path, name, *args)
    reference = _ffmpeg_frames(path)
    for n in (5, 16, len(reference)):
        frames = sample_frames(path, n)
        assert [f.index for f in frames] == uniform_indices(len(reference), n)
        for frame in frames:
            assert np.array_equal(frame.rgb, reference[frame.index]), (name, n, frame.index)


def test_h264_b_frames_no_frame_refers_to_are_left_undecoded(tmp_path: Path) -> None:
    path = _encode(tmp_path, "b.mp4", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-bf", "3")
    ranks = _display_ranks(path)
    assert ranks is not None and sorted(rank for rank, _ in ranks.values()) == list(range(72))
    unreferenced = sum(not referenced for _, referenced in ranks.values())
    assert 72 // 4 <= unreferenced < 72  # most B-frames; never the I- and P-frames


def test_interlaced_h264_gives_pictures(tmp_path: Path) -> None:
    """OpenCV's decoder returned black frames for interlaced H.264 (broadcast footage); these are the pictures."""
    path = _encode(tmp_path, "interlaced.mp4", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-flags", "+ildct+ilme")
    reference = _ffmpeg_frames(path)
    for frame in sample_frames(path, 4):
        assert abs(frame.rgb.mean() - reference[frame.index].mean()) < 2  # the CLI deinterlaces chroma otherwise
        assert frame.rgb.mean() > 50


def test_read_image_rgb(tmp_path: Path) -> None:
    bgr = np.zeros((20, 30, 3), np.uint8)
    bgr[..., 2] = 255  # red in BGR
    cv2.imwrite(str(tmp_path / "red.png"), bgr)
    rgb = read_image(tmp_path / "red.png")
    assert rgb.shape == (20, 30, 3)
    assert rgb[..., 0].min() == 255 and rgb[..., 2].max() == 0  # channels swapped to RGB


def test_read_crop_is_read_image_with_the_crop_stage_fix(tmp_path: Path) -> None:
    bgr = np.random.default_rng(0).integers(0, 255, (24, 24, 3), dtype=np.uint8)
    cv2.imwrite(str(tmp_path / "crop.jpg"), bgr)
    np.testing.assert_array_equal(read_crop(str(tmp_path / "crop.jpg")), read_image(tmp_path / "crop.jpg"))
    np.testing.assert_array_equal(
        read_crop(str(tmp_path / "crop.jpg")), cv2.cvtColor(cv2.imread(str(tmp_path / "crop.jpg")), cv2.COLOR_BGR2RGB)
    )
    (tmp_path / "bad.jpg").write_bytes(b"not a jpeg")
    for name in ("missing.jpg", "bad.jpg"):
        with pytest.raises(FileNotFoundError, match=f"{name}: face crop missing or unreadable; re-run the crop_faces"):
            read_crop(str(tmp_path / name))


@pytest.mark.parametrize("keep", [0.05, 0.5, 0.9])
def test_truncated_jpeg_is_refused(tmp_path: Path, keep: float) -> None:
    noise = np.random.default_rng(1).integers(0, 255, (160, 160, 3), dtype=np.uint8)
    ok, buf = cv2.imencode(".jpg", noise)
    assert ok
    path = tmp_path / "cut.jpg"
    path.write_bytes(buf.tobytes()[: int(len(buf) * keep)])
    with pytest.raises(MediaError, match="not a readable image") as info:
        read_image(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize(("content", "message"), [(b"", "empty file"), (b"this is not a jpeg" * 50, "not a readable")])
def test_corrupt_images(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "bad.jpg"
    path.write_bytes(content)
    with pytest.raises(MediaError, match=message) as info:
        read_image(path, max_pixels=10_000)
    assert str(path) in str(info.value)
    with pytest.raises(MediaError, match="file not found"):
        read_image(tmp_path / "missing.jpg")


@pytest.mark.parametrize("side", [5000, 20000])
def test_decompression_bomb_refused_from_the_header(tmp_path: Path, side: int) -> None:
    """The header claims side x side pixels; the refusal must come from the size check, not from decoding.

    20000 x 20000 is over PIL's own bomb limit too, which used to be swallowed and let cv2 decode the file.
    """
    path = tmp_path / "bomb.png"
    path.write_bytes(_png_header(side, side))
    with pytest.raises(MediaError, match="over the limit of 1000000") as info:
        read_image(path, max_pixels=1_000_000)
    assert str(path) in str(info.value)


def test_real_large_png_within_limit_decodes(tmp_path: Path) -> None:
    from PIL import Image

    path = tmp_path / "big.png"
    Image.new("1", (2000, 1000), 1).save(path)
    with pytest.raises(MediaError, match="2000x1000 pixels is over the limit"):
        read_image(path, max_pixels=1_999_999)
    assert read_image(path, max_pixels=2_000_000).shape == (1000, 2000, 3)


# ------------------------------------------------------------------------------------------------ faces


def _render(seed: int = 3, size: int = 256, pose: Pose | None = None) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    bgr, lm = render_face(sample_identity(rng), pose or Pose(), Expression(), sample_scene(rng), size, seed)
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), lm


@pytest.fixture(scope="module")
def detector() -> FaceDetector:
    return FaceDetector(FacesConfig(detect_max_side=1024))


@pytest.fixture(scope="module")
def face_image() -> tuple[np.ndarray, np.ndarray]:
    return _render()


def test_detector_finds_the_rendered_face(detector: FaceDetector, face_image) -> None:
    rgb, lm = face_image
    faces = detector.detect([rgb])[0]
    assert len(faces) == 1
    face = faces[0]
    assert face.prob >= 0.9
    x1, y1, x2, y2 = face.box
    eyes_mouth = lm[36:68]
    assert (eyes_mouth[:, 0] > x1).all() and (eyes_mouth[:, 0] < x2).all()
    assert (eyes_mouth[:, 1] > y1).all() and (eyes_mouth[:, 1] < y2).all()
    assert face.landmarks.shape == (5, 2)
    assert 20 < face.size_px < 256


def test_detector_on_a_blank_frame_finds_nothing(detector: FaceDetector) -> None:
    gradient = np.tile(np.linspace(0, 255, 200, dtype=np.uint8)[None, :, None], (150, 1, 3))
    assert detector.detect([gradient]) == [[]]
    assert detector.main_faces([gradient]) == [None]


def test_downsized_detection_maps_boxes_back(detector: FaceDetector, face_image) -> None:
    rgb, _ = face_image
    big = cv2.resize(rgb, (768, 768), interpolation=cv2.INTER_CUBIC)
    full = detector.detect([big])[0][0]  # 768 <= 1024: detected at full resolution
    small_detector = FaceDetector(FacesConfig(detect_max_side=256))
    small = small_detector.detect([big])[0][0]  # detected at 256 px, boxes scaled back by 3
    assert iou(full.box, small.box) > 0.8, (full.box, small.box)
    assert np.abs(full.landmarks - small.landmarks).max() < 0.05 * full.size_px
    assert small.size_px == pytest.approx(full.size_px, rel=0.15)


def test_batches_of_mixed_sizes_keep_their_order(detector: FaceDetector, face_image) -> None:
    rgb, _ = face_image
    blank = np.full((120, 160, 3), 128, np.uint8)
    out = detector.detect([rgb, blank, rgb[::2, ::2].copy()])
    assert [len(f) for f in out] == [1, 0, 1]
    assert iou(out[0][0].box, tuple(2 * v for v in out[2][0].box)) > 0.7


def _face(x1: float, y1: float, side: float, prob: float = 0.99) -> Face:
    return Face((x1, y1, x1 + side, y1 + side), np.zeros((5, 2)), prob)


def test_track_main_face_follows_the_first_face() -> None:
    a = [_face(50 + 2 * i, 40, 60) for i in range(6)]
    b = _face(200, 150, 120)  # a bystander, larger, appears from frame 3
    per_frame = [[a[0]], [a[1]], [], [b, a[3]], [b, a[4]], [b, a[5]]]
    picked = track_main_face(per_frame)
    assert picked == [a[0], a[1], None, a[3], a[4], a[5]]


def test_track_faces_gives_each_person_a_track() -> None:
    """Two people walking right, a third appearing in frame 2: the main (largest) face's track first, then one
    track per other person in order of appearance, each following its own face, None where it is not seen."""
    main = [_face(40 + 3 * i, 40, 90) for i in range(4)]
    other = [_face(250 + 3 * i, 60, 60) for i in range(4)]
    late = _face(150, 250, 50)
    per_frame = [[main[0], other[0]], [main[1]], [main[2], other[2], late], [main[3], late, other[3]]]
    assert track_faces(per_frame) == [main, [other[0], None, other[2], other[3]], [None, None, late, late]]
    assert track_faces([[main[0]], []]) == [[main[0], None]]  # one person: only the main track
    assert track_faces([[], []]) == [[None, None]]


def test_track_main_face_takes_the_largest_when_lost() -> None:
    a, b, c = _face(0, 0, 50), _face(300, 300, 80), _face(100, 300, 60)
    picked = track_main_face([[b, a], [c]])
    assert picked == [b, c]  # largest first; c does not overlap b, so the largest face takes over
    assert track_main_face([[], []]) == [None, None]


def test_face_cut_size_and_black_padding() -> None:
    rgb = np.full((200, 300, 3), 200, np.uint8)
    centre = _cut(rgb, _face(125, 75, 50), margin=1.5, size=64)
    assert centre.shape == (64, 64, 3) and centre.dtype == np.uint8
    assert (centre == 200).all()  # fully inside: no padding

    corner = _cut(rgb, _face(0, 0, 40), margin=2.0, size=64)  # an 80 px square centred on (20, 20)
    assert corner.shape == (64, 64, 3)
    assert (corner[:14, :, :] == 0).all() and (corner[:, :14, :] == 0).all()  # outside the frame: black
    assert (corner[18:, 18:, :] == 200).all()  # inside the frame: the image
    # bottom-right corner: an 80 px square centred on (280, 180); the last 20 px of each side lie outside
    far = _cut(rgb, _face(260, 160, 40), margin=2.0, size=80)
    assert (far[:59, :59] == 200).all()
    assert (far[61:, :] == 0).all() and (far[:, 61:] == 0).all()


def test_face_cut_fit_inside_never_adds_a_border() -> None:
    """Face-crop datasets: a box larger than the image, or near its edge, gives a crop inside the image."""
    rgb = np.full((100, 120, 3), 200, np.uint8)
    oversized = _cut(rgb, _face(-10, -10, 130), margin=1.3, size=64, fit_inside=True)
    assert (oversized == 200).all()
    near_edge = _cut(rgb, _face(80, 60, 40), margin=1.3, size=64, fit_inside=True)
    assert (near_edge == 200).all()
    # without fit_inside the same box keeps its scale and position, with black outside the frame
    assert (_cut(rgb, _face(80, 60, 40), margin=1.3, size=64) == 0).any()
    # a box well inside the image is cropped exactly as without fit_inside
    inside = _face(40, 30, 30)
    assert np.array_equal(_cut(rgb, inside, 1.3, 64, fit_inside=True), _cut(rgb, inside, 1.3, 64))


@pytest.mark.real_data
def test_pad_mode_crops_of_real_dfdc_faces_have_no_black_border(shared_data: Path) -> None:
    """Real tight DFDC crops: MTCNN boxes on the padded crop are often larger than the crop itself. Cropping
    inside the image keeps every pixel of the crop real (before fit_inside about half was black border)."""
    paths = sorted((shared_data / "dfdc_faces_dev" / "faces_224").glob("*.jpg"))[:24]
    images = [read_image(p) for p in paths]
    detector = FaceDetector(FacesConfig(already_cropped="pad", crop_size=128))
    found = [faces[0] for faces in detector.main_faces_many([([im], True) for im in images])]
    pairs = [(im, f) for im, f in zip(images, found, strict=True) if f is not None]
    assert len(pairs) >= 20
    for image, face in pairs:
        crop = _cut(image, face, 1.3, 128, fit_inside=True)
        assert (crop.sum(axis=2) == 0).mean() < 0.01


def test_already_cropped_pad_and_skip(face_image) -> None:
    rgb, _ = face_image
    full = FaceDetector(FacesConfig(already_cropped="pad", min_face_detect_px=20))
    box = full.detect([rgb])[0][0]
    tight = _cut(rgb, box, margin=1.0, size=128)  # the face fills the whole image
    [found] = full.main_faces([tight], already_cropped=True)
    assert found is not None and found.prob >= 0.9
    x1, y1, x2, y2 = found.box
    assert -0.25 * 128 < x1 < 0.5 * 128 and 0.5 * 128 < x2 < 1.25 * 128  # in the crop's coordinates
    assert -0.25 * 128 < y1 < 0.5 * 128 and 0.5 * 128 < y2 < 1.25 * 128
    assert found.size_px > 0.6 * 128

    skip = FaceDetector(FacesConfig(already_cropped="skip"))
    [whole] = skip.main_faces([tight], already_cropped=True)
    assert whole is not None
    assert whole.prob == 1.0
    # the box widened by the crop margin is the whole image, so the crop is the image itself: no black border
    assert np.array_equal(_cut(tight, whole, skip.cfg.margin, 128), tight)
    # skip applies only to cropped datasets: a normal frame is still detected
    [normal] = skip.main_faces([rgb], already_cropped=False)
    assert normal is not None and iou(normal.box, box.box) > 0.9


@pytest.mark.parametrize("margin", [0.9, 1.3])
def test_cut_margin_measures_the_margin_a_crop_was_cut_with(face_image, margin: float) -> None:
    """scripts/crop_margin.py: a rendered face cut at a known margin reads back as about that margin."""
    rgb, _ = face_image
    detector = FaceDetector(FacesConfig(already_cropped="pad", min_face_detect_px=20))
    box = detector.detect([rgb])[0][0]
    crop = _cut(rgb, box, margin=margin, size=160)
    assert cut_margin(crop, detector) == pytest.approx(margin, rel=0.12)
    blank = np.full((160, 160, 3), 128, np.uint8)
    assert cut_margin(blank, detector) is None


@pytest.mark.real_data
def test_cut_margin_of_real_dfdc_crops_is_tighter_than_the_default(shared_data: Path) -> None:
    """The real profile's faces.margin (0.83) is this measurement: DFDC crops are cut inside the MTCNN box."""
    paths = sorted((shared_data / "dfdc_faces_dev" / "faces_224").glob("*.jpg"))[:24]
    detector = FaceDetector(FacesConfig(already_cropped="pad"))
    margins = [m for m in (cut_margin(read_image(p), detector) for p in paths) if m is not None]
    assert len(margins) >= 20
    assert 0.7 < float(np.median(margins)) < 0.95 < FacesConfig().margin
