"""params.compute.engine: extract_frames and crop_faces on a Ray of 2 workers (started on this machine) give
the local engine's tables and files, byte for byte; a worker that dies is restarted and loses no unit; a
failed or killed run is resumed without redoing what it finished; a wrong or unreachable cluster address is
refused with the fix."""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
from functools import partial
from pathlib import Path

import pytest
import ray.cloudpickle
import yaml
from pipeline_helpers import run

from deepfake_detector.config import ComputeConfig
from deepfake_detector.engines import Progress, run_units
from deepfake_detector.io import resumable_dir
from deepfake_detector.logs import UserError

RAY = ComputeConfig(engine="ray", ray_address="local", ray_workers=2)
PREPROCESSING = ("extract_frames", "crop_faces")


def stage_outputs(project: Path) -> dict[str, dict[str, str]]:
    """Each preprocessing stage's outputs and their md5 as dvc.lock records them (a folder's hash covers
    every file in it)."""
    stages = yaml.safe_load((project / "dvc.lock").read_text())["stages"]
    return {stage: {out["path"]: out["md5"] for out in stages[stage]["outs"]} for stage in PREPROCESSING}


@pytest.mark.parametrize("storage", ["shared folder", "object storage"])
def test_ray_gives_the_local_engines_tables_and_crops_byte_for_byte(storage, tiny_pipeline, tmp_path, request):
    base, _ = tiny_pipeline
    project = tmp_path / "ray"
    shutil.copytree(base, project, symlinks=True)
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["compute"].update({"engine": "ray", "ray_address": "local", "ray_workers": 2})
    env = {}
    if storage == "object storage":  # the workers share no folder with the stage: files go through S3
        bucket = request.getfixturevalue("s3_bucket")
        params["compute"]["ray_storage"] = f"{bucket.url}/work"
        env = bucket.env
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    shutil.rmtree(project / "artifacts/frames")
    shutil.rmtree(project / "artifacts/faces")

    logs = ""
    for stage in PREPROCESSING:  # the engine is not a stage parameter: the same results need no re-run
        done = run(["dvc", "repro", "--force", "--single-item", stage], project, env=env)
        logs += done.stdout + done.stderr

    assert "(ray)" in logs and "Ray started on this machine" in logs  # it did run on Ray
    if storage == "object storage":
        frames = (base / "artifacts/frames.csv").read_text().count("\n") - 1
        one_line = " ".join(logs.split())  # the stage log wraps long lines
        assert re.search(rf"crop_faces: uploading {frames} input files to {bucket.url}/work/crop_faces-", one_line)
    local, on_ray = stage_outputs(base), stage_outputs(project)
    assert on_ray == local  # frames.csv, faces.csv, every frame and every crop: the same bytes
    for stage in PREPROCESSING:  # the same counts and the same skipped files, with the same reasons
        summary = f"artifacts/summaries/{stage}.json"
        assert json.loads((project / summary).read_text()) == json.loads((base / summary).read_text())
    assert (project / "artifacts/faces.csv").read_text().count("\n") > 20  # a real table, not two empty ones


class DiesOnce:
    """A worker whose process dies (as if killed or out of memory) the first time it meets unit 3."""

    def __init__(self, marker: str):
        self.marker = Path(marker)

    def __call__(self, unit: int) -> tuple[int, int]:
        if unit == 3 and not self.marker.exists():
            self.marker.write_text(str(os.getpid()))
            os._exit(1)
        return unit * 10, os.getpid()


def test_a_worker_that_dies_is_restarted_and_no_unit_is_lost(tmp_path):
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # Ray workers cannot import tests/
    marker = tmp_path / "died"
    results = run_units(list(range(8)), partial(DiesOnce, str(marker)), RAY, Progress("dies once"))
    assert [value for value, _ in results] == [unit * 10 for unit in range(8)]  # every unit, in unit order
    dead = int(marker.read_text())
    assert results[3][1] != dead != os.getpid()  # unit 3 was done again by another Ray worker process


def test_the_local_engine_runs_the_same_worker_here():
    results = run_units([0, 1, 2], partial(DiesOnce, "/nonexistent/marker"), ComputeConfig(), Progress("local"))
    assert [value for value, _ in results] == [0, 10, 20] and {pid for _, pid in results} == {os.getpid()}


def test_a_cluster_address_that_is_not_local_auto_or_ray_url_is_refused():
    with pytest.raises(ValueError, match="ray_address"):
        ComputeConfig(engine="ray", ray_address="http://head:8265")
    assert ComputeConfig(engine="ray", ray_address="ray://head:10001").ray_address == "ray://head:10001"


def test_auto_without_a_running_cluster_says_how_to_start_one():
    with pytest.raises(UserError, match=r"no Ray cluster answered.*ray start --head"):
        run_units(
            [1], partial(DiesOnce, "/nonexistent/marker"), RAY.model_copy(update={"ray_address": "auto"}), Progress("x")
        )


def test_no_units_build_no_worker_and_reach_no_cluster():
    """A stage with nothing to do (every video skipped) returns at once: the address below would be refused."""

    def no_worker():
        raise AssertionError("no unit needs a worker")

    assert run_units([], no_worker, RAY.model_copy(update={"ray_address": "auto"}), Progress("x")) == []
    assert run_units([], no_worker, ComputeConfig(), Progress("x")) == []


class FailsAt:
    """A worker that fails at unit `fail_at` (None: never) and notes every unit it runs in the file `ran`."""

    def __init__(self, ran: str, fail_at: int | None):
        self.ran, self.fail_at = Path(ran), fail_at

    def __call__(self, unit: int) -> int:
        with self.ran.open("a") as f:
            f.write(f"{unit}\n")
        if unit == self.fail_at:
            raise RuntimeError(f"unit {unit} failed")
        return unit * 10


def ran(path: Path) -> list[int]:
    return [int(line) for line in path.read_text().split()]


@pytest.mark.parametrize("compute", [ComputeConfig(), RAY], ids=["local", "ray"])
def test_a_failed_run_is_resumed_without_redoing_the_units_it_finished(compute, tmp_path, caplog):
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    finished, first, second = tmp_path / "finished", tmp_path / "first", tmp_path / "second"
    finished.mkdir()
    with pytest.raises(Exception, match="unit 5 failed"):
        run_units(list(range(8)), partial(FailsAt, str(first), 5), compute, Progress("x"), resume_dir=finished)
    recorded = {int(p.stem) for p in finished.glob("*.pkl")}
    assert 5 not in recorded and recorded <= set(ran(first))
    if compute.engine == "local":
        assert recorded == {0, 1, 2, 3, 4}  # in order, up to the failure
    caplog.clear()
    with caplog.at_level("INFO", logger="engines"):
        results = run_units(
            list(range(8)), partial(FailsAt, str(second), None), compute, Progress("x"), resume_dir=finished
        )
    assert results == [unit * 10 for unit in range(8)]  # every unit, in unit order
    assert sorted(ran(second)) == sorted(set(range(8)) - recorded)  # only what was not finished ran again
    # the throughput counts this run's units only, not the ones resumed from the record
    assert f": {8 - len(recorded)} items in " in caplog.text and "(with the workers' start-up)" in caplog.text


def test_a_stage_folder_keeps_a_failed_runs_work_for_the_same_key_only(tmp_path):
    target = tmp_path / "faces"
    with pytest.raises(RuntimeError), resumable_dir(target, "a" * 64) as (out, finished):
        (out / "crop.jpg").write_text("crop")
        (finished / "0.pkl").write_bytes(b"record")
        raise RuntimeError("killed")
    assert not target.exists()
    with resumable_dir(target, "a" * 64) as (out, finished):
        assert (out / "crop.jpg").read_text() == "crop" and (finished / "0.pkl").exists()
    assert (target / "crop.jpg").exists() and sorted(tmp_path.iterdir()) == [target]  # nothing left beside it
    with pytest.raises(RuntimeError), resumable_dir(target, "a" * 64) as (out, _):
        (out / "other.jpg").write_text("crop")
        raise RuntimeError("killed")
    with resumable_dir(target, "b" * 64) as (out, finished):  # other params or code: a fresh start
        assert not any(out.iterdir()) and not any(finished.iterdir())
    assert sorted(tmp_path.iterdir()) == [target]


@pytest.mark.timeout(600)
def test_crop_faces_killed_midway_resumes_and_gives_an_uninterrupted_runs_outputs(tiny_pipeline, tmp_path):
    """SIGKILL the stage once it has finished some batches (as a lost machine would); the re-run says it resumes,
    detects faces only in the rest, and its faces.csv and crops are those of a run never interrupted."""
    import signal
    import subprocess
    import time

    from pipeline_helpers import run_env

    project = tmp_path / "project"
    shutil.copytree(tiny_pipeline[0], project, symlinks=True)
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["faces"]["batch_size"] = 4  # many small units, so the kill lands between two of them
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    stage = [sys.executable, "stages/crop_faces.py"]
    whole = run(stage, project)
    expected = {
        p.relative_to(project / "artifacts"): p.read_bytes()
        for p in sorted((project / "artifacts").glob("faces*/**/*"))
        if p.is_file()
    }
    expected["faces.csv"] = (project / "artifacts/faces.csv").read_bytes()

    proc = subprocess.Popen(stage, cwd=project, env=run_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while len(list((project / "artifacts").glob(".faces.resume-*/finished/*.pkl"))) < 3:
        assert proc.poll() is None and time.monotonic() < deadline, "the stage ended before it could be killed"
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    resumed = run(stage, project, env={"COLUMNS": "250"})  # the log line unwrapped
    said = re.search(r"crop_faces: resuming, (\d+) of (\d+) units were done by the previous run", resumed.stderr)
    assert said, resumed.stderr
    done, total = map(int, said.groups())
    assert 3 <= done < total and "resuming" not in whole.stderr
    got = {
        p.relative_to(project / "artifacts"): p.read_bytes()
        for p in sorted((project / "artifacts").glob("faces*/**/*"))
        if p.is_file()
    }
    got["faces.csv"] = (project / "artifacts/faces.csv").read_bytes()
    assert got == expected and not list((project / "artifacts").glob(".faces.resume-*"))
