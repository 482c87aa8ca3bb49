"""params.yaml -> typed, validated settings. The one schema for every knob of the pipeline: one module per
part of it (data, training, evaluation, compute, serving), gathered here into `Params`."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import yaml
from pydantic import ConfigDict, Field, model_validator

from deepfake_detector.config.base import Strict, merged
from deepfake_detector.config.compute import ComputeConfig
from deepfake_detector.config.data import (
    DataConfig,
    DatasetConfig,
    FacesConfig,
    FramesConfig,
    SourceConfig,
    SplitConfig,
    ValidateConfig,
)
from deepfake_detector.config.evaluation import EvaluateConfig, RobustnessConfig
from deepfake_detector.config.serving import (
    EvidenceConfig,
    ExplainConfig,
    JudgeConfig,
    PackageConfig,
    ServeConfig,
)
from deepfake_detector.config.training import (
    AGGREGATIONS,
    TUNABLE,
    Aggregation,
    AugmentConfig,
    EmbeddingRangeConfig,
    FinetuneConfig,
    FinetuneMode,
    MethodHeadConfig,
    MultiscaleConfig,
    TemporalHeadConfig,
    TrainConfig,
    TuneConfig,
    TuneSpace,
    tunable_overrides,
    tunable_values,
)

__all__ = [
    "Strict",
    "SourceConfig",
    "DatasetConfig",
    "SplitConfig",
    "DataConfig",
    "FramesConfig",
    "FacesConfig",
    "ValidateConfig",
    "AugmentConfig",
    "MultiscaleConfig",
    "TemporalHeadConfig",
    "FinetuneConfig",
    "FinetuneMode",
    "Aggregation",
    "AGGREGATIONS",
    "EmbeddingRangeConfig",
    "MethodHeadConfig",
    "TrainConfig",
    "TUNABLE",
    "tunable_overrides",
    "tunable_values",
    "TuneSpace",
    "TuneConfig",
    "EvaluateConfig",
    "RobustnessConfig",
    "ComputeConfig",
    "JudgeConfig",
    "EvidenceConfig",
    "ExplainConfig",
    "PackageConfig",
    "ServeConfig",
    "Params",
    "CURRENT_MODEL",
    "merged",
    "ConfigError",
    "load_params",
    "validate_params",
]


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
            raise ValueError(
                f"robustness.models: {unknown} are neither '{CURRENT_MODEL}' nor in baselines "
                f"({sorted(self.baselines)})"
            )
        return self

    def baseline(self, name: str) -> Params:
        """These params with baselines[name] merged into the train section (the baseline's own params)."""
        return self.model_copy(update={"train": self.train.overridden(self.baselines[name])})

    def section_hash(self, *sections: str) -> str:
        """Stable short hash of some sections, e.g. to name an Optuna study after the params it searches."""
        dumped = self.model_dump(mode="json", by_alias=True)
        blob = json.dumps({s: dumped[s] for s in sections}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:12]


CURRENT_MODEL = "current"  # robustness.models name of the train stage's model


class ConfigError(ValueError):
    """params.yaml is missing or invalid; the message says which key and why."""


# keys an older params.yaml may still carry -> what replaced them: named in the error instead of pydantic's
# bare "extra inputs are not permitted"
RENAMED = {
    "train.balance_classes": "train.balance (none | label | dataset_label)",
    "train.balance_by": "train.balance (none | label | dataset_label)",
    "faces.min_face_px": "faces.min_face_detect_px (MTCNN's smallest face, in detection pixels)",
    "validate.min_face_px": "validate.min_face_source_px (in source pixels)",
    "validate.max_face_px": "validate.max_face_source_px (in source pixels)",
    "judge.min_face_px": "judge.min_face_long_side_px (the main face's longer side, in source pixels)",
}


def has_key(raw: dict, dotted: str) -> bool:
    """Whether parsed YAML sets `section.key`."""
    section, key = dotted.split(".")
    return isinstance(raw.get(section), dict) and key in raw[section]


def validate_params(raw: dict, where: str) -> Params:
    """Params from parsed YAML; ConfigError naming `where`, each renamed key and its new name, or the invalid
    key paths."""
    renamed = [f"{old} is now {new}" for old, new in RENAMED.items() if has_key(raw, old)]
    if renamed:
        raise ConfigError(f"{where}: renamed keys, rename them: " + "; ".join(renamed))
    try:
        return Params.model_validate(raw)
    except Exception as err:  # pydantic's message names the key path; keep it, drop the traceback
        raise ConfigError(f"{where}: invalid params:\n{err}") from None


def load_params(path: str | Path = "params.yaml") -> Params:
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"{path}: not found. Run from the project root or pass --params.")
    return validate_params(yaml.safe_load(path.read_text()) or {}, str(path))
