"""Where the work runs: devices, processes, threads, the Ray engine (docs/compute.md)."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from deepfake_detector.config.base import Strict


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
    # count reproduces the committed ones on machines with more cores
    # (docs/pipeline.md#determinism-atomic-writes-summaries)
    threads: int = Field(2, ge=0)
    # torch threads for MTCNN in crop_faces (0: torch's default, one per core): MTCNN's boxes move in their last
    # digits with the thread count, so a fixed count gives the same faces.csv on any machine and either engine
    detect_threads: int = Field(1, ge=0)
    # extract_frames and crop_faces: here, one video after another (local), or spread over Ray workers (ray)
    engine: Literal["local", "ray"] = "local"
    ray_address: str = Field("local", pattern=r"^(local|auto|ray://.+)$")  # local: start a Ray on this machine
    ray_workers: int = Field(2, ge=1)  # Ray tasks running at once (each loads its own MTCNN)
    ray_cpus_per_worker: int = Field(1, ge=1)  # CPUs Ray reserves for each (its torch threads)
    # with engine ray, how workers get their files: '' through the stage's own folders (one machine, or a folder
    # every node mounts at the same path), or an fsspec URL (s3://bucket/work, gs://..., file:///mnt/x):
    # through object storage, uploaded and downloaded by the stage (staging.py)
    ray_storage: str = ""

    @field_validator("precision", mode="before")
    @classmethod
    def _precision_as_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) else value  # `-S compute.precision=32` arrives as a number

    @field_validator("ray_storage")
    @classmethod
    def _storage_is_a_url(cls, value: str) -> str:
        if value and not re.match(r"^[a-z][a-z0-9+.-]*://.+", value):
            raise ValueError(
                f"{value!r} is not a URL: use protocol://location (s3://bucket/work, gs://bucket/work, "
                "file:///mnt/work), or '' for the stage's own folders"
            )
        return value

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
