"""facenet-pytorch's MTCNN cascade (`detect_face`), reorganised for speed on CPU with the same results.

Same networks and weights (the wheel's P-Net, R-Net and O-Net), same pyramid, thresholds, non-maximum
suppressions and box regressions, with the helpers of facenet_pytorch.models.utils.detect_face itself. What
differs is how the work is done, measured single-threaded on 640x360 frames:

- Resampling. facenet-pytorch resizes the frame once per pyramid level, and each candidate box separately to
  24x24 (R-Net) and 48x48 (O-Net), with `interpolate(mode="area")`, i.e. adaptive average pooling: one torch
  call per candidate, hundreds per frame on textured backgrounds. Here every such resize is read off one integral
  image of the frame (cv2.integral), all candidates of a stage in one vectorised gather. The windows are
  torch's (start = floor(i*in/out), end = ceil((i+1)*in/out)) and the division is torch's (sum / kh / kw in
  float32), and the frame holds integers, so the values are bit-identical to torch's (tests/test_media.py).
- Layout. The networks run channels-last (NHWC), which makes their convolutions and max-pools about 1.5-3x
  faster on CPU. The outputs differ from NCHW in the last float bits only (~1e-6), as much as running the same
  frame alone or in a batch of 16 already does.
- Batching. On the CPU P-Net runs on one frame at a time: its activations for a batch of 16 frames do not fit
  in the cache, and a batched call took 2.5x as long as 16 single ones. On a GPU (`batch_pnet`) it takes all
  same-size frames of a pyramid level in one call, which keeps the GPU busy; the suppressions stay per frame,
  so each frame gets its one-frame faces up to float rounding (tests/test_mtcnn.py). R-Net and O-Net take all
  candidates of a frame in one call.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import cv2
import numpy as np
import torch
from facenet_pytorch.models.utils.detect_face import bbreg, generateBoundingBox, nms_numpy, pad, rerec
from torchvision.ops.boxes import batched_nms

from deepfake_detector.devices import usable_cores

NORM_SHIFT, NORM_SCALE = np.float32(127.5), np.float32(0.0078125)  # facenet-pytorch's input normalisation
PNET_CELL = 12  # P-Net's window: a face of min_face_size pixels is searched at scale 12 / min_face_size
THRESHOLDS = (0.6, 0.7, 0.7)  # facenet-pytorch's face-score thresholds of P-Net, R-Net and O-Net
PYRAMID_FACTOR = 0.709  # facenet-pytorch's step between pyramid levels


@dataclass(frozen=True)
class Detections:
    """MTCNN's output for one frame, in the pixels of the frame it was given."""

    boxes: np.ndarray  # k x 4: x1, y1, x2, y2
    probs: np.ndarray  # k
    landmarks: np.ndarray  # k x 5 x 2


def pyramid_scales(h: int, w: int, min_face_size: float, factor: float, skip_below: float = 0.0) -> list[float]:
    """facenet-pytorch's scales: from 12 / min_face_size, times `factor`, while the short side is >= 12 px.

    Level k searches faces of about min_face_size / factor**k pixels. `skip_below` drops the levels that search
    faces smaller than it (the largest, costliest levels) and keeps the others exactly as they were, so the faces
    the remaining levels find do not move; a larger min_face_size instead would shift every level."""
    scale = PNET_CELL / min_face_size
    minl = min(h, w) * scale
    scales = []
    while minl >= PNET_CELL:
        if PNET_CELL / scale >= skip_below:
            scales.append(scale)
        scale *= factor
        minl *= factor
    return scales


def _windows(start: np.ndarray, size: np.ndarray, out: int) -> tuple[np.ndarray, np.ndarray]:
    """Adaptive-average-pooling windows of `out` cells over [start, start + size), per row of start/size."""
    i = np.arange(out)
    size = size[:, None]
    return start[:, None] + (i * size) // out, start[:, None] + ((i + 1) * size + out - 1) // out


def _normalised_means(total: np.ndarray, kh: np.ndarray, kw: np.ndarray) -> np.ndarray:
    """Window sums / window sizes, normalised as MTCNN expects, in torch's float32 order of operations."""
    return (total.astype(np.float32) / kh.astype(np.float32) / kw.astype(np.float32) - NORM_SHIFT) * NORM_SCALE


def resample_frame(integral: np.ndarray, out_h: int, out_w: int) -> np.ndarray:
    """The whole frame resized to out_h x out_w by area averaging, normalised as MTCNN expects:
    out_h x out_w x 3 float32, equal to torch's interpolate(mode="area") on the frame (windows are separable)."""
    h, w = integral.shape[0] - 1, integral.shape[1] - 1
    r0, r1 = (v[0] for v in _windows(np.zeros(1, np.int64), np.array([h]), out_h))
    c0, c1 = (v[0] for v in _windows(np.zeros(1, np.int64), np.array([w]), out_w))
    rows = np.take(integral, r1, axis=0) - np.take(integral, r0, axis=0)  # out_h x (w+1) x 3
    total = np.take(rows, c1, axis=1) - np.take(rows, c0, axis=1)
    return _normalised_means(total, (r1 - r0)[:, None, None], (c1 - c0)[None, :, None])


def resample_regions(integral: np.ndarray, regions: np.ndarray, size: int) -> np.ndarray:
    """Regions (k x 4: row0, row1, col0, col1, half-open) each resized to size x size by area averaging,
    normalised as MTCNN expects: k x size x size x 3 float32, equal to torch's interpolate(mode="area")."""
    r0, r1 = _windows(regions[:, 0], regions[:, 1] - regions[:, 0], size)
    c0, c1 = _windows(regions[:, 2], regions[:, 3] - regions[:, 2], size)
    flat, stride = integral.reshape(-1, 3), integral.shape[1]
    rows0, rows1 = (r0 * stride)[:, :, None], (r1 * stride)[:, :, None]
    cols0, cols1 = c0[:, None, :], c1[:, None, :]

    def at(index: np.ndarray) -> np.ndarray:
        return np.take(flat, index.ravel(), axis=0)

    total = (at(rows1 + cols1) - at(rows0 + cols1) - at(rows1 + cols0) + at(rows0 + cols0)).reshape(-1, size, size, 3)
    return _normalised_means(total, (r1 - r0)[:, :, None, None], (c1 - c0)[:, None, :, None])


class FastMTCNN:
    """MTCNN.detect(frames, landmarks=True) of facenet-pytorch, per frame, for RGB uint8 frames."""

    def __init__(
        self, thresholds: tuple[float, float, float] = THRESHOLDS, factor: float = PYRAMID_FACTOR, device: str = "cpu"
    ):
        from facenet_pytorch import MTCNN  # weights ship inside the wheel (works offline)

        reference = MTCNN(keep_all=True, device="cpu", thresholds=list(thresholds), factor=factor)
        self.device = torch.device(device)  # where the three networks run; the rest of the cascade is on the CPU
        self.pnet, self.rnet, self.onet = (
            net.eval().to(self.device, memory_format=torch.channels_last)
            for net in (reference.pnet, reference.rnet, reference.onet)
        )
        self.thresholds, self.factor = tuple(reference.thresholds), reference.factor

    def detect(
        self,
        frames: list[np.ndarray] | np.ndarray,
        min_face_size: float,
        skip_below: float = 0.0,
        batch_pnet: bool | None = None,
    ) -> list[Detections]:
        """Faces per frame; `skip_below`: pyramid levels searching faces under this many pixels are skipped.
        `batch_pnet` (default: on a GPU) runs P-Net on all the frames of a pyramid level in one call, which
        keeps a GPU busy; on the CPU one frame at a time is faster (see the module's docstring)."""
        frames = [np.ascontiguousarray(frame) for frame in frames]
        if batch_pnet is None:
            batch_pnet = self.device.type == "cuda"
        with torch.inference_mode():
            if batch_pnet and len({f.shape for f in frames}) == 1:
                integrals = [cv2.integral(f, sdepth=cv2.CV_32S) for f in frames]
                candidates = self._pnet_candidates(integrals, *frames[0].shape[:2], min_face_size, skip_below)
                return [self._refine(i, c, *f.shape[:2]) for i, c, f in zip(integrals, candidates, frames, strict=True)]
            workers = min(len(frames), frame_workers())
            if workers <= 1:
                return [self._detect_one(frame, min_face_size, skip_below) for frame in frames]
            with ThreadPoolExecutor(workers) as pool:  # inference mode is per thread: each worker enters it
                return list(pool.map(lambda frame: self._detect_one_no_grad(frame, min_face_size, skip_below), frames))

    def _run(self, net: torch.nn.Module, batch: np.ndarray) -> tuple[torch.Tensor, ...]:
        """One network on k x h x w x 3 float32 (seen as k x 3 x h x w, channels-last: no copy on the CPU), on
        the detection device; its outputs back on the CPU, where the suppressions and box arithmetic run."""
        outputs = net(torch.from_numpy(batch).permute(0, 3, 1, 2).to(self.device))
        return tuple(out.cpu() for out in outputs)

    @torch.inference_mode()
    def _detect_one_no_grad(self, frame: np.ndarray, min_face_size: float, skip_below: float) -> Detections:
        return self._detect_one(frame, min_face_size, skip_below)

    def _detect_one(self, frame: np.ndarray, min_face_size: float, skip_below: float) -> Detections:
        h, w = frame.shape[:2]
        integral = cv2.integral(frame, sdepth=cv2.CV_32S)  # (h+1) x (w+1) x 3 window sums, exact
        return self._refine(integral, self._pnet_candidates([integral], h, w, min_face_size, skip_below)[0], h, w)

    def _pnet_candidates(
        self, integrals: list[np.ndarray], h: int, w: int, min_face_size: float, skip_below: float
    ) -> list[torch.Tensor]:
        """Stage 1 for same-size frames: P-Net over the pyramid (all frames of a level in one call), one
        suppression per frame and scale, then one per frame over all scales."""
        per_scale: list[list[torch.Tensor]] = [[] for _ in integrals]
        for scale in pyramid_scales(h, w, min_face_size, self.factor, skip_below):
            resampled = [resample_frame(i, int(h * scale + 1), int(w * scale + 1)) for i in integrals]
            levels = resampled[0][None] if len(resampled) == 1 else np.stack(resampled)  # one frame: no copy
            reg, probs = self._run(self.pnet, levels)
            boxes, image_inds = generateBoundingBox(reg, probs[:, 1], scale, self.thresholds[0])
            pick = batched_nms(boxes[:, :4], boxes[:, 4], image_inds, 0.5)  # per frame, highest score first
            boxes, image_inds = boxes[pick], image_inds[pick]
            for n in range(len(integrals)):
                per_scale[n].append(boxes[image_inds == n])
        out = []
        for found in per_scale:
            boxes = torch.cat(found) if found else torch.zeros(0, 9)
            out.append(boxes[batched_nms(boxes[:, :4], boxes[:, 4], torch.zeros(len(boxes), dtype=torch.int64), 0.7)])
        return out

    def _refine(self, integral: np.ndarray, boxes: torch.Tensor, h: int, w: int) -> Detections:
        """Stages 2 and 3 for one frame: its P-Net candidates through R-Net and O-Net."""
        if len(boxes) == 0:
            return _empty()
        regw, regh = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
        boxes = torch.stack(
            [
                boxes[:, 0] + boxes[:, 5] * regw,
                boxes[:, 1] + boxes[:, 6] * regh,
                boxes[:, 2] + boxes[:, 7] * regw,
                boxes[:, 3] + boxes[:, 8] * regh,
                boxes[:, 4],
            ],
            dim=1,
        )
        boxes = rerec(boxes)

        # stage 2: R-Net on 24x24 resamples of the candidates
        boxes, crops = self._crops(integral, boxes, w, h, 24)
        if len(boxes) == 0:
            return _empty()
        reg, probs = self._run(self.rnet, crops)
        score = probs[:, 1]
        keep = score > self.thresholds[1]
        boxes = torch.cat((boxes[keep, :4], score[keep].unsqueeze(1)), dim=1)
        reg = reg[keep]
        pick = batched_nms(boxes[:, :4], boxes[:, 4], torch.zeros(len(boxes), dtype=torch.int64), 0.7)
        boxes = rerec(bbreg(boxes[pick], reg[pick]))

        # stage 3: O-Net on 48x48 resamples: scores, boxes and landmarks
        boxes, crops = self._crops(integral, boxes, w, h, 48)
        if len(boxes) == 0:
            return _empty()
        reg, points, probs = self._run(self.onet, crops)
        score = probs[:, 1]
        keep = score > self.thresholds[2]
        boxes = torch.cat((boxes[keep, :4], score[keep].unsqueeze(1)), dim=1)
        points, reg = points[keep], reg[keep]
        w_i = (boxes[:, 2] - boxes[:, 0] + 1).unsqueeze(1)
        h_i = (boxes[:, 3] - boxes[:, 1] + 1).unsqueeze(1)
        points = torch.stack((w_i * points[:, :5] + boxes[:, 0:1] - 1, h_i * points[:, 5:] + boxes[:, 1:2] - 1), dim=2)
        boxes = bbreg(boxes, reg)
        pick = _nms_min(boxes[:, :4].numpy(), boxes[:, 4].numpy(), 0.7)
        boxes, points = boxes[pick].numpy(), points[pick].numpy()
        return Detections(boxes[:, :4].astype(float), boxes[:, 4].astype(float), points.astype(float))

    def _crops(self, integral: np.ndarray, boxes, w: int, h: int, size: int):
        """facenet's crop of each box (pad(): 1-based, clipped to the frame), resampled to size x size.

        Boxes whose clipped region is empty (wholly outside the frame) are dropped; facenet-pytorch skips their
        crop but not the box, and then fails on the mismatch."""
        y, ey, x, ex = pad(boxes, w, h)
        regions = np.stack([y - 1, ey, x - 1, ex], axis=1).astype(np.int64)
        valid = (regions[:, 1] > regions[:, 0]) & (regions[:, 3] > regions[:, 2])
        if not valid.all():
            boxes, regions = boxes[torch.from_numpy(valid)], regions[valid]
        return boxes, resample_regions(integral, regions, size)


def frame_workers() -> int:
    """How many frames to detect side by side on the CPU: the cores torch's own threads leave idle (the service
    runs torch on one thread, serve.torch_threads). Each frame's detection is the same computation on its own
    thread, so the faces are the same; torch and OpenCV release the GIL while they compute."""
    return max(1, usable_cores() // torch.get_num_threads())


def _nms_min(boxes: np.ndarray, scores: np.ndarray, threshold: float) -> np.ndarray:
    """facenet-pytorch's final suppression (nms_numpy, "Min" overlap) for one image."""
    if boxes.size == 0:
        return np.zeros(0, dtype=np.int64)
    return np.asarray(nms_numpy(boxes, scores, threshold, "Min"), dtype=np.int64)


def _empty() -> Detections:
    return Detections(np.zeros((0, 4)), np.zeros(0), np.zeros((0, 5, 2)))
