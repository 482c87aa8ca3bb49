"""`huggingface`: a Hugging Face Hub dataset repo through huggingface_hub.snapshot_download (imported
only here), cached under `<cache_dir>/huggingface/`. With HF_HUB_OFFLINE=1 only the cache is used."""

from __future__ import annotations

import os
from pathlib import Path

from deepfake_detector.config import SourceConfig
from deepfake_detector.data.sources.base import SourceError, cache_dir

FIX = "Download the repo's files by hand (e.g. on a machine with access), unpack them and use a 'local' source."


def acquire(source: SourceConfig, project_root: Path) -> Path:
    what = f"huggingface source '{source.repo_id}'"
    try:
        from huggingface_hub import snapshot_download
    except ImportError:
        raise SourceError(f"{what}: huggingface_hub is not installed (pip install huggingface_hub). {FIX}") from None
    # read at call time: huggingface_hub reads HF_HUB_OFFLINE once, when first imported
    offline = os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on")
    try:
        path = snapshot_download(
            str(source.repo_id),
            repo_type="dataset",
            cache_dir=cache_dir(source, project_root, "huggingface"),
            local_files_only=offline,
            etag_timeout=10,
        )
    except Exception as err:  # offline, missing repo, gated repo without HF_TOKEN: all say why in `err`
        if offline:
            why = "offline (HF_HUB_OFFLINE is set) and not in the cache"
        else:
            why = "download failed (gated repos need HF_TOKEN; HF_HUB_OFFLINE=1 uses the cache only)"
        raise SourceError(f"{what}: {why}: {type(err).__name__}: {err} {FIX}") from None
    return Path(path)
