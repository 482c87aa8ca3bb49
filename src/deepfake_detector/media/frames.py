"""Reading media: images and face crops, and N uniformly spaced frames of a video, decoding only what is needed."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from deepfake_detector.media.video import VideoOpenError, decode_chosen, read_header

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp"})  # what datasets and uploads may hold
VIDEO_SUFFIXES = frozenset({".mp4", ".avi", ".mov", ".mkv", ".webm"})
MEDIA_SUFFIXES = IMAGE_SUFFIXES | VIDEO_SUFFIXES
DEFAULT_FPS = 25.0  # a video whose header gives no rate: frame times assume this


class MediaError(ValueError):
    """A file cannot be used as media; the message names the file and what to do."""


class MediaTooLarge(MediaError):
    """A file over a size limit (its pixel count): usable once downscaled."""


def media_kind(path: Path) -> str:
    """ "image" or "video" from the suffix; anything else is a MediaError naming the file and what is supported."""
    suffix = path.suffix.lower()
    if suffix in IMAGE_SUFFIXES:
        return "image"
    if suffix in VIDEO_SUFFIXES:
        return "video"
    raise MediaError(
        f"{path}: unsupported file type '{suffix}'; use an image ({', '.join(sorted(IMAGE_SUFFIXES))}) "
        f"or a video ({', '.join(sorted(VIDEO_SUFFIXES))})"
    )


def media_files(paths: list[Path]) -> list[Path]:
    """What a user named, as files: a folder gives its images and videos (recursively, sorted), a pattern with
    * ? [ gives its matches, anything else is kept as it is (a missing file is reported per file later)."""
    out: list[Path] = []
    for path in paths:
        if path.is_dir():
            out += sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in MEDIA_SUFFIXES)
        elif any(c in str(path) for c in "*?[") and not path.exists():
            anchor = Path(path.anchor) if path.is_absolute() else Path()
            out += sorted(p for p in anchor.glob(str(path.relative_to(anchor))) if p.is_file())
        else:
            out.append(path)
    return out


@dataclass(frozen=True)
class Frame:
    index: int  # frame index in the video (0 for images)
    t: float  # seconds into the video
    rgb: np.ndarray  # HxWx3 uint8


def read_image(path: str | Path, max_pixels: int | None = None) -> np.ndarray:
    """Decode an image file to RGB. Raises MediaError for missing, corrupt or oversized files."""
    path = Path(path)
    if not path.is_file():
        raise MediaError(f"{path}: file not found")
    data = np.fromfile(path, dtype=np.uint8)
    return decode_image_bytes(data.tobytes(), str(path), max_pixels)


def read_crop(path: str | Path) -> np.ndarray:
    """A face crop written by the crop_faces stage, as RGB: `read_image` with the error that says how to fix it."""
    try:
        return read_image(path)
    except MediaError:
        raise FileNotFoundError(f"{path}: face crop missing or unreadable; re-run the crop_faces stage") from None


def read_crops_in_chunks(paths: Sequence[str | Path], size: int) -> Iterator[list[np.ndarray]]:
    """The crops at `paths` in order, `size` at a time: memory stays flat however many a split holds."""
    for start in range(0, len(paths), size):
        yield [read_crop(p) for p in paths[start : start + size]]


def decode_image_bytes(data: bytes, name: str, max_pixels: int | None = None) -> np.ndarray:
    if not data:
        raise MediaError(f"{name}: empty file")
    if max_pixels is not None:
        _check_pixel_count(data, name, max_pixels)
    bgr = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR)
    if bgr is None:
        raise MediaError(f"{name}: not a readable image (corrupt, truncated or not an image); re-export it as JPEG/PNG")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def _check_pixel_count(data: bytes, name: str, max_pixels: int) -> None:
    """Read the header only, so a decompression bomb is refused before it is decoded."""
    import io

    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as im:
            w, h = im.size
    except Image.DecompressionBombError as err:  # PIL refuses very large headers itself: still a refusal
        raise MediaTooLarge(
            f"{name}: over the limit of {max_pixels} pixels ({err}); downscale the image first"
        ) from None
    except Exception:
        return  # not a format PIL knows; cv2 will decide
    if w * h > max_pixels:
        raise MediaTooLarge(f"{name}: {w}x{h} pixels is over the limit of {max_pixels}; downscale the image first")


def uniform_indices(frame_count: int, n: int) -> list[int]:
    """n frame indices spread evenly over the whole video (centres of n equal segments)."""
    if frame_count <= 0:
        return []
    n = min(n, frame_count)
    return sorted({int((i + 0.5) * frame_count / n) for i in range(n)})


def sample_frames(path: str | Path, n: int) -> list[Frame]:
    """n uniformly spaced frames, decoding no more of the video than they need (media/video.py)."""
    path = Path(path)
    if not path.is_file():
        raise MediaError(f"{path}: file not found")
    if path.stat().st_size == 0:
        raise MediaError(f"{path}: empty file")
    try:
        header = read_header(path)
        fps = header.fps or DEFAULT_FPS
        wanted = uniform_indices(header.frame_count, n)
        frames = [Frame(index, index / fps, rgb) for index, rgb in decode_chosen(path, wanted)]
    except VideoOpenError:
        raise MediaError(
            f"{path}: cannot open as video (corrupt or unsupported codec); re-encode as H.264 MP4"
        ) from None
    if not frames:
        raise MediaError(
            f"{path}: no decodable frames (corrupt, truncated or unsupported codec); re-encode as H.264 MP4"
        )
    return frames
