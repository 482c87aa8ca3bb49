"""Shared by the pipeline tests: a temp copy of the project with a tiny corpus and shrunk params.

`make_tiny_project` copies the git-tracked files (not the data or the in-repo DVC remote), puts the tiny corpus
in data/demo, shrinks params.yaml and runs `git init`; `run` runs a command there with the venv first on PATH.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

PROJECT_ROOT = Path(__file__).resolve().parents[1]

# Small enough for CI on 2 cores, big enough that every split holds both classes.
TINY_PARAMS = {
    ("tune", "n_trials"): 2,
    ("tune", "epochs"): 1,
    ("train", "epochs"): 2,
    # the plain MesoNet from scratch instead of params.yaml's pretrained Lite0 with the frequency branch: seconds on
    # 2 cores (tests/test_real_profile.py runs the pretrained recipe through the pipeline)
    ("train", "backbone"): "meso4",
    ("train", "pretrained"): False,
    ("train", "frequency_branch"): False,
    ("tune", "space", "backbones"): ["meso4"],
    ("train", "input_size"): 64,
    ("train", "method_head", "min_faces"): 1,  # the tiny corpus has a few fakes per method
    ("tune", "space", "input_sizes"): [64],
    ("faces", "crop_size"): 96,
    ("frames", "per_video"): 4,
    # one baseline with the train stage's own settings: it must come out identical to the current model
    ("baselines",): {"meso4": {"backbone": "meso4", "self_blend_rate": 0.0, "use_tuned": False}},
    ("robustness", "models"): ["current", "meso4"],
    ("robustness", "resolutions"): [32, 96],
    ("robustness", "face_px_edges"): [100],
    ("robustness", "jpeg_qualities"): [90, 20],
    ("robustness", "blur_sigmas"): [0, 2],
    ("robustness", "noise_stds"): [0, 10],
    ("robustness", "crfs"): [23, 45],
    ("robustness", "max_videos"): 4,
}

ENV = {"GX_ANALYTICS_ENABLED": "false", "DVC_NO_ANALYTICS": "1", "HF_HUB_OFFLINE": "1", "BENTOML_DO_NOT_TRACK": "True"}


def copy_project(dest: Path) -> None:
    tracked = subprocess.run(["git", "ls-files"], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True)
    for name in tracked.stdout.splitlines():
        source = PROJECT_ROOT / name
        if name.startswith(("data/", "dvc-remote/")) or name == "data.dvc" or not source.is_file():
            continue
        (dest / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, dest / name)


def set_param(params: dict, keys: tuple[str, ...], value) -> None:
    for key in keys[:-1]:
        params = params[key]
    params[keys[-1]] = value


def shrink_params(project: Path, overrides: dict | None = None) -> None:
    params = yaml.safe_load((project / "params.yaml").read_text())
    for keys, value in {**TINY_PARAMS, **(overrides or {})}.items():
        set_param(params, keys, value)
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


def run_env() -> dict[str, str]:
    return {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}", **ENV}


def run(
    cmd: list[str], cwd: Path, timeout: int = 1400, check: bool = True, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    result = subprocess.run(
        cmd, cwd=cwd, env={**run_env(), **(env or {})}, capture_output=True, text=True, timeout=timeout
    )
    if check:
        assert result.returncode == 0, f"{' '.join(cmd)} failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    return result


def make_tiny_project(dest: Path, tiny_corpus: Path) -> Path:
    """A git-initialised copy of the project with the tiny corpus in data/demo and TINY_PARAMS applied."""
    copy_project(dest)
    shutil.copytree(tiny_corpus, dest / "data" / "demo")
    shrink_params(dest)
    run(["git", "init", "-q"], dest)
    return dest


GIT_ID = {
    "GIT_AUTHOR_NAME": "test",
    "GIT_AUTHOR_EMAIL": "test@example.com",
    "GIT_COMMITTER_NAME": "test",
    "GIT_COMMITTER_EMAIL": "test@example.com",
}


def commit(project: Path, message: str) -> str:
    run(["git", "add", "-A"], project)
    run(["git", "commit", "-q", "--allow-empty", "-m", message], project, env=GIT_ID)
    return run(["git", "rev-parse", "HEAD"], project).stdout.strip()


def run_tiny_pipeline(dest: Path, corpus: Path) -> tuple[Path, str]:
    """The tiny project with data/ tracked by data.dvc as in the real repository, committed (dvclive in the
    train stage needs a commit), `dvc repro` run and its results committed; returns the project and the rev."""
    project = make_tiny_project(dest, corpus)
    run(["dvc", "add", "-q", "data"], project)
    commit(project, "tiny project")
    run(["dvc", "repro"], project)
    return project, commit(project, "tiny pipeline run")
