"""Stage train: Lightning + timm with augmentations and class balancing; best checkpoint by validation AUC,
then calibration on validation data (temperature, threshold, video aggregation)."""

import logging
import shutil

import torch
from dvclive.lightning import DVCLiveLogger

from deepfake_detector.config import load_params
from deepfake_detector.io import atomic_dir, read_json, write_json
from deepfake_detector.logs import run_stage
from deepfake_detector.models.spec import TORCH_WEIGHTS, ModelSpec
from deepfake_detector.paths import FACES_CSV, MANIFEST_CSV, TRAIN_DIR, TRAINED_MODEL_DIR, TUNE_DIR
from deepfake_detector.provenance import provenance
from deepfake_detector.train.calibrate import calibrate_on_validation
from deepfake_detector.train.data import load_face_table
from deepfake_detector.train.fit import FitSettings, fit
from deepfake_detector.train.search import self_blend_settings

log = logging.getLogger("train")
TUNABLE = ("backbone", "input_size", "lr", "weight_decay", "augment_strength")


def settings_from(params) -> FitSettings:
    train = params.train
    chosen = {
        "backbone": train.backbone, "input_size": train.input_size, "lr": train.lr,
        "weight_decay": train.weight_decay, "augment_strength": train.augment.strength,
    }
    best_file = TUNE_DIR / "best_params.json"
    if train.use_tuned and best_file.exists():
        tuned = read_json(best_file)["params"]
        chosen.update({k: v for k, v in tuned.items() if k in TUNABLE})
        log.info("using tuned params: %s", tuned)
    return FitSettings(
        **chosen, epochs=train.epochs, batch_size=train.batch_size, pretrained=train.pretrained,
        balance_classes=train.balance_classes, num_workers=train.num_workers,
        self_blend=self_blend_settings(params), multiscale=train.multiscale, frequency_branch=train.frequency_branch,
    )


def main() -> None:
    params = load_params()
    faces = load_face_table(MANIFEST_CSV, FACES_CSV)
    settings = settings_from(params)
    live_dir = TRAIN_DIR / "dvclive"
    shutil.rmtree(live_dir, ignore_errors=True)
    logger = DVCLiveLogger(dir=str(live_dir), save_dvc_exp=False, dvcyaml=False)
    result = fit(faces, settings, seed=params.seed, logger=logger)
    with atomic_dir(TRAINED_MODEL_DIR) as out:
        torch.save(result.model.state_dict(), out / TORCH_WEIGHTS)
        spec = ModelSpec(
            backbone=settings.backbone, input_size=settings.input_size, faces=params.faces,
            frames_per_video=params.frames.per_video, frequency_branch=settings.frequency_branch, provenance=provenance(),
            version=provenance()["params_hash"],
        )
        spec.save(out)
        spec = calibrate_on_validation(out, faces, params.train, params.seed)
    metrics = {"best_val_auc": result.best_val_auc, "epochs": result.epochs_run, **spec.validation,
               "temperature": spec.temperature, "threshold": spec.threshold}
    write_json(metrics, TRAIN_DIR / "metrics.json")
    log.info("trained %s @%dpx: %s", settings.backbone, settings.input_size, metrics)


if __name__ == "__main__":
    run_stage(main)
