"""scripts/generated_faces.py: generated faces against real test faces, through the Predictor."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "generated_faces.py"


def run(project: Path, model: Path, *args: str) -> subprocess.CompletedProcess:
    env = os.environ | {"PYTHONPATH": str(SCRIPT.parents[1] / "src")}
    return subprocess.run(
        [sys.executable, str(SCRIPT), "--model", str(model), *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def manifest(project: Path, corpus: Path) -> list[str]:
    """A manifest whose real camera test faces are the corpus' own renders (dataset "camera"), beside items the
    script must leave out: the demo dataset's, training items and fakes (other files, other scores)."""
    labels = pd.read_csv(corpus / "labels.csv")
    renders = [str(corpus / p) for p in labels.loc[(labels.label == "real") & labels.path.str.endswith(".jpg"), "path"]]
    fakes = [str(corpus / p) for p in labels.loc[(labels.label == "fake") & labels.path.str.endswith(".jpg"), "path"]]
    rows = [{"dataset": "camera", "path": p, "label": 0, "split": "test"} for p in renders]
    rows += [{"dataset": "camera", "path": p, "label": 1, "split": "test"} for p in fakes]
    rows += [{"dataset": "camera", "path": p, "label": 0, "split": "train"} for p in fakes]
    rows += [{"dataset": "demo", "path": p, "label": 0, "split": "test"} for p in fakes]
    (project / "artifacts").mkdir(parents=True)
    pd.DataFrame(rows).to_csv(project / "artifacts" / "manifest.csv", index=False)
    return renders


def test_the_same_faces_as_generated_and_real_rank_at_chance(tmp_path, tiny_corpus, tiny_model_dir):
    """Real "camera" faces that are the generated files themselves score the same: AUC exactly 0.5, as many of
    each called fake; the training items, fakes and demo items of the manifest are left out."""
    project = tmp_path / "project"
    (project / "data").mkdir(parents=True)
    (project / "data" / "demo").symlink_to(tiny_corpus)
    renders = manifest(project, tiny_corpus)
    done = run(project, tiny_model_dir, "--name", "tiny", "--out", "reports/generated")
    assert done.returncode == 0, done.stderr
    run_of = json.loads((project / "reports/generated/results.json").read_text())["tiny"][0]
    assert run_of["unseen_generated_faces_item_auc"] == 0.5
    assert run_of["unseen_generated_faces_n"] == f"{len(renders)} + {len(renders)}"
    assert run_of["generated_called_fake"] == run_of["real_called_fake"]
    assert run_of["command"].startswith("python scripts/generated_faces.py --model")


def test_a_manifest_without_real_camera_faces_says_what_to_train(tmp_path, tiny_corpus, tiny_model_dir):
    project = tmp_path / "project"
    (project / "artifacts").mkdir(parents=True)
    (project / "data").mkdir()
    (project / "data" / "demo").symlink_to(tiny_corpus)
    pd.DataFrame([{"dataset": "demo", "path": "x.jpg", "label": 0, "split": "test"}]).to_csv(
        project / "artifacts" / "manifest.csv", index=False
    )
    done = run(project, tiny_model_dir, "--name", "tiny", "--out", "reports/generated")
    assert done.returncode == 1 and "no real test items outside the demo corpus" in done.stderr
