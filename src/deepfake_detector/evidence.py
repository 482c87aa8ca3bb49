"""Evidence frames: the sampled video frames behind each person's verdict, as small JPEGs with the face box.

Browsers play few of the videos people upload (MPEG-4 Part 2, HEVC, AVI, MKV), so the page, the API and
`deepfake predict --frames DIR` show these pictures instead of pointing into a player. They are drawn from the
frames already decoded for scoring, after scoring: they never change a score.

Which frames (`FrameChoice`): "key", each judged person's highest-scoring frame and their median-scoring one (the
lower median, so it is a frame that was scored); "all", every frame that person was scored in; "none".
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

import cv2
import numpy as np

from deepfake_detector.config import EvidenceConfig

FrameChoice = Literal["key", "all", "none"]
FRAME_CHOICES: tuple[FrameChoice, ...] = ("key", "all", "none")
# the page's box colours (app.js): a face at or over the threshold is boxed as fake, else as real
FAKE_RGB = (229, 57, 53)
REAL_RGB = (67, 160, 71)


@dataclass
class EvidenceFrame:
    track: int  # the person (TrackVerdict.track)
    frame_idx: int
    t: float
    fake_probability: float  # of this face, in this frame
    box: list[float]  # x1, y1, x2, y2 in the source frame (FaceScore.box)
    role: str  # "highest" | "median" | "sampled" (the other frames, with "all")
    scale: float  # JPEG px per source px: the box is drawn at box x scale
    width: int  # of the JPEG, px
    height: int
    jpeg: str | None  # base64 JPEG; None when written to `file` instead (deepfake predict --frames DIR)
    file: str | None = None


class ScoredFace(Protocol):  # inference.FaceScore, as far as evidence needs it
    frame_idx: int
    t: float
    box: list[float]
    fake_probability: float
    track: int


def pick(probabilities: Sequence[float], choice: FrameChoice) -> list[tuple[int, str]]:
    """(position, role) of the faces to show, in frame order: see the module's docstring. The first of equal
    scores is the highest; a person seen once has one frame, the highest."""
    if choice == "none" or not probabilities:
        return []
    highest = int(np.argmax(probabilities))
    median = sorted(range(len(probabilities)), key=lambda i: probabilities[i])[(len(probabilities) - 1) // 2]
    roles = {median: "median", highest: "highest"}
    if choice == "all":
        return [(i, roles.get(i, "sampled")) for i in range(len(probabilities))]
    return sorted(roles.items())


def render(
    rgb: np.ndarray, box: Sequence[float], colour: tuple[int, int, int], cfg: EvidenceConfig
) -> tuple[bytes, float, tuple[int, int]]:
    """The frame shrunk to cfg.max_side with the box drawn in, as JPEG bytes; its scale and (width, height)."""
    h, w = rgb.shape[:2]
    scale = min(1.0, cfg.max_side / max(h, w))
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    bgr = cv2.cvtColor(cv2.resize(rgb, size, interpolation=cv2.INTER_AREA) if scale < 1 else rgb, cv2.COLOR_RGB2BGR)
    x1, y1, x2, y2 = (round(v * scale) for v in box)
    cv2.rectangle(bgr, (x1, y1), (x2, y2), colour[::-1], cfg.box_px)
    ok, jpeg = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, cfg.jpeg_quality])
    if not ok:
        raise RuntimeError("OpenCV could not encode an evidence frame as JPEG")
    return jpeg.tobytes(), scale, size


def evidence_frames(
    rgb_of: dict[int, np.ndarray],
    faces: Sequence[ScoredFace],
    judged: Sequence[int],
    threshold: float,
    choice: FrameChoice,
    cfg: EvidenceConfig,
) -> list[EvidenceFrame]:
    """The evidence of each judged person (`judged`: their tracks), in track then frame order; `rgb_of`: the
    decoded frames by index."""
    out = []
    for track in judged:
        mine = [f for f in faces if f.track == track]
        for i, role in pick([f.fake_probability for f in mine], choice):
            face = mine[i]
            colour = FAKE_RGB if face.fake_probability >= threshold else REAL_RGB
            jpeg, scale, (width, height) = render(rgb_of[face.frame_idx], face.box, colour, cfg)
            out.append(
                EvidenceFrame(
                    track,
                    face.frame_idx,
                    face.t,
                    face.fake_probability,
                    list(face.box),
                    role,
                    round(scale, 6),
                    width,
                    height,
                    base64.b64encode(jpeg).decode("ascii"),
                )
            )
    return out
