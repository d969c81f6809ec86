"""Rules that span several fields.

They read the loaded YAML, not the validated model, so that they also run when the schema
rejected some other part of the runbook: every problem is reported at once. Each value a
rule needs goes through the model's own type for that field; a value the schema rejects
(and reports) leaves the rules that need it silent instead of guessing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Annotated, Any, cast

from pydantic import BaseModel, TypeAdapter, ValidationError

from relrun.collection.ansible_collections.relrun.release.plugins.module_utils.fault.registry import (  # noqa: E501
    INJECTOR_NAMES,
)
from relrun.runbook.models import Build, Targets
from relrun.runbook.rollout_models import (
    Analysis,
    AnalysisOverride,
    Fault,
    Guard,
    MetricsSource,
    Rollback,
    Stage,
    Traffic,
)
from relrun.runbook.yamlpos import PathKey

CrossProblem = tuple[PathKey, str]

_ROLES = ("build", "router", "stable", "canary")
_MISSING = object()

# How far apart two renewals of the dead man's switch lease can be, beyond the analysis
# interval (relrun.release.analysis renews before each sample, then samples, then sleeps
# the interval). A sample probes the canary servers' health paths side by side, up to
# PROBES_AT_ONCE at a time (module_utils/analysis/core.py _PROBE_THREADS), each probe
# bounded by max_p95_ms but at least 0.5s; reading the router and writing the lease get a
# fixed second on top.
PROBE_FLOOR_S = 0.5
PROBES_AT_ONCE = 16
RENEWAL_SLACK_S = 1.0


def cross_check(
    data: Mapping[str, Any], inventory_groups: Iterable[str] | None
) -> list[CrossProblem]:
    """Find problems no single field can see.

    Args:
        data: the runbook as loaded from YAML, whether or not the schema accepted it.
        inventory_groups: the inventory's groups, or None when no inventory is known yet.

    Returns:
        (path, message) pairs; the loader sorts them by position.
    """
    problems = _duplicate_builds(data)
    problems += _rollout_rules(data)
    problems += _lease_rule(data)
    problems += _injector_rule(data)
    if inventory_groups is not None:
        problems += _inventory_rules(data, set(inventory_groups))
    return problems


@cache
def _adapter(model: type[BaseModel], field: str) -> TypeAdapter[Any]:
    info = model.model_fields[field]
    # The field's type with its constraints and validators, outside the model.
    return TypeAdapter(cast(Any, Annotated[info.annotation, info]))


def _value(model: type[BaseModel], field: str, container: Any) -> Any:
    """The field's value in ``container`` as the model reads it (its default when absent).

    Returns:
        The value, or ``_MISSING`` when it is there but the schema rejects it.
    """
    if not isinstance(container, Mapping) or field not in container:
        info = model.model_fields[field]
        return info.get_default(call_default_factory=True, validated_data={})
    try:
        return _adapter(model, field).validate_python(container[field])
    except ValidationError:
        return _MISSING


def _text(model: type[BaseModel], field: str, container: Any) -> str | None:
    value = _value(model, field, container)
    return value if isinstance(value, str) else None


def _number(model: type[BaseModel], field: str, container: Any) -> float | None:
    value = _value(model, field, container)
    return float(value) if isinstance(value, int | float) else None


def _duplicate_builds(data: Mapping[str, Any]) -> list[CrossProblem]:
    builds = data.get("builds")
    if not isinstance(builds, list):
        return []
    problems: list[CrossProblem] = []
    seen: dict[str, int] = {}
    for index, build in enumerate(builds):
        name = _text(Build, "name", build) if isinstance(build, Mapping) else None
        if name is None:
            continue
        if name in seen:
            message = f"duplicate build name {name!r} (first used by builds[{seen[name]}])"
            problems.append((("builds", index, "name"), message))
        else:
            seen[name] = index
    return problems


def _stages(data: Mapping[str, Any]) -> list[Any] | None:
    """The raw stages: empty without a rollout, None when the rollout is unreadable."""
    rollout = data.get("rollout")
    if rollout is None:
        return []
    stages = rollout.get("stages") if isinstance(rollout, Mapping) else None
    return stages if isinstance(stages, list) else None


def _rollout_rules(data: Mapping[str, Any]) -> list[CrossProblem]:
    problems: list[CrossProblem] = []
    stages = _stages(data)
    names: dict[str, int] = {}
    all_named = stages is not None
    previous: int | None = None
    for index, stage in enumerate(stages or []):
        name = _text(Stage, "name", stage) if isinstance(stage, Mapping) else None
        weight = _value(Stage, "weight", stage) if isinstance(stage, Mapping) else None
        weight = weight if isinstance(weight, int) else None
        if name is None:
            all_named = False
        elif name in names:
            message = f"duplicate stage name {name!r} (first used by stages[{names[name]}])"
            problems.append((("rollout", "stages", index, "name"), message))
        else:
            names[name] = index
        if index and weight is not None and previous is not None and weight < previous:
            message = f"weights must not decrease: {weight}% after {previous}%"
            problems.append((("rollout", "stages", index, "weight"), message))
        previous = weight
    problems += _approval_rules(data, stages)
    if data.get("rollout") is not None and data.get("traffic") is None:
        problems.append((("rollout",), "a rollout needs a `traffic` section naming the router"))
    drill = data.get("drill")
    fault = drill.get("fault") if isinstance(drill, Mapping) else None
    wanted = _text(Fault, "stage", fault) if isinstance(fault, Mapping) else None
    # A stage whose name the schema rejected may be the one meant: say nothing then.
    if wanted is not None and all_named and wanted not in names:
        known = ", ".join(repr(n) for n in names) or "none"
        problems.append(
            (("drill", "fault", "stage"), f"no stage named {wanted!r} (stages: {known})")
        )
    return problems


def _approval_rules(data: Mapping[str, Any], stages: list[Any] | None) -> list[CrossProblem]:
    """``approval: required`` holds before the last stage, so it needs a stage before it."""
    rollout = data.get("rollout")
    if not isinstance(rollout, Mapping) or rollout.get("approval") != "required":
        return []
    if stages is not None and len(stages) < 2:
        return [(("rollout", "approval"), "approval: required holds the release at the "
                 "stage before the last one: it needs at least two stages")]
    held = stages[-2] if stages else None
    pause = held.get("pause") if isinstance(held, Mapping) else None
    if isinstance(pause, Mapping) and pause.get("timeout") is not None:
        assert stages is not None
        return [(("rollout", "stages", len(stages) - 2, "pause", "timeout"),
                 "this stage holds for the runbook's approval (rollout.approval: required), "
                 "which waits for `relrun promote`: its pause takes no timeout")]
    return []


TRAFFIC_FAULTS = ("error_rate", "latency", "abort")


def traffic_fault_problem(driver: str, kind: str, via: str) -> str | None:
    """Why the router ``driver`` cannot inject a ``kind`` fault ``via`` it, or None."""
    at_router = kind == "abort" or (kind in TRAFFIC_FAULTS and via == "traffic")
    if not at_router or driver in INJECTOR_NAMES:
        return None
    return (
        f"the {driver} router has no fault injector (routers with one: "
        f"{', '.join(INJECTOR_NAMES)}); use a `command` fault, or `via: app` for error_rate "
        "and latency"
    )


def _injector_rule(data: Mapping[str, Any]) -> list[CrossProblem]:
    """A traffic-layer drill fault needs a router listed in the fault registry."""
    drill, traffic = data.get("drill"), data.get("traffic")
    fault = drill.get("fault") if isinstance(drill, Mapping) else None
    if not isinstance(fault, Mapping) or not isinstance(traffic, Mapping):
        return []
    driver = _text(Traffic, "driver", traffic) or "sandbox"
    kind = _text(Fault, "kind", fault) or "error_rate"
    via = _text(Fault, "via", fault) or "traffic"
    problem = traffic_fault_problem(driver, kind, via)
    return [(("drill", "fault", "kind"), problem)] if problem else []


@dataclass(frozen=True)
class _Renewals:
    """How far apart lease renewals can be during one stage's bake."""

    stage: str
    interval: float
    servers: int
    probe: float
    metrics: float = 0.0  # the metric provider's bound on one reading (0: the router's)
    guards: float = 0.0  # the business-metric guards' bounds on one reading each, summed

    @property
    def rounds(self) -> int:
        """Rounds of health probes in one sample (the servers, PROBES_AT_ONCE at a time)."""
        return -(-self.servers // PROBES_AT_ONCE)

    @property
    def gap(self) -> float:
        return (self.interval + self.rounds * self.probe + RENEWAL_SLACK_S + self.metrics
                + self.guards)


def _renewals(data: Mapping[str, Any]) -> list[tuple[int, bool, _Renewals]]:
    """(stage index, whether the stage sets its own interval, renewals) for each stage."""
    analysis, traffic = data.get("analysis"), data.get("traffic")
    if not all(part is None or isinstance(part, Mapping) for part in (analysis, traffic)):
        return []
    default_interval = _number(Analysis, "interval", analysis)
    default_p95 = _number(Analysis, "max_p95_ms", analysis)
    servers = _value(Traffic, "canary_servers", traffic)
    if not isinstance(servers, list):
        return []
    source = analysis.get("metrics") if isinstance(analysis, Mapping) else None
    reading = _number(MetricsSource, "timeout", source) if isinstance(source, Mapping) else 0.0
    guards = analysis.get("guards") if isinstance(analysis, Mapping) else None
    guard_time = sum(
        _number(Guard, "timeout", g) or 0.0 for g in guards or [] if isinstance(g, Mapping)
    ) if isinstance(guards, list) else 0.0
    found: list[tuple[int, bool, _Renewals]] = []
    for index, stage in enumerate(_stages(data) or []):
        if not isinstance(stage, Mapping):
            continue
        override = stage.get("analysis")
        interval, p95 = default_interval, default_p95
        if isinstance(override, Mapping):
            if override.get("interval") is not None:
                interval = _number(AnalysisOverride, "interval", override)
            if override.get("max_p95_ms") is not None:
                p95 = _number(AnalysisOverride, "max_p95_ms", override)
        if interval is None or p95 is None:
            continue
        name = _text(Stage, "name", stage)
        label = f"stage {name!r}" if name is not None else f"stages[{index}]"
        own = isinstance(override, Mapping) and override.get("interval") is not None
        probe = max(PROBE_FLOOR_S, p95 / 1000)
        found.append(
            # Up to two readings between renewals: the first sample also reads the
            # window since the shift.
            (index, own, _Renewals(label, interval, len(servers), probe, 2 * (reading or 0.0),
                                   guard_time))
        )
    return found


def _lease_rule(data: Mapping[str, Any]) -> list[CrossProblem]:
    """The dead man's switch lease must outlast the longest gap between two renewals.

    A lease that runs out between two samples makes the router host revert the traffic
    while relrun is alive and well.
    """
    rollback = data.get("rollback")
    lease = _number(Rollback, "lease", rollback)
    found = _renewals(data)
    if lease is None or not found or not isinstance(rollback, Mapping | None):
        return []
    index, own, worst = max(found, key=lambda item: item[2].gap)
    if lease > worst.gap:
        return []
    if isinstance(rollback, Mapping) and "lease" in rollback:
        path: PathKey = ("rollback", "lease")
    elif own:
        path = ("rollout", "stages", index, "analysis", "interval")
    elif isinstance(data.get("analysis"), Mapping) and "interval" in data["analysis"]:
        path = ("analysis", "interval")
    else:
        path = ("rollback", "lease")
    message = (
        f"the dead man's switch lease ({lease:g}s) can run out while relrun is alive: it is "
        f"renewed once per analysis sample, and at {worst.stage} two renewals can be "
        f"{worst.gap:g}s apart: interval {worst.interval:g}s + {worst.rounds} round(s) of "
        f"canary health probes ({worst.servers} server(s), up to {PROBES_AT_ONCE} at once) of "
        f"up to {worst.probe:g}s each (max_p95_ms, at least {PROBE_FLOOR_S:g}s) + "
        + (f"2 metrics readings of up to {worst.metrics / 2:g}s (analysis.metrics.timeout) + "
           if worst.metrics else "")
        + (f"{worst.guards:g}s for the guards' readings (analysis.guards[].timeout) + "
           if worst.guards else "")
        + f"{RENEWAL_SLACK_S:g}s margin to read the router and write the lease; make "
        f"rollback.lease longer than {worst.gap:g}s or the interval shorter"
    )
    return [(path, message)]


def _role_used(data: Mapping[str, Any], role: str) -> bool:
    """Whether the runbook has work for a role it left at its default group."""
    if role == "build":
        return bool(data.get("builds")) or any(
            data.get(section) is not None for section in ("scan", "api_checks")
        )
    if role == "canary":
        return data.get("deploy") is not None or data.get("rollout") is not None
    return data.get("rollout") is not None  # router and stable


def _inventory_rules(data: Mapping[str, Any], groups: set[str]) -> list[CrossProblem]:
    targets = data.get("targets", {})
    if not isinstance(targets, Mapping):
        return []
    problems: list[CrossProblem] = []
    for role in _ROLES:
        group = _text(Targets, role, targets)
        wanted = role in targets or _role_used(data, role)
        if group is not None and wanted and group not in groups:
            message = f"inventory has no group {group!r} for role {role!r}"
            problems.append((("targets", role), message))
    return problems
