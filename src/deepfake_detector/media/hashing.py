"""64-bit perceptual hashes (pHash), shared by near-duplicate grouping and the cross-split duplicate check."""

from __future__ import annotations

import imagehash
import numpy as np
from PIL import Image


def phash64(image: Image.Image) -> int:
    """The image's pHash as an unsigned 64-bit integer (bit distance = popcount of the XOR)."""
    return int.from_bytes(np.packbits(imagehash.phash(image).hash.flatten()).tobytes(), "big")
