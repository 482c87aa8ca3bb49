"""Heatmaps (explain.py): where the model looked, through the Predictor, the CLI and on real faces."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from deepfake_detector.cli import app
from deepfake_detector.config import ExplainConfig
from deepfake_detector.explain import heatmap_png, heatmap_rgba, occlusion_maps, overlay
from deepfake_detector.inference import Predictor
from deepfake_detector.media.frames import read_image
from deepfake_detector.prediction import PredictOptions
from deepfake_detector.train.self_blend import self_blend

SIDE = 128


@pytest.fixture(scope="module")
def real_face_file(shared_data: Path) -> Path:
    """A real DFDC face crop."""
    crops = sorted((shared_data / "dfdc_faces_dev").rglob("*.jpg"))
    if not crops:
        pytest.skip(f"no DFDC face crops under {shared_data / 'dfdc_faces_dev'}")
    return crops[0]


def centre_of_heat(heat: np.ndarray) -> np.ndarray:
    ys, xs = np.mgrid[: heat.shape[0], : heat.shape[1]]
    return np.array([(heat * xs).sum(), (heat * ys).sum()]) / heat.sum()


@pytest.mark.real_data
def test_the_heat_is_where_the_blend_is_and_moves_with_it(real_face_file: Path) -> None:
    """A self-blended face with a known mask, explained for a detector of exactly that blend: a "model" whose
    fake logit is how far the visible (not occluded) pixels are from the pristine face. Its heat must sit
    inside the blended region, and follow it when the blend moves from the upper left to the lower right."""
    pristine = cv2.resize(read_image(real_face_file), (SIDE, SIDE), interpolation=cv2.INTER_AREA)
    pristine_input = pristine.transpose(2, 0, 1)[None].astype(np.float32) / 255

    def blend_detector(batch: np.ndarray) -> np.ndarray:  # occlusion paints 0 (the baseline): hidden, no evidence
        visible = (batch != 0).all(axis=1, keepdims=True)
        return ((batch - pristine_input) ** 2 * visible).mean(axis=(1, 2, 3)) * 1e3

    centres = []
    for cx, cy in ((0.3, 0.3), (0.7, 0.7)):  # the 5 landmarks of a small face around (cx, cy), in pixels
        landmarks = (
            np.array(
                [
                    [cx - 0.08, cy - 0.06],
                    [cx + 0.08, cy - 0.06],
                    [cx, cy],
                    [cx - 0.06, cy + 0.07],
                    [cx + 0.06, cy + 0.07],
                ]
            )
            * SIDE
        )
        fake = self_blend(pristine, landmarks, np.random.default_rng(0)).image
        blended = (fake != pristine).any(axis=2)  # the known mask: every pixel the blend changed
        heat = occlusion_maps(blend_detector, fake.transpose(2, 0, 1)[None].astype(np.float32) / 255, ExplainConfig())[
            0
        ]
        assert heat.shape == (SIDE, SIDE) and heat.max() == pytest.approx(1.0) and heat.std() > 0.1
        centre = centre_of_heat(heat)
        assert blended[int(centre[1]), int(centre[0])], f"heat centred at {centre}, outside the blended region"
        assert heat[blended].mean() > 3 * heat[~blended].mean()
        centres.append(centre)
    assert np.linalg.norm(centres[1] - centres[0]) > 0.3 * SIDE


def test_heatmap_png_round_trip() -> None:
    heat = np.linspace(0, 1, 64 * 64, dtype=np.float32).reshape(64, 64)
    rgba = heatmap_rgba(heatmap_png(heat, opacity=0.5))
    assert rgba.shape == (64, 64, 4)
    assert rgba[0, 0, 3] == 0 and rgba[-1, -1, 3] == 128  # alpha = opacity x heat
    assert rgba[-1, -1, 0] > 100 and rgba[-1, -1, 2] < 50  # hot is red in the jet colour map
    image = np.full((100, 200, 3), 50, np.uint8)
    drawn = overlay(image, heatmap_png(heat, 1.0), [150, 60, 230, 140])  # a square leaving the image
    assert (drawn[:, :150] == 50).all() and (drawn[:60] == 50).all()  # untouched outside the square
    assert (drawn[95, 195] != 50).any()  # drawn inside it, clipped at the border


@pytest.mark.real_data
def test_predictor_explains_a_real_face(tiny_model_dir: Path, real_face_file: Path) -> None:
    predictor = Predictor(tiny_model_dir)
    plain = predictor.predict_path(real_face_file, PredictOptions(cropped=True))
    explained = predictor.predict_path(real_face_file, PredictOptions(cropped=True, explain=True))
    assert plain.faces and plain.faces[0].heatmap is None and "explain" not in plain.timings_ms
    face = explained.faces[0]
    assert face.fake_probability == plain.faces[0].fake_probability  # explaining never changes the score
    rgba = heatmap_rgba(face.heatmap)
    assert rgba.shape == (predictor.spec.input_size, predictor.spec.input_size, 4)
    assert rgba[..., 3].max() == round(255 * ExplainConfig().opacity) and rgba[..., 3].std() > 5  # not constant
    x1, y1, x2, y2 = face.crop_box  # the square the model saw: for a face crop, inside the image
    h, w = read_image(real_face_file).shape[:2]
    assert x2 - x1 == y2 - y1 and 0 <= x1 and 0 <= y1 and x2 <= w and y2 <= h
    assert explained.timings_ms["explain"] > 0


@pytest.mark.real_data
def test_cli_saves_overlays_and_the_json_carries_heatmaps(
    tiny_model_dir: Path, real_face_file: Path, tiny_corpus: Path, tmp_path: Path
) -> None:
    video = tiny_corpus / "real" / "videos" / "id00_vid00.mp4"
    out = tmp_path / "heatmaps"
    result = CliRunner().invoke(
        app,
        ["predict", str(real_face_file), str(video), "--model", str(tiny_model_dir), "--json", "--explain", str(out)],
    )
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert all(face["heatmap"] for line in lines for face in line["faces"])
    image_faces, video_faces = (len(line["faces"]) for line in lines)
    written = sorted(p.name for p in out.glob("*.png"))
    assert len(written) == image_faces + video_faces and video_faces >= 2
    assert sum("_frame" in name for name in written) == video_faces  # one per scored frame of the video
    image_overlay = cv2.imread(str(out / next(n for n in written if n.startswith(real_face_file.stem))))
    assert image_overlay.shape[:2] == read_image(real_face_file).shape[:2]  # drawn on the whole source image
    assert not np.array_equal(image_overlay[..., ::-1], read_image(real_face_file))
    refused = CliRunner().invoke(
        app,
        ["predict", str(video), "--model", str(tiny_model_dir), "--explain", str(out), "--out", str(tmp_path / "rows")],
    )
    assert refused.exit_code == 2 and "--explain" in refused.output
