#!/usr/bin/env python3
"""Promote the Optuna study's best trial to a DVC experiment with explicit, pinned train params.

    python scripts/promote_best_trial.py --dry-run          # print the `dvc exp run` command
    python scripts/promote_best_trial.py --name best-trial  # run it (in the workspace)
    python scripts/promote_best_trial.py --queue            # queue it; then `dvc queue start`

The tune stage writes artifacts/tune/best_params.json; with `train.use_tuned: true` the train stage already
uses those values, but only implicitly. This maps them to train.* params and sets `train.use_tuned=false`, so
the experiment (and, once applied with `dvc exp apply` and committed, params.yaml) states the chosen
hyperparameters and re-tuning no longer changes the model silently.
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
from pathlib import Path

from deepfake_detector.config import TUNABLE  # Optuna parameter name -> params.yaml key

BEST_PARAMS = Path("artifacts/tune/best_params.json")


def format_value(value) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def build_command(best: dict, name: str | None, queue: bool) -> list[str]:
    unknown = sorted(set(best["params"]) - set(TUNABLE))
    if unknown:
        raise SystemExit(f"best trial has params this script cannot map to params.yaml: {unknown}")
    cmd = ["dvc", "exp", "run"]
    if queue:
        cmd.append("--queue")
    if name:
        cmd += ["--name", name]
    for key, value in sorted(best["params"].items()):
        cmd += ["-S", f"{TUNABLE[key]}={format_value(value)}"]
    cmd += ["-S", "train.use_tuned=false"]
    return cmd


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--best-params", type=Path, default=BEST_PARAMS)
    parser.add_argument("--name", help="experiment name (default: DVC picks one)")
    parser.add_argument("--queue", action="store_true", help="queue the experiment instead of running it")
    parser.add_argument("--dry-run", action="store_true", help="print the command, run nothing")
    args = parser.parse_args()
    if not args.best_params.is_file():
        raise SystemExit(f"{args.best_params} not found: run `dvc repro tune` first")
    best = json.loads(args.best_params.read_text())
    cmd = build_command(best, args.name, args.queue)
    print(f"# best trial {best.get('trial')} of {best.get('study')}: val AUC {best.get('value')}")
    print(shlex.join(cmd))
    if not args.dry_run:
        sys.exit(subprocess.run(cmd).returncode)


if __name__ == "__main__":
    main()
