"""ONNX export of a trained model, checked against PyTorch on the same inputs."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch

from deepfake_detector.io import atomic_path

log = logging.getLogger(__name__)


class ExportMismatch(RuntimeError):
    pass


def export_onnx(model: torch.nn.Module, input_size: int, path: Path, opset: int = 18) -> Path:
    """Export with a dynamic batch axis (input `input`: N x 3 x S x S float32 -> output `logit`: N x 1)."""
    model = model.eval()
    example = torch.zeros(2, 3, input_size, input_size)
    with atomic_path(path) as tmp:
        torch.onnx.export(
            model, (example,), str(tmp), input_names=["input"], output_names=["logit"], opset_version=opset,
            dynamic_shapes={"x": {0: torch.export.Dim("batch", min=1, max=1024)}}, dynamo=True, external_data=False,
        )
    return path


def check_onnx(model: torch.nn.Module, onnx_path: Path, batch: np.ndarray, atol: float) -> float:
    """Max |logit difference| between PyTorch and ONNX Runtime on `batch`; raises above `atol`."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    with torch.inference_mode():
        expected = model.eval()(torch.from_numpy(batch)).numpy().reshape(-1)
    got = session.run(None, {session.get_inputs()[0].name: batch})[0].reshape(-1)
    diff = float(np.max(np.abs(expected - got))) if len(got) else 0.0
    if diff > atol:
        raise ExportMismatch(f"ONNX and PyTorch disagree: max |logit diff| {diff:.2e} > package.onnx_atol={atol}")
    log.info("ONNX matches PyTorch on %d inputs: max |logit diff| %.2e", len(batch), diff)
    return diff
