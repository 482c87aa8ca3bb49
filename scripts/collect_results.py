"""reports/pretrained/results.json: every run of the pretrained ablation, one entry per run, from the
profiles' own results (scripts/ablation.py --out reports/pretrained/<profile>):
  python scripts/collect_results.py reports/pretrained/real reports/pretrained/ffpp reports/pretrained/real_all_crops \
      reports/pretrained/real_224 reports/pretrained/ffpp_lomo
Each entry: profile, variant, seed, in-domain AUC, each unseen set's AUC with its 95% bootstrap interval and
size, validation ECE (in-sample and cross-fitted), training seconds, and with --leave-one-method-out the held-out
method's AUC."""

from __future__ import annotations

import sys
from pathlib import Path

from deepfake_detector.io import read_json, write_json

OUT = Path("reports/pretrained/results.json")


def entry(profile: str, run: dict) -> dict:
    unseen = sorted(
        k.removeprefix("unseen_").removesuffix("_item_auc")
        for k in run
        if k.startswith("unseen_") and k.endswith("_item_auc") and k != "unseen_item_auc"
    )
    return {
        "profile": profile,
        "variant": run["variant"],
        "seed": run["seed"],
        "in_domain_frame_auc": run["in_domain_frame_auc"],
        "in_domain_item_auc": run["in_domain_item_auc"],
        "unseen": {
            name: {
                "auc": run[f"unseen_{name}_item_auc"],
                "n": run.get(f"unseen_{name}_n"),
                "ci95": [run.get(f"unseen_{name}_ci_low"), run.get(f"unseen_{name}_ci_high")],
            }
            for name in unseen
        },
        "unseen_pooled": {
            "auc": run.get("unseen_item_auc"),
            "ci95": [run.get("unseen_auc_ci_low"), run.get("unseen_auc_ci_high")],
        },
        "val_frame_auc": run["val_frame_auc"],
        "val_ece": run["val_ece"],
        "val_ece_cross_fitted": run["val_ece_cross_fitted"],
        "train_seconds": run["train_seconds"],
        **({"heldout_item_auc": run["heldout_item_auc"]} if "heldout_item_auc" in run else {}),  # leave-one-method-out
    }


def main() -> None:
    runs = [
        entry(Path(folder).name, run)
        for folder in sys.argv[1:]
        for runs in read_json(Path(folder) / "results.json").values()
        for run in runs
    ]
    write_json(runs, OUT)
    print(f"{OUT}: {len(runs)} runs")


if __name__ == "__main__":
    main()
