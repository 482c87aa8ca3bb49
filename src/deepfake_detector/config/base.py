"""The strict base of every settings section."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Strict(BaseModel):
    """Unknown keys are errors: a typo in params.yaml must not be silently ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def merged(base: dict, overrides: dict) -> dict:
    """`overrides` on top of `base`, nested dicts (e.g. augment) merged key by key; lists and values replace.
    The one merge of baselines, tuned values, ablation variants and params profiles."""
    out = dict(base)
    for key, value in overrides.items():
        out[key] = merged(base[key], value) if isinstance(value, dict) and isinstance(base.get(key), dict) else value
    return out
