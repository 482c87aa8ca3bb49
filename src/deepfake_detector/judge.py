"""The "cannot judge" verdict: when the Predictor withholds a verdict instead of guessing, with a stable code and
a sentence a user understands. The rules are params.yaml's `judge` section, carried by the packaged model.json."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from deepfake_detector.config import JudgeConfig

CANNOT_JUDGE = "cannot_judge"  # the verdict, beside "fake" and "real"

# every reason code, what it means (docs/serving.md lists the same)
REASONS = {
    "no_face": "no face was found in the file",
    "many_faces": "an image holds more faces than judge.max_faces: a collage or a screenshot",
    "too_few_face_frames": "a face is in fewer than judge.min_face_frames of a video's sampled frames",
    "face_too_small": "the main face is smaller than judge.min_face_long_side_px",
    "out_of_distribution": "the main face's embedding lies outside the validation faces' range (model.json's "
    "embedding_range): unlike anything the model was calibrated on",
}


@dataclass(frozen=True)
class Reason:
    code: str  # one of REASONS
    message: str  # for the user: what was found and what to do

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


def cannot_judge(
    rules: JudgeConfig | None, media: str, frames: int, face_sizes: list[float], faces_in_image: int | None = None
) -> Reason | None:
    """Why this file gets no verdict, or None when it can be judged.

    `face_sizes`: the main face's longer side (source px) in each sampled frame that has one; `faces_in_image`:
    how many faces an image holds (None when unknown). Without `rules` only a missing face withholds it."""
    if not face_sizes:
        return Reason("no_face", f"no face found in {frames} frame(s); use a file where a face is clearly visible")
    if rules is None:
        return None
    if media == "image" and faces_in_image is not None and faces_in_image > rules.max_faces:
        return Reason(
            "many_faces",
            f"{faces_in_image} faces in one image: this looks like a collage or a screenshot; "
            "upload a picture of the person in question instead",
        )
    if media == "video" and len(face_sizes) < rules.min_face_frames * frames:
        return Reason(
            "too_few_face_frames",
            f"a face is in only {len(face_sizes)} of {frames} sampled frames (fewer "
            f"than {rules.min_face_frames:.0%}); use a clip where the face stays in view",
        )
    if max(face_sizes) < rules.min_face_long_side_px:
        return Reason(
            "face_too_small",
            f"the face is {max(face_sizes):.0f} px, under the {rules.min_face_long_side_px} px the "
            "model needs; use a larger or sharper copy",
        )
    return None


def outside_range(rules: JudgeConfig | None, distances: list[float], max_distance: float | None) -> Reason | None:
    """ "out_of_distribution" when the median of a face's embedding distances (models/spec.EmbeddingRange, one per
    scored frame) is beyond the range the validation faces stay within; None when judged, or without the rule
    or a range."""
    if rules is None or not rules.out_of_distribution or max_distance is None or not distances:
        return None
    median = float(np.median(distances))
    if median <= max_distance:
        return None
    return Reason(
        "out_of_distribution",
        f"the face is unlike the faces the model was calibrated on (embedding "
        f"distance {median:.2f}, beyond the {max_distance:.2f} that nearly all "
        "of those stay within), so a verdict would be a guess; have a person "
        "review it",
    )
