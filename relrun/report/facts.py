"""What happened in a release, read from the journal's events: stages, trigger, rollback.

Pure functions over events; the drill report and the exit-code decision both use them.
Task names are read through the step grammar (:mod:`relrun.runbook.steps`), the one the
renderer names them with.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel, Field

from relrun.run.events import Event, Note, RunFinished, RunStarted, TaskResult, TaskStarted
from relrun.run.samples import Sample, parse_samples
from relrun.runbook.steps import (
    APP_CLEANUP_PLAY,
    ROLLBACK_STEPS,
    RollbackStep,
    StageAction,
    StepKind,
    StepRef,
    parse_task,
)

# Rollbacks that ended a bake without judging it: an operator asked (an interrupt,
# ``relrun rollback`` or ``abort``), or a stage's pause timed out with default rollback.
OPERATOR_REASONS = frozenset({"signal", "manual", "pause_timeout"})
# A stage that ran as it should: judged and passed, or skipped by ``relrun promote --full``.
PROMOTABLE = frozenset({"passed", "skipped"})


class StageFacts(BaseModel):
    """One stage as it ran."""

    index: int
    name: str
    weight: int | None = None
    started: float | None = None
    ended: float | None = None
    status: str = "not_started"  # passed | breached | failed | interrupted | not_started
    samples: list[Sample] = Field(default_factory=list)
    # The canary analysis' method (tests, alpha, tolerances), counts per version over the
    # bake, decision, and whether it took the canary out of traffic at a breach.
    analysis: dict[str, Any] = Field(default_factory=dict)


class StepFacts(BaseModel):
    """One rollback step as it ran."""

    name: str
    status: str = "not_run"  # passed | failed | not_run
    started: float | None = None
    ended: float | None = None
    seconds: float | None = None
    details: dict[str, Any] = Field(default_factory=dict)


class Facts(BaseModel):
    """Everything the reports and the verdict need."""

    stages: list[StageFacts] = Field(default_factory=list)
    trigger: dict[str, Any] | None = None
    # The fault is in force once the LAST host has it (detection and RTO count from there);
    # the first host's moment is kept too: the two differ by how long the injection took.
    fault_injected_at: float | None = None
    fault_first_injected_at: float | None = None
    fault_hit: list[str] = Field(default_factory=list)
    fault_error: str | None = None  # why the drill's fault could not be injected
    rollback_ran: bool = False
    rollback: list[StepFacts] = Field(default_factory=list)
    switched_at: float | None = None
    promoted: bool = False
    deploy_started: bool = False
    unreachable: list[str] = Field(default_factory=list)
    failures: list[str] = Field(default_factory=list)
    runs: dict[str, str] = Field(default_factory=dict)  # label -> ansible-runner status
    # host -> its canary servers (from the inventory), and the canary servers that were
    # ever given weight: an unreachable host whose canary never carried traffic is harmless.
    canary_servers: dict[str, list[str]] = Field(default_factory=dict)
    weighted: list[str] = Field(default_factory=list)
    canary_out_at: float | None = None  # the analysis drained the canary at a breach
    # The operators' gate requests the bakes took (pause, resume, promote) and pauses that
    # timed out: action, stage, by, reason, at, taken_at (and scope, default).
    gates: list[dict[str, Any]] = Field(default_factory=list)

    def carried_no_traffic(self, host: str) -> bool:
        """Whether ``host`` runs canary servers and none of them was ever given weight."""
        servers = self.canary_servers.get(host) or []
        return bool(servers) and not set(servers) & set(self.weighted)

    @property
    def rollback_complete(self) -> bool:
        """All five steps passed."""
        return bool(self.rollback) and all(s.status == "passed" for s in self.rollback)

    @property
    def traffic_moved(self) -> bool:
        """Whether any stage started shifting weight."""
        return any(s.started is not None for s in self.stages)


def _stage(facts: Facts, index: int, name: str) -> StageFacts:
    while len(facts.stages) < index:
        facts.stages.append(StageFacts(index=len(facts.stages) + 1, name=""))
    stage = facts.stages[index - 1]
    stage.name = name
    return stage


def unreachable_in(result: TaskResult) -> list[tuple[str, str]]:
    """The hosts a result could not reach, with Ansible's message for each.

    A task delegated in a loop (drill fault, cleanup on every canary host) reports an
    unreachable delegated host per item (``item`` is that host), and Ansible then marks the
    task's own host (the router) unreachable too: name the item's host, not the router.
    """
    items = [
        item
        for item in result.result.get("results") or []
        if isinstance(item, dict) and item.get("unreachable")
    ]
    if items:
        return [
            (
                str(item.get("_ansible_item_label") or item.get("item")),
                str(item.get("msg", "")).strip(),
            )
            for item in items
        ]
    if result.status == "unreachable":
        return [(result.host, str(result.result.get("msg", "")).strip())]
    return []


def _trigger_from(result: TaskResult, ref: StepRef, stage: str | None) -> dict[str, Any]:
    breach = result.result.get("breach")
    if result.status == "unreachable":
        lost = unreachable_in(result) or [(result.host, "")]
        return {
            "reason": "unreachable_host",
            "host": lost[0][0],
            "hosts": [host for host, _ in lost],
            "stage": stage,
            "message": lost[0][1],
            "at": result.time,
        }
    if isinstance(breach, dict):
        return {
            "reason": breach.get("reason"),
            "observed": breach.get("observed"),
            "threshold": breach.get("threshold"),
            "stage": stage,
            "message": str(breach.get("message") or result.result.get("msg", "")),
            "at": breach.get("at", result.time),
            **{k: breach[k] for k in ("test", "counts", "e_value", "bound", "alpha",
                                      "stable_error_rate", "stable_p95_ms", "by", "guard",
                                      "stable_value") if k in breach},
        }
    if ref.action is StageAction.FAULT:
        return {
            "reason": "fault_not_injected",
            "stage": stage,
            "task": result.task,
            "host": result.host,
            "message": _why(result),
            "at": result.time,
        }
    reason = "readiness" if ref.kind is StepKind.READINESS else "failed_check"
    return {
        "reason": reason,
        "stage": stage,
        "task": result.task,
        "host": result.host,
        "message": str(result.result.get("msg", "")).strip(),
        "at": result.time,
    }


def _why(result: TaskResult) -> str:
    """A failed task's message; for a loop, the first failed item's.

    Ansible's own top-level message of a loop only says that one or more items failed.
    """
    for item in result.result.get("results") or []:
        if isinstance(item, dict) and (item.get("failed") or item.get("unreachable")):
            label = item.get("_ansible_item_label") or item.get("item")
            return f"{label}: {str(item.get('msg', '')).strip()}"
    return str(result.result.get("msg", "")).strip()


def collect_facts(events: Iterable[Event]) -> Facts:
    """Read the events of one or more runs (release, then possibly a standalone rollback).

    Args:
        events: journal events in order.

    Returns:
        The facts.
    """
    facts = Facts()
    steps = {name: StepFacts(name=name) for name in ROLLBACK_STEPS}
    for event in events:
        if isinstance(event, Note):
            if event.data.get("trigger") and facts.trigger is None:
                facts.trigger = dict(event.data["trigger"])
            if event.data.get("canary_servers"):
                facts.canary_servers = dict(event.data["canary_servers"])
            continue
        if isinstance(event, RunStarted) and event.label in {"rollback", "recover"}:
            # A standalone rollback re-runs every step: its attempt is the one that counts.
            steps = {name: StepFacts(name=name) for name in ROLLBACK_STEPS}
            continue
        if isinstance(event, RunFinished):
            facts.runs[event.label] = event.status
            if event.status != "successful" and not facts.failures:
                facts.failures.append(
                    f"ansible-playbook run {event.label!r} ended {event.status} (rc {event.rc}) "
                    "before any task failed; see its artifacts' stdout"
                )
            continue
        if not isinstance(event, TaskStarted | TaskResult):
            continue
        task = event.task
        ref = parse_task(task)
        if ref.kind is StepKind.DEPLOY:
            facts.deploy_started = True
        in_stage = ref.kind is StepKind.STAGE and ref.index is not None
        if isinstance(event, TaskStarted):
            if in_stage and ref.action is StageAction.SHIFT:
                assert ref.index is not None
                stage = _stage(facts, ref.index, ref.name)
                stage.started = stage.started or event.time
                stage.status = "running"
            if ref.step is not None:
                facts.rollback_ran = True
                step = steps[ref.step]
                step.started = step.started or event.time
            continue
        # A TaskResult
        lost = unreachable_in(event)
        for host, _ in lost:
            if host not in facts.unreachable:
                facts.unreachable.append(host)
        if event.status in {"failed", "unreachable"} and not event.ignored:
            message = str(event.result.get("msg", "")).strip()
            for host, why in lost:
                facts.failures.append(f"host {host} unreachable ({task}): {why}")
            if not lost:
                facts.failures.append(f"{task} @ {event.host}: {message}")
        if in_stage:
            assert ref.index is not None
            stage = _stage(facts, ref.index, ref.name)
            if event.status == "skipped" and ref.action in {
                StageAction.SHIFT, StageAction.ANALYSIS
            }:
                # ``relrun promote --full``: the stage is skipped (the last one's shift
                # still gives the canary its final weight; then its bake is skipped).
                stage.status = "skipped"
                stage.ended = event.time
                continue
            if ref.action is StageAction.SHIFT and event.status == "ok":
                for server, weight in (event.result.get("weights") or {}).items():
                    if weight and server not in facts.weighted:
                        facts.weighted.append(server)
                stage.weight = ref.weight
            if ref.action is StageAction.FAULT and event.status in {"failed", "unreachable"}:
                facts.fault_error = facts.fault_error or _why(event)
            if ref.action is StageAction.FAULT and event.status == "ok":
                for item in event.result.get("results", [event.result]):
                    if item.get("injected_at") and item.get("changed"):
                        at = float(item["injected_at"])
                        earliest = facts.fault_first_injected_at
                        facts.fault_first_injected_at = (
                            at if earliest is None else min(earliest, at)
                        )
                        latest = facts.fault_injected_at
                        facts.fault_injected_at = at if latest is None else max(latest, at)
                        facts.fault_hit += item.get("hit", [])
            if ref.action is StageAction.ANALYSIS:
                facts.gates += [g for g in event.result.get("gates") or [] if isinstance(g, dict)]
                stage.samples = parse_samples(event.result.get("samples"))
                out = event.result.get("canary_out") or {}
                stage.analysis = {
                    "method": event.result.get("method"),
                    "totals": event.result.get("totals"),
                    "decision": event.result.get("decision"),
                    "canary_out": out or None,
                }
                if out.get("done") and out.get("at") and facts.canary_out_at is None:
                    facts.canary_out_at = float(out["at"])
                stage.ended = event.time
                stage.status = "passed" if event.status == "ok" else "breached"
            if event.status in {"failed", "unreachable"} and facts.trigger is None:
                facts.trigger = _trigger_from(event, ref, stage.name)
                stage.ended = stage.ended or event.time
                if facts.trigger.get("reason") in OPERATOR_REASONS:
                    # An operator's request ended the bake; the stage was not judged, and
                    # the rollout's rescue rolls back in this same playbook run.
                    stage.status = "interrupted"
                    facts.trigger["path"] = "in_playbook"
                elif stage.status == "running":
                    stage.status = "failed"
        elif (
            ref.kind in {StepKind.READINESS, StepKind.API_CHECK}
            and event.status in {"failed", "unreachable"}
            and facts.trigger is None
        ):
            facts.trigger = _trigger_from(event, ref, None)
        elif ref.kind is StepKind.DEPLOY and event.status in {"failed", "unreachable"}:
            facts.trigger = facts.trigger or _trigger_from(event, ref, None)
        if ref.step is not None:
            step = steps[ref.step]
            step.ended = event.time
            if ref.records_failure or event.status in {"failed", "unreachable"}:
                step.status = "failed"
                if event.status != "ok":
                    step.details["error"] = (
                        lost[0][1] if lost else str(event.result.get("msg", "")).strip()
                    )
                if lost:
                    # Delegated items name app hosts; otherwise the step's own host (the
                    # router) is the one lost, and the steps after it cannot run at all.
                    step.details["unreachable_hosts"] = [host for host, _ in lost]
                    step.details["router_unreachable"] = (
                        event.host in dict(lost) and event.play != APP_CLEANUP_PLAY
                    )
            elif step.status != "failed":
                step.status = "passed"
            if (
                ref.step is RollbackStep.SWITCH_TRAFFIC
                and event.result.get("confirmed_at")
                and facts.switched_at is None
            ):
                # The first confirmed switch put every user on stable; a second rollback
                # run (an interrupt during the first one's verify, a recovery) switches
                # again but restores nothing: the RTO ends at the first.
                facts.switched_at = float(event.result["confirmed_at"])
            if ref.step is RollbackStep.DRAIN and "drained" in event.result:
                step.details.update(
                    drained=event.result["drained"], in_flight=event.result.get("in_flight")
                )
    for stage in facts.stages:
        if stage.status == "running":
            # Its analysis never reported: the run was cut short (signal, crash, lost host)
            # while the stage baked.
            stage.status = "interrupted"
    for step in steps.values():
        if step.started is not None and step.ended is not None:
            step.seconds = round(step.ended - step.started, 3)
    if facts.rollback_ran:
        facts.rollback = list(steps.values())
    if facts.stages and not facts.rollback_ran:
        last = facts.stages[-1]
        facts.promoted = last.status in PROMOTABLE and all(
            s.status in PROMOTABLE for s in facts.stages
        )
    return facts
