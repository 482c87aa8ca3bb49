"""package_bento: the model folder becomes a stored BentoML model and a `.bento` archive holding it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile

import pytest
import yaml

from deepfake_detector.serving.bento import BENTO_NAME, package_bento

LABELS = {"git_commit": "0123abc", "params_hash": "p-hash", "data_hash": "d-hash"}


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_package_bento(small_model_dir, tmp_path):
    home, out = tmp_path / "bentoml", tmp_path / "bento"
    archive = package_bento(small_model_dir, home, out, LABELS)

    assert archive == out / f"{BENTO_NAME}.bento" and archive.is_file()
    assert sorted(p.name for p in out.iterdir()) == [archive.name], "no partial outputs left behind"
    with tarfile.open(archive) as tar:
        names = set(tar.getnames())
        bento = yaml.safe_load(tar.extractfile("./bento.yaml"))
    assert {
        "./src/service.py",
        "./src/src/deepfake_detector/serving/service.py",
        "./src/src/deepfake_detector/serving/static/index.html",
        "./env/python/requirements.txt",
        "./src/src/deepfake_detector/serving/static/local.js",  # the in-browser check and its runtime
        "./src/src/deepfake_detector/serving/static/vendor/ort-wasm-simd-threaded.wasm",
    } <= names
    assert not [n for n in names if "/deepfake_detector/demo/" in n], "the demo-corpus generator stays out"
    with open("bentofile.yaml") as f:
        assert yaml.safe_load(f)["name"] == BENTO_NAME
    model_files = {n.rsplit("/", 1)[-1] for n in names if n.startswith(f"./models/{BENTO_NAME}/")}
    assert {"model.onnx", "model.json"} <= model_files
    assert bento["service"] == "service:DeepfakeDetector"
    assert LABELS.items() <= bento["labels"].items()
    assert [m["tag"].split(":")[0] for m in bento["services"][0]["models"]] == [BENTO_NAME]

    # The archive imports into a fresh store, and the stored model carries the labels.
    fresh = tmp_path / "fresh_home"
    code = (
        "import bentoml, json, sys; b = bentoml.import_bento(sys.argv[1]); "
        "m = bentoml.models.get('deepfake_detector:latest'); "
        "print(json.dumps({'bento': str(b.tag), 'labels': m.info.labels}))"
    )
    env = {**os.environ, "BENTOML_HOME": str(fresh), "BENTOML_DO_NOT_TRACK": "True"}
    result = subprocess.run(
        [sys.executable, "-c", code, str(archive)], env=env, capture_output=True, text=True, timeout=300, check=True
    )
    imported = json.loads(result.stdout.strip().splitlines()[-1])
    assert imported["bento"].startswith(f"{BENTO_NAME}:") and LABELS.items() <= imported["labels"].items()

    # Packaging again replaces the archive and keeps a single model and Bento in the store.
    assert package_bento(small_model_dir, home, out, LABELS) == archive
    assert len(list((home / "models" / BENTO_NAME).glob("*/model.json"))) == 1


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_the_gpu_flavour_builds_from_the_same_bentofile(small_model_dir, tmp_path):
    """scripts/gpu_bentofile.py + bentoml build (what the release workflow's GPU job runs, before containerize,
    which needs Docker): a CUDA base image, the CUDA wheels of torch and ONNX Runtime, the CPU flavour's
    service, files and settings otherwise."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    home = tmp_path / "bentoml"
    package_bento(small_model_dir, home, tmp_path / "bento", LABELS)  # the store the package stage fills
    bentofile = tmp_path / "bentofile.gpu.yaml"
    env = {**os.environ, "BENTOML_HOME": str(home), "BENTOML_DO_NOT_TRACK": "True"}
    subprocess.run([sys.executable, "scripts/gpu_bentofile.py", str(bentofile)], cwd=root, check=True, timeout=60)
    bentoml = Path(sys.executable).parent / "bentoml"
    built = subprocess.run(
        [str(bentoml), "build", "-f", str(bentofile), "."],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=400,
    )
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]

    def bento_dir(name: str) -> Path:
        [path] = [p for p in (home / "bentos" / name).iterdir() if p.is_dir()]
        return path

    gpu, cpu = bento_dir("deepfake_detector_gpu"), bento_dir(BENTO_NAME)
    assert "FROM nvidia/cuda:12.8.1-cudnn-runtime-ubuntu24.04" in (gpu / "env/docker/Dockerfile").read_text()
    assert "FROM python:3.11-slim" in (cpu / "env/docker/Dockerfile").read_text()
    gpu_reqs = (gpu / "env/python/requirements.txt").read_text().split()
    cpu_reqs = (cpu / "env/python/requirements.txt").read_text().split()
    assert {"torch==2.14.1", "torchvision==0.29.1", "onnxruntime-gpu==1.31.1"} <= set(gpu_reqs)
    assert "torch==2.14.1+cpu" in cpu_reqs and not [r for r in gpu_reqs if "+cpu" in r or r.startswith("onnxruntime==")]
    gpu_yaml, cpu_yaml = (yaml.safe_load((d / "bento.yaml").read_text()) for d in (gpu, cpu))
    assert gpu_yaml["labels"]["flavour"] == "gpu" and gpu_yaml["service"] == cpu_yaml["service"]
    assert gpu_yaml["services"][0]["models"] == cpu_yaml["services"][0]["models"]  # the same stored model


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_checkouts_in_different_folders_build_the_same_bento(small_model_dir, tmp_path, monkeypatch):
    """CI's reproduce job re-runs the pipeline in its own checkout and compares dvc.lock's hashes, so the
    Bento may not depend on where the project lives (BentoML names the setup script by its absolute path)."""
    import shutil
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    archives = []
    for folder in ("a/project", "elsewhere/deeper/checkout"):
        checkout = tmp_path / folder
        shutil.copytree(root / "src", checkout / "src", ignore=shutil.ignore_patterns("__pycache__"))
        for name in ("bentofile.yaml", "service.py"):
            shutil.copy(root / name, checkout / name)
        monkeypatch.chdir(checkout)
        artifacts = checkout / "artifacts"  # where the package stage writes; bentofile.yaml keeps it out
        archives.append(package_bento(small_model_dir, artifacts / "bentoml", artifacts / "bento", LABELS))
    with tarfile.open(archives[0]) as tar:
        [script] = [n for n in tar.getnames() if n.startswith("./env/docker/script__")]
        assert tar.extractfile(script).read() == (root / "src/deepfake_detector/serving/bento_setup.sh").read_bytes()
        assert f"RUN chmod +x {script} && {script}" in tar.extractfile("./env/docker/Dockerfile").read().decode()
    assert archives[0].read_bytes() == archives[1].read_bytes()


def test_the_exported_onnx_holds_no_paths_of_this_machine(tmp_path):
    """Two checkouts in different folders must export the same bytes: no stack traces, no absolute paths."""
    from pathlib import Path

    import onnx
    import torch

    from deepfake_detector.models.backbones import build_backbone
    from deepfake_detector.models.export import export_onnx

    torch.manual_seed(0)
    path = export_onnx(build_backbone("meso4", 64).eval(), 64, tmp_path / "model.onnx")
    exported = onnx.load(str(path))
    assert all(not node.metadata_props for node in exported.graph.node)
    data = path.read_bytes()
    for folder in (Path(__file__).resolve().parents[1], Path(torch.__file__).parents[2]):
        assert str(folder).encode() not in data, f"{folder} is written into the ONNX file"
