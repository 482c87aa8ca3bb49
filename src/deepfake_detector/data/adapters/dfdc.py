"""`dfdc`: the Deepfake Detection Challenge videos.

Training parts: `<part>/metadata.json` + `<part>/*.mp4` (or the root itself is one part), where
metadata.json maps file name -> {"label": "REAL"|"FAKE", "split", "original"}. A fake is grouped with
the real video it was made from, so the two never sit in different splits.
Test set: a folder with `labels.csv` (filename,label; 1/FAKE = fake) and its videos: split test.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pandas as pd

from deepfake_detector.data.adapters.base import Item, LayoutError, media_files, register

log = logging.getLogger(__name__)
LABELS = {"REAL": 0, "FAKE": 1, "0": 0, "1": 1}


@register("dfdc")
def index_dfdc(root: Path, options: dict[str, Any]) -> list[Item]:
    if not root.is_dir():
        raise LayoutError(f"{root}: not a folder (adapter 'dfdc')")
    folders = [root, *sorted(p for p in root.iterdir() if p.is_dir())]
    items = []
    for folder in folders:
        if (folder / "labels.csv").exists():
            items += _test_set(folder)
        elif (folder / "metadata.json").exists():
            items += _training_part(folder)
    if not items:
        raise LayoutError(
            f"{root} is not in the 'dfdc' layout: expected metadata.json beside the *.mp4 videos (in the root "
            f"or in part folders like dfdc_train_part_0/), or a test folder with labels.csv; "
            f"found {sorted(p.name for p in root.iterdir())[:10]}"
        )
    return items


def _training_part(folder: Path) -> list[Item]:
    metadata = json.loads((folder / "metadata.json").read_text())
    videos = {p.name: p for p in media_files(folder) if p.parent == folder}
    _warn_unmatched(folder, set(metadata), set(videos))
    items = []
    for name, meta in sorted(metadata.items()):
        if name not in videos:
            continue
        label = _label(meta.get("label"), folder / "metadata.json", name)
        original = meta.get("original") if label else None
        # every training video says split "train" (the whole competition training set), so it is not kept:
        # the pipeline assigns train/val/test by group instead.
        items.append(
            Item(
                path=videos[name],
                label=label,
                method="dfdc" if label else "real",
                group=Path(original or name).stem,
            )
        )
    return items


def _test_set(folder: Path) -> list[Item]:
    table = pd.read_csv(folder / "labels.csv", dtype=str, keep_default_na=False)
    if not {"filename", "label"} <= set(table.columns):
        raise LayoutError(f"{folder / 'labels.csv'}: needs columns filename,label; found {list(table.columns)}")
    videos = {p.name: p for p in media_files(folder)}
    _warn_unmatched(folder, set(table["filename"]), set(videos))
    items = []
    for name, label_word in zip(table["filename"], table["label"], strict=True):
        if name in videos:
            label = _label(label_word, folder / "labels.csv", name)
            method = "dfdc" if label else "real"
            items.append(
                Item(
                    path=videos[name],
                    label=label,
                    method=method,
                    group=f"test_{Path(name).stem}",
                    split="test",
                )
            )
    return items


def _label(word: Any, source: Path, name: str) -> int:
    key = str(word).strip().upper()
    if key not in LABELS:
        raise LayoutError(f"{source}: label '{word}' for {name} is not REAL/FAKE or 0/1")
    return LABELS[key]


def _warn_unmatched(folder: Path, listed: set[str], present: set[str]) -> None:
    """Partial downloads are normal (a part of a part); say so instead of failing."""
    if listed - present:
        log.warning("%s: %d listed videos are not on disk; indexing the rest", folder, len(listed - present))
    if present - listed:
        log.warning("%s: %d videos have no label and are skipped", folder, len(present - listed))
