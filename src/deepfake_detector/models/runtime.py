"""How a saved frame model (and temporal head) is run: with ONNX Runtime (the packaged model, on the best
installed provider) or with PyTorch (the train stage's weights). The Predictor picks one (inference.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from deepfake_detector.devices import onnx_providers
from deepfake_detector.models.spec import ModelSpec


class OnnxBackend:
    name = "onnxruntime"

    def __init__(self, path: Path):
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.log_severity_level = 3
        self.session = ort.InferenceSession(str(path), options, providers=onnx_providers())
        self.provider = self.session.get_providers()[0]  # the one ONNX Runtime runs on: CUDA when installed
        self.device = "cuda" if self.provider == "CUDAExecutionProvider" else "cpu"  # torch's names, as MTCNN's
        self.input_name = self.session.get_inputs()[0].name
        self.path = path

    def logits(self, batch: np.ndarray) -> np.ndarray:
        return self.session.run(None, {self.input_name: batch})[0].reshape(-1)  # ORT sessions are thread-safe

    def logits_and_embeddings(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        outputs = self.session.run(None, {self.input_name: batch})
        if len(outputs) < 2:
            raise RuntimeError(f"{self.path} has no embedding output; re-run the package stage")
        return outputs[0].reshape(-1), outputs[1]


class TorchBackend:
    name = "torch"
    device = "cpu"  # the PyTorch weights are scored on the CPU (training's GPU is released by then)

    def __init__(self, path: Path, spec: ModelSpec):
        import torch

        from deepfake_detector.models.backbones import WithEmbedding, load_weights
        from deepfake_detector.models.frequency import build_model

        self.torch = torch
        model = build_model(
            spec.backbone,
            spec.input_size,
            spec.mean,
            spec.std,
            frequency_branch=spec.frequency_branch,
            probe_layers=spec.probe_layers,
        )
        self.model = load_weights(model, path)
        self.with_embedding = WithEmbedding(self.model).eval()

    def logits(self, batch: np.ndarray) -> np.ndarray:
        with self.torch.inference_mode():
            return self.model(self.torch.from_numpy(batch)).reshape(-1).numpy()

    def logits_and_embeddings(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        with self.torch.inference_mode():
            logits, embeddings = self.with_embedding(self.torch.from_numpy(batch))
        return logits.reshape(-1).numpy(), embeddings.numpy()


class TemporalOnnx:
    def __init__(self, path: Path):
        self.backend = OnnxBackend(path)

    def logit(self, embeddings: np.ndarray) -> float:
        return float(self.backend.logits(embeddings[None].astype(np.float32))[0])


class TemporalTorch:
    def __init__(self, path: Path, spec: ModelSpec):
        import torch

        from deepfake_detector.models.backbones import load_weights
        from deepfake_detector.models.temporal import TemporalHead

        self.torch = torch
        self.head = load_weights(TemporalHead(spec.temporal_head.input_dim, spec.temporal_head.hidden), path)

    def logit(self, embeddings: np.ndarray) -> float:
        with self.torch.inference_mode():
            return float(self.head(self.torch.from_numpy(embeddings[None].astype(np.float32))).reshape(-1)[0])
