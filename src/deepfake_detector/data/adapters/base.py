"""The adapter contract and registry."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deepfake_detector.media.frames import IMAGE_SUFFIXES, VIDEO_SUFFIXES, MediaError, media_kind
from deepfake_detector.registry import registrar


class LayoutError(ValueError):
    """A dataset root is not in the layout the adapter expects; the message says what it expected."""


@dataclass(frozen=True)
class Item:
    path: Path  # absolute or relative to the project root
    label: int  # 0 real, 1 fake
    method: str  # "real" for reals
    group: str  # items sharing a group (identity, source video, swap pair) stay in one split
    split: str | None = None  # train/val/test when the dataset defines it; "trainval" = not test; None = assign
    cropped: bool = False  # the file is already a face crop

    @property
    def media(self) -> str:
        return media_of(self.path)


AdapterFn = Callable[[Path, dict[str, Any]], list[Item]]
ADAPTERS: dict[str, AdapterFn] = {}
register = registrar(ADAPTERS)  # @register("name") on an adapter function


def get_adapter(name: str) -> AdapterFn:
    if name not in ADAPTERS:
        raise LayoutError(f"unknown adapter '{name}'; choose one of {sorted(ADAPTERS)}")
    return ADAPTERS[name]


def media_of(path: Path) -> str:
    try:
        return media_kind(path)
    except MediaError as err:
        raise LayoutError(str(err)) from None


def media_files(folder: Path) -> list[Path]:
    """Every image and video under `folder`, sorted so indexing is deterministic."""
    exts = IMAGE_SUFFIXES | VIDEO_SUFFIXES
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in exts)


def require(root: Path, *relative: str, adapter: str) -> None:
    """Raise a LayoutError naming what is missing, so a wrong root is caught before any work."""
    if not root.is_dir():
        raise LayoutError(f"{root}: not a folder (adapter '{adapter}')")
    missing = [r for r in relative if not (root / r).exists()]
    if missing:
        found = sorted(p.name for p in root.iterdir())[:10]
        raise LayoutError(
            f"{root} is not in the '{adapter}' layout: missing {missing}; found {found}. "
            f"See docs/datasets.md for the expected tree."
        )
