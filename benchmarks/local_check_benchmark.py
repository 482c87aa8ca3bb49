"""In-browser check benchmark: latency per image and per video frame in headless Chromium (ONNX Runtime Web,
WebAssembly, one thread) next to the service's (POST /predict_image and /predict_video, client wall time).

Media as in serve_benchmark.py (a 600x600 portrait, a 1280x720 photo), and the first 2 s of its 720p clip
re-encoded as VP9 WebM, which both Chromium and OpenCV decode (OpenCV's VP9 encoder is too slow for all 13 s).
The page samples model.json's frames_per_video frames, the service serve.frames_per_video: per-frame times
divide each by its own count. The first check, which loads the web model (about 16 MB of ONNX plus the 15-MB
WebAssembly runtime), is reported apart.
With the demo's packaged model and artifacts/manifest.csv (after `make demo`), every test-split image and video of
the demo corpus is also checked on the page and by the service once, and the agreement is reported: verdicts
equal, the largest probability difference and the largest box distance (in the text above the table).
Run: python benchmarks/local_check_benchmark.py [--model artifacts/model] [--repeats 5] [--out DIR]
With --out, DIR/benchmark.json keeps the table with the command, commit and machine (rendered by the
`table=benchmark` block of docs/private_check.md: scripts/write_results.py).
Without a model folder holding the web model files, an untrained EfficientNet-Lite0 at 128 px with the
frequency branch (the demo's architecture) is built and MTCNN exported as the package stage does.
"""

from __future__ import annotations

import argparse
import base64
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import cv2
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
from run_record import benchmark_made_by, write_benchmark  # noqa: E402
from serve_benchmark import make_media, start_server, stop_server, tiny_model  # noqa: E402
from test_real_server import free_port  # noqa: E402

from deepfake_detector.config import load_params  # noqa: E402
from deepfake_detector.paths import MANIFEST_CSV, MODEL_DIR  # noqa: E402
from deepfake_detector.serving.web import export_web_files, missing_web_files  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
WEBM_SECONDS = 2.0
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]
CHECK = """async ([b64, name, kind]) => {
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  const started = performance.now();
  const result = await localCheck(new File([bytes], name), kind);
  return [performance.now() - started, result.frames, result.timings_ms];
}"""
VERDICT = """async ([b64, name, kind]) => {
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  const r = await localCheck(new File([bytes], name), kind);
  return [r.verdict, r.fake_probability, r.faces.map((f) => f.box)];
}"""


def webm(video: Path, out: Path, seconds: float = WEBM_SECONDS) -> Path:
    cap = cv2.VideoCapture(str(video))
    fps = cap.get(cv2.CAP_PROP_FPS)
    _, frame = cap.read()
    writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"VP90"), fps, frame.shape[1::-1])
    for _ in range(int(seconds * fps)):
        writer.write(frame)
        _, frame = cap.read()
    writer.release()
    return out


def web_model(model: Path, tmp: Path) -> Path:
    if model.is_dir() and not missing_web_files(model):
        return model
    out = tmp / "model"
    if model.is_dir():
        shutil.copytree(model, out)
    else:
        tiny_model(out, "efficientnet_lite0", 128, True)
    export_web_files(out, opset=18, atol=1e-4, frames_per_video=load_params().serve.frames_per_video)
    return out


def served(url: str, kind: str, path: Path) -> tuple[float, dict]:
    """The service's answer on `path` and how long it took over HTTP, in ms."""
    started = time.perf_counter()
    body = httpx.post(f"{url}/predict_{kind}", files={kind: (path.name, path.read_bytes())}, timeout=600).json()
    return (time.perf_counter() - started) * 1000, body


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=MODEL_DIR)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, help="also write the table to OUT/benchmark.json")
    args = parser.parse_args()
    made_by = benchmark_made_by()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        model = web_model(args.model, tmp)
        media = make_media(tmp)
        media["video"] = ("video", webm(media["video"][1], tmp / "face_720p.webm"))
        size = sum((model / f).stat().st_size for f in ("model.onnx", "pnet.onnx", "rnet.onnx", "onet.onnx"))
        print(f"model: {model}; web model (classifier + MTCNN ONNX): {size / 2**20:.1f} MB")
        port = free_port()
        server = start_server(model, port, load_params().serve, tmp / "bentoml")
        try:
            rows, first, agreed = measure(f"http://127.0.0.1:{port}", media, args.repeats, demo_test_files(model))
        finally:
            stop_server(server)
    if args.out:
        about = (
            f"Web model (classifier and MTCNN as ONNX): {size / 2**20:.1f} MB of `{args.model}` (or an untrained "
            f"Lite0 with the frequency branch without one). Medians of {args.repeats} in ms, per sampled frame for "
            f"the 2-s 720p VP9 clip; the first check, which loads the runtime and the model, took {first:.0f} ms."
            + "".join(f" {line}" for line in agreed)
        )
        write_benchmark(args.out, made_by, about, rows)


def demo_test_files(model: Path) -> dict[str, list[Path]]:
    """The demo corpus' test-split files per media (images, videos) when `model` is the demo's packaged model and
    the manifest is there; else nothing."""
    import pandas as pd

    if model.resolve() != MODEL_DIR.resolve() or not MANIFEST_CSV.exists():
        return {}
    manifest = pd.read_csv(MANIFEST_CSV)
    test = manifest[(manifest["split"] == "test") & (manifest["dataset"] == "demo")]
    return {media: [Path(p) for p in group["path"]] for media, group in test.groupby("media")}


def compare_once(page, url: str, kind: str, path: Path) -> tuple[bool, float | None, float | None]:
    """One file on the page and through the service: verdicts equal, |probability difference| (None when either
    cannot judge) and the largest box coordinate distance (None when they found different numbers of faces)."""
    b64 = base64.b64encode(path.read_bytes()).decode()
    verdict, prob, boxes = page.evaluate(VERDICT, [b64, path.name, kind])
    _, body = served(url, kind, path)
    theirs_prob = body["fake_probability"]
    prob_gap = None if prob is None or theirs_prob is None else abs(prob - theirs_prob)
    theirs = [f["box"] for f in body["faces"]]
    box_gap = None
    if len(boxes) == len(theirs):
        box_gap = max(
            (abs(a - b) for m, t in zip(boxes, theirs, strict=True) for a, b in zip(m, t, strict=True)), default=0.0
        )
    return verdict == body["verdict"], prob_gap, box_gap


def agreement(page, url: str, files: dict[str, list[Path]]) -> list[str]:
    """Each file checked on the page and by the service once: one sentence per media on how far they agree."""
    lines = []
    for kind, paths in files.items():
        same, prob_gaps, box_gaps = zip(*(compare_once(page, url, kind, path) for path in paths), strict=True)
        prob_gaps = [g for g in prob_gaps if g is not None]
        box_gaps = [g for g in box_gaps if g is not None]
        line = (
            f"On the demo's {len(paths)} test-split {kind}s, the page's verdict equalled the service's on "
            f"{sum(same)} and the number of faces on {len(box_gaps)}; probabilities differed by at most "
            f"{max(prob_gaps, default=0):.4f} (median {statistics.median(prob_gaps or [0]):.4f}), "
            f"boxes by at most {max(box_gaps, default=0):.1f} px."
        )
        print(line)
        lines.append(line)
    return lines


def measure(
    url: str, media: dict[str, tuple[str, Path]], repeats: int, demo_files: dict[str, list[Path]]
) -> tuple[list[dict], float, list[str]]:
    """Print per medium the median in-browser and service latency (per frame for the video); return them as
    rows, the first check's time (it loads the web model) and the agreement on the demo's test files."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        page = browser.new_page()
        page.set_default_timeout(600_000)
        page.goto(url)
        print(f"{'media':<12} {'in the browser':>22} {'service (HTTP)':>22}   (median of {repeats}, ms)")
        rows, first_check = [], float("nan")
        for name, (kind, path) in media.items():
            b64 = base64.b64encode(path.read_bytes()).decode()
            first = page.evaluate(CHECK, [b64, path.name, kind])[0] if name == "portrait" else None
            local = [page.evaluate(CHECK, [b64, path.name, kind]) for _ in range(repeats)]
            server = [served(url, kind, path) for _ in range(repeats)]
            per = " per frame" if kind == "video" else ""
            mine = statistics.median(ms / frames for ms, frames, _ in local)
            theirs = statistics.median(ms / body["frames"] for ms, body in server)
            print(
                f"{name:<12} {mine:>12.0f}{per:<10} {theirs:>12.0f}{per:<10}"
                + (f"   first check, loading the model: {first:.0f} ms" if first else "")
            )
            rows.append({"media": name + per, "in the browser": round(mine), "service (HTTP)": round(theirs)})
            first_check = first if first else first_check
        agreed = agreement(page, url, demo_files)
        browser.close()
    return rows, first_check, agreed


if __name__ == "__main__":
    main()
