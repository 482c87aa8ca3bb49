"""Ray scaling benchmark: crop_faces on the FF++ sample videos with the local engine and with Ray at 1 and 2
workers (compute.engine, compute.ray_workers), on this machine.

One scratch project (the 720p videos, `download` and `extract_frames` run once); then crop_faces runs once per
engine setting on the same frames. Prints wall time, videos/min and frames/s (the stage's, with Python and
Ray start-up, as a user sees them), the peak RSS of the whole process tree and of the largest Ray worker, and
checks that every setting wrote the same faces.csv. Run alone: two heavy jobs on two cores slow each other.
Run: python benchmarks/ray_scaling_benchmark.py [--root ../shared/data/ffpp_c40_dev] [--videos 10]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import yaml
from preprocess_benchmark import POLL_SECONDS, PROJECT, make_project, run_stage, videos_by_height

SETTINGS = (
    ("local", {"engine": "local"}),
    ("ray x1", {"engine": "ray", "ray_workers": 1}),
    ("ray x2", {"engine": "ray", "ray_workers": 2}),
)


def crop_faces(project: Path) -> tuple[float, float, float]:
    """Wall seconds, peak RSS of the stage's process tree and of its largest Ray worker (MB)."""
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, str(PROJECT / "stages/crop_faces.py")],
        cwd=project,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    watched, peak, worker_peak = psutil.Process(process.pid), 0, 0
    while process.poll() is None:
        try:
            tree = [watched, *watched.children(recursive=True)]
            rss = {p: p.memory_info().rss for p in tree}
            peak = max(peak, sum(rss.values()))
            workers = [r for p, r in rss.items() if "ray::" in " ".join(p.cmdline())]
            worker_peak = max([worker_peak, *workers])
        except psutil.Error:
            pass
        time.sleep(POLL_SECONDS)
    if process.returncode:
        sys.exit(f"crop_faces failed in {project}")
    return time.perf_counter() - started, peak / 2**20, worker_peak / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", type=Path, default=PROJECT.parent / "shared/data/ffpp_c40_dev")
    parser.add_argument("--videos", type=int, default=10)
    parser.add_argument("--per-video", type=int, default=32, help="frames sampled per video")
    args = parser.parse_args()
    if not args.root.is_dir():
        sys.exit(f"{args.root}: not found; pass --root <FaceForensics++ folder> (see docs/datasets.md)")
    videos = videos_by_height(args.root).get(720, [])[: args.videos]
    with tempfile.TemporaryDirectory(prefix="ray-bench-") as workdir:
        project = make_project(videos, args.per_video, Path(workdir))
        for stage in ("download", "extract_frames"):
            run_stage(project, stage)
        summary = json.loads((project / "artifacts/summaries/extract_frames.json").read_text())
        frames = summary["counts"]["frames_out"]
        print(
            f"{len(videos)} videos, {frames} frames; cpu cores {psutil.cpu_count()}, "
            f"load average {psutil.getloadavg()[0]:.2f}"
        )
        print(
            f"{'engine':<8}{'wall s':>8}{'videos/min':>11}{'frames/s':>9}{'peak MB':>9}{'worker MB':>10}  faces.csv md5"
        )
        for name, compute in SETTINGS:
            params = yaml.safe_load((project / "params.yaml").read_text())
            params["compute"].update(compute)
            (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
            seconds, peak, worker = crop_faces(project)
            md5 = hashlib.md5((project / "artifacts/faces.csv").read_bytes()).hexdigest()[:12]
            print(
                f"{name:<8}{seconds:>8.1f}{60 * len(videos) / seconds:>11.1f}{frames / seconds:>9.1f}"
                f"{peak:>9.0f}{worker:>10.0f}  {md5}",
                flush=True,
            )


if __name__ == "__main__":
    main()
