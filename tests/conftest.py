"""Shared fixtures: the real-data folder (skip with a reason when absent), small untrained model folders, the tiny
corpora and pipeline, and an S3 endpoint on this machine (moto's server) for object storage."""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass
from pathlib import Path

import pytest

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DVC_NO_ANALYTICS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = PROJECT_ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real-data samples not found at {SHARED_DATA} (they sit beside the checkout in CI)")
    return SHARED_DATA


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects by marker
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test that reads the real data (through `shared_data`) carries the real_data marker, so
    `-m "not real_data"` leaves out all of them: a forgotten marker stops the run, naming the test."""
    unmarked = [
        item.nodeid
        for item in items
        if "shared_data" in getattr(item, "fixturenames", ()) and item.get_closest_marker("real_data") is None
    ]
    if unmarked:
        raise pytest.UsageError(
            f"these tests read ../shared/data (fixture shared_data) but lack @pytest.mark.real_data: {unmarked}"
        )


def save_untrained_model(out: Path, backbone: str) -> Path:
    """An untrained `backbone` at 64 px, saved like the package stage does (model.pt, model.onnx, model.json).

    Its scores are meaningless but deterministic: enough to test plumbing, never accuracy.
    """
    import torch

    from deepfake_detector.config import FacesConfig
    from deepfake_detector.models.backbones import build_backbone
    from deepfake_detector.models.export import export_onnx
    from deepfake_detector.models.spec import ONNX_FILE, TORCH_WEIGHTS, ModelSpec

    torch.manual_seed(0)
    model = build_backbone(backbone, 64).eval()
    torch.save(model.state_dict(), out / TORCH_WEIGHTS)
    export_onnx(model, 64, out / ONNX_FILE)
    ModelSpec(
        backbone=backbone, input_size=64, faces=FacesConfig(crop_size=128), frames_per_video=4, version="test"
    ).save(out)
    return out


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """An untrained resnet18 (a timm backbone, as the pipeline trains) in a model folder."""
    return save_untrained_model(tmp_path_factory.mktemp("tiny_model"), "resnet18")


@pytest.fixture(scope="session")
def small_model_dir(tmp_path_factory) -> Path:
    """An untrained meso4 in a model folder: 0.1 MB instead of resnet18's 90, for tests that only move the
    folder around (packaging compresses every byte)."""
    return save_untrained_model(tmp_path_factory.mktemp("small_model"), "meso4")


@pytest.fixture(scope="session")
def tiny_corpus(tmp_path_factory) -> Path:
    """A tiny synthetic demo corpus (4 identities in 2 pairs, 24 files, labels.csv), rendered once per session.

    Too small for the pipeline, whose group split needs 3 pairs for train, val and test: see pipeline_corpus."""
    from deepfake_detector.demo import generate_corpus

    out = tmp_path_factory.mktemp("tiny_corpus") / "demo"
    generate_corpus(out, seed=1, identities=4, images_per_identity=2, videos_per_identity=1, frames_per_video=8)
    return out


@pytest.fixture(scope="session")
def pipeline_corpus(tmp_path_factory) -> Path:
    """6 identities (3 pairs): the smallest corpus whose group split fills train, val and test."""
    from deepfake_detector.demo import generate_corpus

    out = tmp_path_factory.mktemp("pipeline_corpus") / "demo"
    generate_corpus(out, seed=1, identities=6, images_per_identity=2, videos_per_identity=1, frames_per_video=8)
    return out


@pytest.fixture(scope="session")
def tiny_pipeline(tmp_path_factory, pipeline_corpus) -> tuple[Path, str]:
    """The whole DVC pipeline run once per session on the tiny corpus in a committed temp copy of the project."""
    from pipeline_helpers import run_tiny_pipeline

    return run_tiny_pipeline(tmp_path_factory.mktemp("tiny_pipeline") / "project", pipeline_corpus)


@dataclass(frozen=True)
class S3Bucket:
    url: str  # s3://<bucket>
    env: dict[str, str]  # what a process (a stage, a Ray worker) needs to reach the endpoint


@pytest.fixture(scope="session")
def s3_endpoint():
    """A real S3 API (moto's server, in a thread of this process) at http://127.0.0.1:<port>: no cloud needed."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


_buckets = itertools.count()


@pytest.fixture
def s3_bucket(s3_endpoint, monkeypatch) -> S3Bucket:
    """An empty bucket; this process and those it starts (Ray workers, stages) reach it through the env."""
    import boto3

    env = {
        "AWS_ENDPOINT_URL": s3_endpoint,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    name = f"bucket-{next(_buckets)}"
    boto3.client("s3").create_bucket(Bucket=name)
    return S3Bucket(f"s3://{name}", env)
