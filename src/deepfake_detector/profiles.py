"""Overlays of params.yaml: files holding only the keys that differ, merged on top and validated as params.yaml is.

Two kinds, one schema and one merge: params profiles (profiles/<name>.yaml, written into params.yaml by
scripts/use_profile.sh) and ablation variants (ablations/<file>.yaml, a shared `base` overlay and one overlay
per variant, trained in turn by scripts/ablation.py)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from deepfake_detector.config import ConfigError, Params, TrainConfig, merged, validate_params

PROFILES_DIR = Path("profiles")
ABLATIONS_DIR = Path("ablations")


def read_overlay(path: Path) -> dict:
    """An overlay file: a mapping of params.yaml's keys (an empty file overlays nothing)."""
    overlay = yaml.safe_load(path.read_text()) or {}
    if not isinstance(overlay, dict):
        raise ConfigError(f"{path}: an overlay is a mapping of params.yaml keys (e.g. train: {{epochs: 4}})")
    return overlay


def overlaid(base: dict, overlays: list[dict], where: str) -> tuple[dict, Params]:
    """`overlays` merged in turn onto `base` (parsed params.yaml), and the validated Params; ConfigError naming
    `where` (validate_params' messages)."""
    raw = base
    for overlay in overlays:
        raw = merged(raw, overlay)
    return raw, validate_params(raw, where)


def profile_params(name: str, base: str | Path = "params.yaml", root: str | Path = ".") -> dict:
    """params.yaml with the overlay profiles/<name>.yaml (only the keys that differ) merged on top, validated."""
    root = Path(root)
    overlay_path = root / PROFILES_DIR / f"{name}.yaml"
    if not overlay_path.exists():
        names = sorted(p.stem for p in (root / PROFILES_DIR).glob("*.yaml"))
        raise ConfigError(f"{overlay_path}: no such profile; profiles: {', '.join(names)}")
    base_raw = yaml.safe_load((root / base).read_text()) or {}
    return overlaid(base_raw, [read_overlay(overlay_path)], f"{overlay_path} on {base}")[0]


@dataclass(frozen=True)
class Ablation:
    """An ablation file: `base`, the overlay every variant shares, and `variants`, name -> its own overlay."""

    path: Path
    base: dict
    variants: dict[str, dict]

    def params(self, name: str, params_yaml: dict, run: dict | None = None) -> Params:
        """params.yaml + base + the variant + `run` (the seed and data keys of one run), validated."""
        where = f"{self.path} variant {name} on params.yaml"
        return overlaid(params_yaml, [self.base, self.variants[name], run or {}], where)[1]


def read_ablation(path: Path) -> Ablation:
    """An ablation file, its overlays checked for shape (they are validated when merged: Ablation.params)."""
    spec = read_overlay(path)
    unknown = set(spec) - {"base", "variants"}
    if unknown or not isinstance(spec.get("variants"), dict):
        raise ConfigError(
            f"{path}: an ablation file holds `base` (an overlay of params.yaml every variant "
            f"shares) and `variants` (name: its own overlay); found {sorted(spec)}"
        )
    overlays = {"base": spec.get("base") or {}, **{name: v or {} for name, v in spec["variants"].items()}}
    for name, overlay in overlays.items():
        train_keys = sorted(set(overlay) & set(TrainConfig.model_fields)) if isinstance(overlay, dict) else []
        if not isinstance(overlay, dict) or train_keys:
            raise ConfigError(
                f"{path}: {name} must be an overlay of params.yaml, its train keys under `train:` "
                f"(e.g. {name}: {{train: {{epochs: 4}}}}); found {overlay!r}"
            )
    base = overlays.pop("base")
    return Ablation(path, base, overlays)
