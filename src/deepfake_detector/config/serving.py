"""Settings of the served model: when not to judge, heatmaps, the ONNX package, the service."""

from __future__ import annotations

from pydantic import Field

from deepfake_detector.config.base import Strict


class JudgeConfig(Strict):
    """When a file gets "cannot judge" (with a reason, judge.py) instead of a verdict. A serving decision: the
    package stage writes it into the packaged model.json, read by the CLI and the service through the
    Predictor; the trained model (evaluate, robustness) scores every face it finds."""

    # the main face's longer side in source pixels: below it, a 128 px crop is mostly up-sampling blur
    min_face_long_side_px: int = Field(32, ge=1)
    min_face_frames: float = Field(0.5, ge=0, le=1)  # share of a video's sampled frames that must show a face
    max_faces: int = Field(6, ge=1)  # more faces in one image: a collage or a screenshot, not a photo of someone
    # the main face's median embedding distance is beyond the validation faces' range (model.json's
    # embedding_range): unlike anything the model was calibrated on
    out_of_distribution: bool = True


class EvidenceConfig(Strict):
    """Evidence frames (evidence.py): the sampled video frames behind a verdict, as small JPEGs with the box."""

    max_side: int = Field(320, ge=16)  # px of the JPEG's longest side; smaller frames keep their size
    jpeg_quality: int = Field(80, ge=1, le=100)
    box_px: int = Field(2, ge=1)  # line width of the face box, in JPEG px


class ExplainConfig(Strict):
    """Occlusion heatmaps (explain.py): a mean-colour square, `window` of the input side, slides by `stride`;
    and the evidence frames of videos."""

    window: float = Field(0.25, gt=0, le=1)
    stride: float = Field(0.125, gt=0, le=1)
    batch_size: int = Field(64, ge=1)  # occluded crops per model call
    opacity: float = Field(0.6, ge=0, le=1)  # of the hottest pixel, where a heatmap is drawn over the image
    evidence: EvidenceConfig = EvidenceConfig()


class PackageConfig(Strict):
    onnx_opset: int = 18
    onnx_atol: float = 1e-4


class ServeConfig(Strict):
    max_upload_mb: float = 50.0
    max_video_seconds: float = 60.0
    max_image_pixels: int = 40_000_000
    frames_per_video: int = 16
    max_batch_files: int = Field(16, ge=1)  # files per POST /predict_batch, together at most max_upload_mb
    # Requests decoded and scored at once (MTCNN itself runs one at a time). Their face crops are batched for
    # the model: up to batch_max_size crops per model call (1 turns batching off); crops queue while the model
    # is busy, and an idle model waits batch_max_wait_ms for more. 0 by default: MTCNN hands faces over one
    # request at a time, so waiting would add latency without forming bigger batches.
    inference_threads: int = Field(4, ge=1)
    # Threads of torch's ops (MTCNN) in the service; 0 leaves torch's default (one per core). One, because
    # the requests already overlap (decode, MTCNN, classifier), and on a shared 2-core machine two OpenMP
    # threads that spin-wait for each other made MTCNN 2-30x slower than one (benchmarks/serve_benchmark.py).
    torch_threads: int = Field(1, ge=0)
    batch_max_size: int = Field(32, ge=1)
    batch_max_wait_ms: float = Field(0.0, ge=0)
    # Memory of the long-running service (see serving/memory.py): blocks over this size are mmapped and given
    # back to the OS when freed, and threads share at most this many malloc arenas.
    malloc_mmap_threshold_kb: int = Field(1024, ge=128, le=32768)
    malloc_arena_max: int = Field(2, ge=1)
