"""The train section travels as itself: the train stage, a tune trial and a linear probe train from the typed
TrainConfig (TrainConfig.overridden for baselines, trials and the tuned best), and give exactly the models the
FitSettings copy gave. The checksums below were recorded with FitSettings at commit 8fbff9b, on one torch
thread, on the same toy crops and settings, under the Makefile's CPU caps (`make test`; other kernels sum in
another order): any change to a default, a seed, the order of random draws or the data order changes them."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import optuna
import pandas as pd
import pytest
import torch
import yaml
from test_finetune import blocky_or_smooth

from deepfake_detector.config import Params, merged
from deepfake_detector.models.backbones import build_backbone
from deepfake_detector.train.fit import fit
from deepfake_detector.train.run import train_and_calibrate
from deepfake_detector.train.search import suggest_train

ROOT = Path(__file__).resolve().parents[1]
# every data and model switch of the train section on, on a model that trains in seconds
TOY_TRAIN = {
    "backbone": "meso4",
    "pretrained": False,
    "input_size": 32,
    "epochs": 2,
    "batch_size": 8,
    "lr": 1e-3,
    "balance": "dataset_label",
    "self_blend_rate": 0.3,
    "multiscale": {"enabled": True, "min_size": 12},
    "augment": {"strength": 0.3, "crop_scale_min": 0.6},
    "method_head": {"min_faces": 4},
    "finetune": {"warmup_epochs": 0.5, "backbone_lr_scale": 0.5, "channels_last": False},
}
TOY_TUNE = {"epochs": 1, "max_train_items": 20, "space": {"backbones": ["meso4"], "input_sizes": [32]}}
# recorded with FitSettings (commit 8fbff9b)
TRAIN_WEIGHTS = "2d53f61e88e8f0e0"
TRAIN_METRICS = {
    "best_val_auc": 1.0,
    "bias": -32.718795234260305,
    "epochs": 2,
    "temperature": 0.05000000000000001,
    "threshold": 0.9983865022659302,
    "val_ece": 0.00022054638247936964,
    "val_ece_cross_fitted": 0.9999941253726377,
    "val_ece_uncalibrated": 0.4367437809705734,
    "val_faces": 16,
    "val_frame_auc": 1.0,
}
LIVE_PARAMS = (
    "backbone: meso4\ninput_size: 32\nlr: 0.001\nweight_decay: 1e-05\nepochs: 2\nmean:\n- 0.485\n"
    "- 0.456\n- 0.406\nstd:\n- 0.229\n- 0.224\n- 0.225\nfrequency_branch: true\n"
)
TRIAL_WEIGHTS = "1beb0334a10a9df0"
PROBE_WEIGHTS, PROBE_AUC, PROBE_C = "b9c91c0ccd52e1dc", 0.984375, 1.0


CAPS = {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2"}  # the Makefile's, as `make test` runs
needs_caps = pytest.mark.skipif(
    any(os.environ.get(k) != v for k, v in CAPS.items()),
    reason=f"the checksums hold under the Makefile's CPU caps {CAPS}: run `make test` (or export them)",
)


@pytest.fixture
def one_thread():
    """The checksums were recorded on one thread: more threads may sum in another order."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def toy_faces(tmp_path_factory) -> pd.DataFrame:
    """48 separable crops as the face table: two datasets, no landmarks (self-blending falls back to an ellipse)."""
    faces = blocky_or_smooth(tmp_path_factory.mktemp("toy"), n=48)
    return faces.assign(
        item_id=[f"toy/{i}.png" for i in range(len(faces))],
        frame_idx=0,
        media="image",
        dataset=np.where(np.arange(len(faces)) % 4 < 2, "a", "b"),
        method=np.where(faces["label"] == 1, "blocky", "real"),
        landmarks="",
        landmarks68="",
        crop_x=0,
        crop_y=0,
        crop_side=0,
    )


def toy_params(**train) -> Params:
    raw = yaml.safe_load((ROOT / "params.yaml").read_text())
    raw["train"] = merged(raw["train"], merged(TOY_TRAIN, train))
    raw["tune"] = merged(raw["tune"], TOY_TUNE)
    return Params.model_validate(raw)


def digest(state: dict[str, torch.Tensor]) -> str:
    return hashlib.sha256(b"".join(t.numpy().tobytes() for t in state.values())).hexdigest()[:16]


@needs_caps
def test_the_train_stage_trains_the_same_model_and_metrics_as_before(toy_faces, tmp_path, one_thread):
    metrics = train_and_calibrate(
        toy_params(), toy_faces, tmp_path / "model", tmp_path / "metrics.json", live_dir=tmp_path / "live"
    )
    assert digest(torch.load(tmp_path / "model" / "model.pt", weights_only=True)) == TRAIN_WEIGHTS
    assert json.loads(json.dumps(metrics)) == TRAIN_METRICS
    assert (tmp_path / "live" / "params.yaml").read_text() == LIVE_PARAMS  # a DVC output of the train stage


@needs_caps
def test_a_tune_trial_trains_the_same_model_as_before(toy_faces, one_thread):
    params = toy_params()
    drawn = {"backbone": "meso4", "input_size": 32, "lr": 3e-4, "weight_decay": 3e-6, "augment_strength": 0.1}
    train = suggest_train(optuna.trial.FixedTrial(drawn), params)
    result = fit(
        toy_faces, train, params.seed, params.compute.single_process(), params.tune.max_train_items, progress=False
    )
    assert digest(result.model.state_dict()) == TRIAL_WEIGHTS and result.best_val_auc == 1.0


@needs_caps
def test_a_linear_probe_fits_the_same_head_as_before(toy_faces, tmp_path, one_thread):
    torch.manual_seed(0)
    torch.save(build_backbone("vit_tiny_patch16_224", 32).state_dict(), tmp_path / "vit.pth")
    train = toy_params().train.overridden(
        {
            "backbone": "vit_tiny_patch16_224",
            "lr": 1e-3,
            "weight_decay": 0.0,
            "epochs": 1,
            "pretrained": True,
            "weights": str(tmp_path / "vit.pth"),
            "augment": {"strength": 0.0, "crop_scale_min": 1.0},
            "self_blend_rate": 0.0,
            "multiscale": {"enabled": False},
            "frequency_branch": False,
            "finetune": {"mode": "linear_probe", "probe_layers": 2, "warmup_epochs": 0.0},
        }
    )
    result = fit(toy_faces, train, seed=42, max_train_items=24, progress=False)
    assert digest(result.model.state_dict()) == PROBE_WEIGHTS
    assert (result.best_val_auc, result.probe_c) == (PROBE_AUC, PROBE_C)


def test_the_tunables_are_one_list_that_search_train_and_promotion_share(tmp_path) -> None:
    """config.TUNABLE names what tune draws, what train.use_tuned takes from the best trial, and what
    scripts/promote_best_trial.py pins: a trial's draws, the train section's values and the tuned file all
    land in the train section's own keys, validated as params.yaml is, the rest of the section unchanged."""
    import json

    import optuna
    import yaml

    from deepfake_detector.config import TUNABLE, Params, tunable_values
    from deepfake_detector.train.run import train_section
    from deepfake_detector.train.search import suggest_train

    raw = yaml.safe_load(open("params.yaml"))
    raw["train"]["use_tuned"] = True
    raw["tune"]["space"].update(backbones=["tf_efficientnet_lite0", "meso4"], input_sizes=[96, 128])  # draws differ
    params = Params.model_validate(raw)
    drawn = {"backbone": "meso4", "input_size": 96, "lr": 3e-4, "weight_decay": 3e-6, "augment_strength": 0.3}
    assert set(drawn) == set(TUNABLE)
    trial = suggest_train(optuna.trial.FixedTrial(drawn), params)
    assert tunable_values(trial) == drawn and trial.epochs == params.tune.epochs
    assert trial.augment.crop_scale_min == params.train.augment.crop_scale_min  # a drawn key's sibling stays
    untouched = {"epochs": params.train.epochs, "augment": params.train.augment}
    assert trial.model_copy(update=untouched) == params.train.model_copy(
        update={k: v for k, v in drawn.items() if k != "augment_strength"}
    )

    assert train_section(params) == params.train  # no tuned file: the section as it is
    assert tunable_values(params.train)["augment_strength"] == raw["train"]["augment"]["strength"]
    tuned_file = tmp_path / "best_params.json"
    tuned_file.write_text(json.dumps({"params": drawn}))
    tuned = train_section(params, tuned_file)
    assert tunable_values(tuned) == drawn and tuned.epochs == params.train.epochs
    tuned_file.write_text(json.dumps({"params": {**drawn, "input_size": 4}}))
    with pytest.raises(ValueError, match="input_size"):  # a tuned value is checked as params.yaml's would be
        train_section(params, tuned_file)
