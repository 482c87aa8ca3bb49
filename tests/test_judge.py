"""The "cannot judge" verdict with its reason: each rule of params.yaml's judge section on real faces
(the demo corpus and an FF++ video of ../shared/data), through the Predictor behind the CLI and the service.
The packaged model carries the rules; the trained model (evaluate, robustness) judges every file with a face."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from deepfake_detector.config import JudgeConfig
from deepfake_detector.inference import Predictor
from deepfake_detector.judge import REASONS, cannot_judge
from deepfake_detector.media.frames import sample_frames

RULES = JudgeConfig()  # params.yaml's values (tests/test_config.py keeps the two equal)


def with_rules(model_dir: Path, dest: Path, rules: JudgeConfig | None) -> Path:
    """A copy of a model folder whose model.json carries these judge rules, as the package stage writes them."""
    shutil.copytree(model_dir, dest)
    spec = json.loads((dest / "model.json").read_text())
    spec["judge"] = rules.model_dump() if rules else None
    (dest / "model.json").write_text(json.dumps(spec))
    return dest


@pytest.fixture(scope="module")
def portrait(tiny_corpus) -> np.ndarray:
    """A rendered demo portrait (RGB) with one face MTCNN finds."""
    path = sorted((tiny_corpus / "real").rglob("*.jpg"))[0]
    return cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)


@pytest.fixture(scope="module")
def judged(tiny_model_dir, tmp_path_factory) -> Predictor:
    return Predictor(with_rules(tiny_model_dir, tmp_path_factory.mktemp("judged") / "model", RULES))


def save(rgb: np.ndarray, path: Path) -> Path:
    cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    return path


def test_a_portrait_is_judged(judged, portrait, tmp_path):
    result = judged.predict_path(save(portrait, tmp_path / "one.png"))
    assert result.verdict in ("fake", "real") and result.reason is None and result.fake_probability is not None


def test_a_collage_of_many_faces_cannot_be_judged(judged, portrait, tmp_path):
    collage = np.vstack([np.hstack([portrait] * 4)] * 2)  # 8 faces, more than judge.max_faces (6)
    result = judged.predict_path(save(collage, tmp_path / "collage.png"))
    assert result.verdict == "cannot_judge" and result.reason["code"] == "many_faces", result
    assert result.reason["message"].startswith("8 faces in one image")
    assert result.fake_probability is None and result.label is None
    assert len(result.faces) == 8 and all(f.fake_probability is not None for f in result.faces)  # evidence, each face
    few = judged.predict_path(save(np.hstack([portrait] * 3), tmp_path / "three.png"))
    assert few.verdict in ("fake", "real")  # 3 people in a photo are not a collage


def test_a_face_below_min_face_px_cannot_be_judged(tiny_model_dir, portrait, tmp_path):
    face_px = Predictor(tiny_model_dir).predict_path(save(portrait, tmp_path / "one.png")).faces[0]
    x1, y1, x2, y2 = face_px.box
    size = max(x2 - x1, y2 - y1)
    strict = Predictor(with_rules(tiny_model_dir, tmp_path / "strict", JudgeConfig(min_face_px=int(size) + 1)))
    result = strict.predict_path(tmp_path / "one.png")
    assert result.reason == {"code": "face_too_small", "message": f"the face is {size:.0f} px, under the "
                             f"{int(size) + 1} px the model needs; use a larger or sharper copy"}
    lenient = Predictor(with_rules(tiny_model_dir, tmp_path / "lenient", JudgeConfig(min_face_px=int(size) - 1)))
    assert lenient.predict_path(tmp_path / "one.png").verdict in ("fake", "real")


def write_video(frames: list[np.ndarray], path: Path) -> Path:
    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 8, (w, h))
    for frame in frames:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()
    return path


def test_a_video_where_the_face_is_mostly_absent_cannot_be_judged(judged, portrait, tmp_path):
    """The tiny model samples 4 of the 8 frames (1, 3, 5, 7): a face in frames 0-1 only is 1 of 4, under 50%."""
    empty = np.full_like(portrait, 128)
    mostly_empty = write_video([portrait] * 2 + [empty] * 6, tmp_path / "gone.mp4")
    result = judged.predict_path(mostly_empty)
    assert result.reason["code"] == "too_few_face_frames" and result.frames == 4 and len(result.faces) == 1
    assert result.reason["message"].startswith("a face is in only 1 of 4 sampled frames (fewer than 50%)")
    steady = judged.predict_path(write_video([portrait] * 6 + [empty] * 2, tmp_path / "stays.mp4"))
    assert steady.verdict in ("fake", "real") and len(steady.faces) == 3


def test_the_trained_model_without_rules_judges_every_file_with_a_face(tiny_model_dir, portrait, tmp_path):
    """evaluate and robustness score through the trained model.json (no judge section): only 'no face' stops them."""
    collage = np.vstack([np.hstack([portrait] * 4)] * 2)
    assert Predictor(tiny_model_dir).predict_path(save(collage, tmp_path / "c.png")).verdict in ("fake", "real")
    assert cannot_judge(None, "image", 1, []).code == "no_face"


def test_every_reason_code_is_documented():
    docs = (Path(__file__).resolve().parents[1] / "docs" / "serving.md").read_text()
    assert all(f"`{code}`" in docs for code in REASONS)


@pytest.mark.real_data
def test_reasons_on_a_real_ffpp_video(judged, shared_data, tmp_path):
    """A real FaceForensics++ c23 video: judged as it is; a 3x3 grid of its frames is a collage."""
    video = shared_data / "ffpp_c23_dev/original_sequences/youtube/c23/videos/980.mp4"
    if not video.is_file():
        pytest.skip(f"{video} not in the real-data sample")
    result = judged.predict_path(video)
    assert result.verdict in ("fake", "real") and len(result.faces) == result.frames, result
    frame = cv2.resize(sample_frames(video, 1)[0].rgb, None, fx=0.5, fy=0.5)
    grid = np.vstack([np.hstack([frame] * 3)] * 3)
    collage = judged.predict_path(save(grid, tmp_path / "grid.png"))
    assert collage.reason["code"] == "many_faces" and collage.reason["message"].startswith("9 faces"), collage
