"""`celebdf`: Celeb-DF (v1 or v2) in its published tree.

    Celeb-real/id<N>_<clip>.mp4          real celebrity videos
    YouTube-real/<clip>.mp4              real YouTube videos (optional; no identity in the name)
    Celeb-synthesis/id<T>_id<S>_<clip>.mp4
    List_of_testing_videos.txt           "<1|0> <folder>/<file>", 1 = real

Videos in the testing list are split test, the rest train or val ("trainval"). Items are grouped by
identity; a synthesis video joins its two identities (union-find), so no face crosses a split.
Option `group_by: target` groups a fake with its target identity only, for when the joined identities
collapse into one huge group (the log warns).
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

from deepfake_detector.data.adapters.base import Item, LayoutError, media_files, register, require
from deepfake_detector.data.adapters.groups import UnionFind

log = logging.getLogger(__name__)
FOLDERS = {"Celeb-real": 0, "YouTube-real": 0, "Celeb-synthesis": 1}
TEST_LIST = "List_of_testing_videos.txt"
IDENTITY = re.compile(r"^(id\d+)_(?:(id\d+)_)?")


@register("celebdf")
def index_celebdf(root: Path, options: dict[str, Any]) -> list[Item]:
    require(root, "Celeb-real", "Celeb-synthesis", adapter="celebdf")
    group_by = options.get("group_by", "identities")
    if group_by not in ("identities", "target"):
        raise LayoutError(f"celebdf: group_by must be 'identities' or 'target', not '{group_by}'")
    tested = _testing_list(root)
    videos = [(path, label) for folder, label in FOLDERS.items() for path in media_files(root / folder)]
    ids = UnionFind()
    shown = {path: _identities(path) for path, _ in videos}
    for who in shown.values():
        ids.union(*(who if group_by == "identities" else who[:1]))
    items = [_item(root, path, label, ids.find(shown[path][0]), tested) for path, label in videos]
    _warn_big_group(items)
    return items


def _testing_list(root: Path) -> dict[str, int]:
    """'Celeb-real/id0_0001.mp4' -> label (0 real, 1 fake); empty when the dataset has no list."""
    path = root / TEST_LIST
    if not path.exists():
        log.warning("%s: no %s; every video is split by group", root, TEST_LIST)
        return {}
    listed = {}
    for line in path.read_text().splitlines():
        if line.strip():
            flag, rel = line.split(maxsplit=1)
            listed[rel.strip()] = 0 if flag == "1" else 1  # the list says 1 for real
    return listed


def _identities(path: Path) -> list[str]:
    """id0_0001 -> [id0]; id0_id1_0001 -> [id0, id1]; YouTube 00279 -> [yt_00279] (its own identity)."""
    match = IDENTITY.match(path.stem)
    if not match:
        return [f"yt_{path.stem.split('_')[0]}"]
    return [i for i in match.groups() if i]


def _item(root: Path, path: Path, label: int, group: str, tested: dict[str, int]) -> Item:
    rel = path.relative_to(root).as_posix()
    if rel in tested and tested[rel] != label:
        raise LayoutError(f"{root / TEST_LIST}: {rel} is listed as {'fake' if tested[rel] else 'real'}")
    method = "celebdf_synthesis" if label else "real"
    split = ("test" if rel in tested else "trainval") if tested else None
    return Item(path=path, label=label, method=method, group=group, split=split)


def _warn_big_group(items: list[Item]) -> None:
    sizes: dict[str, int] = {}
    for item in items:
        sizes[item.group] = sizes.get(item.group, 0) + 1
    group, size = max(sizes.items(), key=lambda kv: kv[1], default=("", 0))
    if len(items) > 20 and size > len(items) / 2:
        log.warning(
            "celebdf: group %s holds %d of %d videos; consider options.group_by: target",
            group,
            size,
            len(items),
        )
