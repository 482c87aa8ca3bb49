"""extract_frames' unit: one manifest item -> N uniformly spaced frames written as image files."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2

from deepfake_detector.config import FramesConfig
from deepfake_detector.media.frames import MediaError, sample_frames
from deepfake_detector.preprocess import Done


@dataclass(frozen=True)
class FrameItem:
    item_id: str
    path: str
    media: str  # image | video


class FrameExtractor:
    """N uniformly spaced frames of a video written as image files under `out`; an image passes through. The
    source file is opened through `fetch` (engines.UnitFiles)."""

    def __init__(self, cfg: FramesConfig, max_file_mb: float, final: Path, out: Path, fetch: Callable[[str], str]):
        self.cfg, self.max_file_mb, self.final, self.out, self.fetch = cfg, max_file_mb, final, out, fetch

    def __call__(self, item: FrameItem) -> Done:
        try:
            return Done(rows=self._frames(item))
        except MediaError as err:
            return Done(skipped=[(item.path, str(err))])

    def _frames(self, item: FrameItem) -> list[dict]:
        source = self.fetch(item.path)
        if _size(source, item.path) > self.max_file_mb * 1024 * 1024:
            raise MediaError(f"{item.path}: larger than data.max_file_mb={self.max_file_mb}")
        if item.media == "image":
            return [{"item_id": item.item_id, "frame_idx": 0, "t": 0.0, "path": item.path}]
        rows = []
        for frame in sample_frames(source, self.cfg.per_video):
            name = Path(item.item_id) / f"{frame.index:06d}.{self.cfg.image_format}"
            target = self.out / name
            target.parent.mkdir(parents=True, exist_ok=True)
            bgr = cv2.cvtColor(frame.rgb, cv2.COLOR_RGB2BGR)
            cv2.imwrite(str(target), bgr, [cv2.IMWRITE_JPEG_QUALITY, self.cfg.jpeg_quality])
            rows.append(
                {"item_id": item.item_id, "frame_idx": frame.index, "t": frame.t, "path": str(self.final / name)}
            )
        return rows


def _size(source: str, path: str) -> int:
    """The size of `source`, the local copy (or the very file) of the manifest's `path`."""
    if not Path(source).is_file():
        raise MediaError(f"{path}: file not found")
    return Path(source).stat().st_size
