"""Preprocessing benchmark: the real download, extract_frames and crop_faces stages on the FF++ sample videos.

For each run (a set of videos, linked into a scratch project as real/ and fake/ folders), prints per stage the
wall time, videos per minute, frames per second and the peak RSS of the stage process. Runs:
  - 720p x1, 720p x5, 720p x10: the same kind of video in growing numbers, so a peak memory that grows with
    the number of videos shows up (the stages stream: they must not hold a dataset in memory);
  - 1080p x3: the full-HD originals.
The crop_faces target is at least 15 frames/s on 720p frames on 2 cores.
Run: python benchmarks/preprocess_benchmark.py [--root ../shared/data/ffpp_c40_dev] [--per-video 32] [--out DIR]
With --out, DIR/benchmark.json keeps the runs with the command, commit and machine (rendered by the
`table=benchmark` block of docs/datasets.md: scripts/write_results.py).
Wall times include each stage's start-up (Python, torch and MTCNN imports, about 3 s), as a user sees them.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import psutil
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
from run_record import benchmark_made_by, write_benchmark  # noqa: E402  (scripts/)

PROJECT = Path(__file__).resolve().parents[1]
STAGES = ("download", "extract_frames", "crop_faces")
POLL_SECONDS = 0.05
CODE_PATHS = ("src", "stages", "benchmarks")  # what a run's numbers depend on, for its recorded commit


def videos_by_height(root: Path) -> dict[int, list[Path]]:
    found: dict[int, list[Path]] = {}
    for path in sorted(root.rglob("*.mp4")):
        capture = cv2.VideoCapture(str(path))
        found.setdefault(int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)), []).append(path)
        capture.release()
    return found


def make_project(videos: list[Path], per_video: int, workdir: Path) -> Path:
    """A scratch project: the videos linked into data/ and listed in data/labels.csv (the `folder` adapter),
    `frames.per_video` set, everything else as in the project's params.yaml."""
    project = Path(tempfile.mkdtemp(dir=workdir))
    (project / "data").mkdir()
    labels = ["path,label"]
    for video in videos:
        name = f"{video.parent.parent.parent.name}_{video.name}"  # <method or source>_<id>.mp4
        (project / "data" / name).symlink_to(video)
        labels.append(f"{name},{'fake' if 'manipulated_sequences' in video.parts else 'real'}")
    (project / "data" / "labels.csv").write_text("\n".join(labels) + "\n")
    params = yaml.safe_load((PROJECT / "params.yaml").read_text())
    params["data"]["datasets"] = [{"name": "ffpp", "adapter": "folder", "source": {"kind": "local", "path": "data"}}]
    params["data"]["split"] = {"val": 0.0, "test": 0.0}
    params["frames"]["per_video"] = per_video
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    return project


def run_stage(project: Path, stage: str) -> tuple[float, float, str]:
    """Wall seconds, peak RSS (MB, the stage process and its children) and the log of one stage."""
    started = time.perf_counter()
    with tempfile.TemporaryFile("w+") as log:  # a file, not a pipe: a full pipe would stall the stage
        process = subprocess.Popen(
            [sys.executable, str(PROJECT / "stages" / f"{stage}.py")],
            cwd=project,
            stdout=subprocess.DEVNULL,
            stderr=log,
            text=True,
        )
        watched, peak = psutil.Process(process.pid), 0
        while process.poll() is None:
            try:
                tree = [watched, *watched.children(recursive=True)]
                peak = max(peak, sum(p.memory_info().rss for p in tree))
            except psutil.NoSuchProcess:
                pass
            time.sleep(POLL_SECONDS)
        seconds = time.perf_counter() - started
        log.seek(0)
        text = log.read()
    if process.returncode:
        sys.exit(f"{stage} failed in {project}:\n{text[-3000:]}")
    return seconds, peak / 2**20, text


def benchmark(name: str, videos: list[Path], per_video: int, workdir: Path) -> dict:
    project = make_project(videos, per_video, workdir)
    result = {"run": name, "videos": len(videos)}
    logs = {}
    for stage in STAGES:
        seconds, peak_mb, logs[stage] = run_stage(project, stage)
        result[stage] = {"seconds": round(seconds, 1), "peak_rss_mb": round(peak_mb)}
    frames = json.loads((project / "artifacts/summaries/extract_frames.json").read_text())["counts"]["frames_out"]
    crops = json.loads((project / "artifacts/summaries/crop_faces.json").read_text())["counts"]
    result["frames"] = frames
    result["detection_rate"] = crops["detection_rate"]
    # timed inside the stage (engines.run_units logs it)
    steady = re.search(r"crop_faces: ([\d.]+) frames/s \(with the workers' start-up\)", logs["crop_faces"])
    result["crop_faces"]["steady_frames_per_second"] = float(steady.group(1)) if steady else None
    for stage in ("extract_frames", "crop_faces"):
        seconds = result[stage]["seconds"]
        result[stage]["videos_per_minute"] = round(60 * len(videos) / seconds, 1)
        result[stage]["frames_per_second"] = round(frames / seconds, 1)
    return result


def table_row(run: dict) -> dict:
    """One run as the docs' table shows it."""
    extract, crop = run["extract_frames"], run["crop_faces"]
    return {
        "run": run["run"],
        "frames": run["frames"],
        "extract s": extract["seconds"],
        "extract frames/s": extract["frames_per_second"],
        "crop s": crop["seconds"],
        "crop frames/s": crop["frames_per_second"],
        "crop frames/s once started": crop["steady_frames_per_second"],
        "crop peak MB": crop["peak_rss_mb"],
        "detection rate": round(run["detection_rate"], 3),
    }


def print_table(results: list[dict]) -> None:
    print(f"\n{'run':<12}{'frames':>7}  {'stage':<15}{'wall s':>7}{'videos/min':>11}{'frames/s':>9}{'peak MB':>8}")
    for r in results:
        for stage in ("extract_frames", "crop_faces"):
            s = r[stage]
            print(
                f"{r['run']:<12}{r['frames']:>7}  {stage:<15}{s['seconds']:>7}{s['videos_per_minute']:>11}"
                f"{s['frames_per_second']:>9}{s['peak_rss_mb']:>8}"
            )
        print(
            f"{'':<21}crop_faces timed inside the stage: {r['crop_faces']['steady_frames_per_second']} frames/s, "
            f"detection rate {r['detection_rate']:.3f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", type=Path, default=PROJECT.parent / "shared/data/ffpp_c40_dev")
    parser.add_argument("--per-video", type=int, default=32, help="frames sampled per video")
    parser.add_argument("--out", type=Path, help="also write the runs to OUT/benchmark.json")
    args = parser.parse_args()
    made_by = benchmark_made_by(CODE_PATHS)
    if not args.root.is_dir():
        sys.exit(f"{args.root}: not found; pass --root <FaceForensics++ folder> (see docs/datasets.md)")
    by_height = videos_by_height(args.root)
    hd, full_hd = by_height.get(720, []), by_height.get(1080, [])
    runs = [(f"720p x{n}", hd[:n]) for n in (1, 5, 10) if len(hd) >= n] + (
        [("1080p x3", full_hd[:3])] if full_hd else []
    )
    results = []
    with tempfile.TemporaryDirectory(prefix="preprocess-bench-") as workdir:
        for name, videos in runs:
            print(f"{name}: {len(videos)} videos, {args.per_video} frames each ...", flush=True)
            results.append(benchmark(name, videos, args.per_video, Path(workdir)))
    print_table(results)
    print(f"\ncpu cores: {psutil.cpu_count()}, load average before the last run: {psutil.getloadavg()[0]:.2f}")
    if args.out:
        about = f"{args.per_video} frames per video; wall times include each stage's start-up."
        write_benchmark(args.out, made_by, about, [table_row(r) for r in results])


if __name__ == "__main__":
    main()
