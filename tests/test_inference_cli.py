"""Predictor (ONNX and torch backends, every error path) and the `deepfake` CLI, on real files."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from deepfake_detector.cli import app
from deepfake_detector.demo.face import Expression, Pose, sample_identity, sample_scene
from deepfake_detector.demo.render import render_face
from deepfake_detector.inference import Predictor
from deepfake_detector.media.faces import CropSquare, cut_square
from deepfake_detector.media.frames import MediaError, MediaTooLarge, read_image, uniform_indices
from deepfake_detector.prediction import PredictOptions

KEYS = {"path", "media", "fake_probability", "verdict", "reason", "faces", "error"}


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory, tiny_corpus: Path) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("media")
    rng = np.random.default_rng(3)
    face, _ = render_face(sample_identity(rng), Pose(), Expression(), sample_scene(rng), 256, 3)
    cv2.imwrite(str(out / "face.jpg"), face)
    gradient = np.tile(np.linspace(0, 255, 240, dtype=np.uint8)[None, :, None], (180, 1, 3))
    cv2.imwrite(str(out / "gradient.png"), gradient)
    (out / "corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0 definitely not the rest of a jpeg" * 20)
    (out / "notes.txt").write_text("hello")
    return {
        "face": out / "face.jpg",
        "video": tiny_corpus / "real" / "videos" / "id00_vid00.mp4",
        "gradient": out / "gradient.png",
        "corrupt": out / "corrupt.jpg",
        "text": out / "notes.txt",
        "missing": out / "missing.jpg",
    }


@pytest.fixture(scope="module")
def predictor(tiny_model_dir: Path) -> Predictor:
    return Predictor(tiny_model_dir)


def test_auto_backend_prefers_onnx(predictor: Predictor) -> None:
    assert predictor.backend.name == "onnxruntime"


def test_onnx_and_torch_agree(tiny_model_dir: Path, predictor: Predictor, media: dict[str, Path]) -> None:
    torch_predictor = Predictor(tiny_model_dir, backend="torch")
    assert torch_predictor.backend.name == "torch"
    torch_predictor._detector = predictor.detector  # same MTCNN either way; only the classifier differs
    a, b = predictor.predict_path(media["face"]), torch_predictor.predict_path(media["face"])
    assert a.error is None and b.error is None
    assert a.fake_probability == pytest.approx(b.fake_probability, abs=1e-4)
    crops = [np.random.default_rng(s).integers(0, 256, (128, 128, 3), dtype=np.uint8) for s in range(4)]
    np.testing.assert_allclose(predictor.score_crops(crops), torch_predictor.score_crops(crops), atol=1e-4)


def test_missing_backend_file(tiny_model_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "model.json").write_text((tiny_model_dir / "model.json").read_text())
    with pytest.raises(FileNotFoundError, match="no model.onnx or model.pt for backend 'torch'"):
        Predictor(tmp_path, backend="torch")
    with pytest.raises(FileNotFoundError, match="no model.json"):
        Predictor(tmp_path / "nowhere")


def test_predict_image(predictor: Predictor, media: dict[str, Path]) -> None:
    result = predictor.predict_path(media["face"])
    assert result.error is None
    assert result.media == "image" and result.frames == 1
    assert result.verdict == ("fake" if result.fake_probability >= result.threshold else "real")
    assert len(result.faces) == 1
    face = result.faces[0]
    # the model's calibrated score of the square the result says it saw, cut as crop_faces cuts training crops
    x1, y1, x2, _ = face.crop_box
    crop = cut_square(read_image(media["face"]), CropSquare(x1, y1, x2 - x1), predictor.spec.faces.crop_size)
    assert result.fake_probability == pytest.approx(float(predictor.score_crops([crop])[0]), abs=1e-6)
    assert face.frame_idx == 0 and face.detection_prob >= 0.9
    assert face.fake_probability == pytest.approx(result.fake_probability)
    assert 0 <= face.box[0] < face.box[2] <= 256 and 0 <= face.box[1] < face.box[3] <= 256
    assert result.model_version == "test"
    assert {"decode", "detect", "classify"} <= set(result.timings_ms)
    assert predictor.predict_path(media["face"]).fake_probability == result.fake_probability  # deterministic


def test_predict_video(predictor: Predictor, media: dict[str, Path]) -> None:
    result = predictor.predict_path(media["video"])
    assert result.error is None
    assert result.media == "video"
    assert result.frames == 4  # the model's frames_per_video
    assert [f.frame_idx for f in result.faces] == uniform_indices(8, 4)
    assert result.fake_probability == pytest.approx(np.mean([f.fake_probability for f in result.faces]))
    assert result.faces[1].t == pytest.approx(3 / 12, abs=1e-3)  # the corpus is 12 fps
    override = predictor.predict_path(media["video"], PredictOptions(frames_per_video=2))
    assert override.frames == 2


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("corrupt", "not a readable image"),
        ("text", "unsupported file type '.txt'"),
        ("missing", "file not found"),
    ],
)
def test_predict_bad_inputs_report_errors(
    predictor: Predictor, media: dict[str, Path], name: str, message: str
) -> None:
    result = predictor.predict_path(media[name])  # never raises
    assert result.error is not None and message in result.error
    assert str(media[name]) in result.error
    assert result.fake_probability is None and result.verdict is None and result.faces == []
    assert result.path == str(media[name])


def test_predict_image_without_a_face(predictor: Predictor, media: dict[str, Path]) -> None:
    """Not an error (the file is fine) but a verdict withheld, with the reason's code and sentence."""
    result = predictor.predict_path(media["gradient"])
    assert result.error is None and result.verdict == "cannot_judge"
    assert result.reason == {
        "code": "no_face",
        "message": "no face found in 1 frame(s); use a file where a face is clearly visible",
    }
    assert result.media == "image" and result.frames == 1
    assert result.fake_probability is None and result.faces == []


def test_predict_respects_max_pixels(predictor: Predictor, media: dict[str, Path]) -> None:
    result = predictor.predict_path(media["face"], PredictOptions(max_pixels=100 * 100))
    assert result.error is not None and "over the limit of 10000" in result.error
    with pytest.raises(MediaTooLarge, match="over the limit of 10000") as raised:  # the type the service maps to 413
        predictor.predict_path_or_raise(media["face"], PredictOptions(max_pixels=100 * 100))
    assert str(raised.value) == result.error
    with pytest.raises(MediaError, match="not a readable image") as raised:
        predictor.predict_path_or_raise(media["corrupt"])
    assert type(raised.value) is MediaError


# ------------------------------------------------------------------------------------------------- CLI


def _json_lines(output: str) -> list[dict]:
    return [json.loads(line) for line in output.splitlines() if line.strip()]


def test_cli_predict_json(tiny_model_dir: Path, media: dict[str, Path]) -> None:
    inputs = [media["face"], media["video"], media["corrupt"], media["text"], media["gradient"]]
    result = CliRunner().invoke(app, ["predict", "--model", str(tiny_model_dir), "--json", *map(str, inputs)])
    assert result.exit_code == 0, result.output
    rows = _json_lines(result.stdout)  # stdout holds only the JSON lines
    assert len(rows) == len(inputs)
    assert [r["path"] for r in rows] == [str(p) for p in inputs]
    for row in rows:
        assert KEYS <= set(row)
    face, video, corrupt, text, gradient = rows
    assert face["media"] == "image" and face["error"] is None and face["verdict"] in ("real", "fake")
    assert len(face["faces"]) == 1  # the CLI prints what the Predictor gives
    assert face["fake_probability"] == Predictor(tiny_model_dir).predict_path(media["face"]).fake_probability
    assert video["media"] == "video" and video["error"] is None and len(video["faces"]) == 4
    assert "not a readable image" in corrupt["error"] and corrupt["fake_probability"] is None
    assert "unsupported file type" in text["error"]
    assert gradient["verdict"] == "cannot_judge" and gradient["reason"]["code"] == "no_face"
    assert gradient["error"] is None and gradient["fake_probability"] is None
    assert face["reason"] is None


def test_cli_predict_text_output(tiny_model_dir: Path, media: dict[str, Path]) -> None:
    result = CliRunner().invoke(
        app, ["predict", "--model", str(tiny_model_dir), str(media["face"]), str(media["missing"])]
    )
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 2
    expected = Predictor(tiny_model_dir).predict_path(media["face"])  # the CLI prints the verdict by its name
    assert lines[0].startswith(
        f"{media['face']}: {expected.verdict.upper()} (fake probability {expected.fake_probability:.3f}, "
    )
    assert lines[1].startswith(f"{media['missing']}: ERROR ") and "file not found" in lines[1]


def test_cli_predict_all_failed_exits_1(tiny_model_dir: Path, media: dict[str, Path]) -> None:
    result = CliRunner().invoke(
        app, ["predict", "--model", str(tiny_model_dir), "--json", str(media["missing"]), str(media["corrupt"])]
    )
    assert result.exit_code == 1
    rows = _json_lines(result.stdout)
    assert len(rows) == 2 and all(r["error"] for r in rows)


def test_cli_predict_bad_model_dir_exits_2(tmp_path: Path, media: dict[str, Path]) -> None:
    result = CliRunner().invoke(app, ["predict", "--model", str(tmp_path), str(media["face"])])
    assert result.exit_code == 2
    assert "error:" in result.stderr and "no model.json" in result.stderr


def _commands(group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = []
    for name, command in group.commands.items():
        found.append((*prefix, name))
        if hasattr(command, "commands"):  # a sub-group
            found += _commands(command, (*prefix, name))
    return found


def test_help_for_every_command() -> None:
    commands = _commands(typer.main.get_command(app))
    assert {("demo-data",), ("predict",), ("data",), ("data", "index"), ("serve",)} <= set(commands)
    runner = CliRunner()
    top = runner.invoke(app, ["--help"])
    assert top.exit_code == 0 and "Usage" in top.stdout
    for command in commands:
        result = runner.invoke(app, [*command, "--help"])
        assert result.exit_code == 0, (command, result.output)
        assert "Usage" in result.stdout and command[-1] in result.stdout


def test_cli_data_index_demo(tiny_corpus: Path) -> None:
    result = CliRunner().invoke(app, ["data", "index", str(tiny_corpus), "--adapter", "demo"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["items"] == 24 and summary["adapter"] == "demo" and summary["groups"] == 2
    assert summary["by_label"] == {"real": 12, "fake": 12}
    assert summary["by_method"] == {"real": 12, "faceswap": 3, "reenact": 3, "resynthesis": 3, "selfblend": 3}
    assert summary["by_media"] == {"image": 16, "video": 8}
    assert sum(summary["by_split"].values()) == 24 and set(summary["by_split"]) <= {"train", "val", "test"}


@pytest.mark.parametrize(
    ("adapter", "message"),
    [
        ("ffpp", "is not in the 'ffpp' layout"),
        ("demo", "expected real/ and fake/ folders, or labels.csv"),
        ("nonsense", "unknown adapter 'nonsense'"),
    ],
)
def test_cli_data_index_wrong_layout_exits_2(tmp_path: Path, adapter: str, message: str) -> None:
    (tmp_path / "videos").mkdir()
    result = CliRunner().invoke(app, ["data", "index", str(tmp_path), "--adapter", adapter])
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("error: ") and message in result.stderr
    assert result.stdout == ""


def test_cli_demo_data(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    result = CliRunner().invoke(app, ["demo-data", str(out), "--identities", "4", "--seed", "2"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout[result.stdout.index("{") :])
    assert summary["seed"] == 2
    assert summary["files"] == summary["real"] + summary["fake"] == 4 * (4 + 1) * 2
    assert (out / "labels.csv").is_file() and (out / "README.md").is_file()
    assert len(list(out.rglob("*.mp4"))) == summary["videos"] == 8


def test_logs_go_to_stderr_not_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    """`predict --json` sets up logging; a log line on stdout would break one-JSON-object-per-line."""
    import logging

    from deepfake_detector.logs import setup_logging

    setup_logging()
    logging.getLogger("deepfake_detector.test").info("a log line")
    captured = capsys.readouterr()
    assert "a log line" in captured.err
    assert captured.out == ""
