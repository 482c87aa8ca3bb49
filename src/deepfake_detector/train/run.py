"""Train and calibrate one model from params: the body of the train stage, shared with the baselines stage so
the current model and every baseline are made by exactly the same code."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pandas as pd
import torch
from lightning.pytorch.utilities import rank_zero_only

from deepfake_detector.config import TUNABLE, Params, TrainConfig, tunable_overrides
from deepfake_detector.io import atomic_dir, read_json, write_json
from deepfake_detector.models.spec import TORCH_WEIGHTS, ModelSpec, SelfBlendSpec
from deepfake_detector.provenance import provenance
from deepfake_detector.train.calibrate import calibrate_on_validation
from deepfake_detector.train.fit import fit

log = logging.getLogger(__name__)


def train_section(params: Params, tuned_file: Path | None = None) -> TrainConfig:
    """params.train; with train.use_tuned, its tunable keys set from the tune stage's best trial."""
    if not (params.train.use_tuned and tuned_file is not None and tuned_file.exists()):
        return params.train
    tuned = read_json(tuned_file)["params"]
    log.info("using tuned params: %s", tuned)
    return params.train.overridden(tunable_overrides({k: v for k, v in tuned.items() if k in TUNABLE}))


def self_blend_spec(train: TrainConfig, faces: pd.DataFrame) -> SelfBlendSpec | None:
    """What the model card says of the self-blended fakes: the rate, and how many masks followed 68 points."""
    if train.self_blend_rate <= 0:
        return None
    reals = faces[(faces["split"] == "train") & (faces["label"] == 0)]
    share = float((reals["landmarks68"] != "").mean()) if len(reals) else 0.0
    return SelfBlendSpec(rate=train.self_blend_rate, only=train.self_blend_only, dense_landmark_share=round(share, 4))


def train_and_calibrate(
    params: Params,
    faces: pd.DataFrame,
    model_dir: Path,
    metrics_path: Path,
    tuned_file: Path | None = None,
    live_dir: Path | None = None,
    callbacks: list | None = None,
    features_dir: Path | None = None,
) -> dict:
    """Fit, keep the best weights by validation AUC, calibrate on validation data; write the model folder
    (model.pt + model.json) and its metrics. `live_dir`: DVCLive training curves (none when omitted);
    `callbacks`: extra Lightning callbacks (the ablation script times each epoch with one); `features_dir`:
    the embed stage's cached features, for mode linear_probe (None: computed here)."""
    train = train_section(params, tuned_file)
    logger = None
    if live_dir is not None and rank_zero_only.rank == 0:  # DDP workers log nothing (rank 0 writes the curves)
        from dvclive.lightning import DVCLiveLogger

        shutil.rmtree(live_dir, ignore_errors=True)
        logger = DVCLiveLogger(dir=str(live_dir), save_dvc_exp=False, dvcyaml=False)
    result = fit(
        faces, train, params.seed, params.compute, logger=logger, callbacks=callbacks, features_dir=features_dir
    )
    probe = train.finetune.mode == "linear_probe"
    made_by = provenance()
    with atomic_dir(model_dir) as out:
        torch.save(result.model.state_dict(), out / TORCH_WEIGHTS)
        spec = ModelSpec(
            backbone=train.backbone,
            input_size=train.input_size,
            faces=params.faces,
            mean=result.mean,
            std=result.std,
            weights=result.weights.describe() if result.weights else None,
            frames_per_video=params.frames.per_video,
            frequency_branch=train.frequency_branch and not probe,
            self_blend=None if probe else self_blend_spec(train, faces),
            finetune_mode=train.finetune.mode,
            probe_layers=train.finetune.probe_layers if probe else None,
            trained_on=result.trained_on,
            provenance=made_by,
            version=made_by["params_hash"],
        )
        spec.save(out)
        spec = calibrate_on_validation(out, faces, train, params.seed)
    metrics = {
        "best_val_auc": result.best_val_auc,
        "epochs": result.epochs_run,
        **spec.validation,
        "temperature": spec.temperature,
        "bias": spec.bias,
        "threshold": spec.threshold,
    }
    if result.probe_c is not None:
        metrics["probe_c"] = result.probe_c
    write_json(metrics, metrics_path)
    log.info("trained %s @%dpx: %s", train.backbone, train.input_size, metrics)
    return metrics
