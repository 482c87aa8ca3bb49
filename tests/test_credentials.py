"""Content credentials (C2PA): read, validated and reported beside the verdict, never part of the score.

Files are signed here with a throwaway signer (c2pa_signing.py): a portrait a generator claims to have made,
one a camera claims to have captured, one changed after signing, and a video."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from c2pa_signing import CAMERA_SOURCE, SIGNER_NAME, SIGNER_ORG, sign
from test_service import media  # noqa: F401  (fixture: the demo media)
from typer.testing import CliRunner

from deepfake_detector.cli import app
from deepfake_detector.inference import Predictor
from deepfake_detector.media.credentials import read_credentials

SIGNER = f"{SIGNER_ORG} / {SIGNER_NAME}"


@pytest.fixture(scope="module")
def signed(media, tmp_path_factory) -> dict[str, Path]:  # noqa: F811
    out = tmp_path_factory.mktemp("signed")
    generated = sign(media["image"], out / "generated.jpg")
    changed = bytearray(generated.read_bytes())
    changed[-400] ^= 0x01  # one bit of the picture, after signing
    (out / "changed.jpg").write_bytes(bytes(changed))
    return {
        "generated": generated,
        "changed": out / "changed.jpg",
        "camera": sign(media["image"], out / "camera.jpg", "Phone Camera", "14.0", CAMERA_SOURCE),
        "video": sign(media["video"], out / "clip.mp4"),
        "unsigned": media["image"],
    }


def test_a_generators_claim_is_read_and_validated(signed):
    found = read_credentials(signed["generated"])
    assert (found.status, found.signer, found.generator) == ("valid", SIGNER, "Imaginary Diffusion 2.1")
    assert found.generated_by_ai and found.digital_source_type == "trainedAlgorithmicMedia"
    assert found.problems == [] and "not on a trust list" in found.message


def test_a_cameras_claim_is_not_called_generated(signed):
    found = read_credentials(signed["camera"])
    assert (found.status, found.generator, found.digital_source_type) == (
        "valid",
        "Phone Camera 14.0",
        "digitalCapture",
    )
    assert not found.generated_by_ai


def test_a_file_changed_after_signing_fails_validation(signed):
    found = read_credentials(signed["changed"])
    assert found.status == "invalid" and "assertion.dataHash.mismatch" in found.problems
    assert "no longer matches what was signed" in found.message and found.signer == SIGNER


def test_no_credentials_says_so(media, tmp_path):  # noqa: F811
    assert read_credentials(media["image"]).status == "none"
    bmp = tmp_path / "x.bmp"
    bmp.write_bytes(b"BM" + bytes(100))  # a format C2PA cannot carry
    assert read_credentials(bmp).status == "none"


def test_credentials_never_change_the_score(tiny_model_dir, media, signed):  # noqa: F811
    predictor = Predictor(tiny_model_dir)
    plain = predictor.predict_path(media["image"])
    claimed = predictor.predict_path(signed["generated"])
    assert plain.credentials.status == "none" and claimed.credentials.generated_by_ai
    assert claimed.fake_probability == plain.fake_probability and claimed.verdict == plain.verdict
    assert [f.box for f in claimed.faces] == [f.box for f in plain.faces]
    video = predictor.predict_path(signed["video"])
    assert video.credentials.status == "valid" and video.media == "video" and video.error is None
    assert video.fake_probability == predictor.predict_path(media["video"]).fake_probability


def test_the_cli_reports_them(tiny_model_dir, signed):
    runner = CliRunner()
    result = runner.invoke(app, ["predict", "--model", str(tiny_model_dir), "--json", str(signed["changed"])])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout.splitlines()[0])["credentials"]["status"] == "invalid"
    text = runner.invoke(app, ["predict", "--model", str(tiny_model_dir), str(signed["camera"])]).stdout
    assert f"content credentials signed by {SIGNER} with Phone Camera 14.0" in text
    assert (
        "content credentials"
        not in runner.invoke(app, ["predict", "--model", str(tiny_model_dir), str(signed["unsigned"])]).stdout
    )
