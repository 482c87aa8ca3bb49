"""`dfdc_faces`: the Kaggle "deepfake faces" derivative of DFDC, one 224x224 face crop per video.

    faces_224/<video>.jpg
    metadata.csv   videoname,original_width,original_height,label,original

A fake is grouped with the real video it was made from (`original`); a real is its own group.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pandas as pd

from deepfake_detector.data.adapters.base import Item, LayoutError, register, require

log = logging.getLogger(__name__)
COLUMNS = {"videoname", "label", "original"}


@register("dfdc_faces")
def index_dfdc_faces(root: Path, options: dict[str, Any]) -> list[Item]:
    require(root, "faces_224", "metadata.csv", adapter="dfdc_faces")
    table = pd.read_csv(root / "metadata.csv", dtype=str, keep_default_na=False)
    if not COLUMNS <= set(table.columns):
        raise LayoutError(f"{root / 'metadata.csv'}: needs columns {sorted(COLUMNS)}; found {list(table.columns)}")
    items, missing = [], 0
    for row in table.itertuples(index=False):
        path = root / "faces_224" / f"{Path(row.videoname).stem}.jpg"
        if not path.exists():
            missing += 1
            continue
        items.append(_item(path, row.label, row.original, row.videoname))
    if missing:
        log.warning("%s: %d listed faces are not in faces_224/; indexing the rest", root, missing)
    return items


def _item(path: Path, label_word: str, original: str, videoname: str) -> Item:
    word = label_word.strip().upper()
    if word not in ("REAL", "FAKE"):
        raise LayoutError(f"dfdc_faces: label '{label_word}' for {videoname} is not REAL or FAKE")
    label = int(word == "FAKE")
    group = Path(original if label and original else videoname).stem
    return Item(path=path, label=label, method="dfdc" if label else "real", group=group, cropped=True)
