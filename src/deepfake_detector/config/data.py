"""Settings of the data stages: datasets and their sources, the split, frames, faces, validation."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from deepfake_detector.config.base import Strict


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
    # another dataset showing the same people under the same ids (FF++ c40 beside c23): this one's groups take
    # that dataset's names, so a person is one group in both, and a person either tests goes to test in both
    # (data.splits.hold_out_shared_people)
    identities_of: str | None = None


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

    @model_validator(mode="after")
    def _identities_of_a_listed_dataset(self) -> DataConfig:
        names = [d.name for d in self.datasets]
        for dataset in self.datasets:
            if dataset.identities_of is not None and dataset.identities_of not in set(names) - {dataset.name}:
                raise ValueError(
                    f"datasets.{dataset.name}.identities_of: '{dataset.identities_of}' is not "
                    f"another dataset of data.datasets ({names})"
                )
        return self


class FramesConfig(Strict):
    per_video: int = Field(8, ge=1)
    image_format: Literal["jpg", "png"] = "jpg"
    jpeg_quality: int = Field(95, ge=50, le=100)


class FacesConfig(Strict):
    margin: float = Field(1.3, ge=0.5)  # crop side = margin * max(box side); < 1 crops inside the box
    crop_size: int = Field(128, ge=16)  # stored crops, in px: at least the largest train.input_size
    min_prob: float = Field(0.9, ge=0, le=1)
    min_face_detect_px: int = Field(20, ge=1)  # MTCNN's smallest face, in detection pixels (after detect_max_side)
    # MTCNN's pyramid levels that search faces smaller than this share of the frame's short side are skipped;
    # the other levels stay as they are. The skipped levels are the largest and cost most (0.075: about half
    # the detection time on 640x360 frames, two thirds on a 600x600 photo); 0 = off (search down to min_face_detect_px)
    min_face_frac: float = Field(0.075, ge=0, lt=1)
    detect_max_side: int = Field(640, ge=64)  # frames are downsized to this before detection
    batch_size: int = Field(16, ge=1)
    already_cropped: Literal["skip", "pad"] = "pad"  # for datasets that are face crops already
    pad_fraction: float = Field(0.3, ge=0)
    # 68-point landmarks per crop (dlib, media/landmarks.py) for self-blending's face-shaped mask; without dlib
    # or its model, or when false, crops carry MTCNN's 5 points only
    dense_landmarks: bool = True


class ValidateConfig(Strict):
    max_class_ratio: float = Field(3.0, ge=1.0)  # majority / minority count, per split
    min_detection_rate: float = Field(0.95, ge=0, le=1)
    min_face_source_px: int = Field(20, ge=1)  # bounds of a found face's size, in source pixels
    max_face_source_px: int = Field(4096, ge=1)
    max_hash_distance: int = Field(0, ge=0)  # perceptual hash distance that counts as a duplicate
