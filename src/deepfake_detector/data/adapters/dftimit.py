"""`dftimit`: DeepFake-TIMIT fakes, with VidTIMIT reals when `options.vidtimit_root` is given.

    higher_quality/<subject>/<sentence>-video-<source>.avi   method dftimit_hq
    lower_quality/<subject>/<sentence>-video-<source>.avi    method dftimit_lq
    <vidtimit_root>/<subject>/video/<sentence>.<avi|mp4...>  reals (or any video files under <subject>/)

Items are grouped by subject; the subject whose face was swapped in (`-video-<source>`) joins that group,
so a face never sits in two splits. VidTIMIT ships each sentence as a folder of JPEG frames without
extensions: convert those to video files first (see docs/datasets.md).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from deepfake_detector.data.adapters.base import Item, LayoutError, media_files, media_of, register
from deepfake_detector.data.adapters.groups import UnionFind

QUALITIES = {"higher_quality": "dftimit_hq", "lower_quality": "dftimit_lq"}


@register("dftimit")
def index_dftimit(root: Path, options: dict[str, Any]) -> list[Item]:
    found = [q for q in QUALITIES if (root / q).is_dir()]
    if not found:
        seen = sorted(p.name for p in root.iterdir())[:10] if root.is_dir() else "nothing"
        raise LayoutError(
            f"{root} is not in the 'dftimit' layout: expected higher_quality/<subject>/*.avi and/or "
            f"lower_quality/<subject>/*.avi; found {seen}"
        )
    videos = []  # (path, method, subjects shown)
    for quality in found:
        for path in _videos(root / quality):
            videos.append((path, QUALITIES[quality], _fake_subjects(path)))
    if options.get("vidtimit_root"):
        reals = Path(options["vidtimit_root"])
        videos += [(path, "real", [path.relative_to(reals).parts[0]]) for path in _vidtimit(reals)]
    ids = UnionFind()
    for _, _, who in videos:
        ids.union(*who)
    return [
        Item(path=path, label=int(method != "real"), method=method, group=ids.find(who[0]))
        for path, method, who in videos
    ]


def _videos(folder: Path) -> list[Path]:
    return [p for p in media_files(folder) if media_of(p) == "video"]


def _fake_subjects(path: Path) -> list[str]:
    """fadg0/sa1-video-fram1.avi -> [fadg0, fram1]: the target and the subject whose face was swapped in."""
    subject = path.parent.name
    return [subject, path.stem.split("-video-")[1]] if "-video-" in path.stem else [subject]


def _vidtimit(root: Path) -> list[Path]:
    if not root.is_dir():
        raise LayoutError(f"dftimit: vidtimit_root {root} is not a folder")
    videos = _videos(root)
    if not videos:
        frames = sorted(root.glob("*/video/*/*"))
        hint = f"; it holds frame folders like {frames[0].parent}: convert each to a video file" if frames else ""
        raise LayoutError(f"dftimit: no videos under vidtimit_root {root} (expected <subject>/video/*.avi){hint}")
    return videos
