"""Inputs as users bring them: face crops (`--cropped`, `cropped=true`, or decided from the detection) cut exactly
as training cut crop datasets, and folders or globs walked by `deepfake predict`, results streamed per file."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from deepfake_detector.cli import app
from deepfake_detector.inference import Predictor
from deepfake_detector.media.faces import crop_square, cut_square
from deepfake_detector.media.frames import read_image
from deepfake_detector.prediction import PredictOptions


@pytest.fixture(scope="module")
def predictor(tiny_model_dir) -> Predictor:
    return Predictor(tiny_model_dir)


@pytest.fixture(scope="module")
def portrait(tiny_corpus) -> Path:
    return sorted((tiny_corpus / "real").rglob("*.jpg"))[0]


@pytest.fixture(scope="module")
def dfdc_crops(shared_data) -> list[Path]:
    """Real DFDC face crops, tight around the face, as the dfdc_faces dataset ships them."""
    crops = sorted((shared_data / "dfdc_faces_dev").rglob("*.jpg"))[:3]
    if not crops:
        pytest.skip(f"no DFDC face crops under {shared_data / 'dfdc_faces_dev'}")
    return crops


def training_probability(predictor: Predictor, path: Path) -> float:
    """What training does with a crop dataset's file: detection with faces.already_cropped, then the cut that
    stays inside the image (crop_faces' face_row), scored by the model."""
    rgb = read_image(path)
    [face] = predictor.detector.main_faces([rgb], already_cropped=True)
    faces = predictor.spec.faces
    crop = cut_square(rgb, crop_square(rgb.shape, face, faces.margin, fit_inside=True), faces.crop_size)
    return float(predictor.score_crops([crop])[0])


@pytest.mark.real_data
def test_a_real_face_crop_is_recognised_and_cut_as_training_cut_it(predictor, dfdc_crops):
    for path in dfdc_crops:
        auto, told = predictor.predict_path(path), predictor.predict_path(path, PredictOptions(cropped=True))
        assert auto.treated_as == "face_crop" and auto.treated_as_because.startswith("the face fills the image")
        assert told.treated_as == "face_crop" and told.treated_as_because == "cropped=true was given"
        expected = training_probability(predictor, path)
        assert auto.faces[0].fake_probability == pytest.approx(expected, abs=1e-6)
        assert told.faces[0].fake_probability == pytest.approx(expected, abs=1e-6)
        scene = predictor.predict_path(
            path, PredictOptions(cropped=False)
        )  # as a photo: MTCNN's box, a black border around it
        assert scene.treated_as == "scene" and scene.faces[0].fake_probability != pytest.approx(expected, abs=1e-6)


def test_a_photo_with_room_around_the_face_is_a_scene(predictor, portrait, tmp_path):
    rgb = read_image(portrait)
    canvas = np.full((rgb.shape[0] * 3, rgb.shape[1] * 3, 3), 200, np.uint8)
    canvas[rgb.shape[0] : 2 * rgb.shape[0], rgb.shape[1] : 2 * rgb.shape[1]] = rgb
    path = tmp_path / "room.png"
    cv2.imwrite(str(path), cv2.cvtColor(canvas, cv2.COLOR_RGB2BGR))
    result = predictor.predict_path(path)
    assert result.treated_as == "scene" and result.treated_as_because == "the face is a part of the image"
    assert result.verdict in ("fake", "real")


def test_predict_walks_folders_and_globs_and_streams_json_lines(tiny_model_dir, portrait, tmp_path):
    folder = tmp_path / "inbox"
    (folder / "nested").mkdir(parents=True)
    for name in ("b.jpg", "a.jpg", "nested/c.jpg"):
        (folder / name).write_bytes(portrait.read_bytes())
    (folder / "notes.txt").write_text("not media: a folder walk skips it")
    result = CliRunner().invoke(
        app, ["predict", "--model", str(tiny_model_dir), "--json", str(folder), str(folder / "nested" / "*.jpg")]
    )
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [Path(r["path"]).relative_to(folder).as_posix() for r in rows] == [
        "a.jpg",
        "b.jpg",
        "nested/c.jpg",
        "nested/c.jpg",
    ]
    assert all(r["verdict"] in ("fake", "real") for r in rows)
    assert "predict: 100%" in result.stderr and "4/4" in result.stderr  # the progress bar, on stderr only
    empty = CliRunner().invoke(app, ["predict", "--model", str(tiny_model_dir), str(tmp_path / "nothing" / "*.png")])
    assert empty.exit_code == 2 and "no images or videos in" in empty.stderr


def test_the_cli_takes_cropped_and_not_cropped(tiny_model_dir, portrait):
    for flag, kind in (("--cropped", "face_crop"), ("--not-cropped", "scene")):
        result = CliRunner().invoke(app, ["predict", "--model", str(tiny_model_dir), "--json", flag, str(portrait)])
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout)["treated_as"] == kind
