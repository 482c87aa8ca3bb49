"""Serving benchmark: latency, HTTP overhead, concurrent throughput and memory of a real `bentoml serve`.

Media: one 1280x720 JPEG and one 10-s 720p MP4 (25 fps), built from a demo-corpus face. Prints
  - median latency of /predict_image and /predict_video, and of Predictor.predict_path in-process on the
    same files (the difference is the HTTP + upload overhead);
  - image throughput with 8 concurrent clients;
  - the server's RSS (all its processes) before and during `--requests` image requests.
Run: python benchmarks/serve_benchmark.py [--model artifacts/model] [--requests 500]
Without a model folder an untrained tiny model is built: the numbers then still measure the plumbing.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import httpx
import numpy as np
import psutil

from deepfake_detector.config import ServeConfig
from deepfake_detector.paths import MODEL_DIR
from deepfake_detector.serving.server import serve_command, serve_env

W, H, FPS, SECONDS = 1280, 720, 25, 10
CLIENTS = 8


def make_media(out: Path) -> tuple[Path, Path]:
    from deepfake_detector.demo import generate_corpus

    generate_corpus(out / "corpus", seed=0, identities=2, images_per_identity=1, videos_per_identity=1,
                    frames_per_video=24, fps=12, size=256)
    face = cv2.imread(str(out / "corpus/real/images/id00_img00.jpg"))
    image = out / "face_720p.jpg"
    cv2.imwrite(str(image), on_canvas(face), [cv2.IMWRITE_JPEG_QUALITY, 92])
    cap = cv2.VideoCapture(str(out / "corpus/real/videos/id00_vid00.mp4"))
    frames = []
    ok, frame = cap.read()
    while ok:
        frames.append(on_canvas(frame))
        ok, frame = cap.read()
    video = out / "face_720p_10s.mp4"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"mp4v"), FPS, (W, H))
    loop = frames + frames[-2:0:-1]  # the clip played back and forth: motion without jumps
    for i in range(FPS * SECONDS):
        writer.write(loop[i % len(loop)])
    writer.release()
    return image, video


def on_canvas(face: np.ndarray) -> np.ndarray:
    """The face enlarged to 480 px high, centred on a grey 1280x720 frame."""
    side = 480
    face = cv2.resize(face, (side * face.shape[1] // face.shape[0], side))
    canvas = np.full((H, W, 3), 128, np.uint8)
    top, left = (H - face.shape[0]) // 2, (W - face.shape[1]) // 2
    canvas[top : top + face.shape[0], left : left + face.shape[1]] = face
    return canvas


def tiny_model(out: Path) -> Path:
    import torch

    from deepfake_detector.models.backbones import build_backbone
    from deepfake_detector.models.export import export_onnx
    from deepfake_detector.models.spec import ONNX_FILE, ModelSpec

    out.mkdir(parents=True)
    torch.manual_seed(0)
    export_onnx(build_backbone("resnet18", 112).eval(), 112, out / ONNX_FILE)
    ModelSpec(backbone="resnet18", input_size=112, version="untrained-benchmark").save(out)
    return out


def median_ms(fn, n: int) -> float:
    times = []
    for _ in range(n):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def post(url: str, kind: str, path: Path, client: httpx.Client) -> dict:
    response = client.post(f"{url}/predict_{kind}", files={kind: (path.name, path.read_bytes())}, timeout=300)
    response.raise_for_status()
    return response.json()


def rss_mb(proc: psutil.Process) -> float:
    procs = [proc, *proc.children(recursive=True)]
    return sum(p.memory_info().rss for p in procs if p.is_running()) / 2**20


def start_server(model: Path, port: int, cfg: ServeConfig, home: Path) -> subprocess.Popen:
    proc = subprocess.Popen(serve_command(port), env=serve_env(model, cfg, home), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                return proc
        except httpx.TransportError:
            time.sleep(0.5)
    proc.kill()
    raise RuntimeError("server did not become ready in 180 s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=MODEL_DIR)
    parser.add_argument("--requests", type=int, default=500, help="image requests for the memory check")
    parser.add_argument("--repeats", type=int, default=10, help="timed calls per latency median")
    parser.add_argument("--port", type=int, default=3071)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="serve-bench-") as tmp:
        tmp = Path(tmp)
        model = args.model if (args.model / "model.json").is_file() else tiny_model(tmp / "model")
        image, video = make_media(tmp)
        cfg = ServeConfig()
        proc = start_server(model, args.port, cfg, tmp / "bentoml")
        url = f"http://127.0.0.1:{args.port}"
        try:
            run(url, proc, model, image, video, cfg, args)
        finally:
            proc.terminate()
            proc.wait(timeout=60)


def run(url, proc, model, image, video, cfg, args) -> None:
    from deepfake_detector.inference import Predictor

    predictor = Predictor(model)
    print(f"model: {model} (version {predictor.spec.version}, {predictor.backend.name}); {W}x{H} media")
    with httpx.Client() as client:
        post(url, "image", image, client)  # warm up both paths
        predictor.predict_path(image, cfg.max_image_pixels)
        rows = []
        for kind, path, n in (("image", image, args.repeats), ("video", video, max(3, args.repeats // 3))):
            http = median_ms(lambda k=kind, p=path: post(url, k, p, client), n)
            local = median_ms(lambda p=path: predictor.predict_path(p, cfg.max_image_pixels, cfg.frames_per_video), n)
            rows.append((kind, http, local))
        print(f"{'media':<8}{'HTTP median ms':>16}{'in-process ms':>16}{'overhead ms':>14}")
        for kind, http, local in rows:
            print(f"{kind:<8}{http:>16.1f}{local:>16.1f}{http - local:>14.1f}")

    n = CLIENTS * 10
    started = time.perf_counter()
    with ThreadPoolExecutor(CLIENTS) as pool, httpx.Client(limits=httpx.Limits(max_connections=CLIENTS)) as client:
        list(pool.map(lambda _: post(url, "image", image, client), range(n)))
    print(f"throughput, {CLIENTS} concurrent clients: {n / (time.perf_counter() - started):.1f} images/s")

    server = psutil.Process(proc.pid)
    samples = [rss_mb(server)]
    with httpx.Client() as client:
        for i in range(1, args.requests + 1):
            post(url, "image", image, client)
            if i % 100 == 0 or i == args.requests:
                samples.append(rss_mb(server))
    print(f"server RSS over {args.requests} requests (MB, every 100): " + ", ".join(f"{s:.0f}" for s in samples))


if __name__ == "__main__":
    main()
