"""Per-file facts, computed into derived columns one file at a time: does each file exist and decode, is each
crop blank, is it a near-duplicate of a crop in another split; and the per-split, per-group and per-dataset
tables the suites judge (class ratios, splits of a group, detection rates)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from deepfake_detector.media.checks import media_decodes, open_grey
from deepfake_detector.media.hashing import phash64

BLANK_STD = 2.0  # grey levels: a crop flatter than this carries no face
BLANK_MEAN = 2.0  # grey levels: a crop darker than this is black


def resolve(path: str, root: Path) -> Path:
    p = Path(str(path))
    return p if p.is_absolute() else root / p


# ---------------------------------------------------------------- manifest


def media_facts(manifest: pd.DataFrame, root: Path) -> pd.DataFrame:
    """The manifest with, per file, `exists` and `decodes` (not judged where the file is missing)."""
    m = manifest.reset_index(drop=True).copy()
    exists, decodes = [], []
    for path, media in tqdm(zip(m["path"], m["media"], strict=True), total=len(m), desc="check media", unit="file"):
        file = resolve(path, root)
        exists.append(file.is_file())
        decodes.append(media_decodes(file, media) if exists[-1] else None)  # missing: judged by `exists`
    m["exists"] = exists
    m["decodes"] = pd.array(decodes, dtype="boolean")
    return m


def class_ratios(m: pd.DataFrame) -> pd.DataFrame:
    """Majority/minority count per split; splits holding a single class are not judged."""
    counts = pd.crosstab(m["split"].astype(str), m["label"]).reindex(columns=[0, 1], fill_value=0)
    counts = counts[(counts[0] > 0) & (counts[1] > 0)]
    return pd.DataFrame(
        {
            "split": counts.index.astype(str),
            "n_real": counts[0].to_numpy(),
            "n_fake": counts[1].to_numpy(),
            "class_ratio": (counts.max(axis=1) / counts.min(axis=1)).to_numpy(dtype=float),
        }
    )


def group_splits(m: pd.DataFrame) -> pd.DataFrame:
    by_group = m.astype({"group": str, "split": str}).groupby("group")["split"]
    return pd.DataFrame(
        {
            "n_splits": by_group.nunique(),
            "splits": by_group.agg(lambda s: ",".join(sorted(set(s)))),
        }
    ).reset_index()


# ---------------------------------------------------------------- faces


def faces_with_items(faces: pd.DataFrame, manifest: pd.DataFrame) -> pd.DataFrame:
    """Face rows with their item's dataset and split, and `in_manifest` (False: the item is not in the manifest)."""
    items = manifest[["item_id", "dataset", "split"]].drop_duplicates("item_id")
    f = faces.reset_index(drop=True).merge(items, on="item_id", how="left", indicator=True)
    f["in_manifest"] = f.pop("_merge") == "both"
    f["dataset"] = f["dataset"].astype(str).where(f["in_manifest"], "(not in manifest)")
    f["split"] = f["split"].astype(str).where(f["in_manifest"], "")
    return f


def crop_facts(found: pd.DataFrame, max_hash_distance: int, root: Path) -> pd.DataFrame:
    """Per crop: exists, decodes, not blank (each judged only where the previous holds), phash duplicates."""
    exists, decodes, not_blank, hashes = [], [], [], []
    for path in tqdm(found["crop_path"], desc="check crops", unit="crop"):
        file = resolve(path, root)
        ok_file = bool(path) and file.is_file()
        grey = open_grey(file) if ok_file else None
        pixels = np.asarray(grey) if grey is not None else None
        blank = pixels is not None and (pixels.std() <= BLANK_STD or pixels.mean() <= BLANK_MEAN)
        exists.append(ok_file)
        decodes.append(grey is not None if ok_file else None)
        not_blank.append(not blank if pixels is not None else None)
        # Blank crops all hash alike; they are reported as blank, not as duplicates.
        hashes.append(phash64(grey) if pixels is not None and not blank else None)
    out = found.copy()
    out["crop_exists"] = exists
    out["crop_decodes"] = pd.array(decodes, dtype="boolean")
    out["crop_not_blank"] = pd.array(not_blank, dtype="boolean")
    dup = _cross_split_duplicates(hashes, out["split"].to_numpy(dtype=str), max_hash_distance)
    crop_paths = out["crop_path"].to_numpy(dtype=object)
    hashed = [h is not None for h in hashes]
    out["unique_across_splits"] = pd.array(
        [(d < 0) if h else None for d, h in zip(dup, hashed, strict=True)], "boolean"
    )
    out["duplicate_of"] = [str(crop_paths[d]) if d >= 0 else "" for d in dup]
    return out


def _cross_split_duplicates(hashes: list[int | None], splits: np.ndarray, max_distance: int) -> np.ndarray:
    """For each crop, the index of a crop in another split within `max_distance` bits, else -1."""
    n = len(hashes)
    dup = np.full(n, -1, dtype=np.int64)
    idx = np.array([i for i, h in enumerate(hashes) if h is not None], dtype=np.int64)
    if len(idx) < 2:
        return dup
    h = np.array([hashes[i] for i in idx], dtype=np.uint64)
    _, s = np.unique(splits[idx], return_inverse=True)
    for start in range(0, len(idx), 1024):  # chunks keep the distance matrix at ~8 MB per 1k rows
        block = slice(start, start + 1024)
        close = np.bitwise_count(h[block, None] ^ h[None, :]) <= max_distance
        hit = close & (s[block, None] != s[None, :])
        has = hit.any(axis=1)
        dup[idx[block][has]] = idx[hit[has].argmax(axis=1)]
    return dup


def detection_rates(f: pd.DataFrame) -> pd.DataFrame:
    by = f.assign(found=f["found"].astype(bool)).groupby("dataset")["found"]
    out = pd.DataFrame({"n_found": by.sum().astype(int), "n_rows": by.size()}).reset_index()
    out["detection_rate"] = out["n_found"] / out["n_rows"]
    return out
