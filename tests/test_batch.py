"""`deepfake predict --out FOLDER`: one Parquet row per file with the Predictor's own numbers, here or on
Ray workers, and a re-run scores only the files not in FOLDER yet."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from deepfake_detector.batch import PART_GLOB, score_to_parquet
from deepfake_detector.cli import app
from deepfake_detector.config import ComputeConfig
from deepfake_detector.inference import Predictor
from deepfake_detector.media.frames import media_files


@pytest.fixture(scope="module")
def corpus_files(tiny_corpus: Path) -> list[Path]:
    return media_files([tiny_corpus])  # 24 images and videos


def read_scores(out: Path) -> pd.DataFrame:
    """The folder read as docs/compute.md tells users to (pandas reads the part files as one table)."""
    return pd.read_parquet(out).sort_values("path").reset_index(drop=True)


def predict_out(*args: str) -> dict:
    result = CliRunner().invoke(app, ["predict", *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_one_row_per_file_with_the_predictors_numbers(tiny_model_dir, tiny_corpus, corpus_files, tmp_path):
    counts = predict_out("--model", str(tiny_model_dir), "--out", str(tmp_path / "scores"), str(tiny_corpus))
    assert counts == {"out": str(tmp_path / "scores"), "scored": 24, "failed": 0, "already_scored": 0}
    table = read_scores(tmp_path / "scores")
    assert sorted(table["path"]) == sorted(map(str, corpus_files))
    predictor = Predictor(tiny_model_dir)
    for path in corpus_files[::6]:
        row = table.set_index("path").loc[str(path)]
        expected = predictor.predict_path(path)
        assert row["fake_probability"] == pytest.approx(expected.fake_probability, abs=1e-6)
        assert row["verdict"] == expected.verdict and row["faces"] == len(expected.faces)
        assert json.loads(row["prediction_json"])["threshold"] == expected.threshold


def test_a_rerun_scores_only_the_files_not_yet_in_the_folder(tiny_model_dir, corpus_files, tmp_path):
    out = tmp_path / "scores"
    first = score_to_parquet(corpus_files[:10], tiny_model_dir, out, ComputeConfig(), None, chunk_files=4)
    assert first == {"scored": 10, "failed": 0, "already_scored": 0} and len(list(out.glob(PART_GLOB))) == 3
    lost = sorted(out.glob(PART_GLOB))[1]  # as if the run had stopped before this chunk was written
    lost_files = set(pd.read_parquet(lost)["path"])
    lost.unlink()

    second = score_to_parquet(corpus_files, tiny_model_dir, out, ComputeConfig(), None, chunk_files=4)
    assert second == {"scored": 24 - 10 + len(lost_files), "failed": 0, "already_scored": 10 - len(lost_files)}
    table = read_scores(out)
    assert sorted(table["path"]) == sorted(map(str, corpus_files))  # every file exactly once
    assert score_to_parquet(corpus_files, tiny_model_dir, out, ComputeConfig(), None)["scored"] == 0


def test_ray_workers_give_the_same_rows(tiny_model_dir, tiny_corpus, tmp_path):
    here = predict_out("--model", str(tiny_model_dir), "--out", str(tmp_path / "here"), str(tiny_corpus))
    on_ray = predict_out(
        "--model",
        str(tiny_model_dir),
        "--out",
        str(tmp_path / "ray"),
        "--engine",
        "ray",
        "--workers",
        "2",
        str(tiny_corpus),
    )
    assert on_ray["scored"] == here["scored"] == 24
    local, ray = read_scores(tmp_path / "here"), read_scores(tmp_path / "ray")
    assert list(ray["path"]) == list(local["path"]) and list(ray["verdict"]) == list(local["verdict"])
    assert ray["fake_probability"].to_numpy() == pytest.approx(local["fake_probability"].to_numpy(), abs=1e-6)


def test_engine_ray_without_a_folder_says_to_add_one(tiny_model_dir, tiny_corpus):
    result = CliRunner().invoke(app, ["predict", "--model", str(tiny_model_dir), "--engine", "ray", str(tiny_corpus)])
    assert result.exit_code == 2 and "add --out FOLDER" in result.output


def test_a_wrong_model_folder_fails_before_any_worker_starts(tmp_path, tiny_corpus):
    result = CliRunner().invoke(
        app, ["predict", "--model", str(tmp_path), "--out", str(tmp_path / "s"), "--engine", "ray", str(tiny_corpus)]
    )
    assert result.exit_code == 2 and "no model.json" in result.output and not (tmp_path / "s").exists()
