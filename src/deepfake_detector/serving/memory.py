"""Process-wide settings of the service worker: glibc malloc (memory flat) and torch's thread count.

Keep the service's memory flat: glibc malloc settings for a long-running process that decodes big frames.

By default glibc raises its mmap threshold after the first large block is freed (up to 32 MB), so later
video frames and MTCNN activations land on the heap and stay there after use, and each thread may get its own
arena. A fixed threshold sends every big buffer to mmap, returned to the OS as soon as it is freed. Same as
setting MALLOC_MMAP_THRESHOLD_ / MALLOC_TRIM_THRESHOLD_ / MALLOC_ARENA_MAX, but it works however the worker is
started (`deepfake serve`, `bentoml serve`, the container). A no-op where the C library is not glibc.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging

from deepfake_detector.config import ServeConfig

log = logging.getLogger("deepfake_detector.serving")

# mallopt() parameter numbers, from glibc's malloc.h
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
M_ARENA_MAX = -8


def tune_malloc(cfg: ServeConfig) -> bool:
    """Apply the `serve.malloc_*` settings to this process; True when they took effect."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        log.info("not glibc: malloc settings left at their defaults")
        return False
    threshold = cfg.malloc_mmap_threshold_kb * 1024
    settings = {M_MMAP_THRESHOLD: threshold, M_TRIM_THRESHOLD: threshold, M_ARENA_MAX: cfg.malloc_arena_max}
    return all(mallopt(param, value) == 1 for param, value in settings.items())


def tune_threads(cfg: ServeConfig) -> int:
    """Apply `serve.torch_threads` (0: torch's default) to this process; returns torch's thread count.

    Process-wide: it also holds for the request threads that run MTCNN."""
    import torch

    if cfg.torch_threads:
        torch.set_num_threads(cfg.torch_threads)
    return torch.get_num_threads()
