"""Batch scoring: `deepfake predict --out FOLDER` scores many files into a Parquet dataset (one row per file),
here or on Ray workers (engines.py), and resumes: files already in FOLDER are not scored again.

Files are scored in chunks; each chunk's rows are written by the worker that scored them, as one Parquet
part file, atomically (a temp name, then a rename). A run that stops (Ctrl-C, a lost node) keeps every part
written so far, and the next run with the same FOLDER scores only the files that are in none of them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import pandas as pd

from deepfake_detector.config import ComputeConfig
from deepfake_detector.engines import Progress, run_units
from deepfake_detector.inference import Predictor
from deepfake_detector.io import atomic_path
from deepfake_detector.models.spec import ModelSpec
from deepfake_detector.prediction import Prediction, PredictOptions

PART_GLOB = "part-*.parquet"
CHUNK_FILES = 64  # files per part file: small enough that a lost worker redoes little, big enough to be few files
# the columns of every part file: what a reviewer filters on, and the whole Prediction as JSON for the rest
COLUMNS = (
    "path",
    "verdict",
    "fake_probability",
    "threshold",
    "reason",
    "treated_as",
    "faces",
    "frames",
    "error",
    "credentials",
    "model_version",
    "prediction_json",
)


def prediction_row(prediction: Prediction) -> dict:
    return {
        "path": prediction.path,
        "verdict": prediction.verdict,
        "fake_probability": prediction.fake_probability,
        "threshold": prediction.threshold,
        "reason": prediction.reason["code"] if prediction.reason else None,
        "treated_as": prediction.treated_as,
        "faces": len(prediction.faces),
        "frames": prediction.frames,
        "error": prediction.error,
        "model_version": prediction.model_version,
        "credentials": prediction.credentials.status if prediction.credentials else None,
        "prediction_json": json.dumps(prediction.to_dict(), default=str),
    }


def scored_paths(out: Path) -> set[str]:
    """The files already scored into `out` (the path column of its part files)."""
    parts = sorted(out.glob(PART_GLOB))
    return set(pd.concat([pd.read_parquet(p, columns=["path"]) for p in parts])["path"]) if parts else set()


@dataclass(frozen=True)
class Chunk:
    name: str  # the part file's name
    paths: tuple[str, ...]


class ChunkScorer:
    """One worker: loads the Predictor once, scores a chunk of files, writes the chunk's part file."""

    def __init__(self, model_dir: Path, out: Path, cropped: bool | None, detect_device: str):
        self.predictor = Predictor(model_dir, detect_device=detect_device)
        self.out, self.cropped = out, cropped

    def __call__(self, chunk: Chunk) -> dict[str, int]:
        rows = [
            prediction_row(self.predictor.predict_path(path, PredictOptions(cropped=self.cropped)))
            for path in chunk.paths
        ]
        with atomic_path(self.out / chunk.name) as tmp:
            pd.DataFrame(rows, columns=list(COLUMNS)).to_parquet(tmp, index=False)
        return {"files": len(rows), "failed": sum(row["error"] is not None for row in rows)}


def chunks_to_score(paths: list[Path], out: Path, chunk_files: int) -> tuple[list[Chunk], int]:
    """The files not yet in `out`, in chunks named after this run (so parts of earlier runs are kept), and how
    many files were skipped as already scored."""
    done = scored_paths(out)
    todo = [str(p) for p in paths if str(p) not in done]
    run = len({p.name.split("-")[1] for p in out.glob(PART_GLOB)})  # part-<run>-<chunk>.parquet
    chunks = [
        Chunk(f"part-{run:04d}-{i // chunk_files:06d}.parquet", tuple(todo[i : i + chunk_files]))
        for i in range(0, len(todo), chunk_files)
    ]
    return chunks, len(paths) - len(todo)


def score_to_parquet(
    paths: list[Path],
    model_dir: Path,
    out: Path,
    compute: ComputeConfig,
    cropped: bool | None,
    chunk_files: int = CHUNK_FILES,
) -> dict[str, int]:
    """Score `paths` into the Parquet folder `out` on compute.engine; returns counts (scored, failed, skipped)."""
    ModelSpec.load(model_dir)  # a missing or wrong model folder fails here, before any worker starts
    out.mkdir(parents=True, exist_ok=True)
    chunks, skipped = chunks_to_score(paths, out, chunk_files)
    scorer = partial(ChunkScorer, model_dir.resolve(), out.resolve(), cropped, compute.detect_device)
    done = run_units(chunks, scorer, compute, Progress("predict", "file", size=lambda chunk: len(chunk.paths)))
    return {
        "scored": sum(d["files"] for d in done),
        "failed": sum(d["failed"] for d in done),
        "already_scored": skipped,
    }
