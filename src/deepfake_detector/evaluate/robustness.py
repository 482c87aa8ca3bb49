"""Robustness of a model on the test split: AUC when the face crops are resampled, JPEG-compressed, blurred
or noised, by detected face size, for test videos re-encoded with H.264 at several CRFs, and per dataset and
manipulation method. Every score comes from the Predictor, the path the CLI and the service use."""

from __future__ import annotations

import logging
import subprocess
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
from tqdm import tqdm

from deepfake_detector.config import RobustnessConfig
from deepfake_detector.data.splits import stable_unit
from deepfake_detector.evaluate.metrics import binary_metrics, roc_auc_or_none
from deepfake_detector.inference import Predictor
from deepfake_detector.media.frames import MediaError, sample_frames

log = logging.getLogger(__name__)

# ------------------------------------------------------------------------------------------- degradations
# Each takes an RGB uint8 crop, a level and a random generator (used by noise only) and returns a new crop.


def resample(crop: np.ndarray, size: float, rng: np.random.Generator | None = None) -> np.ndarray:
    """The crop at size x size: area averaging down (like a camera seeing a smaller face), cubic up."""
    size = int(size)
    shrinking = size < crop.shape[0]
    return cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_CUBIC)


def jpeg(crop: np.ndarray, quality: float, rng: np.random.Generator | None = None) -> np.ndarray:
    ok, data = cv2.imencode(".jpg", cv2.cvtColor(crop, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise ValueError(f"JPEG encoding at quality {quality} failed")
    return cv2.cvtColor(cv2.imdecode(data, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def blur(crop: np.ndarray, sigma: float, rng: np.random.Generator | None = None) -> np.ndarray:
    return cv2.GaussianBlur(crop, (0, 0), sigmaX=sigma) if sigma > 0 else crop.copy()


def noise(crop: np.ndarray, std: float, rng: np.random.Generator) -> np.ndarray:
    if std <= 0:
        return crop.copy()
    return np.clip(crop + rng.normal(0.0, std, crop.shape), 0, 255).astype(np.uint8)


Degradation = Callable[[np.ndarray, float, np.random.Generator], np.ndarray]
CROP_AXES: dict[str, Degradation] = {
    "resolution": resample,
    "jpeg_quality": jpeg,
    "blur_sigma": blur,
    "noise_std": noise,
}


def axis_levels(cfg: RobustnessConfig) -> dict[str, list[float]]:
    return {
        "resolution": cfg.resolutions,
        "jpeg_quality": cfg.jpeg_qualities,
        "blur_sigma": cfg.blur_sigmas,
        "noise_std": cfg.noise_stds,
    }


def crop_rng(seed: int, index: int) -> np.random.Generator:
    """One generator per crop: its noise is the same whatever the batching or the crops around it."""
    return np.random.default_rng([seed, index])


# ------------------------------------------------------------------------------------------------ sweeps


def score_degraded(
    predictor: Predictor, crops: list[np.ndarray], degrade: Degradation, level: float, seed: int, batch_size: int
) -> np.ndarray:
    """Calibrated probabilities of the degraded crops, degraded a batch at a time so memory stays flat."""
    parts = []
    for start in range(0, len(crops), batch_size):
        batch = [degrade(c, level, crop_rng(seed, start + i)) for i, c in enumerate(crops[start : start + batch_size])]
        parts.append(predictor.score_crops(batch))
    return np.concatenate(parts) if parts else np.zeros(0)


def level_key(level: float) -> str:
    return f"{level:g}"


def crop_sweeps(
    predictor: Predictor, crops: list[np.ndarray], labels: np.ndarray, cfg: RobustnessConfig, seed: int
) -> dict[str, dict[str, float | None]]:
    """Frame-level AUC per level of every crop axis (resolution, JPEG quality, blur, noise)."""
    results = {}
    for axis, levels in axis_levels(cfg).items():
        degrade = CROP_AXES[axis]
        results[axis] = {
            level_key(level): roc_auc_or_none(
                labels, score_degraded(predictor, crops, degrade, level, seed, cfg.batch_size)
            )
            for level in tqdm(levels, desc=axis, leave=False)
        }
    return results


def face_size_bucket(face_px: pd.Series, edges: list[float]) -> pd.Series:
    """Bucket labels of the detected face size (source pixels): "<64", "64-128", ..., ">=256"."""
    bounds = [-np.inf, *edges, np.inf]
    names = [f"<{edges[0]:g}"] + [f"{a:g}-{b:g}" for a, b in zip(edges, edges[1:], strict=False)] + [f">={edges[-1]:g}"]
    return pd.cut(face_px, bounds, right=False, labels=names).astype(str)


def face_size_aucs(frames: pd.DataFrame, edges: list[float]) -> dict[str, dict[str, float | int | None]]:
    """AUC (and face count) per face-size bucket, from the scores of the unchanged crops."""
    buckets = face_size_bucket(frames["face_px"], edges)
    return {
        b: {"roc_auc": roc_auc_or_none(g["label"], g["prob"]), "n": len(g)}
        for b, g in frames.groupby(buckets, sort=False)
    }


def breakdown(frames: pd.DataFrame, items: pd.DataFrame, threshold: float) -> dict[str, dict]:
    """Frame- and video-level metrics (AUC, AP, F1, precision, recall, EER...) per dataset and per
    manipulation method; a method is judged against the reals of the datasets it appears in. `items` holds
    each item's verdict as the Predictor makes it (evaluate/split_scores.py), temporal head included."""

    def levels(part_frames: pd.DataFrame, part_items: pd.DataFrame) -> dict:
        return {
            "frame": binary_metrics(part_frames["label"], part_frames["prob"], threshold),
            "video": binary_metrics(part_items["label"], part_items["prob"], threshold),
        }

    def judged_with_reals(table: pd.DataFrame, method: str) -> pd.DataFrame:
        fakes = table[(table["label"] == 1) & (table["method"] == method)]
        reals = table[(table["label"] == 0) & table["dataset"].isin(fakes["dataset"].unique())]
        return pd.concat([reals, fakes])

    methods = sorted(frames.loc[frames["label"] == 1, "method"].unique())
    return {
        "by_dataset": {d: levels(g, items[items["dataset"] == d]) for d, g in frames.groupby("dataset")},
        "by_method": {m: levels(judged_with_reals(frames, m), judged_with_reals(items, m)) for m in methods},
    }


# ------------------------------------------------------------------------------------------ H.264 videos


def ffmpeg_exe() -> str:
    import imageio_ffmpeg  # a static ffmpeg build with libx264, from PyPI

    return imageio_ffmpeg.get_ffmpeg_exe()


def reencode_h264(src: Path, dst: Path, crf: int) -> Path:
    """`src` re-encoded with libx264 at `crf` (no audio); raises MediaError naming the file on failure."""
    cmd = [
        ffmpeg_exe(),
        "-v",
        "error",
        "-y",
        "-i",
        str(src),
        "-c:v",
        "libx264",
        "-preset",
        "veryfast",
        "-crf",
        str(crf),
        "-pix_fmt",
        "yuv420p",
        "-an",
        str(dst),
    ]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise MediaError(f"{src}: H.264 re-encode at CRF {crf} failed: {done.stderr.strip()[-500:]}")
    return dst


def pick_test_videos(manifest: pd.DataFrame, max_videos: int, seed: int) -> pd.DataFrame:
    """Up to `max_videos` test videos, half real and half fake where possible, chosen by a seeded hash."""
    videos = manifest[(manifest["split"] == "test") & (manifest["media"] == "video")]
    if videos.empty:
        return videos
    videos = videos.assign(order=videos["item_id"].map(lambda i: stable_unit(str(i), seed))).sort_values("order")
    per_label = {label: part for label, part in videos.groupby("label")}
    take = max_videos // 2
    chosen = [part.head(take) for part in per_label.values()]
    spare = max_videos - sum(len(c) for c in chosen)
    leftovers = videos[~videos["item_id"].isin(pd.concat(chosen)["item_id"])]
    return pd.concat([*chosen, leftovers.head(spare)]).drop(columns="order").sort_values("item_id")


def score_video_with_each(predictors: dict[str, Predictor], path: Path) -> dict[str, float | None]:
    """Each model's video verdict, as Predictor.predict_path gives it, but frames are decoded and faces
    detected once per face setting (MTCNN dominates; models of one pipeline share faces and frame counts)."""
    by_setting: dict[str, list[str]] = {}
    for name, predictor in predictors.items():
        spec = predictor.spec
        by_setting.setdefault(f"{spec.faces.model_dump_json()}|{spec.frames_per_video}", []).append(name)
    verdicts = {}
    for names in by_setting.values():
        first = predictors[names[0]]
        try:
            frames = sample_frames(path, first.spec.frames_per_video)
        except MediaError as err:
            log.warning("%s", err)
            verdicts.update(dict.fromkeys(names))
            continue
        faces = first.detector.main_faces([f.rgb for f in frames])
        for name in names:
            verdicts[name] = predictors[name].predict_frames(frames, "video", str(path), faces=faces).fake_probability
    return verdicts


def crf_sweep(
    predictors: dict[str, Predictor], videos: pd.DataFrame, crfs: list[int], workdir: Path
) -> tuple[dict[str, dict[str, float | None]], dict[str, dict]]:
    """Video-level AUC per CRF and model (each model's verdict on each re-encoded file), and per CRF the
    mean file size and the number of videos without a verdict (no face found, or the re-encode failed)."""
    aucs = {name: {} for name in predictors}
    info = {}
    for crf in tqdm(crfs, desc="crf"):
        sizes, scores = [], {name: [] for name in predictors}
        for i, row in enumerate(videos.itertuples(index=False)):
            try:
                encoded = reencode_h264(Path(row.path), workdir / f"crf{crf}_{i}.mp4", crf)
            except MediaError as err:  # one bad file must not stop the stage: it counts as no verdict
                log.warning("%s", err)
                for name in predictors:
                    scores[name].append(None)
                continue
            sizes.append(encoded.stat().st_size)
            for name, probability in score_video_with_each(predictors, encoded).items():
                scores[name].append(probability)
            encoded.unlink()
        for name, probs in scores.items():
            found = [(label, p) for label, p in zip(videos["label"], probs, strict=True) if p is not None]
            aucs[name][str(crf)] = roc_auc_or_none([f[0] for f in found], [f[1] for f in found])
        info[str(crf)] = {
            "mean_kb": float(np.mean(sizes) / 1024) if sizes else None,
            "no_verdict": {n: sum(p is None for p in s) for n, s in scores.items()},
        }
    return aucs, info


# ------------------------------------------------------------------------------------------------ tables


def axis_table(results: dict[str, dict[str, dict]], axis: str) -> pd.DataFrame:
    """Rows = levels of one axis, a column of AUCs per model (the DVC plots' and PNGs' data)."""
    columns = {model: {level: r[axis][level] for level in r[axis]} for model, r in results.items()}
    table = pd.DataFrame(columns)
    table.index.name = "level"
    return table.reset_index()


def face_size_table(results: dict[str, dict], edges: list[float]) -> pd.DataFrame:
    """Rows = face-size buckets in order, with the bucket's lower edge as a numeric `level` for plotting."""
    names = face_size_bucket(pd.Series([edges[0] - 1, *edges], dtype=float), edges).tolist()
    rows = []
    for name, lower in zip(names, [0.0, *edges], strict=True):
        cells = {model: r["face_px"].get(name) or {} for model, r in results.items()}
        row = {"level": lower, "bucket": name, "n": max((c.get("n", 0) for c in cells.values()), default=0)}
        rows.append(row | {model: cell.get("roc_auc") for model, cell in cells.items()})
    return pd.DataFrame(rows)
