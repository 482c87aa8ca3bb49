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


def copies(name: str) -> dict[Path, str]:
    """Each file of the run -> its name in reports/profiles/<name>/."""
    files = {
        Path("params.yaml"): "params.yaml",
        Path("dvc.lock"): "dvc.lock",
        Path("artifacts/train/metrics.json"): "train.json",
        Path("artifacts/evaluate/metrics.json"): "evaluate.json",
        Path("artifacts/robustness/metrics.json"): "robustness.json",
    }
    files |= {path: path.name for path in sorted(Path("artifacts/summaries").glob("*.json"))}
    files |= {path: f"baseline_{path.parent.name}.json" for path in sorted(Path("artifacts/baselines").glob("*/metrics.json"))}
    files |= {path: "model_card.md" for path in Path("artifacts/model").glob("model_card.md")}
    missing = [str(path) for path in files if not path.exists()]
    if missing or not MODEL_JSON.exists():
        raise SystemExit(f"not a finished run of profile {name}: missing {missing or [str(MODEL_JSON)]}; "
                         f"run: scripts/use_profile.sh {name} && dvc exp run -n {name}-data")
    return files


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("profile", help="the profile the run used (profiles/<name>.yaml)")
    name = parser.parse_args().profile
    files = copies(name)
    out = OUT / name
    out.mkdir(parents=True, exist_ok=True)
    for path, copy in files.items():
        shutil.copyfile(path, out / copy)
    commit = read_json(MODEL_JSON)["provenance"]["git_commit"]
    write_json({"command": f"scripts/use_profile.sh {name} && dvc exp run -n {name}-data", "git_commit": commit},
               out / "made.json")
    print(f"{out}: {len(files)} files and made.json (commit {commit[:7]})")


if __name__ == "__main__":
    main()
