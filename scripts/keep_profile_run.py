"""Keeps a profile's end-to-end run in git: reports/profiles/<name>/ gets copies of what `dvc exp run` wrote
(params.yaml, dvc.lock, each stage's metrics and summary, the model card) and made.json (the command and the
code commit of the trained model); the data, crops and model stay out (research-licensed).

  scripts/use_profile.sh all && dvc exp run -n all-data && python scripts/keep_profile_run.py all

The `table=profile` blocks of docs/results.md read the copies (scripts/write_results.py)."""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from deepfake_detector.io import read_json, write_json

OUT = Path("reports/profiles")
MODEL_JSON = Path("artifacts/train/model/model.json")


def copies(name: str) -> tuple[dict[Path, str], list[str]]:
    """Each file of the run -> its name in reports/profiles/<name>/, and the later stages whose outputs are
    missing (a run stopped after evaluate still reports its model; made.json says what it lacks)."""
    needed = {
        Path("params.yaml"): "params.yaml",
        Path("dvc.lock"): "dvc.lock",
        Path("artifacts/train/metrics.json"): "train.json",
        Path("artifacts/evaluate/metrics.json"): "evaluate.json",
    }
    missing = [str(path) for path in [*needed, MODEL_JSON] if not path.exists()]
    if missing:
        raise SystemExit(
            f"not a run of profile {name} down to evaluate: missing {missing}; "
            f"run: scripts/use_profile.sh {name} && dvc exp run -n {name}-data"
        )
    later = {
        "robustness": {Path("artifacts/robustness/metrics.json"): "robustness.json"},
        "baselines": {
            path: f"baseline_{path.parent.name}.json"
            for path in sorted(Path("artifacts/baselines").glob("*/metrics.json"))
        },
        "package": {path: "model_card.md" for path in Path("artifacts/model").glob("model_card.md")},
    }
    summaries = {path: path.name for path in sorted(Path("artifacts/summaries").glob("*.json"))}
    files = needed | summaries
    stale = out_of_date([stage for stage, stage_files in later.items() if stage_files])
    not_run = [stage for stage, stage_files in later.items() if not stage_files or stage in stale]
    for stage, stage_files in later.items():
        if stage not in not_run:
            files |= stage_files
    return files, not_run


def out_of_date(stages: list[str]) -> set[str]:
    """Those of `stages` that did not run on this run's inputs. A profile run down to evaluate in a checkout of
    the demo still has the demo's git-tracked robustness and baseline outputs; dvc.lock says they belong to
    another model."""
    from dvc.repo import Repo

    with Repo() as repo:
        return {stage for stage in stages if repo.status(targets=[stage])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("profile", help="the profile the run used (profiles/<name>.yaml)")
    name = parser.parse_args().profile
    files, not_run = copies(name)
    out = OUT / name
    out.mkdir(parents=True, exist_ok=True)
    for path, copy in files.items():
        shutil.copyfile(path, out / copy)
    commit = read_json(MODEL_JSON)["provenance"]["git_commit"]
    target = " evaluate" if not_run else ""  # a run down to evaluate only: the stages after it are not_run
    made = {"command": f"scripts/use_profile.sh {name} && dvc exp run -n {name}-data{target}", "git_commit": commit}
    write_json(made | ({"stages_not_run": not_run} if not_run else {}), out / "made.json")
    print(
        f"{out}: {len(files)} files and made.json (commit {commit[:7]})"
        + (f"; no outputs of {', '.join(not_run)}" if not_run else "")
    )


if __name__ == "__main__":
    main()
