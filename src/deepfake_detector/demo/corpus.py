"""Deterministic synthetic deepfake corpus: real renders plus four manipulation families, images and videos.

Identities come in pairs (pair k = identities 2k and 2k+1); face swaps only happen inside a pair and every
file of a pair carries group `pairKK`, so a group-aware split never separates a swap from its source.
Every item draws from its own sub-seeded generator, so the bytes depend only on `seed` and the arguments.
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import imageio_ffmpeg
import numpy as np
from tqdm import tqdm

from deepfake_detector.demo.face import (
    Expression,
    Identity,
    Pose,
    Scene,
    sample_expression,
    sample_identity,
    sample_pose,
    sample_scene,
)
from deepfake_detector.demo.manipulate import face_swap, reenact, resynthesize, self_blend
from deepfake_detector.demo.render import render_face
from deepfake_detector.io import atomic_dir

METHODS = ("faceswap", "reenact", "resynthesis", "selfblend")
JPEG_QUALITY = 95
# H.264 in yuv420p, which every browser plays, at FaceForensics++'s "c23" rate factor; one encoder thread and
# bit-exact muxing so the bytes depend only on the frames (x264's output changes with its thread count). The
# stream is tagged with the BT.601 matrix ffmpeg converts with, which OpenCV's decoder also assumes: untagged,
# a browser may pick BT.709 and see other colours than the pipeline.
VIDEO_CODEC, VIDEO_PIX_FMT, VIDEO_CRF, VIDEO_COLOURS = "libx264", "yuv420p", 23, "smpte170m"
VIDEO_ENCODER_ARGS = [
    "-crf",
    str(VIDEO_CRF),
    "-preset",
    "medium",
    "-threads",
    "1",
    "-colorspace",
    VIDEO_COLOURS,
    "-color_primaries",
    VIDEO_COLOURS,
    "-color_trc",
    VIDEO_COLOURS,
    "-color_range",
    "tv",
    "-fflags",
    "+bitexact",
    "-flags:v",
    "+bitexact",
]
# Stream tags of the sub-seeds, so adding one kind of item never shifts the others.
SEED_IDENTITY, SEED_REAL_IMAGE, SEED_FAKE_IMAGE, SEED_REAL_VIDEO, SEED_FAKE_VIDEO = range(5)
SWAP_POSE_JITTER = 6.0  # degrees between a swap's source and target pose; the landmark warp absorbs it
MAX_YAW, MAX_PITCH, MAX_ROLL = 22.0, 10.0, 12.0
BLINK_PROFILE = (0.45, 0.08, 0.08, 0.5)  # eye openness over the frames of one blink
SYLLABLES_PER_SECOND = 3.5

Frame = tuple[Pose, Expression]
Rendered = tuple[np.ndarray, np.ndarray]
Maker = Callable[[], list[np.ndarray]]  # lazily renders one image (a 1-item list) or a video's frames


@dataclass(frozen=True)
class _Job:
    path: str
    label: str
    method: str
    group: str
    make: Maker


def _rng(seed: int, *tags: int) -> np.random.Generator:
    return np.random.default_rng([seed, *tags])


def _sub_seed(rng: np.random.Generator) -> int:
    return int(rng.integers(2**31))


# ----------------------------------------------------------------------------- motion


def _trajectory(rng: np.random.Generator, n: int, fps: int) -> list[Frame]:
    """Smooth head motion with blinks and talking for `n` frames."""
    base, expr = sample_pose(rng), sample_expression(rng)
    t = np.arange(n) / fps
    amp = rng.uniform([4, 2, 2, 0.01, 0.01], [10, 5, 5, 0.03, 0.02])
    freq = rng.uniform(0.15, 0.5, 5)
    phase = rng.uniform(0, 2 * np.pi, 5)
    wave = amp[:, None] * np.sin(2 * np.pi * freq[:, None] * t + phase[:, None])
    eyes = _blinks(rng, n, fps)
    mouth = _talking(rng, n, fps)
    frames = []
    for i in range(n):
        pose = replace(
            base,
            yaw=float(np.clip(base.yaw * 0.6 + wave[0, i], -MAX_YAW, MAX_YAW)),
            pitch=float(np.clip(base.pitch + wave[1, i], -MAX_PITCH, MAX_PITCH)),
            roll=float(np.clip(base.roll * 0.6 + wave[2, i], -MAX_ROLL, MAX_ROLL)),
            cx=base.cx + float(wave[3, i]),
            cy=base.cy + float(wave[4, i]),
        )
        frames.append((pose, replace(expr, eye_open=float(eyes[i]), mouth_open=float(mouth[i]))))
    return frames


def _blinks(rng: np.random.Generator, n: int, fps: int) -> np.ndarray:
    eyes = np.full(n, rng.uniform(0.8, 1.0))
    start = int(rng.integers(0, max(1, fps)))
    while start < n:
        for k, value in enumerate(BLINK_PROFILE):
            if start + k < n:
                eyes[start + k] = value
        start += int(rng.integers(2 * fps, 4 * fps))
    return eyes


def _talking(rng: np.random.Generator, n: int, fps: int) -> np.ndarray:
    """Mouth openness: syllable-rate oscillation under a slowly varying loudness envelope."""
    t = np.arange(n) / fps
    rate = SYLLABLES_PER_SECOND * rng.uniform(0.8, 1.2)
    syllables = 0.5 - 0.5 * np.cos(2 * np.pi * rate * t + rng.uniform(0, 2 * np.pi))
    envelope = np.clip(0.5 + 0.5 * np.sin(2 * np.pi * 0.3 * t + rng.uniform(0, 2 * np.pi)), 0.2, 1)
    return np.clip(syllables * envelope * rng.uniform(0.5, 0.9), 0, 1)


# ----------------------------------------------------------------------------- fakes


def _swap_source_pose(pose: Pose, offset: np.ndarray) -> Pose:
    return replace(
        pose,
        yaw=pose.yaw + float(offset[0]),
        pitch=pose.pitch + float(offset[1]),
        roll=pose.roll + float(offset[2]),
    )


class _Faker:
    """Applies one method consistently to a sequence of frames (one frame for an image)."""

    def __init__(self, method: str, rng: np.random.Generator, partner: Identity, ident: Identity, size: int):
        self.method, self.partner, self.ident, self.size = method, partner, ident, size
        self.swap_offset = rng.uniform(-SWAP_POSE_JITTER, SWAP_POSE_JITTER, 3)
        self.other_scene = sample_scene(rng)
        self.factor = int(rng.choice([2, 3, 4]))
        self.mode = str(rng.choice(["nearest", "checkerboard"]))
        self.sbi_seed = _sub_seed(rng)
        self.noise_seed = _sub_seed(rng)

    def __call__(self, img: np.ndarray, lm: np.ndarray, frame: Frame, driver: Frame, i: int) -> np.ndarray:
        pose, expr = frame
        if self.method == "faceswap":
            src = render_face(
                self.partner,
                _swap_source_pose(pose, self.swap_offset),
                expr,
                self.other_scene,
                self.size,
                self.noise_seed + i,
            )
            return face_swap(img, lm, *src)
        if self.method == "reenact":
            drv = render_face(self.ident, driver[0], driver[1], self.other_scene, self.size, self.noise_seed + i)
            return reenact(img, lm, *drv)[0]
        if self.method == "resynthesis":
            return resynthesize(img, lm, self.factor, self.mode)
        return self_blend(img, lm, np.random.default_rng(self.sbi_seed))  # same draw every frame: consistent


def _render_frames(ident: Identity, frames: list[Frame], scene: Scene, size: int, noise_seed: int) -> list[Rendered]:
    return [render_face(ident, pose, expr, scene, size, noise_seed + i) for i, (pose, expr) in enumerate(frames)]


# ----------------------------------------------------------------------------- jobs


def _job(name: str, method: str, group: str, make: Maker) -> _Job:
    if method == "real":
        return _Job(f"real/{name}", "real", method, group, make)
    return _Job(f"fake/{method}/{name}", "fake", method, group, make)


def _jobs(seed: int, ids: list[Identity], ipi: int, vpi: int, n_frames: int, fps: int, size: int) -> Iterator[_Job]:
    """One real and one fake item per (identity, index); fakes cycle through METHODS for balance."""
    for i, ident in enumerate(ids):
        partner, group = ids[i ^ 1], f"pair{i // 2:02d}"
        for k in range(ipi):
            name, method = f"images/id{i:02d}_img{k:02d}.jpg", METHODS[(i * ipi + k) % len(METHODS)]
            real_rng, fake_rng = _rng(seed, SEED_REAL_IMAGE, i, k), _rng(seed, SEED_FAKE_IMAGE, i, k)
            yield _job(name, "real", group, _image_maker(real_rng, ident, partner, None, size))
            yield _job(name, method, group, _image_maker(fake_rng, ident, partner, method, size))
        for v in range(vpi):
            name, method = f"videos/id{i:02d}_vid{v:02d}.mp4", METHODS[(i * vpi + v) % len(METHODS)]
            real_rng, fake_rng = _rng(seed, SEED_REAL_VIDEO, i, v), _rng(seed, SEED_FAKE_VIDEO, i, v)
            yield _job(name, "real", group, _video_maker(real_rng, ident, partner, None, n_frames, fps, size))
            yield _job(name, method, group, _video_maker(fake_rng, ident, partner, method, n_frames, fps, size))


def _image_maker(rng: np.random.Generator, ident: Identity, partner: Identity, method: str | None, size: int) -> Maker:
    frame = (sample_pose(rng), sample_expression(rng))
    driver = (replace(frame[0], yaw=frame[0].yaw + rng.uniform(-5, 5)), sample_expression(rng))
    scene, noise_seed = sample_scene(rng), _sub_seed(rng)
    faker = _Faker(method, rng, partner, ident, size) if method else None

    def make() -> list[np.ndarray]:
        img, lm = render_face(ident, *frame, scene, size, noise_seed)
        return [faker(img, lm, frame, driver, 0) if faker else img]

    return make


def _video_maker(
    rng: np.random.Generator,
    ident: Identity,
    partner: Identity,
    method: str | None,
    n_frames: int,
    fps: int,
    size: int,
) -> Maker:
    frames = _trajectory(rng, n_frames, fps)
    # The re-enactment driver is the same head motion with another blink/talk performance.
    driver_expr = [e for _, e in _trajectory(rng, n_frames, fps)]
    drivers = [(pose, expr) for (pose, _), expr in zip(frames, driver_expr, strict=True)]
    scene, noise_seed = sample_scene(rng), _sub_seed(rng)
    faker = _Faker(method, rng, partner, ident, size) if method else None

    def make() -> list[np.ndarray]:
        out = []
        for i, (img, lm) in enumerate(_render_frames(ident, frames, scene, size, noise_seed)):
            out.append(faker(img, lm, frames[i], drivers[i], i) if faker else img)
        return out

    return make


# ----------------------------------------------------------------------------- writing


def _write(path: Path, frames: list[np.ndarray], fps: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".jpg":
        if not cv2.imwrite(str(path), frames[0], [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY]):
            raise OSError(f"could not write {path}")
        return
    h, w = frames[0].shape[:2]
    # imageio-ffmpeg's static ffmpeg carries libx264 (OpenCV's wheel does not), so the corpus encodes offline
    writer = imageio_ffmpeg.write_frames(
        str(path),
        (w, h),
        pix_fmt_in="bgr24",
        pix_fmt_out=VIDEO_PIX_FMT,
        fps=fps,
        codec=VIDEO_CODEC,
        quality=None,
        macro_block_size=1,
        output_params=VIDEO_ENCODER_ARGS,
    )
    writer.send(None)  # starts ffmpeg
    for frame in frames:
        writer.send(np.ascontiguousarray(frame))
    writer.close()


def _readme(seed: int, summary: dict, args: dict) -> str:
    counts = "\n".join(f"- {k}: {v}" for k, v in summary["by_method"].items())
    return (
        "# Synthetic deepfake demo corpus\n\n"
        "Generated by `deepfake_detector.demo.generate_corpus` (procedural faces, numpy + OpenCV; videos H.264).\n"
        "Real items are plain renders; fakes are renders of the same distribution passed through one manipulation:\n"
        "`faceswap` (landmark warp + colour transfer + Poisson blend), `reenact` (mouth/eye warp from another "
        "performance), `resynthesis` (low-resolution bottleneck with up-sampling artefacts) and `selfblend` (SBI).\n\n"
        f"Seed: {seed}. Arguments: {args}.\n\n"
        f"Files: {summary['files']} ({summary['images']} images, {summary['videos']} videos), "
        f"{summary['real']} real, {summary['fake']} fake.\n\n{counts}\n\n"
        "`labels.csv`: path (relative to this folder), label (real/fake), method, group (identity pair; "
        "keep a group inside one split).\n"
    )


def generate_corpus(
    out: Path,
    *,
    seed: int = 0,
    identities: int = 24,
    images_per_identity: int = 4,
    videos_per_identity: int = 1,
    frames_per_video: int = 24,
    fps: int = 12,
    size: int = 256,
) -> dict:
    """Write the demo corpus to `out` (replaced atomically) and return a summary of what was written.

    Layout: real/images/*.jpg, real/videos/*.mp4, fake/<method>/images|videos/..., labels.csv, README.md.
    Each identity gets `images_per_identity` real and as many fake images, and likewise for videos; fakes
    cycle through the methods so they are balanced. `identities` must be even (identities come in pairs).
    """
    if identities < 2 or identities % 2:
        raise ValueError(f"identities must be a positive even number (they come in pairs), got {identities}")
    args = dict(
        identities=identities,
        images_per_identity=images_per_identity,
        videos_per_identity=videos_per_identity,
        frames_per_video=frames_per_video,
        fps=fps,
        size=size,
    )
    ids = [sample_identity(_rng(seed, SEED_IDENTITY, i)) for i in range(identities)]
    jobs = list(_jobs(seed, ids, images_per_identity, videos_per_identity, frames_per_video, fps, size))
    out = Path(out)
    with atomic_dir(out) as tmp:
        for job in tqdm(jobs, desc="demo corpus", unit="file"):
            _write(tmp / job.path, job.make(), fps)
        rows = sorted((j.path, j.label, j.method, j.group) for j in jobs)
        with open(tmp / "labels.csv", "w", newline="") as f:
            writer = csv.writer(f, lineterminator="\n")
            writer.writerow(["path", "label", "method", "group"])
            writer.writerows(rows)
        summary = _summary(seed, jobs, tmp)
        (tmp / "README.md").write_text(_readme(seed, summary, args))
    return summary


def _summary(seed: int, jobs: list[_Job], root: Path) -> dict:
    media = Counter("video" if j.path.endswith(".mp4") else "image" for j in jobs)
    labels = Counter(j.label for j in jobs)
    return {
        "seed": seed,
        "files": len(jobs),
        "images": media["image"],
        "videos": media["video"],
        "real": labels["real"],
        "fake": labels["fake"],
        "by_method": dict(sorted(Counter(j.method for j in jobs).items())),
        "by_method_media": dict(sorted(Counter(f"{j.method}/{j.path.rsplit('.', 1)[1]}" for j in jobs).items())),
        "bytes": sum((root / j.path).stat().st_size for j in jobs),
    }
