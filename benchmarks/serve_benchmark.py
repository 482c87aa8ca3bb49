"""Serving benchmark: latency, HTTP overhead, concurrent throughput and memory of a real `bentoml serve`.

Media, built from a demo-corpus face: a 600x600 portrait JPEG, a 1280x720 JPEG (the face on a grey frame) and
a 13-s 720p MP4 (25 fps) of which the service samples serve.frames_per_video (16) frames. Prints
  - p50 latency of /predict_image (portrait, 720p) and /predict_video over HTTP against the serving targets
    (portrait 150 ms, video 1.0 s, idle 2 cores), with the service's own split (`timings_ms`: decode, detect,
    classify, evidence; medians); then with ?explain=true (heatmaps) and their time (`timings_ms.explain`);
  - the HTTP overhead: against Predictor.predict_path on the same files in a separate process with the
    worker's environment and malloc settings, alternating with the HTTP calls; and as the client's wall time
    minus the time the service reports (`timings_ms.server`);
  - image throughput with 8 concurrent clients, micro-batching on (params) and off (batch_max_size 1), two
    servers measured in alternating rounds;
  - the RSS of the server process tree (arbiter + worker) at start, after every 100 of `--requests` requests
    (8 clients, every 10th a video) and its peak, sampled every 0.2 s.
Run: python benchmarks/serve_benchmark.py [--model artifacts/model] [--requests 500] [--latency-only] [--out DIR]
                                          [--video FILE]   (a real clip instead of the built one, e.g. FF++'s)
With --out, DIR/benchmark.json keeps the latency table with the command, commit and machine (rendered by the
`table=benchmark` block of docs/serving.md: scripts/write_results.py).
Without a model folder an untrained EfficientNet-Lite0 at 128 px is built (`--backbone`, `--input-size`,
`--frequency-branch`): the numbers then still measure the plumbing and a classifier of the served size.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import httpx
import numpy as np
import psutil

from deepfake_detector.config import ServeConfig, load_params
from deepfake_detector.models.spec import ModelSpec
from deepfake_detector.paths import MODEL_DIR
from deepfake_detector.serving.server import serve_command, serve_env

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
from run_record import benchmark_made_by, write_benchmark  # noqa: E402  (scripts/)

W, H, FPS, SECONDS = 1280, 720, 25, 13
PORTRAIT = 600
TARGET_MS = {"portrait": 150, "video": 1000}  # p50 over HTTP on an idle 2-core machine (the serving issues)
CLIENTS = 8
THROUGHPUT_REQUESTS = CLIENTS * 10
THROUGHPUT_ROUNDS = 3  # alternating between the two servers, so both see the same load drift
THREAD_ENV = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "OMP_WAIT_POLICY", "BENTOML_NUM_THREAD")
VIDEO_EVERY = 10  # in the memory run, every 10th request is a video
RSS_SAMPLE_S = 0.2
MB = 2**20
SPLIT = ("decode", "detect", "classify", "evidence")  # Predictor's timings_ms, passed through by the service


def make_media(out: Path) -> dict[str, tuple[str, Path]]:
    """name -> (kind, file): the portrait photo, the 720p photo and the 13-s 720p video."""
    from deepfake_detector.demo import generate_corpus

    generate_corpus(
        out / "corpus",
        seed=0,
        identities=2,
        images_per_identity=1,
        videos_per_identity=1,
        frames_per_video=24,
        fps=12,
        size=256,
    )
    face = cv2.imread(str(out / "corpus/real/images/id00_img00.jpg"))
    portrait = out / "portrait_600.jpg"  # the demo picture (head and shoulders) at 600x600
    cv2.imwrite(
        str(portrait),
        cv2.resize(face, (PORTRAIT, PORTRAIT), interpolation=cv2.INTER_CUBIC),
        [cv2.IMWRITE_JPEG_QUALITY, 92],
    )
    image = out / "face_720p.jpg"
    cv2.imwrite(str(image), on_canvas(face), [cv2.IMWRITE_JPEG_QUALITY, 92])
    cap = cv2.VideoCapture(str(out / "corpus/real/videos/id00_vid00.mp4"))
    frames = []
    ok, frame = cap.read()
    while ok:
        frames.append(on_canvas(frame))
        ok, frame = cap.read()
    video = out / f"face_720p_{SECONDS}s.mp4"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"mp4v"), FPS, (W, H))
    loop = frames + frames[-2:0:-1]  # the clip played back and forth: motion without jumps
    for i in range(FPS * SECONDS):
        writer.write(loop[i % len(loop)])
    writer.release()
    return {"portrait": ("image", portrait), "image_720p": ("image", image), "video": ("video", video)}


def on_canvas(face: np.ndarray) -> np.ndarray:
    """The face enlarged to 480 px high, centred on a grey 1280x720 frame."""
    side = 480
    face = cv2.resize(face, (side * face.shape[1] // face.shape[0], side))
    canvas = np.full((H, W, 3), 128, np.uint8)
    top, left = (H - face.shape[0]) // 2, (W - face.shape[1]) // 2
    canvas[top : top + face.shape[0], left : left + face.shape[1]] = face
    return canvas


def tiny_model(out: Path, backbone: str, input_size: int, frequency_branch: bool) -> Path:
    """An untrained model of the served architecture, exported like the package stage does, with
    params.yaml's face settings, as a model trained on them records them."""
    import torch

    from deepfake_detector.models.export import export_onnx
    from deepfake_detector.models.frequency import build_model
    from deepfake_detector.models.spec import ONNX_FILE, ModelSpec

    out.mkdir(parents=True)
    torch.manual_seed(0)
    spec = ModelSpec(
        backbone=backbone,
        input_size=input_size,
        faces=load_params().faces,
        frequency_branch=frequency_branch,
        version="untrained-benchmark",
    )
    model = build_model(backbone, input_size, spec.mean, spec.std, frequency_branch=frequency_branch)
    export_onnx(model.eval(), input_size, out / ONNX_FILE)
    spec.save(out)
    return out


# ----------------------------------------------------------------------------- measuring


def timed(fn) -> tuple[float, object]:
    started = time.perf_counter()
    result = fn()
    return (time.perf_counter() - started) * 1000, result


def post(url: str, kind: str, path: Path, client: httpx.Client, query: str = "") -> dict:
    response = client.post(f"{url}/predict_{kind}{query}", files={kind: (path.name, path.read_bytes())}, timeout=300)
    response.raise_for_status()
    return response.json()


def server_procs(proc: psutil.Process) -> list[psutil.Process]:
    return [proc, *proc.children(recursive=True)]


def rss_mb(proc: psutil.Process) -> float:
    total = 0
    for p in server_procs(proc):
        try:
            total += p.memory_info().rss
        except psutil.NoSuchProcess:
            pass
    return total / MB


class PeakRss:
    """Samples the server tree's RSS in the background; `peak` is the largest sample so far."""

    def __init__(self, proc: psutil.Process):
        self.proc, self.peak, self._stop = proc, 0.0, threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._stop.wait(RSS_SAMPLE_S):
            self.peak = max(self.peak, rss_mb(self.proc))

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        return self.peak


def start_server(model: Path, port: int, cfg: ServeConfig, home: Path) -> subprocess.Popen:
    proc = subprocess.Popen(
        serve_command(port),
        env=serve_env(model, cfg, home),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                return proc
        except httpx.TransportError:
            time.sleep(0.5)
    stop_server(proc)
    raise RuntimeError("server did not become ready in 180 s")


def stop_server(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 9)
        proc.wait(timeout=10)


def process_role(proc: psutil.Process) -> str:
    return f"worker {proc.pid}" if "_bentoml_impl.worker" in " ".join(proc.cmdline()) else f"arbiter {proc.pid}"


def worker_env(proc: subprocess.Popen) -> dict[str, str]:
    """The environment of the server's worker process (BentoML sets its thread counts there)."""
    for child in psutil.Process(proc.pid).children(recursive=True):
        if "_bentoml_impl.worker" in " ".join(child.cmdline()):
            return child.environ()
    raise RuntimeError("no BentoML worker process found under the server")


# ----------------------------------------------------------------------------- the runs


class InProcess:
    """Predictor.predict_path in a child process with the server worker's environment, malloc and thread settings,
    called from a worker thread as the service does (anyio.to_thread). It reads a path per line and answers
    with the milliseconds the call took."""

    MARK = "ms:"

    def __init__(self, model: Path, cfg: ServeConfig, env: dict[str, str]):
        args = [sys.executable, __file__, "--in-process", str(model), cfg.model_dump_json()]
        self.proc = subprocess.Popen(
            args, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
        )

    def __call__(self, path: Path) -> float:
        self.proc.stdin.write(f"{path}\n")
        self.proc.stdin.flush()
        while not (line := self.proc.stdout.readline()).startswith(self.MARK):
            if not line:
                raise RuntimeError("the in-process predictor exited")
        return float(line[len(self.MARK) :])

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=60)


def in_process_main(model: str, cfg_json: str) -> None:
    from deepfake_detector.inference import Predictor
    from deepfake_detector.prediction import PredictOptions
    from deepfake_detector.serving.memory import tune_malloc, tune_threads

    cfg = ServeConfig.model_validate_json(cfg_json)
    tune_malloc(cfg)
    tune_threads(cfg)
    predictor = Predictor(model)
    _ = predictor.detector  # loaded up front, as the service does
    options = PredictOptions(max_pixels=cfg.max_image_pixels, frames_per_video=cfg.frames_per_video)
    with ThreadPoolExecutor(1) as thread:
        for line in sys.stdin:
            call = thread.submit(predictor.predict_path, line.strip(), options)
            ms, _ = timed(call.result)
            print(f"{InProcess.MARK}{ms}", flush=True)


def latency(url: str, local: InProcess, media: dict[str, tuple[str, Path]], repeats: int) -> dict[str, dict]:
    """Medians per medium of the client's wall time, the service-reported times and the in-process time.

    HTTP and in-process calls alternate, so both see the same load from other work on the machine."""
    out = {}
    with httpx.Client() as client:
        for kind, path in media.values():  # warm-up, both kinds
            post(url, kind, path, client), local(path)
        for name, (kind, path) in media.items():
            n = repeats if kind == "image" else max(3, repeats // 3)
            wall, in_process, bodies = [], [], []
            for _ in range(n):
                ms, body = timed(lambda k=kind, p=path: post(url, k, p, client))
                wall.append(ms)
                bodies.append(body)
                in_process.append(local(path))
            timings = {
                key: statistics.median(b["timings_ms"].get(key, float("nan")) for b in bodies)
                for key in ("server", *SPLIT)
            }
            out[name] = {
                "wall": statistics.median(wall),
                "local": statistics.median(in_process),
                "frames": bodies[-1]["frames"],
                "faces": len(bodies[-1]["faces"]),
                **timings,
            }
    return out


def explain_cost(url: str, media: dict[str, tuple[str, Path]], repeats: int) -> dict[str, dict]:
    """Medians over HTTP with ?explain=true: the wall time, and the service's time making heatmaps."""
    out = {}
    with httpx.Client() as client:
        for name, (kind, path) in media.items():
            post(url, kind, path, client, "?explain=true")  # warm-up
            runs = [
                timed(lambda k=kind, p=path: post(url, k, p, client, "?explain=true"))
                for _ in range(max(3, repeats // 3))
            ]
            out[name] = {
                "wall": statistics.median(ms for ms, _ in runs),
                "faces": len(runs[-1][1]["faces"]),
                "explain": statistics.median(b["timings_ms"].get("explain", float("nan")) for _, b in runs),
            }
    return out


def throughput(url: str, image: Path) -> float:
    """Images per second with CLIENTS clients posting at once."""
    with ThreadPoolExecutor(CLIENTS) as pool, httpx.Client(limits=httpx.Limits(max_connections=CLIENTS)) as client:
        list(pool.map(lambda _: post(url, "image", image, client), range(CLIENTS)))  # warm-up
        started = time.perf_counter()
        list(pool.map(lambda _: post(url, "image", image, client), range(THROUGHPUT_REQUESTS)))
    return THROUGHPUT_REQUESTS / (time.perf_counter() - started)


def memory_run(url: str, server: psutil.Process, image: Path, video: Path, n: int) -> list[float]:
    """RSS after every 100 of n requests (CLIENTS at once, every VIDEO_EVERY-th a video)."""
    samples = []
    done = 0
    lock = threading.Lock()

    def one(i: int, client: httpx.Client) -> None:
        nonlocal done
        post(url, *(("video", video) if i % VIDEO_EVERY == VIDEO_EVERY - 1 else ("image", image)), client)
        with lock:
            done += 1
            if done % 100 == 0 or done == n:
                samples.append(rss_mb(server))

    with ThreadPoolExecutor(CLIENTS) as pool, httpx.Client(limits=httpx.Limits(max_connections=CLIENTS)) as client:
        list(pool.map(lambda i: one(i, client), range(n)))
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=MODEL_DIR)
    parser.add_argument("--backbone", default="efficientnet_lite0", help="of the untrained model, without --model")
    parser.add_argument("--input-size", type=int, default=128, help="of the untrained model, without --model")
    parser.add_argument("--frequency-branch", action="store_true", help="the untrained model fuses the DCT branch")
    parser.add_argument("--requests", type=int, default=500, help="requests in the memory run")
    parser.add_argument("--repeats", type=int, default=10, help="timed calls per latency median")
    parser.add_argument("--port", type=int, default=3071, help="this port and the next one are used")
    parser.add_argument("--latency-only", action="store_true", help="skip the throughput and memory runs")
    parser.add_argument("--out", type=Path, help="also write the latencies to OUT/benchmark.json")
    parser.add_argument("--video", type=Path, help="time this video instead of the built 13-s 720p clip")
    args = parser.parse_args()
    cfg = load_params().serve
    made_by = benchmark_made_by()
    with tempfile.TemporaryDirectory(prefix="serve-bench-") as tmp:
        tmp = Path(tmp)
        model = (
            args.model
            if (args.model / "model.json").is_file()
            else tiny_model(tmp / "model", args.backbone, args.input_size, args.frequency_branch)
        )
        media = make_media(tmp)
        if args.video:
            media["video"] = ("video", args.video)
        print(
            f"model: {model}; media: "
            + ", ".join(f"{name} {path.name}" for name, (_, path) in media.items())
            + f"; serve params: {cfg.model_dump()}"
        )
        print(f"load average before: {os.getloadavg()[0]:.1f} (other work on the 2 cores makes latencies noisy)")
        image = media["portrait"][1]
        servers = []
        try:
            servers.append(start_server(model, args.port, cfg, tmp / "bentoml"))
            results = measure(f"http://127.0.0.1:{args.port}", servers[0], model, media, cfg, args)
            results["model"], results["video"] = model_name(model), video_name(media["video"][1])
            if not args.latency_only:
                # the same service with batching off, for the throughput comparison only
                servers.append(
                    start_server(model, args.port + 1, cfg.model_copy(update={"batch_max_size": 1}), tmp / "bentoml")
                )
                urls = [f"http://127.0.0.1:{port}" for port in (args.port, args.port + 1)]
                rounds = [[throughput(url, image) for url in urls] for _ in range(THROUGHPUT_ROUNDS)]
                results["throughput_on"], results["throughput_off"] = (
                    statistics.median(r) for r in zip(*rounds, strict=True)
                )
                results["batching"] = httpx.get(f"{urls[0]}/model").json()["batching"]
            results["rss_peak"] = results.pop("peak").stop()
        finally:
            for proc in servers:
                stop_server(proc)
    report(results, args)
    if args.out:
        write_benchmark(args.out, made_by, about(results), latency_rows(results))


def measure(
    url: str,
    proc: subprocess.Popen,
    model: Path,
    media: dict[str, tuple[str, Path]],
    cfg: ServeConfig,
    args: argparse.Namespace,
) -> dict:
    """Latency and memory of the service as configured; the RSS peak keeps being sampled afterwards."""
    server = psutil.Process(proc.pid)
    results = {
        "peak": PeakRss(server),
        "rss_start": rss_mb(server),
        "rss_by_process": {process_role(p): p.memory_info().rss / MB for p in server_procs(server)},
    }
    env = worker_env(proc)
    results["thread_env"] = {k: env[k] for k in THREAD_ENV if k in env}
    results["torch_threads"] = httpx.get(f"{url}/model").json().get("torch_threads")
    local = InProcess(model, cfg, env)
    try:
        results["latency"] = latency(url, local, media, args.repeats)
    finally:
        local.close()
    results["explain"] = explain_cost(url, media, args.repeats)
    if not args.latency_only:
        results["memory"] = memory_run(url, server, media["portrait"][1], media["video"][1], args.requests)
    return results


def model_name(model: Path) -> str:
    """What was served: the model folder's version and backbone."""
    spec = ModelSpec.load(model)
    return f"{spec.version} ({spec.backbone}, {spec.input_size} px)"


def video_name(video: Path) -> str:
    capture = cv2.VideoCapture(str(video))
    seconds = capture.get(cv2.CAP_PROP_FRAME_COUNT) / (capture.get(cv2.CAP_PROP_FPS) or 1)
    size = f"{int(capture.get(cv2.CAP_PROP_FRAME_WIDTH))}x{int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))}"
    capture.release()
    return f"{video.name} ({size}, {seconds:.1f} s)"


def about(r: dict) -> str:
    return (
        f"Served model: {r['model']}; video: {r['video']}. Medians in ms: over HTTP, its target on an idle 2-core "
        "machine, the same file through the Predictor in a separate process, and the service's split (`timings_ms`)."
    )


def latency_rows(r: dict) -> list[dict]:
    """The latency table report() prints, a row per medium, to 0.1 ms (None: the medium has no such part)."""

    def ms(value: float) -> float | None:
        return None if math.isnan(value) else round(value, 1)

    return [
        {
            "media": name,
            "frames": m["frames"],
            "p50 over HTTP": ms(m["wall"]),
            "target": TARGET_MS.get(name),
            "in-process": ms(m["local"]),
            **{part: ms(m[part]) for part in SPLIT},
        }
        for name, m in r["latency"].items()
    ]


def report(r: dict, args: argparse.Namespace) -> None:
    print(
        f"\nworker thread environment: {r['thread_env'] or 'none set (torch and ONNX Runtime use their defaults)'}; "
        f"torch threads in the worker (GET /model): {r['torch_threads']}"
    )
    head = (
        "media",
        "frames",
        "p50 HTTP ms",
        "target",
        "in-process",
        "overhead",
        "service",
        "transport",
        "decode",
        "detect",
        "classify",
        "evidence",
    )
    print("".join(f"{h:>12}" if i else f"{h:<11}" for i, h in enumerate(head)))
    for name, m in r["latency"].items():
        target = TARGET_MS.get(name)
        cells = [
            f"{m['frames']}",
            f"{m['wall']:.1f}",
            f"{target}" if target else "-",
            f"{m['local']:.1f}",
            f"{(m['wall'] - m['local']) / m['local']:.1%}",
            f"{m['server']:.1f}",
            f"{(m['wall'] - m['server']) / m['wall']:.1%}",
            *(f"{m[k]:.1f}" for k in SPLIT),
        ]
        print(f"{name:<11}" + "".join(f"{c:>12}" for c in cells))
    print("  p50 HTTP: median client wall time; target: the serving goal on an idle 2-core machine;")
    print("  overhead: HTTP wall time over Predictor.predict_path in a separate process with the worker's settings")
    print("  (calls alternate with the HTTP ones); service: timings_ms.server (upload received to response);")
    print("  transport: share of the wall time spent outside the service; decode/detect/classify/evidence: the")
    print("  service's timings_ms (medians, ms; evidence: a video's key frames as JPEGs, ?frames=key)")
    print(f"\n{'with ?explain=true':<19}{'faces':>8}{'p50 HTTP ms':>14}{'explain off':>14}{'heatmaps ms':>14}")
    for name, m in r["explain"].items():
        print(f"{name:<19}{m['faces']:>8}{m['wall']:>14.1f}{r['latency'][name]['wall']:>14.1f}{m['explain']:>14.1f}")
    print("  heatmaps: timings_ms.explain (occlusion, params.yaml's explain section), medians")
    if not args.latency_only:
        print(
            f"\nthroughput, {CLIENTS} concurrent clients "
            f"(median of {THROUGHPUT_ROUNDS} rounds of {THROUGHPUT_REQUESTS} portraits): "
            f"{r['throughput_on']:.1f} images/s with micro-batching, {r['throughput_off']:.1f} without "
            "(batch_max_size 1)"
        )
        print(f"batches formed during the run: {r['batching']}")
    print(
        "\nserver RSS at start by process (MB): " + ", ".join(f"{k}: {v:.0f}" for k, v in r["rss_by_process"].items())
    )
    if not args.latency_only:
        print(
            f"server RSS (all processes), {args.requests} requests ({CLIENTS} clients, every {VIDEO_EVERY}th a video): "
            f"start {r['rss_start']:.0f} MB, after every 100: {', '.join(f'{s:.0f}' for s in r['memory'])} MB, "
            f"peak {r['rss_peak']:.0f} MB"
        )
    print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--in-process":  # the child process of InProcess
        in_process_main(*sys.argv[2:])
    else:
        main()
