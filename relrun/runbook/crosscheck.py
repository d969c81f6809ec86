"""Rules that span several fields, checked after the schema accepted the runbook."""

from __future__ import annotations

from collections.abc import Iterable

from relrun.runbook.schema import Runbook
from relrun.runbook.yamlpos import PathKey

CrossProblem = tuple[PathKey, str]


def cross_check(runbook: Runbook, inventory_groups: Iterable[str] | None) -> list[CrossProblem]:
    """Find problems no single field can see.

    Args:
        runbook: a runbook the schema accepted.
        inventory_groups: the inventory's groups, or None when no inventory is known yet.

    Returns:
        (path, message) pairs, in document order.
    """
    problems: list[CrossProblem] = []
    seen: dict[str, int] = {}
    for index, build in enumerate(runbook.builds):
        if build.name in seen:
            first = f"builds[{seen[build.name]}]"
            message = f"duplicate build name {build.name!r} (first used by {first})"
            problems.append((("builds", index, "name"), message))
        else:
            seen[build.name] = index
    problems += _rollout_rules(runbook)
    if inventory_groups is not None:
        groups = set(inventory_groups)
        for role, group in runbook.targets.model_dump().items():
            wanted = role in runbook.targets.model_fields_set or _role_used(runbook, role)
            if wanted and group not in groups:
                message = f"inventory has no group {group!r} for role {role!r}"
                problems.append((("targets", role), message))
    return problems


def _role_used(runbook: Runbook, role: str) -> bool:
    """Whether the runbook has work for a role it left at its default group."""
    if role == "build":
        return bool(runbook.builds or runbook.scan or runbook.api_checks)
    if role == "canary":
        return runbook.deploy is not None or runbook.rollout is not None
    return runbook.rollout is not None  # router and stable


def _rollout_rules(runbook: Runbook) -> list[CrossProblem]:
    problems: list[CrossProblem] = []
    stages = runbook.rollout.stages if runbook.rollout else []
    names: dict[str, int] = {}
    for index, stage in enumerate(stages):
        if stage.name in names:
            message = (
                f"duplicate stage name {stage.name!r} (first used by stages[{names[stage.name]}])"
            )
            problems.append((("rollout", "stages", index, "name"), message))
        names.setdefault(stage.name, index)
        if index and stage.weight < stages[index - 1].weight:
            message = (
                f"weights must not decrease: {stage.weight}% after {stages[index - 1].weight}%"
            )
            problems.append((("rollout", "stages", index, "weight"), message))
    if runbook.rollout is not None and runbook.traffic is None:
        problems.append((("rollout",), "a rollout needs a `traffic` section naming the router"))
    wanted = runbook.drill.fault.stage
    if wanted is not None and wanted not in names and "drill" in runbook.model_fields_set:
        known = ", ".join(repr(n) for n in names) or "none"
        problems.append(
            (("drill", "fault", "stage"), f"no stage named {wanted!r} (stages: {known})")
        )
    return problems
