"""The BentoML service: deepfake verdicts for uploaded images and videos, plus the upload page.

The model comes from the BentoML model store (`deepfake_detector:latest`, bundled into the Bento by
`bentoml build`), or from a plain model folder named by $DEEPFAKE_MODEL_DIR (`deepfake serve --model DIR`,
tests). Either way all scoring goes through `Predictor`, the one inference path; the service only adds a
micro-batcher (serving/batcher.py) so the face crops of concurrent requests share classifier calls.

HTTP lives in a small Starlette app mounted on the service rather than in `@bentoml.api` methods, because the
upload endpoints need control BentoML's input parsing does not give: size limits checked before the body is
read, files typed by their bytes, streamed to a temp dir, and every refusal a 4xx JSON `{"error": ...}`.
BentoML itself serves /healthz, /livez and /readyz (liveness and readiness, the latter wired to
`__is_ready__`) and /metrics; the mounted app only adds routes that do not clash with them.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
import bentoml
from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from deepfake_detector.devices import torch_device
from deepfake_detector.media.frames import MediaError
from deepfake_detector.prediction import PredictOptions
from deepfake_detector.serving.batcher import MicroBatcher
from deepfake_detector.serving.env import BENTO_NAME, MODEL_DIR_ENV, serve_config
from deepfake_detector.serving.memory import tune_malloc, tune_threads
from deepfake_detector.serving.uploads import (
    SNIFF_BYTES,
    LengthRequired,
    TooLarge,
    UnsupportedType,
    UploadError,
    check_image,
    check_video,
    media_refusal,
    sniff,
)
from deepfake_detector.serving.web import STATIC_DIR, WEB_FILES, WEB_MODEL_URL

if TYPE_CHECKING:  # the Predictor (torch, MTCNN, ONNX Runtime) is imported in the worker only, see __init__
    from deepfake_detector.prediction import Prediction

log = logging.getLogger("deepfake_detector.serving")

FORM_OVERHEAD = 64 * 1024  # multipart boundaries and headers on top of the file itself
BATCH_FIELD = "files"  # POST /predict_batch: one multipart field of this name per file
MODEL_CARD = "model_card.md"


def error_response(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message, "status": status}, status_code=status)


def safe_name(filename: str | None) -> str:
    """The client's file name, for messages only: no directories, no control characters, bounded length."""
    name = re.sub(r"[^\w.\- ]", "_", Path(filename or "upload").name)[:100]
    return name or "upload"


# ----------------------------------------------------------------------------- receiving uploads


def check_length(request: Request, field: str, limit: int) -> None:
    """Refuse before reading the body: no Content-Length, an empty request, or over `limit` bytes."""
    length = request.headers.get("content-length")
    if length is None or not length.isdigit():
        raise LengthRequired("send a Content-Length header (chunked uploads are not accepted)")
    if int(length) == 0:
        raise UploadError(f"empty request; send the file as multipart form field '{field}'")
    if int(length) > limit + FORM_OVERHEAD:
        raise TooLarge(f"upload is over the limit of {limit / 2**20:g} MB")


def is_multipart(request: Request) -> bool:
    return request.headers.get("content-type", "").startswith("multipart/form-data")


async def receive_upload(request: Request, field: str, target: Path, limit: int) -> str:
    """Write the uploaded file (multipart `field`, or the raw body) to `target`; return its name."""
    check_length(request, field, limit)
    if is_multipart(request):
        name = await _receive_form(request, field, target)
    else:  # raw body, e.g. curl --data-binary @face.jpg
        name = "upload"
        with open(target, "wb") as f:
            async for chunk in request.stream():
                f.write(chunk)
    size = target.stat().st_size
    if size == 0:
        raise UploadError(f"{name}: the file is empty")
    if size > limit:
        raise TooLarge(f"{name}: file is over the limit of {limit / 2**20:g} MB")
    return name


async def _receive_form(request: Request, field: str, target: Path) -> str:
    try:
        async with request.form(max_files=1, max_fields=16) as form:
            upload = form.get(field)
            if not isinstance(upload, UploadFile):
                raise UploadError(f"no file in multipart form field '{field}'")
            await anyio.to_thread.run_sync(_copy_to, upload, target)
            return safe_name(upload.filename)
    except HTTPException as err:  # Starlette's report of a malformed multipart body
        raise UploadError(f"malformed multipart body: {err.detail}") from None


async def receive_batch(request: Request, folder: Path, limit: int, max_files: int) -> list[tuple[Path, str]]:
    """Write every file of the multipart field `files` into `folder`; return (path, name) in upload order."""
    check_length(request, BATCH_FIELD, limit)
    if not is_multipart(request):
        raise UploadError(f"send the files as multipart form fields '{BATCH_FIELD}' (one per file)")
    try:
        async with request.form(max_files=max_files, max_fields=16) as form:
            uploads = [u for u in form.getlist(BATCH_FIELD) if isinstance(u, UploadFile)]
            if not uploads:
                raise UploadError(f"no files in multipart form field '{BATCH_FIELD}'")
            received = []
            for i, upload in enumerate(uploads):
                await anyio.to_thread.run_sync(_copy_to, upload, folder / str(i))
                received.append((folder / str(i), safe_name(upload.filename)))
            return received
    except HTTPException as err:
        # Starlette reports every multipart limit as one exception type: only its message tells them apart
        if "Too many files" in str(err.detail):
            raise TooLarge(f"at most {max_files} files per request (serve.max_batch_files)") from None
        raise UploadError(f"malformed multipart body: {err.detail}") from None


def _copy_to(upload: UploadFile, target: Path) -> None:
    upload.file.seek(0)
    with open(target, "wb") as f:
        shutil.copyfileobj(upload.file, f, 1024 * 1024)


# ----------------------------------------------------------------------------- routes


async def predict_endpoint(request: Request, kind: str) -> Response:
    svc = bentoml.get_current_service()
    limit = int(svc.config.max_upload_mb * 2**20)
    started = time.perf_counter()
    try:
        with tempfile.TemporaryDirectory(prefix="deepfake-upload-") as tmp:  # removed whatever happens
            target = Path(tmp) / "upload"
            cropped = query_flag(request, "cropped", "auto", CROPPED_VALUES)
            explain = query_flag(request, "explain", "false", FLAG_VALUES)
            frames = query_flag(request, "frames", "key", FRAMES_VALUES)
            name = await receive_upload(request, kind, target, limit)
            result = await anyio.to_thread.run_sync(
                svc.detect, target, name, kind, cropped, explain, frames, limiter=svc.limiter
            )
        # time inside the service, upload included: the client's wall time minus this is the HTTP transport
        result["timings_ms"]["server"] = round((time.perf_counter() - started) * 1000, 1)
        return JSONResponse(result)
    except UploadError as err:
        return error_response(err.status, err.message)
    except Exception:
        log.exception("unexpected error on /predict_%s", kind)
        return error_response(500, "unexpected server error; the service logged it and keeps running")


FLAG_VALUES = {"true": True, "1": True, "false": False, "0": False}
# `?cropped=`: the upload is a face crop, is not, or let the detection decide (auto, the default)
CROPPED_VALUES = {**FLAG_VALUES, "auto": None}
# `?frames=`: which evidence frames of a video come back as JPEGs (evidence.py; key by default)
FRAMES_VALUES = {"key": "key", "all": "all", "none": "none"}


def query_flag(request: Request, name: str, default: str, values: dict[str, Any]) -> Any:
    """A query parameter such as `?explain=true` (add heatmaps), `?cropped=auto` or `?frames=all`, as one of
    `values`."""
    value = request.query_params.get(name, default).lower()
    if value not in values:
        choices = [key for key in values if not key.isdigit()]  # true, false (, auto)
        raise UploadError(f"{name}={value!r}: use {', '.join(choices[:-1])} or {choices[-1]}")
    return values[value]


async def predict_batch(request: Request) -> Response:
    """Several images and videos in one request: a result, or an error with its status, per file, in order."""
    svc = bentoml.get_current_service()
    started = time.perf_counter()
    try:
        with tempfile.TemporaryDirectory(prefix="deepfake-batch-") as tmp:
            cropped = query_flag(request, "cropped", "auto", CROPPED_VALUES)
            explain = query_flag(request, "explain", "false", FLAG_VALUES)
            frames = query_flag(request, "frames", "key", FRAMES_VALUES)
            files = await receive_batch(
                request, Path(tmp), int(svc.config.max_upload_mb * 2**20), svc.config.max_batch_files
            )
            results = [
                await anyio.to_thread.run_sync(
                    svc.detect_or_error, path, name, cropped, explain, frames, limiter=svc.limiter
                )
                for path, name in files
            ]
        return JSONResponse(
            {"results": results, "timings_ms": {"server": round((time.perf_counter() - started) * 1000, 1)}}
        )
    except UploadError as err:
        return error_response(err.status, err.message)
    except Exception:
        log.exception("unexpected error on /predict_batch")
        return error_response(500, "unexpected server error; the service logged it and keeps running")


async def predict_image(request: Request) -> Response:
    return await predict_endpoint(request, "image")


async def predict_video(request: Request) -> Response:
    return await predict_endpoint(request, "video")


async def model_card(_: Request) -> Response:
    return JSONResponse(bentoml.get_current_service().model_card())


async def openapi(_: Request) -> Response:
    from deepfake_detector.serving.openapi import openapi_document  # imports the Predictor: the worker only

    return JSONResponse(openapi_document(bentoml.get_current_service().predictor.spec.version))


async def index(_: Request) -> Response:
    return FileResponse(STATIC_DIR / "index.html")


async def web_model_file(request: Request) -> Response:
    """The model's files the page's in-browser check loads (serving/web.py's WEB_FILES), and no other file."""
    name = request.path_params["name"]
    path = bentoml.get_current_service().model_dir / name
    if name not in WEB_FILES or not path.is_file():
        return error_response(404, f"{name}: not a web model file of this model (the package stage writes them)")
    return FileResponse(path)


web_app = Starlette(
    routes=[
        Route("/", index, methods=["GET"]),
        Route("/predict_image", predict_image, methods=["POST"]),
        Route("/predict_video", predict_video, methods=["POST"]),
        Route("/predict_batch", predict_batch, methods=["POST"]),
        Route("/model", model_card, methods=["GET"]),
        Route("/openapi.json", openapi, methods=["GET"]),
        Route(f"/{WEB_MODEL_URL}/{{name}}", web_model_file, methods=["GET"]),
        Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"),
    ]
)


# ----------------------------------------------------------------------------- the service


@bentoml.service(name=BENTO_NAME, workers=1, traffic={"timeout": 300, "max_concurrency": 64})
@bentoml.asgi_app(web_app, path="/", name="web")
class DeepfakeDetector:
    if not os.environ.get(MODEL_DIR_ENV):
        # A class attribute so `bentoml build` bundles the model. Left out when a folder is given, because
        # `bentoml serve` resolves every declared model at start-up, even one the service never reads.
        model_ref = bentoml.models.BentoModel(f"{BENTO_NAME}:latest")

    def __init__(self) -> None:
        self.config = serve_config()
        tune_malloc(self.config)  # before torch and the model allocate anything
        self.torch_threads = tune_threads(self.config)
        # Imported here, not at the top: `bentoml serve` imports this module in its arbiter process too, which
        # never scores anything; a top-level import would load torch there as well (~700 MB of RSS).
        from deepfake_detector.inference import Predictor

        self.model_dir, self.model_source = self._find_model()
        self.predictor = Predictor(self.model_dir)
        self.batcher = MicroBatcher(
            self.predictor.assess_crops, self.config.batch_max_size, self.config.batch_max_wait_ms / 1000
        )
        _ = self.predictor.detector  # load MTCNN now, so the first request is not the slow one
        self._limiter: anyio.CapacityLimiter | None = None
        log.info("deepfake detector ready: model %s from %s", self.predictor.spec.version, self.model_source)

    def _find_model(self) -> tuple[Path, str]:
        folder = os.environ.get(MODEL_DIR_ENV)
        if folder:
            return Path(folder), f"folder {folder}"
        stored = self.model_ref  # resolves the store entry
        return Path(stored.path), f"BentoML model {stored.tag}"

    @property
    def limiter(self) -> anyio.CapacityLimiter:
        if self._limiter is None:  # created on first use, inside the server's event loop
            self._limiter = anyio.CapacityLimiter(self.config.inference_threads)
        return self._limiter

    def __is_ready__(self) -> bool:
        return self.predictor is not None

    def detect(
        self,
        path: Path,
        name: str,
        expected: str | None,
        cropped: bool | None = None,
        explain: bool = False,
        frames: str = "key",
    ) -> dict[str, Any]:
        """Type, check and score one uploaded file (`expected`: image, video, or None for either; `frames`: a
        video's evidence frames, key, all or none). Raises UploadError for anything the user must fix."""
        with open(path, "rb") as f:
            sniffed = sniff(f.read(SNIFF_BYTES))
        if sniffed is None:
            raise UnsupportedType(
                f"{name}: not a supported image (JPEG, PNG, BMP, WebP) or video (MP4, MOV, AVI, MKV, WebM)"
            )
        kind, suffix = sniffed
        if expected is not None and kind != expected:
            raise UnsupportedType(
                f"{name}: this is {'an' if kind == 'image' else 'a'} {kind}; post it to /predict_{kind}"
            )
        typed = path.rename(path.with_suffix(suffix))  # the Predictor picks the decoder from the suffix
        (check_image if kind == "image" else check_video)(typed, name, self.config)
        try:
            options = PredictOptions(
                max_pixels=self.config.max_image_pixels,
                frames_per_video=self.config.frames_per_video,
                assess_crops=self.batcher,
                cropped=cropped,
                explain=explain,
                evidence=frames,
            )
            prediction, _ = self.predictor.predict_path_or_raise(typed, options)
        except MediaError as err:  # the file cannot be decoded at all; its message names the upload, not the temp file
            raise media_refusal(err, str(err).replace(str(typed), name)) from None
        return self.response(prediction, name)

    def detect_or_error(
        self, path: Path, name: str, cropped: bool | None, explain: bool, frames: str
    ) -> dict[str, Any]:
        """One file of a batch: its result (status 200), or its error and the status a single upload would get."""
        try:
            if path.stat().st_size == 0:
                raise UploadError(f"{name}: the file is empty")
            return {**self.detect(path, name, None, cropped, explain, frames), "status": 200}
        except UploadError as err:
            return {"path": name, "error": err.message, "status": err.status}

    def response(self, prediction: Prediction, name: str) -> dict[str, Any]:
        result = prediction.to_dict()
        result["path"] = name
        if prediction.media == "video":
            result["timeline"] = [
                {"frame_idx": f.frame_idx, "t": f.t, "track": f.track, "fake_probability": f.fake_probability}
                for f in prediction.faces
            ]
        return result

    def model_card(self) -> dict[str, Any]:
        card = self.model_dir / MODEL_CARD
        return {
            "name": BENTO_NAME,
            "version": self.predictor.spec.version,
            "source": self.model_source,
            "backend": self.predictor.backend.name,
            # where each model runs, in torch's names (cpu, cuda): the classifier is on CUDA when onnxruntime-gpu
            # and a GPU are there
            "devices": {
                "classifier": self.predictor.backend.device,
                "face_detection": torch_device(self.predictor.detect_device),
            },
            "spec": self.predictor.spec.model_dump(mode="json"),
            "serve_config": self.config.model_dump(mode="json"),
            "batching": self.batcher.stats(),
            "torch_threads": self.torch_threads,
            "model_card_md": card.read_text() if card.is_file() else None,
        }
