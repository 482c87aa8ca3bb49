"""crop_faces' unit: a batch of items (one MTCNN batch) -> each frame's tracked main face, cut with a margin."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import pandas as pd

from deepfake_detector.config import FacesConfig
from deepfake_detector.devices import pin_threads
from deepfake_detector.media.faces import Face, FaceDetector, crop_square, cut_square
from deepfake_detector.media.frames import MediaError, read_image
from deepfake_detector.media.landmarks import Landmarker, landmarks_json, load_landmarker
from deepfake_detector.preprocess import Done

log = logging.getLogger("preprocess")
CROP_JPEG_QUALITY = 95
NOT_FOUND = {
    "found": False,
    "x1": 0.0,
    "y1": 0.0,
    "x2": 0.0,
    "y2": 0.0,
    "landmarks": "",
    "landmarks68": "",
    "prob": 0.0,
    "face_px": 0.0,
    "crop_x": 0,
    "crop_y": 0,
    "crop_side": 0,
    "crop_path": "",
}


@dataclass(frozen=True)
class FaceItem:
    item_id: str
    path: str  # the source file, named when the item is skipped
    cropped: bool  # the file is a face crop already (faces.already_cropped says how to treat it)
    frames: tuple[tuple[int, str], ...]  # (frame_idx, frame image path)


def face_batches(frames: pd.DataFrame, manifest: pd.DataFrame, min_frames: int) -> list[list[FaceItem]]:
    """Items in item_id order, grouped until a group holds at least `min_frames` frames (one detection batch).
    `manifest` is indexed by item_id."""
    batches, batch, count = [], [], 0
    for item_id, item_frames in frames.groupby("item_id", sort=True):
        pairs = tuple((int(i), str(p)) for i, p in zip(item_frames["frame_idx"], item_frames["path"], strict=True))
        row = manifest.loc[item_id]
        batch.append(FaceItem(str(item_id), str(row["path"]), bool(row["cropped"]), pairs))
        count += len(pairs)
        if count >= min_frames:
            batches.append(batch)
            batch, count = [], 0
    if batch:
        batches.append(batch)
    return batches


def batch_frames(batch: list[FaceItem]) -> list[str]:
    """The frame files a batch reads (engines.UnitFiles' inputs)."""
    return [path for item in batch for _, path in item.frames]


class FaceCropper:
    """MTCNN on a batch of items' frames; the tracked main face of each frame cut with a margin, under `out`.
    Frames are opened through `fetch` (engines.UnitFiles)."""

    def __init__(
        self,
        cfg: FacesConfig,
        detect_device: str,
        detect_threads: int,
        final: Path,
        out: Path,
        fetch: Callable[[str], str],
    ):
        self.cfg, self.final, self.out, self.fetch = cfg, final, out, fetch
        pin_threads(detect_threads)  # compute.detect_threads: the whole process's (a worker does nothing else)
        self.detector = FaceDetector(cfg, detect_device)
        self.landmarker = load_landmarker(cfg.dense_landmarks)
        log.info("face detection on %s, %s landmarks", self.detector.device, 68 if self.landmarker else 5)

    def __call__(self, batch: list[FaceItem]) -> Done:
        done, decoded = Done(), []
        for item in batch:
            try:
                decoded.append((item, [read_image(self.fetch(path)) for _, path in item.frames]))
            except MediaError as err:
                done.skipped.append((item.path, str(err)))
        found = self.detector.main_faces_many([(images, item.cropped) for item, images in decoded])
        for (item, images), faces in zip(decoded, found, strict=True):
            for (frame_idx, _), image, face in zip(item.frames, images, faces, strict=True):
                done.rows.append(
                    face_row(
                        item.item_id,
                        frame_idx,
                        image,
                        face,
                        self.cfg,
                        item.cropped,
                        self.out,
                        self.final,
                        self.landmarker,
                    )
                )
        return done


def face_row(
    item_id: str,
    frame_idx: int,
    image,
    face: Face | None,
    cfg: FacesConfig,
    cropped: bool,
    out: Path,
    final: Path,
    landmarker: Landmarker | None = None,
) -> dict:
    """The faces-table row of one frame; the crop is written under `out` (its path in the table is under
    `final`, where the stage moves `out`) when a face was found. Items that are face crops already are
    cropped inside the image (no black border). The square the crop was cut from is recorded, so nothing
    downstream re-derives it from faces.margin; so are the 68 landmarks inside the box, with a landmarker."""
    row = {"item_id": item_id, "frame_idx": frame_idx, **NOT_FOUND}
    if face is None:
        return row
    name = Path(item_id) / f"{frame_idx:06d}.jpg"
    target = out / name
    target.parent.mkdir(parents=True, exist_ok=True)
    square = crop_square(image.shape, face, cfg.margin, fit_inside=cropped)
    crop = cut_square(image, square, cfg.crop_size)
    cv2.imwrite(str(target), cv2.cvtColor(crop, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, CROP_JPEG_QUALITY])
    x1, y1, x2, y2 = face.box
    dense = landmarker(image, face.box) if landmarker else None
    row.update(
        found=True,
        x1=x1,
        y1=y1,
        x2=x2,
        y2=y2,
        landmarks=face.landmarks_json(),
        landmarks68=landmarks_json(dense),
        prob=face.prob,
        face_px=face.size_px,
        crop_x=square.x,
        crop_y=square.y,
        crop_side=square.side,
        crop_path=str(final / name),
    )
    return row
