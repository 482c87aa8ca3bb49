"""The Optuna search over learning rate, weight decay, backbone, augmentation strength and input size."""

from __future__ import annotations

import optuna
import pandas as pd
from lightning.pytorch.callbacks import Callback

from deepfake_detector.config import Params, TrainConfig, tunable_overrides
from deepfake_detector.train.fit import fit


class PruneOnValAuc(Callback):
    """Report validation AUC to Optuna after each epoch; stop trials the median pruner gives up on."""

    def __init__(self, trial: optuna.Trial):
        self.trial = trial

    def on_validation_epoch_end(self, trainer, pl_module):
        auc = trainer.callback_metrics.get("val_auc")
        if auc is None:
            return
        self.trial.report(float(auc), step=trainer.current_epoch)
        if self.trial.should_prune():
            raise optuna.TrialPruned(f"val AUC {float(auc):.3f} at epoch {trainer.current_epoch}")


def suggest_train(trial: optuna.Trial, params: Params) -> TrainConfig:
    """One trial's train section: each of config.TUNABLE drawn from tune.space, tune.epochs, the rest as
    params.train."""
    space = params.tune.space
    tunables = {
        "backbone": trial.suggest_categorical("backbone", space.backbones),
        "input_size": trial.suggest_categorical("input_size", space.input_sizes),
        "lr": trial.suggest_float("lr", *space.lr, log=True),
        "weight_decay": trial.suggest_float("weight_decay", *space.weight_decay, log=True),
        "augment_strength": trial.suggest_float("augment_strength", *space.augment_strength),
    }
    return params.train.overridden({**tunable_overrides(tunables), "epochs": params.tune.epochs})


def run_study(faces: pd.DataFrame, params: Params, storage: str, data_key: str = "") -> optuna.Study:
    """Run the trials still missing from the study. A study is named after the params that define it and
    `data_key` (a hash of the faces table), so an unchanged re-run resumes (and adds nothing once complete)
    while changed params or data start a fresh study."""
    study = optuna.create_study(
        study_name=f"tune-{params.section_hash('seed', 'data', 'tune', 'train')}{data_key}",
        storage=storage,
        sampler=optuna.samplers.TPESampler(seed=params.seed),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=1),
        direction="maximize",
        load_if_exists=True,
    )
    finished = [
        t for t in study.trials if t.state in (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
    ]
    remaining = params.tune.n_trials - len(finished)

    def objective(trial: optuna.Trial) -> float:
        result = fit(
            faces,
            suggest_train(trial, params),
            params.seed,
            params.compute.single_process(),
            params.tune.max_train_items,
            callbacks=[PruneOnValAuc(trial)],
            progress=False,
        )
        return result.best_val_auc

    if remaining > 0:
        study.optimize(objective, n_trials=remaining, catch=())
    return study
