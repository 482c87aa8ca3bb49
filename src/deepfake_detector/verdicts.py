"""From scores to verdicts: each person's verdict and the file's, under model.json's threshold and judge rules,
with the out-of-distribution check and the manipulation method. The Predictor scores the faces; this decides
what the scores mean and never calls the model."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from deepfake_detector.judge import CANNOT_JUDGE, Reason, cannot_judge, outside_range
from deepfake_detector.media.faces import Face
from deepfake_detector.media.frames import Frame
from deepfake_detector.models.spec import ModelSpec
from deepfake_detector.prediction import Prediction, TrackVerdict


@dataclass
class ScoredFaces:
    """A file's scored faces, row for row: the frame, face and track (person) of each, and what scoring gave it."""

    kept: list[tuple[Frame, Face, int]]
    probs: np.ndarray  # calibrated fake probabilities
    distances: np.ndarray  # embedding distances (NaN without model.json's embedding_range)
    methods: np.ndarray  # N x methods: method probabilities (no columns without a method head)

    @property
    def tracks(self) -> np.ndarray:
        return np.array([n for _, _, n in self.kept])


class Verdicts:
    def __init__(self, spec: ModelSpec):
        self.spec = spec

    @property
    def methods(self) -> list[str]:
        """The manipulation methods the method head tells apart (none without one)."""
        return self.spec.method_head.methods if self.spec.method_head else []

    def method_probabilities(self, method_probs: np.ndarray) -> dict[str, float] | None:
        """One face's method probabilities (or a track's, averaged over its frames) by method name; None
        without a method head."""
        if not self.methods:
            return None
        mean = np.asarray(method_probs).reshape(-1, len(self.methods)).mean(axis=0)
        return {m: round(float(p), 4) for m, p in zip(self.methods, mean, strict=True)}

    def manipulation(self, method_probs: np.ndarray) -> dict[str, Any] | None:
        """The most likely method of a face or track: {method, probability, probabilities}; None without a
        method head."""
        probabilities = self.method_probabilities(method_probs)
        if probabilities is None:
            return None
        method = max(probabilities, key=probabilities.get)  # the first of equals, as numpy's argmax
        return {"method": method, "probability": probabilities[method], "probabilities": probabilities}

    def outside_range(self, distances: np.ndarray) -> Reason | None:
        """ "out_of_distribution" for a face whose embedding distances (one per scored frame) are beyond the
        validation faces' range, under the judge rules."""
        limit = self.spec.embedding_range.max_distance if self.spec.embedding_range else None
        return outside_range(self.spec.judge, [float(d) for d in distances if np.isfinite(d)], limit)

    def track_verdicts(
        self,
        media: str,
        frames: int,
        scored: ScoredFaces,
        main_reason: Reason | None,
        probability: Callable[[np.ndarray], float],
    ) -> list[TrackVerdict]:
        """Each person's verdict from their scored faces, under the same "cannot judge" rules as the file: a
        bystander seen in too few frames, too small, or unlike the validation faces, does not count. The main
        track carries the file's own reason. `probability`: a track's score from its rows (a boolean mask)."""
        track_of = scored.tracks
        verdicts = []
        for n in range(int(track_of.max()) + 1):
            mine = track_of == n
            reason = self.bystander_reason(media, frames, scored, n) if n else main_reason
            if reason is not None:
                verdicts.append(TrackVerdict(n, int(mine.sum()), CANNOT_JUDGE, reason=reason.to_dict()))
                continue
            p = probability(mine)
            verdict = "fake" if p >= self.spec.threshold else "real"
            manipulation = self.manipulation(scored.methods[mine])
            verdicts.append(TrackVerdict(n, int(mine.sum()), verdict, p, manipulation=manipulation))
        return verdicts

    def bystander_reason(self, media: str, frames: int, scored: ScoredFaces, track: int) -> Reason | None:
        sizes = [face.size_px for _, face, n in scored.kept if n == track]
        return cannot_judge(self.spec.judge, media, frames, sizes) or self.outside_range(
            scored.distances[scored.tracks == track]
        )

    @staticmethod
    def decide(result: Prediction, reason: Reason | None) -> None:
        """The file's verdict: withheld with the main face's reason (the faces' scores stay as evidence), else
        the highest of the judged people's (the main track is judged then, so there is always one)."""
        if reason is not None:
            result.verdict, result.reason = CANNOT_JUDGE, reason.to_dict()
            return
        decider = max((t for t in result.tracks if t.fake_probability is not None), key=lambda t: t.fake_probability)
        result.fake_probability, result.decided_by_track = decider.fake_probability, decider.track
        result.manipulation = decider.manipulation
        result.verdict = decider.verdict
