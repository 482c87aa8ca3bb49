#!/usr/bin/env python3
"""Does the detector flag faces no camera took? It scores generated faces beside real camera faces it never
trained on, through the Predictor as users' files go, and adds to `<out>/results.json` the AUC with generated
as the positive class (95% bootstrap interval) and the share of each called fake at the model's threshold.

Generated faces: the demo renderer's real renders (data/demo, `dvc pull data.dvc`): procedural faces, never a
camera's. No GAN or diffusion face sample installs offline (PyPI has none), so these are the only generated
faces the project can test on. Real faces: the real test items of the profile the model trained on
(artifacts/manifest.csv, demo items left out), sampled to as many as there are generated faces.

  scripts/use_profile.sh all && dvc exp run -n all-data
  python scripts/generated_faces.py --model artifacts/train/model --name all \
      --out reports/generalisation/generated_faces

A run is a row of the `<!-- results: reports/generalisation/generated_faces -->` block of docs/results.md.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from deepfake_detector.evaluate.metrics import auc_confidence_interval, roc_auc_or_none
from deepfake_detector.inference import Predictor
from deepfake_detector.io import read_json, write_json
from deepfake_detector.paths import MANIFEST_CSV

DEMO = Path("data/demo")
KEY = "unseen_generated_faces"  # scripts/ablation_tables.py makes it the column "unseen generated_faces (n) AUC"


def generated_faces(root: Path) -> list[Path]:
    labels = pd.read_csv(root / "labels.csv")
    renders = labels[(labels["label"] == "real") & labels["path"].str.endswith(".jpg")]
    if renders.empty:
        raise SystemExit(f"{root}: no rendered faces; run: dvc pull data.dvc")
    return [root / path for path in renders["path"]]


def real_faces(manifest: Path, count: int, seed: int) -> list[Path]:
    """Real camera faces of the test split (never trained on), `count` of them drawn with `seed`."""
    if not manifest.exists():
        raise SystemExit(f"{manifest} is missing: run the profile's pipeline first (dvc exp run)")
    items = pd.read_csv(manifest)
    reals = items[(items["split"] == "test") & (items["label"] == 0) & (items["dataset"] != "demo")]
    if reals.empty:
        raise SystemExit(f"{manifest}: no real test items outside the demo corpus; train on a real-data profile")
    return [Path(p) for p in reals.sample(n=min(count, len(reals)), random_state=seed)["path"]]


def scores(predictor: Predictor, paths: list[Path], desc: str) -> tuple[np.ndarray, int]:
    """The fake probability of each file that could be judged, and how many could not."""
    probabilities = [predictor.predict_path(p).fake_probability for p in tqdm(paths, desc=desc, unit="file")]
    judged = np.array([p for p in probabilities if p is not None], dtype=float)
    return judged, len(paths) - len(judged)


def measure(model: Path, seed: int) -> dict:
    predictor = Predictor(model)
    generated, not_judged_generated = scores(predictor, generated_faces(DEMO), "generated faces")
    real, not_judged_real = scores(predictor, real_faces(MANIFEST_CSV, len(generated), seed), "real faces")
    labels = np.r_[np.ones(len(generated)), np.zeros(len(real))]
    probabilities = np.r_[generated, real]
    low, high = auc_confidence_interval(labels, probabilities, seed=seed)
    threshold = predictor.spec.threshold
    return {
        "seed": seed,
        f"{KEY}_item_auc": roc_auc_or_none(labels, probabilities),
        f"{KEY}_ci_low": low,
        f"{KEY}_ci_high": high,
        f"{KEY}_n": f"{len(generated)} + {len(real)}",
        "generated_called_fake": float(np.mean(generated >= threshold)),
        "real_called_fake": float(np.mean(real >= threshold)),
        "not_judged": {"generated": not_judged_generated, "real": not_judged_real},
        "threshold": threshold,
        "git_commit": predictor.spec.provenance.get("git_commit"),
        "command": "python scripts/generated_faces.py " + shlex.join(sys.argv[1:]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, required=True, help="a model folder (model.json + weights)")
    parser.add_argument("--name", required=True, help="the row's name: the profile the model trained on")
    parser.add_argument("--out", type=Path, required=True, help="the folder of results.json")
    parser.add_argument("--seed", type=int, default=42, help="draws the real faces and the bootstrap")
    args = parser.parse_args()
    run = measure(args.model, args.seed)
    path = args.out / "results.json"
    results = read_json(path) if path.exists() else {}
    results[args.name] = [run]
    args.out.mkdir(parents=True, exist_ok=True)
    write_json(results, path)
    print(
        f"{args.name}: AUC {run[f'{KEY}_item_auc']:.3f} [{run[f'{KEY}_ci_low']:.2f}, {run[f'{KEY}_ci_high']:.2f}], "
        f"generated called fake {run['generated_called_fake']:.0%}, real {run['real_called_fake']:.0%} -> {path}"
    )


if __name__ == "__main__":
    main()
