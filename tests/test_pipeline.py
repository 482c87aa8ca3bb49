"""The whole DVC pipeline, download to Bento, on a tiny demo corpus in a temp copy of the project."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pipeline_helpers import run as _run

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1500)]


@pytest.fixture(scope="module")
def pipeline_run(tiny_pipeline) -> Path:
    return tiny_pipeline[0]


def test_every_stage_writes_its_outputs(pipeline_run: Path):
    artifacts = pipeline_run / "artifacts"
    for path in ("manifest.csv", "frames.csv", "faces.csv", "validate/index.html", "tune/best_params.json",
                 "tune/optuna.db", "train/model/model.pt", "train/metrics.json", "evaluate/metrics.json",
                 "evaluate/plots/roc_frame.csv", "evaluate/plots/confusion_video.csv", "evaluate/plots/roc.png",
                 "model/model.onnx", "model/model.json", "model/model_card.md", "bento/deepfake_detector.bento"):
        assert (artifacts / path).is_file(), f"missing {path}"


def test_metrics_cover_frame_and_video_level(pipeline_run: Path):
    metrics = json.loads((pipeline_run / "artifacts/evaluate/metrics.json").read_text())
    for level in ("frame", "video"):
        for key in ("precision", "recall", "f1", "roc_auc", "average_precision", "accuracy"):
            assert key in metrics[level]
        assert metrics[level]["n_real"] > 0 and metrics[level]["n_fake"] > 0
    summary = json.loads((pipeline_run / "artifacts/summaries/crop_faces.json").read_text())
    assert summary["counts"]["detection_rate"] >= 0.95


def test_model_card_records_provenance(pipeline_run: Path):
    card = (pipeline_run / "artifacts/model/model_card.md").read_text()
    assert "params hash" in card and "data hash" in card and "git commit" in card


def test_rerun_is_a_no_op_and_status_clean(pipeline_run: Path):
    """Only the `sources` stage runs again (it re-checks dataset folders outside the project, by design);
    its output is unchanged, so every other stage is skipped and nothing else is out of date."""
    rerun = _run(["dvc", "repro"], pipeline_run)
    assert "Stage 'download' didn't change, skipping" in rerun.stdout
    assert [line for line in rerun.stdout.splitlines() if "Running stage" in line] == ["Running stage 'sources':"]
    status = _run(["dvc", "status"], pipeline_run)
    assert [line.strip() for line in status.stdout.splitlines() if line.strip()] == ["sources:", "always changed"]


def test_dvc_declares_metrics_and_plots(pipeline_run: Path):
    shown = _run(["dvc", "metrics", "show", "--json"], pipeline_run)
    assert "roc_auc" in shown.stdout
    plots = _run(["dvc", "plots", "show", "--json"], pipeline_run)
    assert "ROC" in plots.stdout
