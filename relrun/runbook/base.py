"""The base every runbook model derives from."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class StrictModel(BaseModel):
    """Frozen, and unknown keys are errors: a typo in a runbook must never be ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
