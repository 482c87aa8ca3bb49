"""Items from adapters -> the manifest table (one row per video or image)."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pandas as pd

from deepfake_detector.config import DatasetConfig, SplitConfig
from deepfake_detector.data.adapters import Item, get_adapter
from deepfake_detector.data.dedup import DUPLICATE_BITS, merge_duplicate_groups
from deepfake_detector.data.splits import assign_splits
from deepfake_detector.media.video import VideoOpenError, read_header
from deepfake_detector.tables import MANIFEST

log = logging.getLogger(__name__)


def index_dataset(
    root: Path, dataset: DatasetConfig, split: SplitConfig, seed: int, duplicate_bits: int = DUPLICATE_BITS
) -> pd.DataFrame:
    """Index one dataset root with its adapter and give every item a split."""
    items = get_adapter(dataset.adapter)(root, dict(dataset.options))
    frame = items_to_frame(items, dataset.name, root, dataset.identities_of)
    df = merge_duplicate_groups(frame, duplicate_bits)
    if dataset.max_items:
        df = _subsample(df, dataset.max_items, seed)
    if dataset.role == "unseen":
        df["split"] = "test"
    else:
        df["split"] = assign_splits(df, split.val, split.test, seed)
    log.info("%s: %d items (%d real, %d fake)", dataset.name, len(df), (df.label == 0).sum(), (df.label == 1).sum())
    return MANIFEST.check(df)


def items_to_frame(items: list[Item], dataset: str, root: Path, identities_of: str | None = None) -> pd.DataFrame:
    """One manifest row per item; groups are prefixed with the dataset's name, or with that of the dataset
    whose people it shows (datasets[].identities_of), so one person is one group across both."""
    rows = []
    for item in items:
        rel = _display_path(item.path)
        rows.append(
            {
                "item_id": f"{dataset}/{_inner_path(item.path, root)}",
                "dataset": dataset,
                "path": rel,
                "media": item.media,
                "label": item.label,
                "method": item.method,
                "group": f"{identities_of or dataset}/{item.group}",
                "split": item.split or "",
                "cropped": item.cropped,
                "width": -1,
                "height": -1,
            }
        )
    df = pd.DataFrame(rows) if rows else MANIFEST.empty()
    if df["item_id"].duplicated().any():
        dup = df.loc[df["item_id"].duplicated(), "item_id"].iloc[0]
        raise ValueError(f"dataset '{dataset}': item id {dup} appears twice")
    return df


def probe_sizes(df: pd.DataFrame) -> pd.DataFrame:
    """Fill width/height from file headers (cheap: images are not fully decoded, videos not at all)."""
    sizes = [_probe(Path(p), m) for p, m in zip(df["path"], df["media"], strict=True)]
    df = df.copy()
    df["width"] = [s[0] for s in sizes]
    df["height"] = [s[1] for s in sizes]
    return df


def _probe(path: Path, media: str) -> tuple[int, int]:
    if media == "video":
        try:
            header = read_header(path)
        except VideoOpenError:
            return -1, -1
        return header.width or -1, header.height or -1
    from PIL import Image

    try:
        with Image.open(path) as im:
            return im.size
    except Exception:  # unreadable images are reported by extract_frames/validate, not here
        return -1, -1


def _subsample(df: pd.DataFrame, per_label: int, seed: int) -> pd.DataFrame:
    """Keep whole groups, chosen deterministically, until each label has about `per_label` items."""
    from deepfake_detector.data.splits import stable_unit

    kept = []
    for _, part in df.groupby("label"):
        order = sorted(part["group"].unique(), key=lambda g: stable_unit(str(g), seed))
        count, take = 0, []
        for g in order:
            if count >= per_label:
                break
            take.append(g)
            count += int((part["group"] == g).sum())
        kept.append(part[part["group"].isin(take)])
    return pd.concat(kept).sort_values("item_id").reset_index(drop=True)


def _inner_path(path: Path, root: Path) -> str:
    """The path inside its dataset root without extension, as used in item ids."""
    return path.relative_to(root).with_suffix("").as_posix()


def _display_path(path: Path) -> str:
    """Paths relative to the working directory (the project root) keep the manifest portable."""
    try:
        return os.path.relpath(path)
    except ValueError:
        return str(path)
