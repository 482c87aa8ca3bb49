"""Train and calibrate one model from params: the body of the train stage, shared with the baselines stage so
the current model and every baseline are made by exactly the same code."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pandas as pd
import torch
from lightning.pytorch.utilities import rank_zero_only

from deepfake_detector.config import TUNABLE, Params, tunable_values
from deepfake_detector.io import atomic_dir, read_json, write_json
from deepfake_detector.models.spec import TORCH_WEIGHTS, ModelSpec, SelfBlendSpec
from deepfake_detector.provenance import provenance
from deepfake_detector.train.calibrate import calibrate_on_validation
from deepfake_detector.train.fit import FitSettings, fit

log = logging.getLogger(__name__)


def settings_from(params: Params, tuned_file: Path | None = None) -> FitSettings:
    """FitSettings from params.train; with train.use_tuned, the tunable ones from the tune stage's best trial."""
    chosen = tunable_values(params.train)
    if params.train.use_tuned and tuned_file is not None and tuned_file.exists():
        tuned = read_json(tuned_file)["params"]
        chosen.update({k: v for k, v in tuned.items() if k in TUNABLE})
        log.info("using tuned params: %s", tuned)
    return FitSettings.from_params(params, chosen, params.train.epochs)


def self_blend_spec(params: Params, faces: pd.DataFrame) -> SelfBlendSpec | None:
    """What the model card says of the self-blended fakes: the rate, and how many masks followed 68 points."""
    if params.train.self_blend_rate <= 0:
        return None
    reals = faces[(faces["split"] == "train") & (faces["label"] == 0)]
    share = float((reals["landmarks68"] != "").mean()) if len(reals) else 0.0
    return SelfBlendSpec(rate=params.train.self_blend_rate, only=params.train.self_blend_only,
                         dense_landmark_share=round(share, 4))


def train_and_calibrate(params: Params, faces: pd.DataFrame, model_dir: Path, metrics_path: Path,
                        tuned_file: Path | None = None, live_dir: Path | None = None,
                        callbacks: list | None = None, features_dir: Path | None = None) -> dict:
    """Fit, keep the best weights by validation AUC, calibrate on validation data; write the model folder
    (model.pt + model.json) and its metrics. `live_dir`: DVCLive training curves (none when omitted);
    `callbacks`: extra Lightning callbacks (the ablation script times each epoch with one); `features_dir`:
    the embed stage's cached features, for mode linear_probe (None: computed here)."""
    settings = settings_from(params, tuned_file)
    logger = None
    if live_dir is not None and rank_zero_only.rank == 0:  # DDP workers log nothing (rank 0 writes the curves)
        from dvclive.lightning import DVCLiveLogger

        shutil.rmtree(live_dir, ignore_errors=True)
        logger = DVCLiveLogger(dir=str(live_dir), save_dvc_exp=False, dvcyaml=False)
    result = fit(faces, settings, seed=params.seed, logger=logger, callbacks=callbacks, features_dir=features_dir)
    probe = settings.finetune.mode == "linear_probe"
    made_by = provenance()
    with atomic_dir(model_dir) as out:
        torch.save(result.model.state_dict(), out / TORCH_WEIGHTS)
        spec = ModelSpec(
            backbone=settings.backbone, input_size=settings.input_size, faces=params.faces,
            mean=result.mean, std=result.std, weights=result.weights.describe() if result.weights else None,
            frames_per_video=params.frames.per_video, frequency_branch=settings.frequency_branch and not probe,
            self_blend=None if probe else self_blend_spec(params, faces),
            finetune_mode=settings.finetune.mode, probe_layers=settings.finetune.probe_layers if probe else None,
            trained_on=result.trained_on, provenance=made_by, version=made_by["params_hash"],
        )
        spec.save(out)
        spec = calibrate_on_validation(out, faces, params.train, params.seed)
    metrics = {"best_val_auc": result.best_val_auc, "epochs": result.epochs_run, **spec.validation,
               "temperature": spec.temperature, "bias": spec.bias, "threshold": spec.threshold}
    if result.probe_c is not None:
        metrics["probe_c"] = result.probe_c
    write_json(metrics, metrics_path)
    log.info("trained %s @%dpx: %s", settings.backbone, settings.input_size, metrics)
    return metrics
