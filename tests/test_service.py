"""The BentoML service through its ASGI app in-process (test_real_server.py: as a real `bentoml serve`).

Media come from the demo renderer (procedural faces MTCNN finds), written to a temp dir per session.
"""

from __future__ import annotations

import base64
import json
import os
import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest

from deepfake_detector.config import ServeConfig
from deepfake_detector.prediction import PredictOptions
from deepfake_detector.serving.env import MODEL_DIR_ENV, SERVE_CONFIG_ENV

# Small limits, so over-limit uploads and videos stay cheap to make.
CONFIG = ServeConfig(max_upload_mb=2.0, max_video_seconds=3.0, max_image_pixels=4_000_000, frames_per_video=6)


# ----------------------------------------------------------------------------- media


@pytest.fixture(scope="session")
def media(tmp_path_factory) -> dict[str, Path]:
    """Good media with faces, plus every kind of bad upload the service must refuse."""
    from deepfake_detector.demo import generate_corpus

    root = tmp_path_factory.mktemp("service_media")
    corpus = root / "corpus"
    generate_corpus(
        corpus,
        seed=3,
        identities=2,
        images_per_identity=1,
        videos_per_identity=1,
        frames_per_video=12,
        fps=12,
        size=256,
    )
    image = corpus / "real/images/id00_img00.jpg"
    video = corpus / "real/videos/id00_vid00.mp4"
    out = {"image": image, "video": video}

    out["empty"] = _write(root / "empty.jpg", b"")
    out["text_as_jpg"] = _write(root / "notes.jpg", b"this is a text file, renamed to .jpg\n" * 20)
    out["truncated_jpg"] = _write(root / "truncated.jpg", image.read_bytes()[:600])
    out["truncated_mp4"] = _write(root / "truncated.mp4", video.read_bytes()[: video.stat().st_size // 3])
    # A Matroska header over a stream nothing can decode. (Renaming the codec tag of a real file is not
    # enough: FFmpeg probes the bitstream and decodes it anyway.)
    out["bad_codec"] = _write(root / "bad_codec.mkv", b"\x1a\x45\xdf\xa3" + os.urandom(50_000))
    out["no_face"] = root / "sky.png"
    cv2.imwrite(str(out["no_face"]), np.tile(np.linspace(90, 220, 320, dtype=np.uint8)[:, None, None], (1, 320, 3)))
    out["bomb"] = _write(root / "bomb.png", png_header_only(30_000, 30_000))
    out["too_big"] = _write(root / "big.jpg", b"\xff\xd8\xff" + os.urandom(int(2.5 * 2**20)))
    out["too_long"] = root / "long.mp4"
    _write_video(out["too_long"], seconds=5, fps=10)
    return out


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def png_header_only(w: int, h: int) -> bytes:
    """A valid PNG header claiming w x h pixels with almost no data: a decompression bomb's signature."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def _write_video(path: Path, seconds: int, fps: int) -> None:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (64, 64))
    for i in range(seconds * fps):
        writer.write(np.full((64, 64, 3), i % 255, np.uint8))
    writer.release()


# (field, media key, expected status) for every upload the service must refuse with a clear 4xx
BAD_UPLOADS = [
    ("image", "empty", 400),
    ("image", "text_as_jpg", 415),
    ("image", "truncated_jpg", 422),
    ("video", "truncated_mp4", 422),
    ("video", "bad_codec", 422),
    ("image", "bomb", 413),
    ("image", "too_big", 413),
    ("video", "too_long", 413),
    ("video", "image", 415),  # an image sent to the video endpoint
    ("image", "video", 415),
]


def check_prediction(body: dict, kind: str) -> None:
    assert body["media"] == kind and body["error"] is None
    assert body["threshold"] == 0.5
    assert body["verdict"] == ("fake" if body["fake_probability"] >= body["threshold"] else "real")
    assert body["faces"], "the demo face must be found"
    face = body["faces"][0]
    assert len(face["box"]) == 4 and 0.9 <= face["detection_prob"] <= 1.0
    if kind == "image":  # an image's probability is its face's (test_service_matches_predictor: the value)
        assert body["fake_probability"] == face["fake_probability"]
    assert body["model_version"] == "test" and {"decode", "detect", "classify"} <= set(body["timings_ms"])
    if kind == "video":
        assert len(body["timeline"]) == len(body["faces"]) >= 2
        assert body["frames"] == CONFIG.frames_per_video


# ----------------------------------------------------------------------------- in-process ASGI app


@pytest.fixture(scope="module")
def client(tiny_model_dir):
    import torch
    from starlette.testclient import TestClient

    saved = {k: os.environ.get(k) for k in (MODEL_DIR_ENV, SERVE_CONFIG_ENV)}
    threads = torch.get_num_threads()  # the service sets serve.torch_threads process-wide: restored below
    os.environ[MODEL_DIR_ENV] = str(tiny_model_dir)
    os.environ[SERVE_CONFIG_ENV] = CONFIG.model_dump_json()
    from deepfake_detector.serving.service import DeepfakeDetector

    try:
        with TestClient(DeepfakeDetector.to_asgi(), raise_server_exceptions=False) as c:
            yield c
    finally:
        for key, value in saved.items():
            os.environ.pop(key, None) if value is None else os.environ.__setitem__(key, value)
        torch.set_num_threads(threads)


def post(client, field: str, path: Path, filename: str | None = None):
    with open(path, "rb") as f:
        return client.post(f"/predict_{field}", files={field: (filename or path.name, f.read())})


@pytest.mark.timeout(300)
def test_good_image_and_video(client, media):
    response = post(client, "image", media["image"])
    assert response.status_code == 200, response.text
    check_prediction(response.json(), "image")
    response = post(client, "video", media["video"])
    assert response.status_code == 200, response.text
    check_prediction(response.json(), "video")


@pytest.mark.timeout(300)
@pytest.mark.parametrize(("field", "key", "status"), BAD_UPLOADS, ids=[f"{k}-{f}" for f, k, _ in BAD_UPLOADS])
def test_bad_upload_is_a_clear_4xx(client, media, field, key, status):
    response = post(client, field, media[key])
    assert response.status_code == status, response.text
    body = response.json()
    assert body["status"] == status and len(body["error"]) > 10
    assert "deepfake-upload-" not in body["error"], "messages must not leak server temp paths"


def test_a_file_the_predictor_cannot_read_is_refused_by_the_type_of_its_error():
    """413 for a MediaTooLarge, 422 for any other MediaError, whatever the message says; the message is kept."""
    from deepfake_detector.media.frames import MediaError, MediaTooLarge
    from deepfake_detector.serving.uploads import media_refusal

    too_large = media_refusal(MediaTooLarge("a.png: 9000x9000 pixels"), "a.png: 9000x9000 pixels")
    assert (too_large.status, too_large.message) == (413, "a.png: 9000x9000 pixels")
    assert media_refusal(MediaError("b.jpg: over the limit of my patience"), "b.jpg: ...").status == 422


def test_type_comes_from_the_bytes_not_the_name(client, media):
    response = post(client, "image", media["image"], filename="holiday.mp4")
    assert response.status_code == 200 and response.json()["media"] == "image"


def test_no_face_is_a_200_that_cannot_be_judged(client, media):
    response = post(client, "image", media["no_face"])
    assert response.status_code == 200
    body = response.json()
    assert body["verdict"] == "cannot_judge" and body["fake_probability"] is None and body["error"] is None
    assert body["reason"]["code"] == "no_face" and "no face found in 1 frame(s)" in body["reason"]["message"]


def test_cropped_query_parameter(client, media):
    """?cropped=true treats the upload as a face crop, false as a photo; the default decides from the detection."""
    with open(media["image"], "rb") as f:
        data = f.read()
    for value, kind in (("true", "face_crop"), ("false", "scene")):
        response = client.post(f"/predict_image?cropped={value}", files={"image": ("face.jpg", data)})
        assert response.status_code == 200, response.text
        assert response.json()["treated_as"] == kind
    assert post(client, "image", media["image"]).json()["treated_as_because"]  # auto: says why
    bad = client.post("/predict_image?cropped=maybe", files={"image": ("face.jpg", data)})
    assert bad.status_code == 400 and bad.json()["error"] == "cropped='maybe': use true, false or auto"


def test_explain_query_parameter(client, media):
    """?explain=true adds each face's heatmap (a PNG the size of the model's input) over its crop square."""
    plain = post(client, "image", media["image"]).json()
    assert plain["faces"][0]["heatmap"] is None and "explain" not in plain["timings_ms"]
    with open(media["video"], "rb") as f:
        response = client.post("/predict_video?explain=true", files={"video": ("clip.mp4", f.read())})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["timings_ms"]["explain"] > 0 and len(body["faces"]) >= 2
    for face in body["faces"]:
        png = cv2.imdecode(np.frombuffer(base64.b64decode(face["heatmap"]), np.uint8), cv2.IMREAD_UNCHANGED)
        assert png.shape == (64, 64, 4)  # tiny_model_dir's input size, RGBA
        x1, y1, x2, y2 = face["crop_box"]
        assert x2 - x1 == y2 - y1 > face["box"][2] - face["box"][0]  # the square around the box (margin > 1)
    bad = client.post("/predict_image?explain=yes", files={"image": ("face.jpg", media["image"].read_bytes())})
    assert bad.status_code == 400 and bad.json()["error"] == "explain='yes': use true or false"


@pytest.mark.timeout(300)
def test_frames_query_parameter(client, media):
    """A video's evidence frames (evidence.py) come back as JPEGs: by default each judged person's highest- and
    median-scoring frame, with ?frames=all every scored frame, with none no frame; the scores never change."""
    video = media["video"].read_bytes()
    bodies = {}
    for value in ("key", "all", "none"):
        response = client.post(f"/predict_video?frames={value}", files={"video": ("clip.mp4", video)})
        assert response.status_code == 200, response.text
        bodies[value] = response.json()
    default = client.post("/predict_video", files={"video": ("clip.mp4", video)}).json()
    key = bodies["key"]["evidence_frames"]
    assert [e["role"] for e in key] == [e["role"] for e in default["evidence_frames"]]
    assert sorted(e["role"] for e in key) == ["highest", "median"] and {e["track"] for e in key} == {0}
    top = max((f for f in default["faces"] if f["track"] == 0), key=lambda f: f["fake_probability"])
    assert [e["frame_idx"] for e in key if e["role"] == "highest"] == [top["frame_idx"]]
    every = bodies["all"]["evidence_frames"]
    assert [(e["track"], e["frame_idx"], e["t"], e["box"], e["fake_probability"]) for e in every] == [
        (f["track"], f["frame_idx"], f["t"], f["box"], f["fake_probability"]) for f in default["faces"]
    ]
    for e in every:  # the demo's 256 px frames are under explain.evidence.max_side: they keep their size
        jpeg = cv2.imdecode(np.frombuffer(base64.b64decode(e["jpeg"]), np.uint8), cv2.IMREAD_COLOR)
        assert jpeg.shape == (256, 256, 3) == (e["height"], e["width"], 3) and e["scale"] == 1.0
    assert bodies["none"]["evidence_frames"] == [] and "evidence" not in bodies["none"]["timings_ms"]
    for body in (*bodies.values(), default):
        assert body["fake_probability"] == default["fake_probability"] and body["faces"] == default["faces"]
    assert post(client, "image", media["image"]).json()["evidence_frames"] == []  # an image is its own evidence
    bad = client.post("/predict_video?frames=some", files={"video": ("clip.mp4", video)})
    assert bad.status_code == 400 and bad.json()["error"] == "frames='some': use key, all or none"


@pytest.mark.timeout(300)
def test_content_credentials_are_reported_beside_the_verdict(client, media, tmp_path):
    from c2pa_signing import SIGNER_NAME, SIGNER_ORG, sign

    signed = sign(media["image"], tmp_path / "signed.jpg")
    body, plain = post(client, "image", signed).json(), post(client, "image", media["image"]).json()
    assert body["credentials"]["signer"] == f"{SIGNER_ORG} / {SIGNER_NAME}" and body["credentials"]["generated_by_ai"]
    assert plain["credentials"]["status"] == "none" and body["fake_probability"] == plain["fake_probability"]
    video = post(client, "video", sign(media["video"], tmp_path / "signed.mp4")).json()
    assert video["credentials"]["status"] == "valid" and video["verdict"] in ("fake", "real")


def test_batch_gives_each_file_its_result_or_error(client, media):
    """POST /predict_batch: one result per file, in order, equal to the single endpoints'; a bad file gets its
    own error and status and does not fail the others."""
    names = ("image", "video", "text_as_jpg", "empty", "no_face")
    files = [("files", (media[key].name, media[key].read_bytes())) for key in names]
    response = client.post("/predict_batch", files=files)
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert [r["path"] for r in results] == [media[key].name for key in names]
    assert [r["status"] for r in results] == [200, 200, 415, 400, 200]
    single = post(client, "image", media["image"]).json(), post(client, "video", media["video"]).json()
    for batched, alone in zip(results[:2], single, strict=True):
        assert batched["fake_probability"] == alone["fake_probability"] and batched["faces"] == alone["faces"]
    assert "not a supported image" in results[2]["error"] and results[3]["error"].endswith("the file is empty")
    assert results[4]["verdict"] == "cannot_judge"


@pytest.mark.parametrize(
    "files, status, message",
    [
        ([], 400, "empty request"),
        ([("image", ("face.jpg", b"x"))], 400, "no files in multipart form field 'files'"),
        (
            [("files", (f"{i}.jpg", b"x")) for i in range(CONFIG.max_batch_files + 1)],
            413,
            "at most 16 files per request",
        ),
        ([("files", ("big.jpg", b"\xff" * int(2.5 * 2**20)))], 413, "over the limit of 2 MB"),
    ],
)
def test_batch_refusals(client, files, status, message):
    response = client.post("/predict_batch", files=files) if files else client.post("/predict_batch", content=b"")
    assert response.status_code == status and message in response.json()["error"], response.text


def test_request_errors(client, media):
    assert client.post("/predict_image").status_code == 400  # no body at all
    wrong_field = client.post("/predict_image", files={"file": ("a.jpg", media["image"].read_bytes())})
    assert wrong_field.status_code == 400 and "'image'" in wrong_field.json()["error"]
    chunked = client.post("/predict_image", content=iter([media["image"].read_bytes()]))
    assert chunked.status_code == 411
    raw = client.post("/predict_image", content=media["image"].read_bytes(), headers={"content-type": "image/jpeg"})
    assert raw.status_code == 200 and raw.json()["media"] == "image"


def test_service_keeps_serving_after_bad_input(client, media):
    for field, key, _ in BAD_UPLOADS:
        post(client, field, media[key])
    assert post(client, "image", media["image"]).status_code == 200


def test_pages_health_and_model_card(client, tiny_model_dir):
    page = client.get("/")
    assert page.status_code == 200 and "Deepfake detector" in page.text and "static/app.js" in page.text
    # the in-browser check's files, and no other file of the model folder (the tiny model has no MTCNN nets)
    assert client.get("/web_model/model.json").json() == json.loads((tiny_model_dir / "model.json").read_text())
    assert client.get("/web_model/model.onnx").content == (tiny_model_dir / "model.onnx").read_bytes()
    for name in ("model.pt", "pnet.onnx", "..%2Fmodel.pt"):
        assert client.get(f"/web_model/{name}").status_code == 404, name
    assert client.get("/static/vendor/ort-wasm-simd-threaded.wasm").headers["content-type"] == "application/wasm"
    assert client.get("/static/app.js").status_code == 200
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 200
    card = client.get("/model").json()
    assert card["version"] == "test" and card["spec"]["backbone"] == "resnet18"
    assert card["source"] == f"folder {tiny_model_dir}" and card["serve_config"]["max_upload_mb"] == 2.0
    assert card["batching"]["max_size"] == CONFIG.batch_max_size
    assert card["torch_threads"] == CONFIG.torch_threads == 1  # serve.torch_threads took effect in the worker
    import onnxruntime as ort
    import torch

    onnx_on_gpu = "CUDAExecutionProvider" in ort.get_available_providers()  # onnxruntime-gpu and a GPU
    assert card["devices"] == {
        "classifier": "cuda" if onnx_on_gpu else "cpu",  # both in torch's names
        "face_detection": "cuda" if torch.cuda.is_available() else "cpu",
    }


def test_service_matches_predictor(client, media, tiny_model_dir):
    """The service and `deepfake predict` (Predictor.predict_path) give the same numbers for the same file."""
    from deepfake_detector.inference import Predictor

    predictor = Predictor(tiny_model_dir)
    for kind in ("image", "video"):
        expected = predictor.predict_path(
            media[kind], PredictOptions(max_pixels=CONFIG.max_image_pixels, frames_per_video=CONFIG.frames_per_video)
        )
        served = post(client, kind, media[kind]).json()
        assert served["fake_probability"] == pytest.approx(expected.fake_probability, abs=1e-6)
        assert [f["box"] for f in served["faces"]] == [f.box for f in expected.faces]
