"""Checks on uploaded files before any decoding: type from the bytes, pixel count, video length.

Everything here reads headers only, so a bad or hostile upload is refused cheaply and never decoded.
"""

from __future__ import annotations

import warnings
from pathlib import Path

from PIL import Image

from deepfake_detector.config import ServeConfig
from deepfake_detector.media.frames import MediaError, MediaTooLarge
from deepfake_detector.media.video import VideoOpenError, read_header

SNIFF_BYTES = 32


class UploadError(Exception):
    """A request the service refuses: the message tells the user what to do, and the class is the kind of
    refusal, whose `status` is the HTTP status (this base class: a bad request)."""

    status = 400

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class LengthRequired(UploadError):
    status = 411


class TooLarge(UploadError):
    """Over a limit: bytes, pixels, seconds of video or files per request."""

    status = 413


class UnsupportedType(UploadError):
    status = 415


class Unreadable(UploadError):
    """A supported type that cannot be decoded (corrupt, truncated, an unknown codec)."""

    status = 422


def media_refusal(error: MediaError, message: str) -> UploadError:
    """The refusal of a file the Predictor could not read, by the type of its MediaError."""
    return TooLarge(message) if isinstance(error, MediaTooLarge) else Unreadable(message)


def sniff(head: bytes) -> tuple[str, str] | None:
    """(media kind, file suffix) from magic numbers, or None. The filename is never trusted."""
    if head.startswith(b"\xff\xd8\xff"):
        return "image", ".jpg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image", ".png"
    if head.startswith(b"BM"):
        return "image", ".bmp"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image", ".webp"
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return "video", ".avi"
    if head[4:8] in (b"ftyp", b"moov", b"mdat", b"wide", b"free"):  # ISO base media: MP4, MOV, M4V
        return "video", ".mp4"
    if head.startswith(b"\x1a\x45\xdf\xa3"):  # EBML: Matroska, WebM
        return "video", ".mkv"
    return None


def image_pixels(path: Path) -> int | None:
    """Pixel count from the image header, or None when PIL cannot read the header (OpenCV then decides)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                w, h = im.size
    except Image.DecompressionBombError:
        return 2**62  # PIL refuses to even open it: far over any limit
    except Exception:
        return None
    return w * h


def check_image(path: Path, name: str, cfg: ServeConfig) -> None:
    pixels = image_pixels(path)
    if pixels is not None and pixels > cfg.max_image_pixels:
        raise TooLarge(f"{name}: image has more than {cfg.max_image_pixels} pixels; downscale it and try again")


def check_video(path: Path, name: str, cfg: ServeConfig) -> None:
    """Refuse over-long or oversized videos from the container header (no frame is decoded)."""
    try:
        header = read_header(path)
    except VideoOpenError:
        return  # the Predictor reports it as unreadable, with advice
    count, fps, w, h = header.frame_count, header.fps, header.width, header.height
    if w * h > cfg.max_image_pixels:
        raise TooLarge(f"{name}: {int(w)}x{int(h)} video frames are too large; downscale the video")
    if fps > 0 and count / fps > cfg.max_video_seconds:
        raise TooLarge(
            f"{name}: video is {count / fps:.1f} s long, over the limit of {cfg.max_video_seconds:g} s; "
            "cut it shorter and try again",
        )
