"""The ``notify`` section of a runbook: tell someone when a scheduled run needs a human."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from relrun.runbook.base import StrictModel
from relrun.runbook.types import TimeoutSeconds

NotifyOn = Literal["failure", "regression", "always"]


class Webhook(StrictModel):
    """A JSON POST to a chat or paging webhook after each run."""

    url_env: str = Field(
        pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
        description="Name of the environment variable holding the webhook URL (URLs often "
        "embed a token, so the runbook never holds the URL itself).",
    )
    on: list[NotifyOn] = Field(
        default_factory=lambda: list[NotifyOn](["failure", "regression"]),
        min_length=1,
        description="When to post: `failure` (the run did not pass), `regression` (a "
        "drill's RTO regressed, see `relrun history --trend`), `always`.",
    )
    retries: int = Field(
        default=3, ge=0, le=10, description="Retries after a failed POST (exponential backoff)."
    )
    timeout: TimeoutSeconds = Field(default=10, description="Timeout of each POST.")

    @model_validator(mode="before")
    @classmethod
    def _on_key(cls, data: Any) -> Any:
        # YAML 1.1 reads a bare `on:` key as the boolean true (GitHub Actions has the same
        # quirk); a runbook author writing `on:` means this field.
        if isinstance(data, dict) and True in data and "on" not in data:
            data = {("on" if key is True else key): value for key, value in data.items()}
        return data


class Notify(StrictModel):
    """Notifications after a release, drill or rollback; a failed one never fails the run."""

    webhook: Webhook | None = Field(default=None, description="Post a JSON summary here.")
