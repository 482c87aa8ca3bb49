"""Face detection (MTCNN), main-face tracking across frames, and margin crops.

The one preprocessing path: the crop stage, evaluation and the Predictor all crop faces through here, because a
detector or crop that differs between training and inference is a known way to lose all accuracy.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

import cv2
import numpy as np

from deepfake_detector.config import FacesConfig
from deepfake_detector.devices import torch_device

if TYPE_CHECKING:
    from deepfake_detector.media.mtcnn import Detections

MIN_TRACK_IOU = 0.1  # below this the previous face is considered lost and the largest face is taken
# Detections are rounded where they leave MTCNN: float noise between machines (thread counts, SIMD paths) must
# not reach faces.csv, the crops cut from the box, or anything downstream. 0.01 px is far below meaning.
PIXEL_DECIMALS = 2
PROB_DECIMALS = 4


@dataclass(frozen=True)
class Face:
    box: tuple[float, float, float, float]  # x1, y1, x2, y2 in frame pixels, rounded to 0.01 px
    landmarks: np.ndarray  # 5x2: eyes, nose, mouth corners, in frame pixels, rounded to 0.01 px
    prob: float

    def __post_init__(self):
        object.__setattr__(self, "box", tuple(round(float(v), PIXEL_DECIMALS) for v in self.box))
        object.__setattr__(self, "landmarks", np.round(np.asarray(self.landmarks, dtype=np.float64), PIXEL_DECIMALS))
        object.__setattr__(self, "prob", round(float(self.prob), PROB_DECIMALS))

    @property
    def size_px(self) -> float:
        """The face size before any resize: the longer box side, in source pixels."""
        x1, y1, x2, y2 = self.box
        return round(max(x2 - x1, y2 - y1), PIXEL_DECIMALS)

    @property
    def area(self) -> float:
        x1, y1, x2, y2 = self.box
        return max(0.0, x2 - x1) * max(0.0, y2 - y1)

    def landmarks_json(self) -> str:
        return json.dumps(self.landmarks.tolist())


class FaceDetector:
    """MTCNN over frames downsized so the long side is at most `detect_max_side`.

    facenet-pytorch's MTCNN with its weights, run through media/mtcnn.py: the same detections as
    `MTCNN.detect`, in about half the CPU time."""

    def __init__(self, cfg: FacesConfig, device: str = "auto"):
        """`device`: params.compute.detect_device (auto: a GPU when there is one)."""
        from deepfake_detector.media.mtcnn import FastMTCNN  # heavy import (torch); weights ship in the wheel

        self.cfg = cfg
        self.device = torch_device(device)
        self._mtcnn = FastMTCNN(device=self.device)
        self._lock = threading.Lock()  # MTCNN keeps no per-call state, but torch ops share a thread pool

    def search_sizes(self, h: int, w: int) -> tuple[float, float]:
        """For a frame of h x w detection pixels (after the downsizing): MTCNN's min_face_size, which sets the
        image pyramid, and the face size under which its levels are skipped.

        The first pyramid level is the frame at 12 / min_face_size and each next one is 0.709x smaller, so
        the first levels cost most. `faces.min_face_detect_px` counts detection pixels: on a frame downsized by s
        it stands for min_face_detect_px / s source pixels. `faces.min_face_frac` skips the levels that look for faces
        under that share of the short side, leaving the other levels (and the faces they find) unchanged."""
        return float(self.cfg.min_face_detect_px), self.cfg.min_face_frac * min(h, w)

    def main_faces(self, frames: list[np.ndarray], already_cropped: bool = False) -> list[Face | None]:
        """The tracked main face per frame of one item (a video's frames, or a single image)."""
        return self.main_faces_many([(frames, already_cropped)])[0]

    def main_faces_many(self, items: list[tuple[list[np.ndarray], bool]]) -> list[list[Face | None]]:
        """main_faces for several items at once, so small items (images) share detection batches."""
        inputs, pads, owners = [], [], []
        for n, (frames, cropped) in enumerate(items):
            if cropped and self.cfg.already_cropped == "skip":
                continue
            for frame in frames:
                # tight crops are padded so MTCNN sees context; boxes are shifted back afterwards
                image, pad = pad_for_detection(frame, self.cfg.pad_fraction) if cropped else (frame, 0)
                inputs.append(image)
                pads.append(pad)
                owners.append(n)
        detected = self.detect(inputs)
        per_item: list[list[list[Face]]] = [[] for _ in items]
        for faces, pad, n in zip(detected, pads, owners, strict=True):
            per_item[n].append([shift_face(f, -pad, -pad) for f in faces] if pad else faces)
        return [
            [whole_image_face(f, self.cfg.margin) for f in frames]
            if cropped and self.cfg.already_cropped == "skip"
            else track_main_face(per_item[n])
            for n, (frames, cropped) in enumerate(items)
        ]

    def detect(self, frames: list[np.ndarray]) -> list[list[Face]]:
        """All faces (prob >= min_prob) per RGB frame, largest first. Same-size frames run as one batch."""
        results: list[list[Face]] = [[] for _ in frames]
        by_shape: dict[tuple[int, ...], list[int]] = {}
        for i, frame in enumerate(frames):
            by_shape.setdefault(frame.shape, []).append(i)
        for indices in by_shape.values():
            for start in range(0, len(indices), self.cfg.batch_size):
                chunk = indices[start : start + self.cfg.batch_size]
                for i, faces in zip(chunk, self._detect_same_size([frames[i] for i in chunk]), strict=True):
                    results[i] = faces
        return results

    def _detect_same_size(self, frames: list[np.ndarray]) -> list[list[Face]]:
        h, w = frames[0].shape[:2]
        scale = min(1.0, self.cfg.detect_max_side / max(h, w))
        if scale < 1.0:
            size = (max(1, round(w * scale)), max(1, round(h * scale)))
            frames = [cv2.resize(f, size, interpolation=cv2.INTER_AREA) for f in frames]
        h, w = frames[0].shape[:2]
        with self._lock:
            detections = self._mtcnn.detect(frames, *self.search_sizes(h, w))
        return [self._faces(d, scale) for d in detections]

    def _faces(self, detections: Detections, scale: float) -> list[Face]:
        boxes, probs, points = detections.boxes / scale, detections.probs, detections.landmarks / scale
        faces = [
            Face(tuple(b), lm, float(p))
            for b, p, lm in zip(boxes, probs, points, strict=True)
            if p >= self.cfg.min_prob
        ]
        return sorted(faces, key=lambda f: f.area, reverse=True)


def iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def track_main_face(per_frame: list[list[Face]]) -> list[Face | None]:
    """One face per frame: the largest face first, then the one that overlaps the previous pick most.

    Following the face across frames keeps a video about one person even when a bystander is larger in
    some frame; when the tracked face is lost, the largest face takes over.
    """
    picked: list[Face | None] = []
    previous: Face | None = None
    for faces in per_frame:
        choice = faces[0] if faces else None
        if faces and previous is not None:
            best = max(faces, key=lambda f: iou(f.box, previous.box))
            if iou(best.box, previous.box) >= MIN_TRACK_IOU:
                choice = best
        picked.append(choice)
        previous = choice or previous
    return picked


def track_faces(per_frame: list[list[Face]]) -> list[list[Face | None]]:
    """Every person's face per frame: the main face's track first (track_main_face, unchanged), then one track
    per other person, in order of appearance. A face the main track leaves joins the track whose last face it
    overlaps most (at least MIN_TRACK_IOU), else starts a new one."""
    main = track_main_face(per_frame)
    others: list[list[Face | None]] = []
    for i, faces in enumerate(per_frame):
        for track in others:
            track.append(None)
        for face in (f for f in faces if f is not main[i]):
            free = [(iou(_last(track).box, face.box), n) for n, track in enumerate(others) if track[i] is None]
            overlap, best = max(free, default=(0.0, -1))
            if overlap >= MIN_TRACK_IOU:
                others[best][i] = face
            else:
                others.append([None] * i + [face])
    return [main, *others]


def _last(track: list[Face | None]) -> Face:
    return next(face for face in reversed(track) if face is not None)


@dataclass(frozen=True)
class CropSquare:
    """The square a face crop is cut from, in source pixels; it may extend past the frame (filled black)."""

    x: int
    y: int
    side: int


def crop_square(shape: tuple[int, ...], face: Face, margin: float, fit_inside: bool = False) -> CropSquare:
    """The square of side margin * longer box side around the box centre.

    With `fit_inside` (images that are face crops already) the square is shrunk and shifted to lie inside the
    image: the image is all the context there is, and MTCNN boxes on tight crops often exceed it. Decided
    once, here, and recorded in faces.csv (crop_x, crop_y, crop_side) for whatever maps points into crops."""
    x1, y1, x2, y2 = face.box
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    h, w = shape[:2]
    half = margin * face.size_px / 2
    side = max(1, int(round(2 * half)))
    if fit_inside and side > min(w, h):
        side = min(w, h)
        half = side / 2
    left, top = int(round(cx - half)), int(round(cy - half))
    if fit_inside:
        left, top = min(max(left, 0), w - side), min(max(top, 0), h - side)
    return CropSquare(left, top, side)


def cut_square(rgb: np.ndarray, square: CropSquare, size: int) -> np.ndarray:
    """The square cut out of the image (black where it leaves the frame), resized to size x size."""
    h, w = rgb.shape[:2]
    left, top, side = square.x, square.y, square.side
    pad = max(0, -left, -top, left + side - w, top + side - h)
    if pad:
        rgb = cv2.copyMakeBorder(rgb, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=(0, 0, 0))
    crop = rgb[top + pad : top + pad + side, left + pad : left + pad + side]
    interpolation = cv2.INTER_AREA if side > size else cv2.INTER_LINEAR
    return cv2.resize(crop, (size, size), interpolation=interpolation)


def cut_margin(rgb: np.ndarray, detector: FaceDetector) -> float | None:
    """The margin a face-crop image was cut with: its side over the MTCNN box side of its main face, found
    with the padding `pad` mode uses. A profile that trains on such crops sets faces.margin to the median of
    this, so faces detected in other datasets are framed like the training crops (scripts/crop_margin.py)."""
    face = detector.main_faces([rgb], already_cropped=True)[0]
    return min(rgb.shape[:2]) / face.size_px if face is not None else None


def pad_for_detection(rgb: np.ndarray, fraction: float) -> tuple[np.ndarray, int]:
    """Pad a tight face crop so MTCNN sees context around the face; returns the image and the pad."""
    pad = int(round(fraction * max(rgb.shape[:2])))
    return cv2.copyMakeBorder(rgb, pad, pad, pad, pad, cv2.BORDER_REPLICATE), pad


def shift_face(face: Face, dx: float, dy: float) -> Face:
    x1, y1, x2, y2 = face.box
    return Face((x1 + dx, y1 + dy, x2 + dx, y2 + dy), face.landmarks + np.array([dx, dy]), face.prob)


def whole_image_face(rgb: np.ndarray, margin: float = 1.0) -> Face:
    """For datasets that are face crops already and skip detection: a box that, widened by the crop margin,
    is exactly the whole image, so the crop is the image itself (no black border around it)."""
    h, w = rgb.shape[:2]
    half_w, half_h = w / (2 * margin), h / (2 * margin)
    box = (w / 2 - half_w, h / 2 - half_h, w / 2 + half_w, h / 2 + half_h)
    return Face(box, np.full((5, 2), np.nan), 1.0)
