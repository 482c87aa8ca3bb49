"""The whole DVC pipeline, download to Bento, on a tiny demo corpus in a temp copy of the project."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pipeline_helpers import run as _run

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1500)]


@pytest.fixture(scope="module")
def pipeline_run(tiny_pipeline) -> Path:
    return tiny_pipeline[0]


def test_every_stage_writes_its_outputs(pipeline_run: Path):
    artifacts = pipeline_run / "artifacts"
    for path in (
        "manifest.csv",
        "frames.csv",
        "faces.csv",
        "validate/index.html",
        "embed/key.json",
        "tune/best_params.json",
        "tune/optuna.db",
        "train/model/model.pt",
        "train/metrics.json",
        "evaluate/metrics.json",
        "evaluate/plots/roc_frame.csv",
        "evaluate/plots/confusion_video.csv",
        "evaluate/plots/roc.png",
        "baselines/meso4/model/model.pt",
        "baselines/meso4/metrics.json",
        "robustness/metrics.json",
        "robustness/plots/jpeg_quality.csv",
        "robustness/plots/crf.png",
        "model/model.onnx",
        "model/model.json",
        "model/model_card.md",
        "bento/deepfake_detector.bento",
    ):
        assert (artifacts / path).is_file(), f"missing {path}"
    # mode full: the embed stage computes nothing, and says so
    embed = json.loads((artifacts / "summaries/embed.json").read_text())
    assert embed["counts"] == {"faces": 0, "skipped": "train.finetune.mode is full"}


def test_metrics_are_those_of_the_scores_evaluate_wrote(pipeline_run: Path):
    """The video metrics are binary_metrics of predictions.csv at the threshold model.json carries; the frame
    level counts every found test face and its AUC is the area under the ROC points it wrote."""
    from deepfake_detector.evaluate.metrics import binary_metrics, confusion_counts

    out = pipeline_run / "artifacts/evaluate"
    metrics = json.loads((out / "metrics.json").read_text())
    threshold = json.loads((pipeline_run / "artifacts/train/model/model.json").read_text())["threshold"]
    assert metrics["threshold"] == threshold
    videos = pd.read_csv(out / "predictions.csv")
    assert metrics["video"] == binary_metrics(videos["label"], videos["prob"], threshold)
    assert metrics["confusion_video"] == confusion_counts(videos["label"], videos["prob"], threshold)
    manifest = pd.read_csv(pipeline_run / "artifacts/manifest.csv")
    test_items = manifest[manifest["split"] == "test"]
    assert set(videos["item_id"]) <= set(test_items["item_id"]) and videos["item_id"].is_unique
    assert metrics["test_items"] == len(test_items)
    assert metrics["test_items_without_face"] == len(test_items) - len(videos)
    faces = pd.read_csv(out.parent / "faces.csv").merge(test_items[["item_id", "label"]], on="item_id")
    found = faces[faces["found"]]
    frame = metrics["frame"]
    assert (frame["n"], frame["n_fake"]) == (len(found), int(found["label"].sum()))
    roc = pd.read_csv(out / "plots/roc_frame.csv")
    assert frame["roc_auc"] == pytest.approx(np.trapezoid(roc["tpr"], roc["fpr"]), abs=1e-12)
    summary = json.loads((pipeline_run / "artifacts/summaries/crop_faces.json").read_text())
    assert summary["counts"]["detection_rate"] >= 0.95


def test_crop_faces_records_68_landmarks_of_every_found_face(pipeline_run: Path):
    faces = pd.read_csv(pipeline_run / "artifacts/faces.csv", keep_default_na=False)
    found = faces[faces["found"]]
    assert len(found) > 0 and (faces.loc[~faces["found"], "landmarks68"] == "").all()
    for row in found.itertuples():
        points = np.array(json.loads(row.landmarks68))
        assert points.shape == (68, 2)
        inside = (points >= [row.crop_x, row.crop_y]) & (
            points <= [row.crop_x + row.crop_side, row.crop_y + row.crop_side]
        )
        assert inside.all(axis=1).mean() > 0.95  # the outline lies in the crop square


def test_baseline_is_trained_by_the_train_stage_code(pipeline_run: Path):
    # the tiny params give baselines.meso4 the train section's own settings, so it must match the current model
    current = json.loads((pipeline_run / "artifacts/train/metrics.json").read_text())
    baseline = json.loads((pipeline_run / "artifacts/baselines/meso4/metrics.json").read_text())
    assert baseline == current


def test_robustness_reports_every_axis_for_every_model(pipeline_run: Path):
    out = pipeline_run / "artifacts/robustness"
    metrics = json.loads((out / "metrics.json").read_text())
    levels = {
        "resolution": ["32", "96"],
        "jpeg_quality": ["90", "20"],
        "blur_sigma": ["0", "2"],
        "noise_std": ["0", "10"],
        "crf": ["23", "45"],
    }
    for model in ("current", "meso4"):
        for axis, expected in levels.items():
            assert set(metrics[model][axis]) == set(expected), (model, axis)  # JSON keys are sorted
        assert sum(b["n"] for b in metrics[model]["face_px"].values()) > 0
        assert set(metrics[model]["by_dataset"]) == {"demo"}
        assert set(metrics[model]["by_method"]) == {"faceswap", "reenact", "resynthesis", "selfblend"}
        for level in ("frame", "video"):
            assert metrics[model]["by_dataset"]["demo"][level]["eer"] is not None
    # blur 0 and noise 0 leave the crops unchanged: the AUC and metrics the evaluate stage measured
    evaluated = json.loads((pipeline_run / "artifacts/evaluate/metrics.json").read_text())
    assert metrics["current"]["blur_sigma"]["0"] == metrics["current"]["noise_std"]["0"]
    assert metrics["current"]["blur_sigma"]["0"] == pytest.approx(evaluated["frame"]["roc_auc"], abs=1e-12)
    demo = metrics["current"]["by_dataset"]["demo"]
    assert demo["frame"] == pytest.approx(evaluated["frame"]) and demo["video"] == pytest.approx(evaluated["video"])
    assert metrics["current"]["jpeg_quality"] == metrics["meso4"]["jpeg_quality"]  # identical models
    crf = metrics["crf_videos"]
    assert crf["n"] == 4 and crf["23"]["mean_kb"] > crf["45"]["mean_kb"]
    for axis in levels:
        table = pd.read_csv(out / "plots" / f"{axis}.csv")
        assert list(table.columns) == ["level", "current", "meso4"]
        assert [f"{v:g}" for v in table["level"]] == levels[axis]
        assert (out / "plots" / f"{axis}.png").read_bytes().startswith(b"\x89PNG")
    sizes = pd.read_csv(out / "plots" / "face_px.csv")
    assert sizes["bucket"].tolist() == ["<100", ">=100"] and sizes["n"].sum() > 0


def test_model_card_records_provenance(pipeline_run: Path):
    card = (pipeline_run / "artifacts/model/model_card.md").read_text()
    assert "params hash" in card and "data hash" in card and "git commit" in card
    # the export check's bound, not the difference it measured, which follows ONNX Runtime's CPU kernels
    assert "- Exported to ONNX; its outputs agree with PyTorch's within 0.0001 (checked at export)" in card


def test_the_packaged_model_carries_the_judge_rules_and_where_it_trained(pipeline_run: Path):
    """The package stage writes params.yaml's judge section into the served model.json; the trained model has
    none (evaluate and robustness judge every face). Both record the hardware Lightning trained on."""
    import torch
    import yaml

    accelerator = "cuda" if torch.cuda.is_available() else "cpu"  # compute.accelerator: auto
    params = yaml.safe_load((pipeline_run / "params.yaml").read_text())
    packaged = json.loads((pipeline_run / "artifacts/model/model.json").read_text())
    trained = json.loads((pipeline_run / "artifacts/train/model/model.json").read_text())
    serving_only = ("judge", "explain")  # written by the package stage from params.yaml, absent from training's
    for key in serving_only:
        assert packaged[key] == params[key] and trained[key] is None
    web = json.loads((pipeline_run / "artifacts/model/web.json").read_text())
    assert web["frames_per_video"] == params["serve"]["frames_per_video"]  # the page samples what the service does
    assert {k: v for k, v in packaged.items() if k not in serving_only} == {
        k: v for k, v in trained.items() if k not in serving_only
    }
    assert trained["trained_on"]["accelerator"] == accelerator and trained["trained_on"]["processes"] == 1
    card = (pipeline_run / "artifacts/model/model_card.md").read_text()
    assert f"- Trained on: {accelerator}, 1 process(es) (SingleDeviceStrategy), precision 32-true" in card
    # calibration fitted the validation faces' embedding range, which the packaged model carries to serving
    fitted = trained["embedding_range"]
    assert fitted["faces"] == trained["validation"]["val_faces"] and fitted["quantile"] == 0.995
    assert len(fitted["mean"]) == len(fitted["scale"]) > 0 and fitted["max_distance"] > 0
    assert "(the distance 99.5% of them stay within)" in card


def test_the_packaged_model_measures_how_far_a_face_is_from_the_validation_faces(pipeline_run: Path):
    """The served ONNX model gives each face the same embedding distance as the trained PyTorch model, and a
    validation face lies inside the range calibration fitted."""
    import numpy as np

    from deepfake_detector.inference import Predictor
    from deepfake_detector.media.frames import read_crop

    faces = pd.read_csv(pipeline_run / "artifacts/faces.csv")
    manifest = pd.read_csv(pipeline_run / "artifacts/manifest.csv")
    val = faces[faces["found"] & faces["item_id"].isin(manifest.loc[manifest["split"] == "val", "item_id"])]
    crops = [read_crop(str(pipeline_run / p)) for p in val["crop_path"].head(8)]
    served, trained = Predictor(pipeline_run / "artifacts/model"), Predictor(pipeline_run / "artifacts/train/model")
    assert served.backend.name == "onnxruntime" and trained.backend.name != "onnxruntime"
    np.testing.assert_allclose(served.assess_crops(crops), trained.assess_crops(crops), rtol=1e-3, atol=1e-4)
    distances = served.assess_crops(crops)[:, 1]
    assert np.median(distances) <= served.spec.embedding_range.max_distance


def test_calibration_fits_the_method_head_and_evaluate_scores_it_per_method(pipeline_run: Path):
    """The method head learns the train split's fakes of each demo method (every found face of theirs), the
    evaluation counts every test fake video of its methods once in the confusion matrix, and the model card
    names it. (The served ONNX model gives the same method probabilities: assess_crops' columns, above.)"""
    faces = pd.read_csv(pipeline_run / "artifacts/faces.csv")
    manifest = pd.read_csv(pipeline_run / "artifacts/manifest.csv")
    found = faces[faces["found"]].merge(manifest[["item_id", "split", "label", "method"]], on="item_id")
    fakes = found[found["label"] == 1]
    head = json.loads((pipeline_run / "artifacts/train/model/model.json").read_text())["method_head"]
    assert head["train_faces"] == fakes[fakes["split"] == "train"]["method"].value_counts().to_dict()
    assert head["methods"] == sorted(head["train_faces"]) and len(head["methods"]) >= 2
    assert len(head["coef"]) == len(head["methods"]) and head["val_accuracy"] is not None
    evaluated = json.loads((pipeline_run / "artifacts/evaluate/metrics.json").read_text())["method_head"]
    test_fakes = fakes[(fakes["split"] == "test") & fakes["method"].isin(head["methods"])]
    assert evaluated["methods"] == head["methods"] and evaluated["videos"] == test_fakes["item_id"].nunique() > 0
    assert sum(map(sum, evaluated["video_confusion"])) == evaluated["videos"]
    card = (pipeline_run / "artifacts/model/model_card.md").read_text()
    assert "- Manipulation method: a linear probe on the embedding over `" in card


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
    for name in ("resolution", "face size", "JPEG", "blur", "noise", "H.264 CRF"):
        assert f"Robustness - {name}" in plots.stdout
    assert "robustness/plots/crf.png" in plots.stdout
