"""Mode linear_probe (train.finetune.mode): the frozen backbone's features of the faces (models/probe.py), cached
by the embed stage; a logistic regression on them, its C picked by validation AUC; then the whole model (the
frozen backbone under that head) for calibration and saving, as any trained model."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.preprocessing import StandardScaler

from deepfake_detector.config import TrainConfig
from deepfake_detector.io import atomic_dir, read_json, write_json
from deepfake_detector.logs import UserError
from deepfake_detector.media.frames import read_crops_in_chunks
from deepfake_detector.models.frequency import build_model
from deepfake_detector.models.preprocess import to_model_input
from deepfake_detector.models.pretrained import WeightSource, find_weights
from deepfake_detector.models.probe import ProbeModel
from deepfake_detector.train.data import cell_weights, check_splits, sampling_cells

FEATURES_FILE = "features.npy"  # float32, one row per face of the index
INDEX_FILE = "index.csv"
KEY_FILE = "key.json"  # what the features were computed with: training checks it before using them
INDEX_COLUMNS = ["crop_path", "item_id", "frame_idx"]
BATCH = 64  # crops per forward pass
log = logging.getLogger(__name__)


class FeaturesError(UserError):
    """The cached features are missing or were computed for other settings or faces; the message says what to run."""


@dataclass(frozen=True)
class ProbeFit:
    model: ProbeModel  # the frozen backbone with the fitted head, in eval mode
    val_auc: float
    c: float  # the logistic regression's C that gave it


def frozen_probe(backbone: str, input_size: int, weights: WeightSource, layers: int) -> ProbeModel:
    return build_model(backbone, input_size, weights.mean, weights.std, weights, probe_layers=layers).eval()


def probe_key(backbone: str, input_size: int, layers: int, weights: WeightSource) -> dict:
    """Everything the features depend on besides the crops themselves."""
    return {
        "backbone": backbone,
        "input_size": input_size,
        "probe_layers": layers,
        "weights": weights.describe(),
        "mean": list(weights.mean),
        "std": list(weights.std),
    }


def compute_features(
    model: ProbeModel, paths: list[str], input_size: int, weights: WeightSource, device: str = "cpu"
) -> np.ndarray:
    """The model's features of the crops at `paths`, preprocessed as validation and the Predictor do."""
    model = model.to(device)
    parts = [np.zeros((0, model.num_features), np.float32)]
    for crops in read_crops_in_chunks(paths, BATCH):
        x = torch.from_numpy(to_model_input(crops, input_size, weights.mean, weights.std)).to(device)
        with torch.inference_mode():
            parts.append(model.forward_features(x).cpu().numpy())
    model.cpu()
    return np.concatenate(parts)


def write_features(out: Path, rows: pd.DataFrame, features: np.ndarray, key: dict) -> None:
    with atomic_dir(out) as tmp:
        np.save(tmp / FEATURES_FILE, features.astype(np.float32))
        rows[INDEX_COLUMNS].to_csv(tmp / INDEX_FILE, index=False)
        write_json(key, tmp / KEY_FILE)


def read_features(folder: Path, rows: pd.DataFrame, key: dict) -> np.ndarray:
    """The cached features of `rows`' crops, in their order; FeaturesError when missing or stale."""
    rerun = "re-run the embed stage (dvc repro embed, or python stages/embed.py)"
    if not (folder / KEY_FILE).is_file():
        raise FeaturesError(f"{folder}: no cached features for train.finetune.mode linear_probe: {rerun}")
    stored = read_json(folder / KEY_FILE)
    if "skipped" in stored:
        raise FeaturesError(f"{folder} holds no features ({stored['skipped']} when the embed stage ran): {rerun}")
    if stored != key:
        was = {k: stored.get(k) for k in key if stored.get(k) != key[k]}
        needs = {k: key[k] for k in was}
        raise FeaturesError(
            f"{folder}: stale features, computed with {was} but training needs {needs} (train.use_tuned?): {rerun}"
        )
    index = pd.read_csv(folder / INDEX_FILE, keep_default_na=False, dtype=str)
    where = pd.Series(np.arange(len(index)), index=index["crop_path"].to_numpy())
    missing = rows.loc[~rows["crop_path"].isin(where.index), "crop_path"]
    if len(missing):
        raise FeaturesError(
            f"{folder}: stale features, none for {len(missing)} of the {len(rows)} faces training "
            f"uses (e.g. {missing.iloc[0]}): the faces changed since; {rerun}"
        )
    return np.load(folder / FEATURES_FILE)[where[rows["crop_path"]].to_numpy()]


def embed_faces(train: TrainConfig, faces: pd.DataFrame, out: Path, device: str = "cpu") -> dict:
    """The embed stage: the frozen backbone's features of every face into `out`, with their index and key.
    In the other modes nothing reads them: an empty cache, so the stage costs nothing. Returns its counts."""
    mode = train.finetune.mode
    if mode != "linear_probe":
        skipped = f"train.finetune.mode is {mode}"
        write_features(out, faces.iloc[:0], np.zeros((0, 0), np.float32), {"skipped": skipped})
        return {"faces": 0, "skipped": skipped}
    started = time.perf_counter()
    weights = find_weights(train.backbone, train.weights)
    layers = train.finetune.probe_layers
    model = frozen_probe(train.backbone, train.input_size, weights, layers)
    features = compute_features(model, faces["crop_path"].tolist(), train.input_size, weights, device)
    write_features(out, faces, features, probe_key(train.backbone, train.input_size, layers, weights))
    return {
        "faces": len(faces),
        "dimensions": int(features.shape[1]),
        "seconds": round(time.perf_counter() - started, 1),
    }


def fit_logistic(
    x: np.ndarray, y: np.ndarray, c: float, seed: int, sample_weight: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A logistic regression on standardised `x`: (coef, intercept, classes), the standardisation folded into
    the weights so they apply to raw `x`."""
    scaler = StandardScaler().fit(x)
    model = LogisticRegression(C=c, max_iter=2000, random_state=seed)
    model.fit(scaler.transform(x), y, sample_weight=sample_weight)
    coef = model.coef_ / scaler.scale_
    return coef, model.intercept_ - coef @ scaler.mean_, model.classes_


def best_head(
    x: np.ndarray,
    y: np.ndarray,
    val_x: np.ndarray,
    val_y: np.ndarray,
    cs: list[float],
    sample_weight: np.ndarray | None,
    seed: int,
) -> tuple[float, float, np.ndarray, np.ndarray]:
    """(validation AUC, C, coef, intercept) of the logistic regression with the best validation AUC over `cs`;
    ties keep the earlier C."""
    best = None
    for c in cs:
        coef, intercept, _ = fit_logistic(x, y, c, seed, sample_weight)
        auc = float(roc_auc_score(val_y, val_x @ coef[0] + intercept[0]))
        log.info("linear probe C=%g: val AUC %.4f", c, auc)
        if best is None or auc > best[0]:
            best = (auc, c, coef, intercept)
    return best


def fit_probe(
    faces: pd.DataFrame,
    train_cfg: TrainConfig,
    weights: WeightSource,
    seed: int,
    device: str = "cpu",
    max_train_items: int | None = None,
    features_dir: Path | None = None,
) -> ProbeFit:
    """The head for each of finetune.probe_c on the train split's features; the best by validation AUC is set
    into the frozen model. Features come from `features_dir` (the embed stage's cache) or are computed here."""
    backbone, input_size, finetune = train_cfg.backbone, train_cfg.input_size, train_cfg.finetune
    train, val = faces[faces["split"] == "train"], faces[faces["split"] == "val"]
    if max_train_items and len(train) > max_train_items:
        train = train.sample(max_train_items, random_state=seed)
    check_splits(train, val)
    rows = pd.concat([train, val], ignore_index=True)
    model = frozen_probe(backbone, input_size, weights, finetune.probe_layers)
    if features_dir is not None:
        x = read_features(features_dir, rows, probe_key(backbone, input_size, finetune.probe_layers, weights))
    else:
        x = compute_features(model, rows["crop_path"].tolist(), input_size, weights, device)
    y, fit_rows = rows["label"].to_numpy(), np.arange(len(rows)) < len(train)
    auc, c, coef, intercept = best_head(
        x[fit_rows],
        y[fit_rows],
        x[~fit_rows],
        y[~fit_rows],
        finetune.probe_c,
        None if train_cfg.balance == "none" else cell_weights(sampling_cells(train, train_cfg.balance)),
        seed,
    )
    with torch.no_grad():
        model.classifier.weight.copy_(torch.from_numpy(coef).float())
        model.classifier.bias.copy_(torch.from_numpy(intercept).float())
    return ProbeFit(model.eval(), auc, c)
