"""Params profiles: profiles/<name>.yaml holds only the keys that differ from params.yaml (scripts/use_profile.sh)."""

from __future__ import annotations

from pathlib import Path

import yaml

from deepfake_detector.config import ConfigError, merged, validate_params

PROFILES_DIR = Path("profiles")


def profile_params(name: str, base: str | Path = "params.yaml", root: str | Path = ".") -> dict:
    """params.yaml with the overlay profiles/<name>.yaml (only the keys that differ) merged on top, validated."""
    root = Path(root)
    overlay_path = root / PROFILES_DIR / f"{name}.yaml"
    if not overlay_path.exists():
        names = sorted(p.stem for p in (root / PROFILES_DIR).glob("*.yaml") if not p.stem.startswith("ablation"))
        raise ConfigError(f"{overlay_path}: no such profile; profiles: {', '.join(names)}")
    raw = merged(yaml.safe_load((root / base).read_text()) or {}, yaml.safe_load(overlay_path.read_text()) or {})
    validate_params(raw, f"{overlay_path} on {base}")
    return raw
