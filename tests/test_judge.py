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

from deepfake_detector.config import EmbeddingRangeConfig, JudgeConfig
from deepfake_detector.inference import Predictor
from deepfake_detector.judge import REASONS, cannot_judge
from deepfake_detector.media.faces import crop_square, cut_square
from deepfake_detector.media.frames import sample_frames
from deepfake_detector.models.spec import EmbeddingRange

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
    assert result.fake_probability is None
    assert len(result.faces) == 8 and all(f.fake_probability is not None for f in result.faces)  # evidence, each face
    few = judged.predict_path(save(np.hstack([portrait] * 3), tmp_path / "three.png"))
    assert few.verdict in ("fake", "real")  # 3 people in a photo are not a collage


def test_a_face_below_min_face_long_side_px_cannot_be_judged(tiny_model_dir, portrait, tmp_path):
    face_px = Predictor(tiny_model_dir).predict_path(save(portrait, tmp_path / "one.png")).faces[0]
    x1, y1, x2, y2 = face_px.box
    size = max(x2 - x1, y2 - y1)
    strict = Predictor(
        with_rules(tiny_model_dir, tmp_path / "strict", JudgeConfig(min_face_long_side_px=int(size) + 1))
    )
    result = strict.predict_path(tmp_path / "one.png")
    assert result.reason == {
        "code": "face_too_small",
        "message": f"the face is {size:.0f} px, under the "
        f"{int(size) + 1} px the model needs; use a larger or sharper copy",
    }
    lenient = Predictor(
        with_rules(tiny_model_dir, tmp_path / "lenient", JudgeConfig(min_face_long_side_px=int(size) - 1))
    )
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


def test_the_embedding_range_holds_its_quantile_of_the_faces_it_was_fitted_on():
    rng = np.random.default_rng(0)
    embeddings = rng.normal(2.0, rng.uniform(0.5, 3.0, 64), (4000, 64))
    embeddings[:, 0] = 1.0  # a dimension that never varies on validation
    fitted = EmbeddingRange.fit(embeddings, EmbeddingRangeConfig(quantile=0.99))
    assert np.mean(fitted.distance(embeddings) <= fitted.max_distance) == pytest.approx(0.99, abs=0.001)
    assert fitted.distance(embeddings).mean() == pytest.approx(1.0, abs=0.1)  # a typical face: about 1
    fresh = rng.normal(2.0, embeddings[:, 1:].std(axis=0), (1000, 63))
    assert np.mean(fitted.distance(np.column_stack([np.full(1000, 1.02), fresh])) <= fitted.max_distance) > 0.97
    far = embeddings[:5] + 4 * embeddings.std(axis=0)
    assert (fitted.distance(far) > 3 * fitted.max_distance).all()


def sketch(path: Path, out: Path) -> Path:
    """A line drawing of a photo (its edges, black on white): a face MTCNN still finds, unlike any photo."""
    edges = cv2.Canny(cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2GRAY), 50, 150)
    cv2.imwrite(str(out), cv2.cvtColor(255 - edges, cv2.COLOR_GRAY2BGR))
    return out


def face_embeddings(predictor: Predictor, paths: list[Path]) -> np.ndarray:
    """The main face's embedding in each file that has one, found and cut as predict_path does."""
    crops = []
    for path in paths:
        rgb = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
        tracks, _, treated_as = predictor.find_faces([rgb], "image", None)
        if tracks[0][0] is not None:
            square = crop_square(
                rgb.shape, tracks[0][0], predictor.spec.faces.margin, fit_inside=treated_as[0] == "face_crop"
            )
            crops.append(cut_square(rgb, square, predictor.spec.faces.crop_size))
    return predictor.logits_and_embeddings(crops)[1]


def with_range(model_dir: Path, dest: Path, embeddings: np.ndarray) -> Predictor:
    """The model with the judge rules and the range of these embeddings in its model.json, as the pipeline
    writes them (calibration fits the range; the package stage adds the rules)."""
    with_rules(model_dir, dest, RULES)
    spec = json.loads((dest / "model.json").read_text())
    spec["embedding_range"] = EmbeddingRange.fit(embeddings, EmbeddingRangeConfig()).model_dump()
    (dest / "model.json").write_text(json.dumps(spec))
    return Predictor(dest, backend="torch")  # the untrained model's ONNX has no embedding output


def test_a_face_unlike_the_validation_faces_cannot_be_judged(tiny_model_dir, tiny_corpus, portrait, tmp_path):
    """Fitted on demo portraits, the range judges a new portrait and withholds a line drawing of it; fitted on
    line drawings, it judges the drawing: the stored range decides. Scores stay the model's."""
    plain = Predictor(tiny_model_dir, backend="torch")
    others = sorted(tiny_corpus.rglob("*.jpg"))[1:]  # the first is `portrait`, fitted on by neither
    photo = save(portrait, tmp_path / "portrait.png")
    drawing = sketch(photo, tmp_path / "drawing.png")
    photos = with_range(tiny_model_dir, tmp_path / "photos", face_embeddings(plain, others))
    judged, withheld = photos.predict_path(photo), photos.predict_path(drawing)
    limit = photos.spec.embedding_range.max_distance
    assert judged.verdict in ("fake", "real") and judged.faces[0].embedding_distance <= limit, judged
    assert withheld.verdict == "cannot_judge" and withheld.reason["code"] == "out_of_distribution", withheld
    assert withheld.faces[0].embedding_distance > 2 * limit and withheld.fake_probability is None
    assert withheld.reason["message"].startswith("the face is unlike the faces the model was calibrated on")
    assert withheld.faces[0].fake_probability == pytest.approx(plain.predict_path(drawing).faces[0].fake_probability)
    drawings = [sketch(p, tmp_path / f"drawing_{i}.png") for i, p in enumerate(others)]
    assert with_range(tiny_model_dir, tmp_path / "drawings", face_embeddings(plain, drawings)).predict_path(
        drawing
    ).verdict in ("fake", "real")
    off = with_rules(
        tmp_path / "photos", tmp_path / "rule_off", RULES.model_copy(update={"out_of_distribution": False})
    )
    assert Predictor(off, backend="torch").predict_path(drawing).verdict in ("fake", "real")  # the rule, off


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
