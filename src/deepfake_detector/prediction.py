"""What the Predictor returns and how it is asked: a file's Prediction (its faces' scores, each person's verdict,
the file's), and PredictOptions, the per-call settings of Predictor.predict_path and friends."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from deepfake_detector.evidence import EvidenceFrame, FrameChoice
from deepfake_detector.media.credentials import ContentCredentials

# face crops -> N x (2 + methods): each one's calibrated fake probability, embedding distance and method
# probabilities (Predictor.assess_crops)
CropAssessor = Callable[[list[np.ndarray]], np.ndarray]


@dataclass(frozen=True)
class PredictOptions:
    """How to look at one file. The defaults are the model's own settings (model.json)."""

    max_pixels: int | None = None  # an image over this many pixels is refused (MediaTooLarge); None: no limit
    frames_per_video: int | None = None  # overrides model.json's (the service takes it from ServeConfig)
    # replaces Predictor.assess_crops (the service passes its micro-batcher, which calls Predictor.assess_crops)
    assess_crops: CropAssessor | None = None
    cropped: bool | None = None  # the file is a face crop (True), is not (False), or decide from the detection
    explain: bool = False  # each face's heatmap (explain.py)
    evidence: FrameChoice = "none"  # which frames of a video to return as JPEGs (evidence.py)


@dataclass
class FaceScore:
    frame_idx: int
    t: float
    box: list[float]  # x1, y1, x2, y2 in the source frame
    detection_prob: float
    fake_probability: float
    crop_box: list[int]  # x1, y1, x2, y2 of the square the model saw (may extend past the frame)
    heatmap: str | None = None  # where the model looked (explain.py): base64 RGBA PNG over crop_box, on request
    track: int = 0  # the person: 0 is the main face's track (TrackVerdict.track)
    # how far its embedding lies from the validation faces' (about 1 for a typical one; judge.outside_range);
    # None when model.json has no embedding_range
    embedding_distance: float | None = None
    # if the face is fake, how likely each manipulation method is (model.json's method_head); None without a head
    method_probabilities: dict[str, float] | None = None


@dataclass
class TrackVerdict:
    """One person's verdict: an image's face, or a video's face followed across frames (media/faces.track_faces)."""

    track: int  # 0: the main face (the largest, followed); then the others in order of appearance
    faces: int  # frames this person's face was scored in
    verdict: str  # "fake" | "real" | "cannot_judge" (see reason; it then does not count for the file)
    fake_probability: float | None = None
    reason: dict[str, str] | None = None
    manipulation: dict[str, Any] | None = None  # its most likely method (Predictor.manipulation), when judged


@dataclass
class Prediction:
    path: str
    media: str | None = None
    fake_probability: float | None = None
    verdict: str | None = None  # "fake" | "real" | "cannot_judge" (see reason) | None when the file is unreadable
    reason: dict[str, str] | None = None  # why it cannot be judged: {code, message} (judge.py)
    # "face_crop" (cut as training cut crop datasets, faces.already_cropped) or "scene", and why
    treated_as: str | None = None
    treated_as_because: str | None = None
    threshold: float | None = None
    faces: list[FaceScore] = field(default_factory=list)
    # a video's frames behind each judged person's verdict, as JPEGs with the box (evidence.py), on request
    evidence_frames: list[EvidenceFrame] = field(default_factory=list)
    # one verdict per person; the file's is the highest of those that can be judged, and decided_by_track says whose
    tracks: list[TrackVerdict] = field(default_factory=list)
    decided_by_track: int | None = None
    # the deciding track's most likely manipulation method, if it is fake: {method, probability, probabilities}
    manipulation: dict[str, Any] | None = None
    # the file's signed C2PA claims (media/credentials.py), reported beside the verdict and never part of it
    credentials: ContentCredentials | None = None
    frames: int = 0  # frames looked at
    error: str | None = None
    model_version: str | None = None
    timings_ms: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
