"""Predictor: media -> frames -> faces -> crops -> model -> calibrated verdict.

The one inference path used by the CLI, the evaluate stage and the service. It runs the ONNX model with ONNX
Runtime when the model folder has one (the packaged model), else the PyTorch weights (the train stage's output).
Loaded once; safe to call from several threads.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np

from deepfake_detector.config import ExplainConfig
from deepfake_detector.evidence import EvidenceFrame, FrameChoice, evidence_frames
from deepfake_detector.explain import heatmap_png, occlusion_maps
from deepfake_detector.judge import CANNOT_JUDGE, cannot_judge
from deepfake_detector.media.credentials import read_credentials
from deepfake_detector.media.faces import CropSquare, Face, FaceDetector, crop_square, cut_square, track_faces
from deepfake_detector.media.frames import Frame, MediaError, media_kind, read_image, sample_frames
from deepfake_detector.models.preprocess import to_model_input
from deepfake_detector.models.runtime import OnnxBackend, TemporalOnnx, TemporalTorch, TorchBackend
from deepfake_detector.models.spec import ONNX_FILE, TEMPORAL_ONNX, TEMPORAL_WEIGHTS, TORCH_WEIGHTS, ModelSpec
from deepfake_detector.prediction import FaceScore, Prediction, PredictOptions
from deepfake_detector.scoring import aggregate, calibrated_probability
from deepfake_detector.verdicts import ScoredFaces, Verdicts

DEFAULT_OPTIONS = PredictOptions()


class Predictor:
    def __init__(self, model_dir: str | Path, backend: str = "auto", detect_device: str = "auto"):
        """`backend`: auto (ONNX when the folder has it), onnx or torch; `detect_device`: MTCNN's device,
        params.compute.detect_device (auto: a GPU when there is one)."""
        self.model_dir = Path(model_dir)
        self.detect_device = detect_device
        self.spec = ModelSpec.load(self.model_dir)
        onnx_path, torch_path = self.model_dir / ONNX_FILE, self.model_dir / TORCH_WEIGHTS
        if backend in ("auto", "onnx") and onnx_path.exists():
            self.backend = OnnxBackend(onnx_path)
        elif backend in ("auto", "torch") and torch_path.exists():
            self.backend = TorchBackend(torch_path, self.spec)
        else:
            raise FileNotFoundError(f"{self.model_dir}: no {ONNX_FILE} or {TORCH_WEIGHTS} for backend '{backend}'")
        self.verdicts = Verdicts(self.spec)  # what the scores mean: thresholds, judge rules, methods
        self.temporal = self._load_temporal() if self.spec.temporal_head is not None else None
        self._detector: FaceDetector | None = None
        self._detector_lock = threading.Lock()

    def _load_temporal(self) -> TemporalOnnx | TemporalTorch | None:
        """The temporal head, with the same kind of backend as the frame model (ONNX next to model.onnx)."""
        if isinstance(self.backend, OnnxBackend):
            path = self.model_dir / TEMPORAL_ONNX
            head = TemporalOnnx(path) if path.exists() else None
        else:
            path = self.model_dir / TEMPORAL_WEIGHTS
            head = TemporalTorch(path, self.spec) if path.exists() else None
        if head is None and self.uses_temporal_head:
            raise FileNotFoundError(
                f"{path}: model.json scores videos with the temporal head but the file is missing; "
                "re-run the train (or package) stage"
            )
        return head

    @property
    def uses_temporal_head(self) -> bool:
        """model.json chose the temporal head for videos (it beat plain aggregation on validation videos)."""
        return self.spec.video_aggregation == "temporal"

    @property
    def detector(self) -> FaceDetector:
        with self._detector_lock:  # created lazily: scoring crops (evaluate) never needs MTCNN
            if self._detector is None:
                self._detector = FaceDetector(self.spec.faces, self.detect_device)
            return self._detector

    def find_faces(
        self, rgbs: list[np.ndarray], media: str, cropped: bool | None
    ) -> tuple[list[list[Face | None]], int | None, tuple[str, str]]:
        """Each person's face per frame (the main face's track first; a face crop has only that one), how many
        faces an image holds, and whether the file is treated as a face crop (and why). A face crop goes through
        the same detection and cut as training's crop datasets (faces.already_cropped: padded or whole);
        `cropped=None` decides it from the detection: the file is a crop when its main face's crop square
        (faces.margin x the box) covers the whole frame."""
        if cropped:
            return [self.detector.main_faces(rgbs, already_cropped=True)], None, ("face_crop", "cropped=true was given")
        every_face = self.detector.detect(rgbs)
        tracks = track_faces(every_face)
        count = len(every_face[0]) if media == "image" else None
        if cropped is False:
            return tracks, count, ("scene", "cropped=false was given")
        found = [(face, rgb) for face, rgb in zip(tracks[0], rgbs, strict=True) if face is not None]
        if found and all(self.spec.faces.margin * face.size_px >= min(rgb.shape[:2]) for face, rgb in found):
            because = "the face fills the image: its crop square covers the whole frame"
            # detected again on the padded crop, as training's crop datasets were: padding changes what MTCNN finds
            return [self.detector.main_faces(rgbs, already_cropped=True)], count, ("face_crop", because)
        return tracks, count, ("scene", "the face is a part of the image" if found else "no face was found")

    # -- crops -> calibrated probabilities -------------------------------------------------------------
    def model_input(self, crops: list[np.ndarray]) -> np.ndarray:
        """Crops as the model's input: resized and normalised with model.json's size, mean and std."""
        return to_model_input(crops, self.spec.input_size, self.spec.mean, self.spec.std)

    def logits(self, crops: list[np.ndarray], batch_size: int = 64) -> np.ndarray:
        out = [
            self.backend.logits(self.model_input(crops[i : i + batch_size])) for i in range(0, len(crops), batch_size)
        ]
        return np.concatenate(out) if out else np.zeros(0, dtype=np.float32)

    def logits_and_embeddings(self, crops: list[np.ndarray], batch_size: int = 64) -> tuple[np.ndarray, np.ndarray]:
        """Frame logits and the frame model's pre-logit embeddings (the temporal head's input)."""
        out = [
            self.backend.logits_and_embeddings(self.model_input(crops[i : i + batch_size]))
            for i in range(0, len(crops), batch_size)
        ]
        if not out:
            return np.zeros(0, dtype=np.float32), np.zeros((0, 0), dtype=np.float32)
        return np.concatenate([o[0] for o in out]), np.concatenate([o[1] for o in out])

    def temporal_probability(self, embeddings: np.ndarray) -> float:
        """One video's calibrated probability from its frames' embeddings, in frame order."""
        head = self.spec.temporal_head
        return float(calibrated_probability(self.temporal.logit(embeddings), head.temperature, head.bias))

    def item_probability(self, media: str, probs: np.ndarray, embeddings: np.ndarray | None = None) -> float:
        """One verdict score per file: an image is its face; a video aggregates its frames (or, when model.json
        says so, the temporal head scores the sequence of its frames' embeddings)."""
        if media != "video":
            return float(probs[0])
        if self.uses_temporal_head:
            return self.temporal_probability(embeddings)
        return aggregate(probs, self.spec.video_aggregation)

    def calibrate(self, logits: np.ndarray) -> np.ndarray:
        return calibrated_probability(logits, self.spec.temperature, self.spec.bias)

    def score_crops(self, crops: list[np.ndarray]) -> np.ndarray:
        return self.calibrate(self.logits(crops))

    @property
    def methods(self) -> list[str]:
        """The manipulation methods the method head tells apart (none without one)."""
        return self.verdicts.methods

    def assess_crops(self, crops: list[np.ndarray]) -> np.ndarray:
        """N x (2 + len(self.methods)): each crop's calibrated fake probability, embedding distance (NaN without
        a range) and method probabilities, from one model call (the embedding is the frame model's second
        output). The service micro-batches this."""
        return self.assess_with_embeddings(crops)[0]

    def assess_with_embeddings(self, crops: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray | None]:
        """assess_crops, and the crops' embeddings when the temporal head scores videos with them (else None)."""
        spec = self.spec
        if not crops:
            return np.zeros((0, 2 + len(self.methods))), None
        if spec.embedding_range is None and spec.method_head is None and not self.uses_temporal_head:
            return np.column_stack([self.score_crops(crops), np.full(len(crops), np.nan)]), None
        logits, embeddings = self.logits_and_embeddings(crops)
        distances = spec.embedding_range.distance(embeddings) if spec.embedding_range else np.full(len(crops), np.nan)
        methods = spec.method_head.probabilities(embeddings) if spec.method_head else np.zeros((len(crops), 0))
        assessed = np.column_stack([self.calibrate(logits), distances, methods])
        return assessed, embeddings if self.uses_temporal_head else None

    def heatmaps(self, crops: list[np.ndarray]) -> list[str]:
        """Where the model looked in each crop (explain.py), as PNGs the size of the model's input."""
        cfg = self.spec.explain or ExplainConfig()
        heat = occlusion_maps(self.backend.logits, self.model_input(crops), cfg)
        return [heatmap_png(h, cfg.opacity) for h in heat]

    def evidence(self, frames: list[Frame], result: Prediction, choice: FrameChoice) -> list[EvidenceFrame]:
        """The evidence frames of each judged person of `result`, drawn on its decoded `frames`."""
        judged = [t.track for t in result.tracks if t.verdict != CANNOT_JUDGE]
        cfg = (self.spec.explain or ExplainConfig()).evidence
        rgb_of = {frame.index: frame.rgb for frame in frames}
        return evidence_frames(rgb_of, result.faces, judged, self.spec.threshold, choice, cfg)

    # -- files -> verdicts -------------------------------------------------------------------------------
    def predict_path(self, path: str | Path, options: PredictOptions = DEFAULT_OPTIONS) -> Prediction:
        """Never raises for bad input: the error is reported in the Prediction."""
        return self.predict_path_and_frames(path, options)[0]

    def predict_path_and_frames(
        self, path: str | Path, options: PredictOptions = DEFAULT_OPTIONS
    ) -> tuple[Prediction, list[Frame]]:
        """predict_path, and the frames it decoded (none when unreadable): the CLI draws heatmaps on them."""
        try:
            return self.predict_path_or_raise(path, options)
        except MediaError as err:
            return Prediction(path=str(path), error=str(err), model_version=self.spec.version), []

    def predict_path_or_raise(
        self, path: str | Path, options: PredictOptions = DEFAULT_OPTIONS
    ) -> tuple[Prediction, list[Frame]]:
        """predict_path_and_frames, but a file that cannot be read raises its MediaError (MediaTooLarge when
        over options.max_pixels): the service refuses it with the HTTP status of the error's type."""
        path = Path(path)
        media = media_kind(path)
        started = time.perf_counter()
        if media == "image":
            frames = [Frame(0, 0.0, read_image(path, options.max_pixels))]
        else:
            frames = sample_frames(path, options.frames_per_video or self.spec.frames_per_video)
        decoded = time.perf_counter()
        prediction = self.predict_frames(frames, media, str(path), options)
        scored = time.perf_counter()
        prediction.credentials = read_credentials(path)  # after scoring: it cannot touch the score
        prediction.timings_ms["decode"] = round((decoded - started) * 1000, 1)
        prediction.timings_ms["credentials"] = round((time.perf_counter() - scored) * 1000, 1)
        return prediction, frames

    def predict_frames(
        self,
        frames: list[Frame],
        media: str,
        name: str,
        options: PredictOptions = DEFAULT_OPTIONS,
        faces: list[Face | None] | None = None,
    ) -> Prediction:
        """`faces`: the frames' main faces when already detected with this model's face settings (the
        robustness sweep detects once per video for all its models; options.cropped is then not used)."""
        started = time.perf_counter()
        faces_in_image, treated_as, tracks = None, ("scene", "the faces were detected by the caller"), [faces]
        if faces is None:
            tracks, faces_in_image, treated_as = self.find_faces([f.rgb for f in frames], media, options.cropped)
        detected = time.perf_counter()
        kept = [
            (frame, face, n)
            for n, track in enumerate(tracks)
            for frame, face in zip(frames, track, strict=True)
            if face is not None
        ]
        result = Prediction(
            path=name,
            media=media,
            frames=len(frames),
            model_version=self.spec.version,
            threshold=self.spec.threshold,
            treated_as=treated_as[0],
            treated_as_because=treated_as[1],
        )
        main_sizes = [face.size_px for face in tracks[0] if face is not None]
        reason = cannot_judge(self.spec.judge, media, len(frames), main_sizes, faces_in_image)
        if reason is not None and not kept:
            self.verdicts.decide(result, reason)
            return result
        squares = [
            crop_square(fr.rgb.shape, face, self.spec.faces.margin, fit_inside=treated_as[0] == "face_crop")
            for fr, face, _ in kept
        ]
        crops = [
            cut_square(fr.rgb, sq, self.spec.faces.crop_size) for (fr, _, _), sq in zip(kept, squares, strict=True)
        ]
        if media == "video" and self.uses_temporal_head:  # the head needs the embeddings themselves
            assessed, embeddings = self.assess_with_embeddings(crops)
        else:  # options.assess_crops: the service's micro-batcher, when given
            assessed, embeddings = (options.assess_crops or self.assess_crops)(crops), None
        scored = ScoredFaces(kept, assessed[:, 0], assessed[:, 1], assessed[:, 2:])
        classified = time.perf_counter()
        heatmaps = self.heatmaps(crops) if options.explain else [None] * len(crops)
        if options.explain:
            result.timings_ms["explain"] = round((time.perf_counter() - classified) * 1000, 1)
        result.faces = self.face_scores(scored, squares, heatmaps)
        reason = reason or self.verdicts.outside_range(scored.distances[scored.tracks == 0])  # known only now

        def track_probability(rows: np.ndarray) -> float:
            return self.item_probability(media, scored.probs[rows], None if embeddings is None else embeddings[rows])

        result.tracks = self.verdicts.track_verdicts(media, len(frames), scored, reason, track_probability)
        self.verdicts.decide(result, reason)
        if media == "video" and options.evidence != "none":  # after scoring: the pictures cannot touch a score
            drawn = time.perf_counter()
            result.evidence_frames = self.evidence(frames, result, options.evidence)
            result.timings_ms["evidence"] = round((time.perf_counter() - drawn) * 1000, 1)
        result.timings_ms.update(
            detect=round((detected - started) * 1000, 1), classify=round((classified - detected) * 1000, 1)
        )
        return result

    def face_scores(
        self, scored: ScoredFaces, squares: list[CropSquare], heatmaps: list[str | None]
    ) -> list[FaceScore]:
        """Each scored face as the Prediction reports it (rounded for reading; the verdicts use the exact values)."""
        return [
            FaceScore(
                fr.index,
                round(fr.t, 3),
                [round(v, 1) for v in face.box],
                round(face.prob, 4),
                float(p),
                [sq.x, sq.y, sq.x + sq.side, sq.y + sq.side],
                heatmap,
                n,
                round(float(d), 3) if np.isfinite(d) else None,
                self.verdicts.method_probabilities(m),
            )
            for (fr, face, n), p, d, m, sq, heatmap in zip(
                scored.kept, scored.probs, scored.distances, scored.methods, squares, heatmaps, strict=True
            )
        ]
