"""The OpenAPI description of the service's own routes (`GET /openapi.json`), made from the types they return.

The result schema is the Predictor's `Prediction` dataclass read by pydantic, so the description follows the
code; `tests/test_openapi.py` runs schemathesis against a live server with it (no 5xx, every response as
described). BentoML's own routes (/healthz, /livez, /readyz, /metrics) are BentoML's and not listed here.
"""

from __future__ import annotations

from typing import Any

from pydantic import TypeAdapter

from deepfake_detector.prediction import Prediction
from deepfake_detector.serving.env import BENTO_NAME
from deepfake_detector.serving.web import WEB_FILES, WEB_MODEL_URL

ERROR = {
    "type": "object",
    "required": ["error", "status"],
    "properties": {"error": {"type": "string"}, "status": {"type": "integer"}},
}
REFUSALS = {  # every 4xx the predict routes answer, always as ERROR
    "400": "an empty request, a wrong form field or query value, or an empty file",
    "411": "no Content-Length header",
    "413": "over serve.max_upload_mb, serve.max_image_pixels or serve.max_video_seconds (or, for a batch, "
    "more than serve.max_batch_files files)",
    "415": "not a supported image or video, or an image sent to the video route (or the other way round)",
    "422": "a truncated or undecodable file",
}
FLAGS = {  # query parameter -> its values (serving/service.py: query_flag)
    "explain": ("add each face's heatmap (default false)", ["true", "false", "1", "0"]),
    "cropped": (
        "the upload is a face crop, is not, or decide from the detection (auto, the default)",
        ["true", "false", "auto", "1", "0"],
    ),
    "frames": (
        "a video's evidence frames in evidence_frames, JPEGs with the face box: key (each judged person's "
        "highest- and median-scoring frame, the default), all (every frame they were scored in) or none",
        ["key", "all", "none"],
    ),
}
BINARY = {"type": "string", "format": "binary"}
TIMELINE = {
    "type": "array",
    "description": "videos: the fake probability of each scored face, by frame and person",
    "items": {
        "type": "object",
        "required": ["frame_idx", "t", "track", "fake_probability"],
        "properties": {
            "frame_idx": {"type": "integer"},
            "t": {"type": "number"},
            "track": {"type": "integer"},
            "fake_probability": {"type": "number"},
        },
    },
}


def openapi_document(version: str) -> dict[str, Any]:
    """OpenAPI 3.1 for the predict routes and the model card of the model `version`."""
    prediction = TypeAdapter(Prediction).json_schema(ref_template="#/components/schemas/{model}")
    schemas = prediction.pop("$defs", {})
    prediction["properties"]["timeline"] = TIMELINE
    file_error = {
        **ERROR,
        "required": ["path", "error", "status"],
        "properties": {**ERROR["properties"], "path": {"type": "string"}},
    }
    batch_item = {"anyOf": [{"$ref": "#/components/schemas/Prediction"}, {"$ref": "#/components/schemas/FileError"}]}
    schemas.update(
        Prediction=prediction,
        FileError=file_error,
        Error=ERROR,
        Batch={
            "type": "object",
            "required": ["results"],
            "properties": {"results": {"type": "array", "items": batch_item}, "timings_ms": {"type": "object"}},
        },
    )
    paths = {
        f"/predict_{kind}": {"post": _predict(f"Score one {kind}", {kind: BINARY}, kind, "Prediction")}
        for kind in ("image", "video")
    }
    paths["/predict_batch"] = {
        "post": _predict(
            "Score several images and videos: a result or an error per file",
            {"files": {"type": "array", "items": BINARY}},
            "files",
            "Batch",
            raw_body=False,
        )
    }
    paths["/model"] = {
        "get": {
            "summary": "The model card: model.json, backend, devices, serve limits",
            "responses": {"200": _json("the card", {"type": "object"})},
        }
    }
    paths[f"/{WEB_MODEL_URL}/{{name}}"] = {"get": _web_model_file()}
    return {
        "openapi": "3.1.0",
        "info": {"title": f"{BENTO_NAME} API", "version": version},
        "paths": paths,
        "components": {"schemas": schemas},
    }


def _predict(summary: str, form: dict, field: str, result: str, raw_body: bool = True) -> dict[str, Any]:
    content = {"multipart/form-data": {"schema": {"type": "object", "required": [field], "properties": form}}}
    if raw_body:  # e.g. curl --data-binary @face.jpg
        content["application/octet-stream"] = {"schema": BINARY}
    return {
        "summary": summary,
        "parameters": [
            {
                "name": name,
                "in": "query",
                "required": False,
                "description": text,
                "schema": {"type": "string", "enum": values},
            }
            for name, (text, values) in FLAGS.items()
        ],
        "requestBody": {"required": True, "content": content},
        "responses": {
            "200": _json("the verdict", {"$ref": f"#/components/schemas/{result}"}),
            **{code: _json(text, {"$ref": "#/components/schemas/Error"}) for code, text in REFUSALS.items()},
        },
    }


def _web_model_file() -> dict[str, Any]:
    """A file of the web model the page's on-device check loads (serving/web.py), e.g. for a static copy."""
    name = {"name": "name", "in": "path", "required": True, "schema": {"type": "string", "enum": list(WEB_FILES)}}
    return {
        "summary": "A file of the on-device check's web model: model.json, web.json or an ONNX net",
        "parameters": [name],
        "responses": {
            "200": {
                "description": "the file",
                "content": {
                    "application/json": {"schema": {"type": "object"}},
                    "application/octet-stream": {"schema": BINARY},
                },
            },
            "404": _json(
                "not a web model file, or this model folder has none (the package stage writes them)",
                {"$ref": "#/components/schemas/Error"},
            ),
        },
    }


def _json(description: str, schema: dict) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}
