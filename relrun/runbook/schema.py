"""The runbook schema, version ``relrun/v1``.

Each section is its own model in its own module; ``Runbook`` ties them together. The
fields' descriptions are the source of ``docs/runbook.md`` (``relrun schema --markdown``).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from relrun.runbook.base import StrictModel
from relrun.runbook.check_models import ApiChecksSection
from relrun.runbook.models import Build, Metadata, ScalarVar, Targets, VarName
from relrun.runbook.notify_models import Notify
from relrun.runbook.rollout_models import (
    Analysis,
    Deploy,
    Drill,
    Rollback,
    Rollout,
    Traffic,
    merged_analysis,
)
from relrun.runbook.scan_models import ScanSection


class Runbook(StrictModel):
    """A release runbook."""

    api_version: Literal["relrun/v1"] = Field(alias="apiVersion", description="Schema version.")
    kind: Literal["Runbook"] = Field(description="Always `Runbook`.")
    metadata: Metadata
    vars: dict[VarName, ScalarVar] = Field(
        default_factory=dict,
        description="Variables for template fields (literal values; runbook vars win over "
        "inventory vars of the same name). Connection, privilege and Ansible variables "
        "(`ansible_*`, `become*`, `connection`, `remote_user`, `port`, `environment` and "
        "Ansible's magic names) are refused: how Ansible reaches a host and as whom comes "
        "from the inventory only. Values are literals, never templated.",
    )
    secrets: list[Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]] = Field(
        default_factory=list,
        description="Names of variables whose values are secret, whatever the names look "
        "like: inventory variables (also those a step reads through `env_from_vars`), "
        "this runbook's `vars` and controller environment variables. Their values are "
        "masked (`***`), also base64- or URL-encoded, in every event, journal, report, "
        "history record and Ansible artifact. Values of names that look secret "
        "(`*password*`, `*token*`, `*secret*`, …) and passwords inside URLs are masked "
        "without being listed.",
    )
    targets: Targets = Field(default_factory=Targets)
    scan: ScanSection | None = Field(
        default=None, description="The security scan gate, first on the build hosts."
    )
    builds: list[Build] = Field(default_factory=list, description="The builds gate, in order.")
    api_checks: ApiChecksSection | None = Field(
        default=None,
        description="API checks: against the new version before traffic moves, and "
        "against stable in the rollback's verify step.",
    )
    deploy: Deploy | None = Field(default=None, description="Start the new version (canary).")
    traffic: Traffic | None = Field(default=None, description="The router and its servers.")
    analysis: Analysis = Field(default_factory=Analysis, description="Defaults for every stage.")
    rollout: Rollout | None = Field(default=None, description="The staged traffic shift.")
    rollback: Rollback = Field(default_factory=Rollback, description="The five-step rollback.")
    drill: Drill = Field(default_factory=Drill, description="What `relrun drill` injects.")
    notify: Notify | None = Field(default=None, description="Who hears about a run, and when.")

    def stage_analyses(self) -> dict[str, Analysis]:
        """Each stage's effective analysis (the defaults with its overrides), by stage name."""
        stages = self.rollout.stages if self.rollout else []
        return {stage.name: merged_analysis(self.analysis, stage) for stage in stages}

    def default_drill_stage(self) -> str | None:
        """The stage a drill breaks when not told otherwise: the runbook's, else the second.

        None without a rollout (there is nothing to drill).
        """
        if self.rollout is None:
            return None
        names = [s.name for s in self.rollout.stages]
        return self.drill.fault.stage or names[min(1, len(names) - 1)]
