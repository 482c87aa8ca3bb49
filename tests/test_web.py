"""The in-browser check's files (serving/web.py): MTCNN's networks exported to ONNX give torch's outputs, the
service serves exactly the web model files, and `deepfake web-site` writes a folder a static server can host."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
from test_service import media  # noqa: F401  (fixture: the demo media)

from deepfake_detector.models.spec import ModelSpec
from deepfake_detector.serving.web import WEB_FACTS, WEB_FILES, export_web_files, write_site


@pytest.fixture(scope="session")
def web_model_dir(tiny_model_dir, tmp_path_factory) -> Path:
    """The tiny model with the web model files, as the package stage writes them (its own function). Temperature
    0.02: the untrained model's logits (a few hundredths) then spread its probabilities over (0, 1) instead of
    leaving them all near 0.5, so comparing probabilities within 0.01 also compares the logits closely. The
    page samples as many frames of a video as web.json says: here the model's own frames_per_video (the package
    stage writes serve.frames_per_video), frames whose pixels the video test has checked against the Predictor's."""

    dest = tmp_path_factory.mktemp("web_model") / "model"
    shutil.copytree(tiny_model_dir, dest)
    export_web_files(dest, opset=18, atol=1e-4, frames_per_video=ModelSpec.load(tiny_model_dir).frames_per_video)
    ModelSpec.load(dest).model_copy(update={"temperature": 0.02}).save(dest)
    return dest


def test_the_exported_mtcnn_nets_give_the_torch_nets_outputs_on_a_real_face(web_model_dir, media):  # noqa: F811
    """P-Net on a pyramid level of the demo image, R-Net and O-Net on crops of it, as media/mtcnn.py feeds them."""
    import onnxruntime as ort
    import torch
    from facenet_pytorch import MTCNN

    from deepfake_detector.media.mtcnn import resample_frame, resample_regions

    rgb = cv2.cvtColor(cv2.imread(str(media["image"])), cv2.COLOR_BGR2RGB)
    integral = cv2.integral(rgb, sdepth=cv2.CV_32S)
    h, w = rgb.shape[:2]
    regions = np.array([[0, h, 0, w], [40, 200, 30, 190], [100, 140, 90, 130]])
    inputs = {
        "pnet": resample_frame(integral, 97, 131)[None],
        "rnet": resample_regions(integral, regions, 24),
        "onet": resample_regions(integral, regions, 48),
    }
    reference = MTCNN(keep_all=True, device="cpu")
    for net, batch in inputs.items():
        nchw = np.ascontiguousarray(batch.transpose(0, 3, 1, 2))
        with torch.inference_mode():
            expected = [t.numpy() for t in getattr(reference, net).eval()(torch.from_numpy(nchw))]
        session = ort.InferenceSession(str(web_model_dir / f"{net}.onnx"), providers=["CPUExecutionProvider"])
        got = session.run(None, {"input": nchw})
        assert [g.shape for g in got] == [e.shape for e in expected], net
        for g, e in zip(got, expected, strict=True):
            np.testing.assert_allclose(g, e, atol=1e-5, err_msg=net)


def test_web_facts_are_mtcnns_and_the_scorings_constants(web_model_dir):
    facts = json.loads((web_model_dir / WEB_FACTS).read_text())
    assert facts["detector"]["thresholds"] == [0.6, 0.7, 0.7] and facts["detector"]["factor"] == 0.709
    assert facts["detector"]["nets"]["onet"] == {
        "file": "onet.onnx",
        "outputs": ["reg", "points", "prob"],
        "input_size": 48,
    }
    assert facts["confident"] == {"level": 0.8, "min_share": 0.25}
    assert facts["frames_per_video"] == ModelSpec.load(web_model_dir).frames_per_video  # what export_web_files got


def test_the_web_site_holds_the_page_and_the_web_model(web_model_dir, tmp_path):
    site = write_site(web_model_dir, tmp_path / "site")
    assert sorted(p.name for p in (site / "web_model").iterdir()) == sorted(WEB_FILES)
    assert (site / "index.html").read_text() == (site / "static" / "index.html").read_text()
    assert (site / "static" / "vendor" / "ort-wasm-simd-threaded.wasm").is_file()


def test_the_web_site_of_a_folder_without_web_files_says_which_and_where_to_find_them(tiny_model_dir, tmp_path):
    """`deepfake web-site` on the tiny model (no MTCNN nets): exit 2, the missing files and the fix, no traceback."""
    from typer.testing import CliRunner

    from deepfake_detector.cli import app

    result = CliRunner().invoke(app, ["web-site", str(tmp_path / "site"), "--model", str(tiny_model_dir)])
    assert result.exit_code == 2 and result.exception.__class__ is SystemExit
    assert (
        f"error: {tiny_model_dir}: no web.json, pnet.onnx, rnet.onnx, onet.onnx; point --model at the package "
        "stage's output (artifacts/model)" in result.output
    )
    assert not (tmp_path / "site").exists()


PHONE_LIMIT_BYTES = 20 * 2**20  # the web model a phone downloads (issue 34)


def test_the_web_model_of_the_configured_architecture_fits_a_phone(web_model_dir, tmp_path):
    """params.yaml's backbone, input size and frequency branch, exported as the package stage exports them (the
    size does not depend on the weights), plus MTCNN's three networks: under 20 MB together."""
    from deepfake_detector.config import load_params
    from deepfake_detector.models.export import export_onnx
    from deepfake_detector.models.frequency import build_model
    from deepfake_detector.models.spec import IMAGENET_MEAN, IMAGENET_STD

    train = load_params().train
    model = build_model(
        train.backbone, train.input_size, IMAGENET_MEAN, IMAGENET_STD, frequency_branch=train.frequency_branch
    )
    classifier = export_onnx(model.eval(), train.input_size, tmp_path / "model.onnx")
    detector = sum((web_model_dir / f"{net}.onnx").stat().st_size for net in ("pnet", "rnet", "onet"))
    assert classifier.stat().st_size + detector < PHONE_LIMIT_BYTES
