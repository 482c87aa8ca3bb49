"""Does a file decode? The full-decode checks of data validation: PIL reads every byte of an image (and raises
on truncated data, where cv2 silently pads the missing rows); a video must yield its first frame."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from deepfake_detector.media.video import VideoOpenError, decode_chosen


def media_decodes(file: Path, media: str) -> bool:
    if media == "video":
        try:
            return bool(decode_chosen(file, [0]))
        except VideoOpenError:
            return False
    return image_decodes(file)


def image_decodes(file: Path) -> bool:
    """Fully decode (PIL raises on truncated data, where cv2 silently pads the missing rows)."""
    try:
        with Image.open(file) as im:
            im.draft("RGB", (256, 256))  # JPEG: decode at reduced scale; every byte is still read
            im.load()
        return True
    except (OSError, ValueError, Image.DecompressionBombError):
        return False


def open_grey(file: Path) -> Image.Image | None:
    """The image in grey levels (for blank and perceptual-hash checks), None when it does not decode."""
    try:
        with Image.open(file) as im:
            return im.convert("L")
    except (OSError, ValueError, Image.DecompressionBombError):
        return None
