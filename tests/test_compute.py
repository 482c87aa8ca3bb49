"""params.compute: `auto` resolves to this machine's hardware (the CPU here, a GPU where there is one), bad
combinations are refused with the fix, and Lightning's DDP trains the tiny pipeline in two CPU processes
into a model the Predictor loads."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch
import yaml
from pipeline_helpers import run

from deepfake_detector.config import ComputeConfig, FacesConfig, Params, load_params
from deepfake_detector.devices import onnx_providers, torch_device
from deepfake_detector.logs import UserError

HAS_GPU = torch.cuda.is_available()


def test_auto_is_the_gpu_when_there_is_one_else_the_cpu(tmp_path):
    """The demo's params (compute: auto) need no edit on either kind of machine; on this one, the CPU."""
    from deepfake_detector.media.faces import FaceDetector

    assert ComputeConfig() == load_params().compute  # the demo uses the defaults: auto everywhere
    assert torch_device("auto") == ("cuda" if HAS_GPU else "cpu")
    assert torch_device("cpu") == "cpu"
    assert FaceDetector(FacesConfig()).device == torch_device("auto")
    import onnxruntime as ort

    expected = ["CUDAExecutionProvider"] if "CUDAExecutionProvider" in ort.get_available_providers() else []
    assert onnx_providers() == [*expected, "CPUExecutionProvider"]


@pytest.mark.skipif(HAS_GPU, reason="this machine has a GPU: asking for one is not an error here")
def test_asking_for_a_gpu_on_a_machine_without_one_says_what_to_set():
    with pytest.raises(UserError, match="no CUDA GPU here: set it to auto or cpu"):
        torch_device("gpu")


@pytest.mark.parametrize(
    ("compute", "message"),
    [
        ({"devices": 2}, "devices: 2 needs strategy: ddp"),
        ({"accelerator": "cpu", "precision": "16-mixed"}, "16-mixed needs a GPU; on the CPU use 32 or bf16-mixed"),
        ({"precision": "64"}, "precision"),
    ],
)
def test_impossible_compute_settings_are_refused_with_the_fix(compute, message):
    raw = yaml.safe_load(open("params.yaml"))
    with pytest.raises(ValueError, match=message):
        Params.model_validate({**raw, "compute": compute})


def test_precision_given_as_a_number_on_the_command_line_is_accepted():
    """`dvc exp run -S compute.precision=32` writes the number 32 into params.yaml."""
    assert ComputeConfig(precision=32).precision == "32"


def test_ddp_trains_the_tiny_pipeline_in_two_cpu_processes(tiny_pipeline, tmp_path):
    """compute.strategy ddp with 2 CPU devices: Lightning starts a second process, both train, only the first
    writes; model.json records the 2 processes, and the Predictor loads and scores the model."""
    from deepfake_detector.inference import Predictor
    from deepfake_detector.media.frames import read_image
    from deepfake_detector.tables import load_face_table

    base, _ = tiny_pipeline
    project = tmp_path / "ddp"
    shutil.copytree(base, project, symlinks=True)
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["compute"].update({"accelerator": "cpu", "devices": 2, "strategy": "ddp"})
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))

    status = run(["dvc", "status", "train"], project).stdout
    assert "compute.devices" in status and "compute.strategy" in status  # DVC sees the change
    done = run(["dvc", "repro", "--single-item", "train"], project)

    spec = json.loads((project / "artifacts/train/model/model.json").read_text())
    assert spec["trained_on"] == {
        "accelerator": "cpu",
        "processes": 2,
        "strategy": "DDPStrategy",
        "precision": "32-true",
    }
    single = json.loads((base / "artifacts/train/model/model.json").read_text())["trained_on"]
    assert single == {"accelerator": "cpu", "processes": 1, "strategy": "SingleDeviceStrategy", "precision": "32-true"}
    assert (done.stdout + done.stderr).count("trained meso4") == 1  # the worker process wrote nothing

    faces = load_face_table(project / "artifacts/manifest.csv", project / "artifacts/faces.csv")
    test = faces[faces["split"] == "test"]
    predictor = Predictor(project / "artifacts/train/model", backend="torch")
    crops = [read_image(project / path) for path in test["crop_path"]]
    scores = predictor.score_crops(crops)
    assert len(scores) == len(test) and np.all((scores > 0) & (scores < 1)) and np.ptp(scores) > 0
