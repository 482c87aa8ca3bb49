"""Where the model looked: an occlusion heatmap per face crop (captum's `Occlusion`).

Occlusion needs only the model's logits, so it explains the ONNX model the service runs exactly as it explains
the PyTorch weights, and the service needs no gradients. A square of the mean colour (0 in the normalised
input) slides over the crop; a pixel's heat is how much hiding the squares over it lowers the fake logit,
scaled so the face's hottest pixel is 1. Where hiding a region raises the fake logit, or changes nothing,
the heat is 0: the map shows the evidence for "fake", not for "real".

A heatmap travels as a PNG of the crop's size (RGBA: a colour map, opaque where hot), placed on the source
image by the face's `crop_box`; the upload page and `deepfake predict --explain` draw it the same way.
"""

from __future__ import annotations

import base64
from collections.abc import Callable

import cv2
import numpy as np

from deepfake_detector.config import ExplainConfig

Logits = Callable[[np.ndarray], np.ndarray]  # model input (N, 3, S, S) float32 -> fake logits (N,)


def occlusion_maps(logits: Logits, batch: np.ndarray, cfg: ExplainConfig) -> np.ndarray:
    """(N, S, S) heat in [0, 1] for a batch of model inputs (N, C, S, S)."""
    import torch
    from captum.attr import Occlusion

    channels, side = batch.shape[1], batch.shape[-1]
    window, stride = max(1, round(cfg.window * side)), max(1, round(cfg.stride * side))

    def forward(x: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(np.asarray(logits(x.numpy()), dtype=np.float32).reshape(-1))

    with torch.no_grad():
        attribution = Occlusion(forward).attribute(
            torch.from_numpy(np.ascontiguousarray(batch, dtype=np.float32)),
            sliding_window_shapes=(channels, window, window),
            strides=(channels, stride, stride),
            baselines=0.0,
            perturbations_per_eval=max(1, cfg.batch_size // len(batch)),  # about batch_size crops per model call
        )
    drop = attribution.sum(dim=1).clamp(min=0).numpy()  # one window covers every channel: summed, not averaged
    peak = drop.reshape(len(drop), -1).max(axis=1)[:, None, None]
    return np.divide(drop, peak, out=np.zeros_like(drop), where=peak > 0)


def heatmap_png(heat: np.ndarray, opacity: float) -> str:
    """The heat as a base64 PNG (RGBA): a jet colour map whose alpha is `opacity` x heat."""
    level = np.round(heat * 255).astype(np.uint8)
    bgra = cv2.cvtColor(cv2.applyColorMap(level, cv2.COLORMAP_JET), cv2.COLOR_BGR2BGRA)
    bgra[..., 3] = np.round(level * opacity).astype(np.uint8)
    ok, png = cv2.imencode(".png", bgra)
    if not ok:
        raise RuntimeError("OpenCV could not encode the heatmap as PNG")
    return base64.b64encode(png.tobytes()).decode("ascii")


def heatmap_rgba(png_base64: str) -> np.ndarray:
    """A heatmap PNG back as an (S, S, 4) RGBA array."""
    bgra = cv2.imdecode(np.frombuffer(base64.b64decode(png_base64), np.uint8), cv2.IMREAD_UNCHANGED)
    return cv2.cvtColor(bgra, cv2.COLOR_BGRA2RGBA)


def overlay(rgb: np.ndarray, png_base64: str, crop_box: list[int]) -> np.ndarray:
    """The source image with the heatmap composited over its crop square (the part inside the image)."""
    x1, y1, x2, y2 = crop_box
    rgba = cv2.resize(heatmap_rgba(png_base64), (x2 - x1, y2 - y1), interpolation=cv2.INTER_LINEAR)
    h, w = rgb.shape[:2]
    left, top, right, bottom = max(x1, 0), max(y1, 0), min(x2, w), min(y2, h)
    out = rgb.copy()
    if right <= left or bottom <= top:
        return out
    part = rgba[top - y1 : bottom - y1, left - x1 : right - x1].astype(np.float32)
    alpha = part[..., 3:] / 255.0
    region = out[top:bottom, left:right].astype(np.float32)
    out[top:bottom, left:right] = np.round(region * (1 - alpha) + part[..., :3] * alpha).astype(np.uint8)
    return out
