"""Generate the default demo corpus in a temp folder and print MTCNN's face detection rate per method.

A frame counts as detected when MTCNN (facenet-pytorch) finds a face with probability >= 0.9.
Every image and every decoded video frame is checked. Run: PYTHONPATH=src python benchmarks/demo_detection_rate.py
"""

from __future__ import annotations

import argparse
import csv
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import cv2
import numpy as np
from facenet_pytorch import MTCNN

from deepfake_detector.demo import generate_corpus

MIN_PROB = 0.9


def read_frames(path: Path) -> list[np.ndarray]:
    if path.suffix == ".jpg":
        return [cv2.imread(str(path))]
    cap = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame)
    cap.release()
    return frames


def best_prob(detector: MTCNN, bgr: np.ndarray) -> float:
    _, probs = detector.detect(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    if probs is None:
        return 0.0
    probs = np.nan_to_num(np.asarray(probs, dtype=float), nan=0.0)
    return float(probs.max()) if probs.size else 0.0


def detection_rates(root: Path) -> dict[str, tuple[int, int]]:
    """method -> (detected frames, total frames) over labels.csv in `root`."""
    detector = MTCNN(keep_all=True, device="cpu")
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    with open(root / "labels.csv") as f:
        for row in csv.DictReader(f):
            for frame in read_frames(root / row["path"]):
                counts[row["method"]][0] += best_prob(detector, frame) >= MIN_PROB
                counts[row["method"]][1] += 1
    return {k: (v[0], v[1]) for k, v in sorted(counts.items())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        summary = generate_corpus(Path(tmp) / "demo", seed=args.seed)
        print(
            f"generated {summary['files']} files, {summary['bytes'] / 1e6:.1f} MB "
            f"in {time.perf_counter() - start:.0f} s"
        )
        start = time.perf_counter()
        rates = detection_rates(Path(tmp) / "demo")
    detected = sum(d for d, _ in rates.values())
    total = sum(n for _, n in rates.values())
    for method, (d, n) in rates.items():
        print(f"{method:12s} {d:5d}/{n:5d} = {d / n:6.1%}")
    print(f"{'all':12s} {detected:5d}/{total:5d} = {detected / total:6.1%}  ({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
