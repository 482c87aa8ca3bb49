"""`ffpp`: FaceForensics++ in its official download tree.

    original_sequences/{youtube,actors}/<compression>/videos/*.mp4
    manipulated_sequences/<method>/<compression>/videos/<target>_<source>.mp4

Options: `compression` (default c23), `methods` (manipulation folders to keep, default all),
`originals` (youtube and/or actors, default both),
`splits_dir` (folder with the official train.json/val.json/test.json lists of [target, source] pairs).
YouTube ids joined by a swap share a group (union-find), so a target never sits in two splits beside
its source. DeepFakeDetection (actors) videos are grouped by the leading actor id of the file name.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from deepfake_detector.data.adapters.base import Item, LayoutError, register, require
from deepfake_detector.data.adapters.groups import UnionFind

ACTORS_METHOD = "DeepFakeDetection"  # the only manipulation of the actors (DFD) originals


@register("ffpp")
def index_ffpp(root: Path, options: dict[str, Any]) -> list[Item]:
    require(root, "original_sequences", "manipulated_sequences", adapter="ffpp")
    compression = str(options.get("compression", "c23"))
    folders = _video_folders(root, compression)
    chosen = {
        "original": _chosen(folders, "original", options.get("originals")),
        "manipulated": _chosen(folders, "manipulated", options.get("methods")),
    }
    splits = _official_splits(root, options.get("splits_dir"))

    ids = UnionFind()
    for pair in splits.get("pairs", []):
        ids.union(*pair)
    videos = []  # (path, method, ids the video shows)
    for (kind, name), folder in sorted(folders.items()):
        if name not in chosen[kind]:
            continue
        for path in sorted(folder.glob("*.mp4")):
            shown = _ids_of(path.stem, name)
            ids.union(*shown)
            videos.append((path, "real" if kind == "original" else name, shown))
    return [_item(path, method, shown, ids, splits) for path, method, shown in videos]


def _video_folders(root: Path, compression: str) -> dict[tuple[str, str], Path]:
    """(original|manipulated, youtube|actors|<method>) -> the videos folder at this compression."""
    found: dict[tuple[str, str], Path] = {}
    available = set()
    for kind in ("original", "manipulated"):
        for sub in sorted((root / f"{kind}_sequences").iterdir()):
            levels = {p.parent.name for p in sub.glob("*/videos") if p.is_dir() and p.parent.name != "masks"}
            available |= levels
            if compression in levels:
                found[(kind, sub.name)] = sub / compression / "videos"
    if not any(kind == "original" for kind, _ in found) or not any(k == "manipulated" for k, _ in found):
        raise LayoutError(
            f"{root}: no FaceForensics++ videos at compression '{compression}' "
            f"(expected original_sequences/youtube/{compression}/videos/*.mp4 and "
            f"manipulated_sequences/<method>/{compression}/videos/*.mp4); "
            f"compressions available: {sorted(available) or 'none'}. Set options.compression."
        )
    return found


def _chosen(folders: dict[tuple[str, str], Path], kind: str, wanted: Any) -> set[str]:
    """The `methods` (or `originals`) asked for, all present ones by default; unknown names are errors."""
    present = {name for k, name in folders if k == kind}
    if wanted is None:
        return present
    wanted = {wanted} if isinstance(wanted, str) else set(wanted)
    missing = wanted - present
    if missing:
        option = "methods" if kind == "manipulated" else "originals"
        raise LayoutError(f"ffpp: {option} {sorted(missing)} not found; available: {sorted(present)}")
    return wanted


def _ids_of(stem: str, folder: str) -> list[str]:
    """'253_183' -> both YouTube ids; DFD '01_02__scene__X' and actors '01__scene' -> the leading actor id."""
    if folder in ("actors", ACTORS_METHOD):
        return [f"actor_{stem.split('_')[0]}"]
    return [f"youtube_{i}" for i in stem.split("_")[:2]]


def _official_splits(root: Path, splits_dir: Any) -> dict[str, Any]:
    """{'pairs': [[a, b], ...], 'of_id': {id: split}} from the official json files, or {} when not given."""
    if not splits_dir:
        return {}
    folder = Path(splits_dir)
    folder = folder if folder.is_dir() else root / folder
    pairs, of_id = [], {}
    for split in ("train", "val", "test"):
        path = folder / f"{split}.json"
        if not path.exists():
            raise LayoutError(
                f"ffpp: splits_dir {folder} needs train.json, val.json and test.json; {path.name} missing"
            )
        for pair in json.loads(path.read_text()):
            pair = [f"youtube_{i}" for i in pair]
            pairs.append(pair)
            of_id.update({i: split for i in pair})
    return {"pairs": pairs, "of_id": of_id}


def _item(path: Path, method: str, shown: list[str], ids: UnionFind, splits: dict[str, Any]) -> Item:
    split = splits.get("of_id", {}).get(shown[0])  # actors are in no official list: assigned by group
    return Item(path=path, label=int(method != "real"), method=method, group=ids.find(shown[0]), split=split)
