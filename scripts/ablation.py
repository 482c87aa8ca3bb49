"""Ablation: what each training technique does, in the same harness, on the data the pipeline prepared.

For every variant in an ablation file (ablations/techniques.yaml: overlays of params.yaml, a shared `base` and
each variant's own, merged and validated as params profiles are: deepfake_detector.profiles) and every seed:
train and calibrate with the train stage's own code, score the test split through the Predictor (as the
evaluate stage does), and record
  - in-domain frame and item ROC-AUC (test items of datasets with `role: train`),
  - item ROC-AUC per unseen dataset (`role: unseen`), over all unseen items pooled (with a 95% bootstrap
    interval: on a few dozen videos it is wide, and differences inside it are noise), and per held-out
    method (`data.holdout_methods`),
  - validation ECE (in-sample and cross-fitted), training seconds, and validation AUC after each epoch
    against training time.
With --leave-one-method-out, each variant runs once per manipulation method of the training datasets, that
method's fakes all moved to test (as data.holdout_methods does), and reports the held-out method's AUC.
With --leave-one-dataset-out, each variant trains on all the training datasets, on all but each one (that one
turned unseen: all its items in test), and on each one alone (data.splits.training_sets), and <out>/lodo.md
sets each left-out dataset's AUC beside the AUCs on it of the models trained on one other dataset alone.
Writes <out>/results.json, <out>/table.md (mean and spread over seeds) and <out>/auc_vs_time.png. Each run
in results.json records its `command` and `git_commit` (HEAD; see code_commit), which the results pages
show (scripts/write_results.py); runs made before they were recorded have neither, and a provenance.json
beside results.json gives their command and committing commit from git history.
No number is tuned on the test split: thresholds, temperature and aggregation come from validation data.

Run after the pipeline's validate stage (it reads artifacts/manifest.csv and artifacts/faces.csv):
  python scripts/ablation.py --out reports/ablation/demo_holdout --seeds 42,1
  python scripts/ablation.py --out reports/ablation/demo_lomo --only meso4 --leave-one-method-out
  python scripts/ablation.py --out reports/pretrained/all_lodo --only meso4 --leave-one-dataset-out   # profile all
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import yaml
from ablation_tables import lodo_table, markdown, runs_table
from lightning.pytorch.callbacks import Callback
from run_record import command_line, head_commit

from deepfake_detector.config import ConfigError, Params, load_params
from deepfake_detector.data.splits import hold_out_methods, leave_one_dataset_out
from deepfake_detector.evaluate.metrics import auc_confidence_interval, roc_auc_or_none
from deepfake_detector.evaluate.plots import save_curves
from deepfake_detector.evaluate.split_scores import score_frames_and_items
from deepfake_detector.inference import Predictor
from deepfake_detector.io import read_json, write_json
from deepfake_detector.logs import run_stage
from deepfake_detector.paths import FACES_CSV, MANIFEST_CSV
from deepfake_detector.profiles import ABLATIONS_DIR, Ablation, read_ablation
from deepfake_detector.tables import load_face_table
from deepfake_detector.train.run import train_and_calibrate

log = logging.getLogger("ablation")


def auc_of(scored: pd.DataFrame) -> float | None:
    return roc_auc_or_none(scored["label"], scored["prob"])


def measure(params: Params, faces: pd.DataFrame, model_dir: Path) -> dict:
    """Test-split AUCs of one trained model: in-domain, per unseen dataset, per held-out method."""
    predictor = Predictor(model_dir, backend="torch")
    frames, items = score_frames_and_items(predictor, faces[faces["split"] == "test"], batch_size=64)
    roles = {d.name: d.role for d in params.data.datasets}
    trained_on = [name for name, role in roles.items() if role == "train"]

    def in_domain(table: pd.DataFrame) -> pd.DataFrame:  # trained-on datasets, held-out methods excluded
        return table[table["dataset"].isin(trained_on) & ~table["method"].isin(params.data.holdout_methods)]

    result = {
        "in_domain_frame_auc": auc_of(in_domain(frames)),
        "in_domain_item_auc": auc_of(in_domain(items)),
        "video_aggregation": predictor.spec.video_aggregation,
    }
    unseen = [name for name, role in roles.items() if role == "unseen"]
    for name in unseen:  # each unseen set with its own 95% interval: is it above a baseline, or noise?
        table = items[items["dataset"] == name]
        result[f"unseen_{name}_item_auc"] = auc_of(table)
        result[f"unseen_{name}_n"] = len(table)
        set_interval = auc_confidence_interval(table["label"], table["prob"], seed=params.seed)
        if set_interval is not None:
            result[f"unseen_{name}_ci_low"], result[f"unseen_{name}_ci_high"] = set_interval
    pooled = items[items["dataset"].isin(unseen)]
    interval = auc_confidence_interval(pooled["label"], pooled["prob"], seed=params.seed)
    if interval is not None:
        result.update(unseen_item_auc=auc_of(pooled), unseen_auc_ci_low=interval[0], unseen_auc_ci_high=interval[1])
    held_out = params.data.holdout_methods
    if held_out:  # the held-out fakes against the reals of their datasets
        fakes = items[items["method"].isin(held_out)]
        reals = items[(items["label"] == 0) & items["dataset"].isin(fakes["dataset"].unique())]
        result["heldout_item_auc"] = auc_of(pd.concat([reals, fakes]))
    return result


class EpochClock(Callback):
    """(seconds since training started, validation AUC) after each epoch: the AUC-against-time curve."""

    def __init__(self):
        self.started, self.points = time.time(), []

    def on_validation_end(self, trainer, pl_module):
        auc = trainer.callback_metrics.get("val_auc")
        if auc is not None:
            self.points.append((round(time.time() - self.started, 1), round(float(auc), 4)))


def run_variant(params: Params, faces: pd.DataFrame, workdir: Path) -> dict:
    clock = EpochClock()
    metrics = train_and_calibrate(params, faces, workdir / "model", workdir / "metrics.json", callbacks=[clock])
    seconds = time.time() - clock.started
    # a linear probe has no epochs: its curve is the one point it ends at
    curve = clock.points or [(round(seconds, 1), round(metrics["best_val_auc"], 4))]
    return {
        **measure(params, faces, workdir / "model"),
        "val_ece": metrics.get("val_ece"),
        "val_ece_cross_fitted": metrics.get("val_ece_cross_fitted"),
        "val_frame_auc": metrics.get("val_frame_auc"),
        "train_seconds": round(seconds),
        "curve": curve,
    }


def training_methods(params: Params, faces: pd.DataFrame) -> list[str]:
    """Manipulation methods of the fakes the model trains on: the leave-one-method-out candidates."""
    trained_on = [d.name for d in params.data.datasets if d.role == "train"]
    fakes = faces[(faces["label"] == 1) & faces["dataset"].isin(trained_on) & faces["split"].isin(["train", "val"])]
    return sorted(fakes["method"].astype(str).unique())


@dataclass(frozen=True)
class Run:
    """One model a variant trains: its row in the tables, its overrides of the data section, its face table."""

    row: str
    data: dict
    faces: pd.DataFrame
    tags: dict = field(default_factory=dict)  # written with its results (leave-one-dataset-out: trained_on)


def runs_to_do(params: Params, faces: pd.DataFrame, name: str, leave_out: str | None) -> list[Run]:
    """A variant's runs: one; one per held-out method (leave_out "method"); one per training set ("dataset")."""
    if leave_out == "dataset":
        return dataset_runs(params, faces, name)
    if leave_out == "method":
        held = params.data.holdout_methods
        return [
            Run(f"{name} -{method}", {"holdout_methods": [*held, method]}, hold_out_methods(faces, [method]))
            for method in training_methods(params, faces)
        ]
    return [Run(name, {}, faces)]


def dataset_runs(params: Params, faces: pd.DataFrame, name: str) -> list[Run]:
    """Leave-one-dataset-out: a run per training set, the training datasets it leaves out turned unseen."""
    training = [d.name for d in params.data.datasets if d.role == "train"]
    runs = []
    for trained, run_faces in leave_one_dataset_out(faces, training):
        datasets = [
            {**d.model_dump(), "role": "train" if d.name in trained else "unseen"} for d in params.data.datasets
        ]
        runs.append(
            Run(
                f"{name} on {'+'.join(trained)}",
                {"datasets": datasets},
                run_faces,
                {"recipe": name, "trained_on": trained},
            )
        )
    return runs


def code_commit() -> str:
    """The commit a run records: HEAD, "-dirty" when the code that runs here differs from it (src/ and
    stages/, this script and the variants files). params.yaml is left out: a profile run always rewrites it
    (scripts/use_profile.sh)."""
    return head_commit(("src", "stages", "scripts", "ablations"))


def write_reports(results: dict[str, list[dict]], out: Path) -> pd.DataFrame:
    """table.md and auc_vs_time.png from results.json (and lodo.md from leave-one-dataset-out runs)."""
    table = runs_table(results)
    (out / "table.md").write_text(markdown(table) + "\n")
    lodo = lodo_table(results)
    if not lodo.empty:
        (out / "lodo.md").write_text(markdown(lodo) + "\n")
    curves = {
        f"{name} (seed {run['seed']})": pd.DataFrame(run["curve"], columns=["seconds", "val_auc"])
        for name, runs in results.items()
        for run in runs[:1]
    }
    save_curves(
        curves,
        "seconds",
        "val_auc",
        "Validation AUC against training time",
        out / "auc_vs_time.png",
        xlim=None,
        marker="o",
    )
    return table


def check_variants(ablation: Ablation, names: list[str], params_yaml: dict) -> None:
    """Every variant asked for exists and is valid on params.yaml; ConfigError naming the file otherwise."""
    unknown = [name for name in names if name not in ablation.variants]
    if unknown:
        raise ConfigError(f"{ablation.path}: no variant {unknown}; variants: {', '.join(ablation.variants)}")
    for name in names:
        ablation.params(name, params_yaml)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variants-file", type=Path, default=ABLATIONS_DIR / "techniques.yaml")
    parser.add_argument("--only", help="comma-separated variant names (default: all in the file)")
    parser.add_argument("--seeds", default="42", help="comma-separated seeds; each variant runs once per seed")
    parser.add_argument("--out", type=Path, required=True)
    leave_out = parser.add_mutually_exclusive_group()
    leave_out.add_argument(
        "--leave-one-method-out",
        dest="leave_out",
        action="store_const",
        const="method",
        help="run each variant once per manipulation method of the training data, holding it out",
    )
    leave_out.add_argument(
        "--leave-one-dataset-out",
        dest="leave_out",
        action="store_const",
        const="dataset",
        help="train each variant on all training datasets, all but each one, and each alone",
    )
    parser.add_argument("--report-only", action="store_true", help="rewrite table.md and the plot from results.json")
    args = parser.parse_args()
    ablation = read_ablation(args.variants_file)
    names = args.only.split(",") if args.only else list(ablation.variants)
    seeds = [int(s) for s in args.seeds.split(",")]
    results_file = args.out / "results.json"
    results: dict[str, list[dict]] = read_json(results_file) if results_file.exists() else {}
    if args.report_only:
        print(markdown(write_reports(results, args.out)))
        return
    params_yaml = yaml.safe_load(Path("params.yaml").read_text())
    check_variants(ablation, names, params_yaml)  # in seconds, not after the first variant's training
    params = load_params()
    faces = load_face_table(MANIFEST_CSV, FACES_CSV)
    made_by = {"git_commit": code_commit(), "command": command_line(sys.argv)}  # for the results page
    for name in names:
        for run in runs_to_do(params, faces, name, args.leave_out):
            results[run.row] = [done for done in results.get(run.row, []) if done["seed"] not in seeds]
            for seed in seeds:
                log.info("variant %s, seed %d", run.row, seed)
                variant = ablation.params(name, params_yaml, {"seed": seed, "data": run.data})
                with tempfile.TemporaryDirectory(prefix=f"ablation-{name}-") as workdir:
                    results[run.row].append(
                        {
                            "variant": run.row,
                            "seed": seed,
                            **run.tags,
                            **made_by,
                            **run_variant(variant, run.faces, Path(workdir)),
                        }
                    )
                write_json(results, results_file)  # after every run: more seeds or variants add to the file
    table = write_reports(results, args.out)
    print(markdown(table))
    print(json.dumps({"out": str(args.out)}))


if __name__ == "__main__":
    run_stage(main)  # a bad variants file: its message, not a traceback
