"""Evidence frames (evidence.py): a video's frames behind each judged person's verdict, as JPEGs with the face
box, through the Predictor and `deepfake predict --frames DIR` (the API: test_service.py; the page:
test_browser.py)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from test_service import CONFIG, media  # noqa: F401  (fixture: the demo media)
from typer.testing import CliRunner

from deepfake_detector.cli import app
from deepfake_detector.config import EvidenceConfig, ExplainConfig
from deepfake_detector.evidence import FAKE_RGB, REAL_RGB, pick
from deepfake_detector.inference import Predictor
from deepfake_detector.prediction import PredictOptions

SMALL = EvidenceConfig(max_side=160, jpeg_quality=80, box_px=2)  # under the demo's 256 px: the frame shrinks
JPEG_TOLERANCE = 25  # per channel: JPEG's chroma subsampling blurs a 2 px line into its neighbours


@pytest.fixture(scope="module")
def predictor(tiny_model_dir: Path) -> Predictor:
    predictor = Predictor(tiny_model_dir)
    predictor.spec = predictor.spec.model_copy(update={"explain": ExplainConfig(evidence=SMALL)})
    return predictor


@pytest.fixture(scope="module")
def every_frame(predictor, media):  # noqa: F811
    return predictor.predict_path(
        media["video"], PredictOptions(frames_per_video=CONFIG.frames_per_video, evidence="all")
    )


def decode(jpeg: str) -> np.ndarray:
    return cv2.cvtColor(
        cv2.imdecode(np.frombuffer(base64.b64decode(jpeg), np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB
    )


def test_pick_takes_the_highest_and_the_lower_median_in_frame_order() -> None:
    assert pick([0.2, 0.9, 0.5, 0.9], "key") == [(1, "highest"), (2, "median")]  # the first of equal highs
    assert pick([0.2, 0.9, 0.5, 0.9], "all") == [(0, "sampled"), (1, "highest"), (2, "median"), (3, "sampled")]
    assert pick([0.7, 0.1, 0.4], "key") == [(0, "highest"), (2, "median")]
    assert pick([0.3], "key") == [(0, "highest")]  # seen once: one frame
    assert pick([0.2, 0.9], "none") == [] and pick([], "key") == []


def test_key_frames_are_each_judged_persons_highest_and_median_frame(predictor, media):  # noqa: F811
    result = predictor.predict_path(
        media["video"], PredictOptions(frames_per_video=CONFIG.frames_per_video, evidence="key")
    )
    judged = [t.track for t in result.tracks if t.verdict in ("fake", "real")]
    assert judged == [0] and result.timings_ms["evidence"] > 0
    faces = [f for f in result.faces if f.track == 0]
    ranked = sorted(faces, key=lambda f: f.fake_probability)
    highest, median = max(faces, key=lambda f: f.fake_probability), ranked[(len(ranked) - 1) // 2]
    by_role = {e.role: e for e in result.evidence_frames}
    assert len(result.evidence_frames) == 2 and set(by_role) == {"highest", "median"}
    for role, face in (("highest", highest), ("median", median)):
        e = by_role[role]
        assert (e.track, e.frame_idx, e.t, e.box, e.fake_probability) == (
            face.track,
            face.frame_idx,
            face.t,
            face.box,
            face.fake_probability,
        )


def test_all_gives_every_scored_frame_and_no_score_changes(predictor, media, every_frame):  # noqa: F811
    plain = predictor.predict_path(media["video"], PredictOptions(frames_per_video=CONFIG.frames_per_video))
    assert plain.evidence_frames == [] and "evidence" not in plain.timings_ms
    assert [(e.track, e.frame_idx) for e in every_frame.evidence_frames] == [
        (f.track, f.frame_idx) for f in plain.faces
    ]
    assert len(every_frame.evidence_frames) == CONFIG.frames_per_video
    assert [e.role for e in every_frame.evidence_frames].count("sampled") == CONFIG.frames_per_video - 2
    # bit-identical: the pictures are drawn after scoring
    assert every_frame.fake_probability == plain.fake_probability
    assert [f.fake_probability for f in every_frame.faces] == [f.fake_probability for f in plain.faces]
    assert every_frame.tracks == plain.tracks and every_frame.faces == plain.faces


def test_each_jpeg_has_the_configured_size_and_the_box_where_it_is_reported(predictor, every_frame):
    for e in every_frame.evidence_frames:
        image = decode(e.jpeg)
        assert image.shape == (SMALL.max_side, SMALL.max_side, 3) == (e.height, e.width, 3)  # from 256 x 256
        assert e.scale == SMALL.max_side / 256
        colour = np.array(FAKE_RGB if e.fake_probability >= predictor.spec.threshold else REAL_RGB)
        x1, y1, x2, y2 = (round(v * e.scale) for v in e.box)
        edges = {
            "top": image[y1, x1 : x2 + 1],
            "bottom": image[y2, x1 : x2 + 1],
            "left": image[y1 : y2 + 1, x1],
            "right": image[y1 : y2 + 1, x2],
        }
        for name, line in edges.items():
            assert np.abs(np.median(line, axis=0) - colour).max() <= JPEG_TOLERANCE, (name, e.frame_idx)
        outside = image[y1 - 4, x1 : x2 + 1]  # a few px above the box: the face's surroundings, not the line
        assert np.abs(np.median(outside, axis=0) - colour).max() > JPEG_TOLERANCE


def test_images_have_no_evidence_frames(predictor, media):  # noqa: F811
    """An image is its own evidence: the page and the CLI show the file itself."""
    assert predictor.predict_path(media["image"], PredictOptions(evidence="all")).evidence_frames == []


def test_cli_frames_writes_the_jpegs_and_the_json_names_them(tiny_model_dir, media, tmp_path):  # noqa: F811
    out = tmp_path / "frames"
    run = CliRunner().invoke(
        app, ["predict", str(media["video"]), "--model", str(tiny_model_dir), "--json", "--frames", str(out)]
    )
    assert run.exit_code == 0, run.output
    result = json.loads(run.stdout.strip().splitlines()[-1])
    frames = result["evidence_frames"]
    assert [f["frame_idx"] for f in frames] == sorted(f["frame_idx"] for f in frames)  # in frame order
    assert len(frames) == 2 and {f["role"] for f in frames} == {"highest", "median"}
    assert sorted(p.name for p in out.iterdir()) == sorted(Path(f["file"]).name for f in frames)
    for f in frames:
        name = Path(f["file"]).name
        assert f["jpeg"] is None and Path(f["file"]).parent == out
        assert name.startswith(f"{media['video'].stem}-") and name.endswith(
            f"_person{f['track']}_frame{f['frame_idx']}_fake{f['fake_probability']:.3f}.jpg"
        )
        assert decode(base64.b64encode(Path(f["file"]).read_bytes())).shape[:2] == (f["height"], f["width"])
    every = CliRunner().invoke(
        app,
        [
            "predict",
            str(media["video"]),
            "--model",
            str(tiny_model_dir),
            "--frames",
            str(tmp_path / "all"),
            "--all-frames",
        ],
    )
    assert every.exit_code == 0 and f"evidence frame(s) in {tmp_path / 'all'}" in every.output, every.output
    assert len(list((tmp_path / "all").iterdir())) == len(result["faces"])


def test_cli_frames_refusals(tiny_model_dir, media, tmp_path):  # noqa: F811
    alone = CliRunner().invoke(app, ["predict", str(media["video"]), "--model", str(tiny_model_dir), "--all-frames"])
    assert alone.exit_code == 2 and "add --frames FOLDER" in alone.output
    parquet = CliRunner().invoke(
        app,
        [
            "predict",
            str(media["video"]),
            "--model",
            str(tiny_model_dir),
            "--frames",
            str(tmp_path / "f"),
            "--out",
            str(tmp_path / "o"),
        ],
    )
    assert parquet.exit_code == 2 and "leave out --out" in parquet.output
