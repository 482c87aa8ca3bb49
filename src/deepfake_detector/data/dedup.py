"""Near-identical images share a group, so a split can never put one copy in train and another in test.

Real datasets contain them (DFDC has pixel-identical crops of one scene filed under different videos); the
validate stage's duplicate check would stop the pipeline on them, so they are joined before splitting.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
from PIL import Image

from deepfake_detector.data.adapters.groups import UnionFind
from deepfake_detector.media.hashing import phash64

log = logging.getLogger(__name__)


# Bits of 64 in which two perceptual hashes may differ and still count as one picture (data.duplicate_bits).
# Looser than the validate stage's test on crops, which sees the same pictures resized: DFDC pictures 4-6 bits
# apart here hash identically once cropped. Higher values chain look-alike rendered faces into one group.
DUPLICATE_BITS = 4


def merge_duplicate_groups(df: pd.DataFrame, max_bits: int = DUPLICATE_BITS) -> pd.DataFrame:
    """Images whose perceptual hashes differ in at most `max_bits` bits get one group."""
    paths, groups_of = [], []
    for path, group, media in zip(df["path"], df["group"], df["media"], strict=True):
        if media == "image":
            paths.append(path)
            groups_of.append(group)
    hashes, kept = _hashes(paths)
    groups = UnionFind()
    for i, j in _close_pairs(hashes, max_bits):
        groups.union(groups_of[kept[i]], groups_of[kept[j]])
    merged = df["group"].map(groups.find)
    changed = int((merged != df["group"]).sum())
    if changed:
        log.info("joined the groups of %d items whose images are perceptual duplicates", changed)
    return df.assign(group=merged)


def _hashes(paths: list[str]) -> tuple[np.ndarray, list[int]]:
    """64-bit pHashes as uint64, and the indices of the paths that could be read."""
    values, kept = [], []
    for i, path in enumerate(paths):
        try:
            with Image.open(path) as image:
                values.append(phash64(image))
                kept.append(i)
        except Exception:  # unreadable files are reported by the later stages, with their reason
            continue
    return np.array(values, dtype=np.uint64), kept


def _close_pairs(hashes: np.ndarray, max_bits: int):
    """(i, j) with i < j and Hamming distance <= max_bits; one vectorised row at a time (n^2/2 popcounts)."""
    for i in range(len(hashes) - 1):
        bits = np.bitwise_count(hashes[i + 1 :] ^ hashes[i])  # the popcount the validate stage uses too
        for j in np.nonzero(bits <= max_bits)[0]:
            yield i, i + 1 + int(j)
