"""ONNX export of a trained model, checked against PyTorch on the same inputs."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch

from deepfake_detector.io import atomic_path
from deepfake_detector.models.spec import ONNX_FILE, TEMPORAL_ONNX

log = logging.getLogger(__name__)


class ExportMismatch(RuntimeError):
    pass


def export_model(predictor, out: Path, inputs: np.ndarray, opset: int, atol: float) -> float:
    """A torch-backend Predictor's models as ONNX in `out`: model.onnx with two outputs, the logit and the
    embedding (the out-of-distribution check's input, and the temporal head's), and temporal.onnx when the
    temporal head scores videos; each checked against PyTorch on `inputs` (a batch of model inputs; for the
    temporal head, their embeddings as one video). Returns the largest difference."""
    spec, frame_model = predictor.spec, predictor.backend.with_embedding
    export_onnx(frame_model, spec.input_size, out / ONNX_FILE, opset, output_names=("logit", "embedding"))
    diff = check_onnx(frame_model, out / ONNX_FILE, inputs, atol)
    if not predictor.uses_temporal_head:
        return diff
    head = predictor.temporal.head
    export_temporal_onnx(head, spec.temporal_head.input_dim, out / TEMPORAL_ONNX, opset)
    with torch.inference_mode():
        sequence = frame_model(torch.from_numpy(inputs))[1].numpy()[None]
    return max(diff, check_onnx(head, out / TEMPORAL_ONNX, sequence, atol))


def export_onnx(
    model: torch.nn.Module, input_size: int, path: Path, opset: int = 18, output_names: tuple[str, ...] = ("logit",)
) -> Path:
    """Export with a dynamic batch axis (input `input`: N x 3 x S x S float32 -> output `logit`: N x 1, and
    `embedding`: N x D when the model returns it too, see backbones.WithEmbedding)."""
    example = torch.zeros(2, 3, input_size, input_size)
    return export_graph(
        model, example, path, opset, "input", output_names, {0: torch.export.Dim("batch", min=1, max=1024)}
    )


def export_temporal_onnx(head: torch.nn.Module, input_dim: int, path: Path, opset: int = 18) -> Path:
    """The temporal head: input `embeddings`: N x T x D (any number of frames T) -> output `logit`: N x 1."""
    example = torch.zeros(1, 4, input_dim)
    frames = torch.export.Dim("frames", min=1, max=4096)
    return export_graph(head, example, path, opset, "embeddings", ("logit",), {1: frames})


def export_graph(model, example, path: Path, opset: int, input_name: str, output_names, dims) -> Path:
    """`model` as ONNX at `path` (written atomically), traced on `example`; `dims`: the input's dynamic axes."""
    model = model.eval()
    with atomic_path(path) as tmp:
        torch.onnx.export(
            model,
            (example,),
            str(tmp),
            input_names=[input_name],
            output_names=list(output_names),
            opset_version=opset,
            dynamic_shapes={"x": dims},
            dynamo=True,
            external_data=False,
        )
        _drop_stack_traces(tmp)
    return path


def _drop_stack_traces(path: Path) -> None:
    """torch.onnx.export stores each node's Python stack trace (metadata_props), with the absolute paths of the
    checkout and the venv: the same model exported from two folders would differ byte for byte, and the
    package stage's outputs would depend on where the project is cloned. The graph itself is untouched."""
    import onnx

    exported = onnx.load(str(path))
    for nodes in [exported.graph.node, *(function.node for function in exported.functions)]:
        for node in nodes:
            del node.metadata_props[:]
    onnx.save(exported, str(path))


def check_onnx(model: torch.nn.Module, onnx_path: Path, batch: np.ndarray, atol: float) -> float:
    """Max |difference| between PyTorch and ONNX Runtime over every output on `batch`; raises above `atol`."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    with torch.inference_mode():
        expected = model.eval()(torch.from_numpy(batch))
    expected = expected if isinstance(expected, tuple) else (expected,)
    got = session.run(None, {session.get_inputs()[0].name: batch})
    if len(got) != len(expected):
        raise ExportMismatch(f"{onnx_path}: {len(got)} ONNX outputs, PyTorch gives {len(expected)}")
    diffs = [
        float(np.max(np.abs(e.numpy().reshape(-1) - g.reshape(-1)))) if g.size else 0.0
        for e, g in zip(expected, got, strict=True)
    ]
    diff = max(diffs)
    if diff > atol:
        raise ExportMismatch(f"ONNX and PyTorch disagree: max |output diff| {diff:.2e} > package.onnx_atol={atol}")
    log.info("ONNX matches PyTorch on %d inputs: max |output diff| %.2e", len(batch), diff)
    return diff
