"""`folder`: real/ and fake/ (optionally fake/<method>/) folders, or a labels.csv. The escape hatch.

CSV columns: path (relative to the root), label (0/1 or real/fake), and optional method, group, split.
The demo corpus is written in this CSV form, so `demo` is this adapter under another name.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from deepfake_detector.data.adapters.base import Item, LayoutError, media_files, register

LABEL_WORDS = {"0": 0, "1": 1, "real": 0, "fake": 1}


@register("folder")
@register("demo")
def index_folder(root: Path, options: dict[str, Any]) -> list[Item]:
    csv = root / options.get("csv", "labels.csv")
    if csv.exists():
        return _from_csv(root, csv)
    if (root / "real").is_dir() and (root / "fake").is_dir():
        return _from_folders(root)
    raise LayoutError(
        f"{root} is not in the 'folder' layout: expected real/ and fake/ folders, or {csv.name} "
        "with columns path,label[,method,group,split]"
    )


def _from_folders(root: Path) -> list[Item]:
    items = []
    for label, name in ((0, "real"), (1, "fake")):
        base = root / name
        for path in media_files(base):
            parts = path.relative_to(base).parts
            method = parts[0] if label and len(parts) > 1 else name
            items.append(Item(path=path, label=label, method=method, group=path.stem))
    return items


def _from_csv(root: Path, csv: Path) -> list[Item]:
    df = pd.read_csv(csv, dtype=str, keep_default_na=False)
    if not {"path", "label"} <= set(df.columns):
        raise LayoutError(f"{csv}: needs columns 'path' and 'label'; found {list(df.columns)}")
    items = []
    for row in df.itertuples(index=False):
        row = row._asdict()
        label_word = str(row["label"]).strip().lower()
        if label_word not in LABEL_WORDS:
            raise LayoutError(f"{csv}: label '{row['label']}' for {row['path']} is not one of 0/1/real/fake")
        label = LABEL_WORDS[label_word]
        path = root / row["path"]
        items.append(
            Item(
                path=path,
                label=label,
                method=row.get("method") or ("fake" if label else "real"),
                group=row.get("group") or Path(row["path"]).stem,
                split=row.get("split") or None,
            )
        )
    return items
