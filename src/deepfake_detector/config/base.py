"""The strict base of every settings section."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Strict(BaseModel):
    """Unknown keys are errors: a typo in params.yaml must not be silently ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)
