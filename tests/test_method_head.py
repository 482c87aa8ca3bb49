"""The manipulation-method head: a linear probe on the frame model's embedding, fitted by calibration on the
train split's fakes (train/calibrate.fit_method_head), stored in model.json, reported by the Predictor for
every judged face, track and file, and evaluated per method on the test fakes (evaluate/metrics)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from test_judge import face_embeddings, save

from deepfake_detector.config import MethodHeadConfig
from deepfake_detector.evaluate.metrics import method_head_metrics
from deepfake_detector.inference import Predictor
from deepfake_detector.models.spec import ONNX_FILE, MethodHead
from deepfake_detector.train.calibrate import fit_method_head, method_accuracy

CFG = MethodHeadConfig()  # params.yaml's values (tests/test_config.py keeps the two equal)


def toy_methods(methods: list[str], per_method: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Embeddings of fakes whose method shifts them each its own way (plus a large shared offset and scale,
    as real embeddings have), in random order."""
    rng = np.random.default_rng(seed)
    centres = np.random.default_rng(99).normal(0, 1.5, (len(methods), 32))
    embeddings = np.vstack([rng.normal(c, 1.0, (per_method, 32)) for c in centres]) * 3 + 10
    names = np.repeat(methods, per_method)
    order = rng.permutation(len(names))
    return embeddings[order], names[order]


@pytest.mark.parametrize("methods", [["faceswap", "reenact", "resynthesis"], ["Deepfakes", "FaceSwap"]])
def test_the_head_tells_toy_methods_apart_with_scikit_learns_probabilities(methods):
    embeddings, names = toy_methods(methods, 200, seed=0)
    head = fit_method_head(embeddings, names, CFG)
    assert head.methods == sorted(methods) and head.train_faces == {m: 200 for m in methods}
    fresh, truth = toy_methods(methods, 100, seed=1)
    assert method_accuracy(head, fresh, truth) > 0.95
    # the standardisation folded into the weights gives scikit-learn's own pipeline's probabilities
    reference = make_pipeline(StandardScaler(), LogisticRegression(C=CFG.regularization, max_iter=2000)).fit(
        embeddings, names
    )
    np.testing.assert_allclose(head.probabilities(fresh), reference.predict_proba(fresh), atol=1e-6)


def test_methods_with_too_few_train_fakes_are_left_out():
    embeddings, names = toy_methods(["faceswap", "reenact", "rare"], 30, seed=0)
    rare = np.flatnonzero(names == "rare")[10:]
    embeddings, names = np.delete(embeddings, rare, axis=0), np.delete(names, rare)  # 10 "rare" fakes
    assert fit_method_head(embeddings, names, CFG.model_copy(update={"min_faces": 20})).methods == [
        "faceswap",
        "reenact",
    ]
    assert fit_method_head(embeddings, names, CFG.model_copy(update={"min_faces": 31})) is None


def test_the_method_metrics_count_each_video_once_by_its_mean_probabilities():
    frames = pd.DataFrame(
        {
            "item_id": ["a", "a", "b", "c", "c", "d"],
            "method": ["faceswap", "faceswap", "faceswap", "reenact", "reenact", "unseen"],
            "p_faceswap": [0.9, 0.4, 0.2, 0.45, 0.7, 0.5],  # "a": mean 0.65, right; "b": wrong; "c": mean 0.575, wrong
        }
    ).assign(p_reenact=lambda f: 1 - f["p_faceswap"])
    metrics = method_head_metrics(frames, {"faceswap": "p_faceswap", "reenact": "p_reenact"})
    assert metrics["frames"] == 5 and metrics["videos"] == 3 and metrics["unknown_methods"] == ["unseen"]
    assert metrics["frame_accuracy"] == pytest.approx(2 / 5) and metrics["video_accuracy"] == pytest.approx(1 / 3)
    assert metrics["video_recall_by_method"] == {"faceswap": 0.5, "reenact": 0.0}
    assert metrics["video_confusion"] == [[1, 1], [1, 0]]


def with_head(model_dir, dest, head: MethodHead, **spec_updates) -> Predictor:
    """A copy of the model with this head in its model.json, as calibration writes it; scored with the
    PyTorch weights (the untrained test model's ONNX has no embedding output, the packaged one does)."""
    shutil.copytree(model_dir, dest, ignore=shutil.ignore_patterns(ONNX_FILE))
    spec = json.loads((dest / "model.json").read_text())
    spec.update(method_head=head.model_dump(), **spec_updates)
    (dest / "model.json").write_text(json.dumps(spec))
    return Predictor(dest)


def portrait_head(predictor: Predictor, image) -> MethodHead:
    """A head over methods "a" and "b" whose logits are (2, 0) on this image's face: "a", 88%."""
    embedding = face_embeddings(predictor, [image])[0]
    direction = (embedding / np.linalg.norm(embedding) ** 2).tolist()  # direction @ embedding == 1
    zero = [0.0] * len(direction)
    return MethodHead(methods=["a", "b"], coef=[direction, zero], intercept=[1.0, 0.0], train_faces={"a": 1, "b": 1})


@pytest.fixture
def image(tiny_corpus, tmp_path):
    import cv2

    path = sorted((tiny_corpus / "real").rglob("*.jpg"))[0]
    return save(cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB), tmp_path / "portrait.png")


def test_the_stored_head_names_the_method_of_every_face_track_and_file(tiny_model_dir, image, tmp_path):
    """A head whose weights point along a portrait's embedding names "a" for it, the same head with its rows
    swapped names "b": the method comes from model.json's head, the fake probability never does."""
    plain = Predictor(tiny_model_dir, backend="torch")
    head = portrait_head(plain, image)
    swapped = head.model_copy(update={"coef": head.coef[::-1], "intercept": head.intercept[::-1]})
    expected = float(1 / (1 + np.exp(-2.0)))  # softmax of logits (2, 0)
    for model, method in ((head, "a"), (swapped, "b")):
        result = with_head(tiny_model_dir, tmp_path / method, model).predict_path(image)
        assert result.manipulation["method"] == method, result
        assert result.manipulation["probability"] == pytest.approx(expected, abs=1e-3)
        assert result.tracks[0].manipulation == result.manipulation
        assert result.faces[0].method_probabilities[method] == pytest.approx(expected, abs=1e-3)
        assert result.fake_probability == pytest.approx(plain.predict_path(image).fake_probability)
    assert (
        plain.predict_path(image).manipulation is None
        and plain.predict_path(image).faces[0].method_probabilities is None
    )


def test_the_cli_names_the_method_of_a_fake_verdict(tiny_model_dir, image, tmp_path):
    from typer.testing import CliRunner

    from deepfake_detector.cli import app

    head = portrait_head(Predictor(tiny_model_dir, backend="torch"), image)
    for threshold, shown in ((0.0, True), (1.0, False)):  # every face fake, then none
        model = with_head(tiny_model_dir, tmp_path / f"t{threshold}", head, threshold=threshold).model_dir
        result = CliRunner().invoke(app, ["predict", "--model", str(model), str(image)])
        assert result.exit_code == 0, result.output
        assert (f"{image}: most likely method a (88%, if it is fake)" in result.output) is shown, result.output
