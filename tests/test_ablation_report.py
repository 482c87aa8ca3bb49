"""scripts/ablation.py's leave-one-dataset-out table (lodo.md), rewritten from a results.json by --report-only:
no training, known AUCs in, the comparison a correct table must show out."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def _run(variant: str, trained_on: list[str], aucs: dict[str, float], seed: int = 42, **extra) -> dict:
    """One run as scripts/ablation.py records it: its unseen AUC per dataset it did not train on."""
    result = {
        "variant": f"{variant} on {'+'.join(trained_on)}",
        "seed": seed,
        "recipe": variant,
        "trained_on": trained_on,
        "in_domain_frame_auc": 0.9,
        "curve": [[1.0, 0.6]],
        **extra,
    }
    return result | {f"unseen_{name}_item_auc": auc for name, auc in aucs.items()}


def _results() -> dict[str, list[dict]]:
    """meso4 on three training datasets a, b, c (and unseen u); plain on two; one ordinary variant."""
    runs = [
        [_run("meso4", ["a", "b", "c"], {"u": 0.7})],
        [
            _run("meso4", ["b", "c"], {"a": 0.8, "u": 0.6}, unseen_a_ci_low=0.7, unseen_a_ci_high=0.9),
            _run("meso4", ["b", "c"], {"a": 0.9, "u": 0.6}, seed=1),
        ],  # two seeds: their mean, 0.85
        [_run("meso4", ["a", "c"], {"b": 0.6})],
        [_run("meso4", ["a", "b"], {"c": 0.55})],
        [_run("meso4", ["a"], {"b": 0.62, "c": 0.5})],
        [_run("meso4", ["b"], {"a": 0.7, "c": 0.52})],
        [_run("meso4", ["c"], {"a": 0.75, "b": 0.58})],
        [_run("plain", ["a", "b"], {"u": 0.5})],
        [_run("plain", ["b"], {"a": 0.6})],
        [_run("plain", ["a"], {"b": 0.65})],
    ]
    results = {runs_of[0]["variant"]: runs_of for runs_of in runs}
    results["frequency"] = [{"variant": "frequency", "seed": 42, "in_domain_frame_auc": 0.8, "curve": [[1.0, 0.7]]}]
    return results


def test_lodo_table_sets_each_left_out_dataset_beside_the_single_source_models(tmp_path: Path) -> None:
    (tmp_path / "results.json").write_text(json.dumps(_results()))
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT / "src"), "MPLBACKEND": "Agg"}
    command = [
        sys.executable,
        str(PROJECT_ROOT / "scripts/ablation.py"),
        "--out",
        str(tmp_path),
        "--report-only",
        "--variants-file",
        str(PROJECT_ROOT / "ablations/techniques.yaml"),
    ]
    subprocess.run(command, cwd=tmp_path, env=env, check=True, capture_output=True, timeout=300)
    header, _, *rows = [
        [cell.strip() for cell in line.strip("|").split("|")]
        for line in (tmp_path / "lodo.md").read_text().splitlines()
    ]
    assert header == [
        "variant",
        "left out",
        "trained on",
        "AUC on the left-out set",
        "one source alone",
        "above each",
    ]
    assert rows == [
        ["meso4", "a", "b+c", "0.850 [0.70, 0.90]", "b 0.700, c 0.750", "yes"],
        ["meso4", "b", "a+c", "0.600", "a 0.620, c 0.580", "no"],
        ["meso4", "c", "a+b", "0.550", "a 0.500, b 0.520", "yes"],
        # of two datasets, all but one is the other alone: the same model, nothing to compare
        ["plain", "a", "b", "0.600", "b 0.600", "-"],
        ["plain", "b", "a", "0.650", "a 0.650", "-"],
    ]
    table = (tmp_path / "table.md").read_text()
    assert "| meso4 on b+c " in table and "| frequency " in table  # every run keeps its row in table.md
