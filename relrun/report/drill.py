"""Build the run record from what happened: facts, verdict, the gates, traffic, the runbook.

``drill.json`` (and ``release.json``, ``rollback.json``, ``check.json``) is the record
written here: stages with their limits and peaks, trigger, detection and rollback
timings, traffic counts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from relrun.fsutil import write_json
from relrun.report.facts import Facts
from relrun.report.record import (
    AnalysisRecord,
    Fault,
    GateAction,
    InventoryId,
    Limits,
    RollbackRecord,
    RunbookId,
    RunRecord,
    StageRecord,
    StepRecord,
    Traffic,
    Trigger,
)
from relrun.report.verdict import Verdict
from relrun.run.samples import peaks
from relrun.runbook.schema import Runbook


def detection_seconds(facts: Facts) -> float | None:
    """Fault in force (injected on its last host) → breach detected."""
    at = (facts.trigger or {}).get("at")
    if facts.fault_injected_at is None or at is None:
        return None
    return round(float(at) - facts.fault_injected_at, 3)


def canary_out_seconds(facts: Facts) -> float | None:
    """Breach detected → the analysis took the canary out of new traffic."""
    at = (facts.trigger or {}).get("at")
    if facts.canary_out_at is None or at is None:
        return None
    return round(facts.canary_out_at - float(at), 3)


def rto_seconds(facts: Facts) -> float | None:
    """Fault injected (or, in a release, the breach) → all traffic on stable, confirmed."""
    start = facts.fault_injected_at or (facts.trigger or {}).get("at")
    if start is None or facts.switched_at is None:
        return None
    return round(facts.switched_at - float(start), 3)


def stage_limits(runbook: Runbook | None) -> dict[str, Limits]:
    """Each stage's canary limits, from the Runbook the run used."""
    if runbook is None:
        return {}
    return {
        name: Limits(max_error_rate=a.max_error_rate, max_p95_ms=a.max_p95_ms)
        for name, a in runbook.stage_analyses().items()
    }


def _stages(facts: Facts, limits: dict[str, Limits]) -> list[StageRecord]:
    return [
        StageRecord(
            index=s.index,
            name=s.name,
            weight=s.weight,
            status=s.status,
            started=s.started,
            ended=s.ended,
            limits=limits.get(s.name, Limits()),
            observed=peaks(s.samples),
            analysis=AnalysisRecord.model_validate(s.analysis) if s.analysis else None,
            samples=s.samples,
        )
        for s in facts.stages
    ]


def _rollback(facts: Facts) -> RollbackRecord:
    steps = [
        StepRecord.model_validate(
            {"name": s.name, "status": s.status, "seconds": s.seconds, "started": s.started,
             "ended": s.ended, **s.details}
        )
        for s in facts.rollback
    ]
    started = [s.started for s in facts.rollback if s.started is not None]
    ended = [s.ended for s in facts.rollback if s.ended is not None]
    return RollbackRecord(
        ran=facts.rollback_ran,
        complete=facts.rollback_complete,
        steps=steps,
        total_seconds=round(max(ended) - min(started), 3) if started and ended else None,
    )


def build_record(
    header: dict[str, Any],
    facts: Facts,
    verdict: Verdict,
    *,
    runbook: Runbook | None,
    traffic: dict[str, Any] | None = None,
    fault: Fault | None = None,
    **extra: Any,
) -> RunRecord:
    """The record of a run, validated.

    Args:
        header: the journal header (runbook, tools, operator, inventory, run id).
        facts: what the journal says happened.
        verdict: the run's verdict.
        runbook: the Runbook the run used (its stage limits); None when it no longer loads.
        traffic: the load generator's counts, whole run and per phase (None if unknown).
        fault: a drill's fault.
        extra: further record fields (``target``, ``crash``, ``recovered``, ``incident``),
            or timings measured otherwise (``rto_seconds``, ``switched_at``, …), which
            replace the ones read from ``facts``.

    Returns:
        The record.
    """
    fields: dict[str, Any] = {
        "kind": str(header.get("run_kind") or ""),
        "run_id": header.get("run_id"),
        "verdict": verdict.verdict,
        "state": verdict.state,
        "exit_code": verdict.exit_code,
        "reasons": verdict.reasons,
        "runbook": RunbookId.model_validate(header.get("runbook") or {}),
        "playbook_sha256": header.get("playbook_sha256"),
        "tools": header.get("tools") or {},
        "operator": header.get("operator"),
        "controller": header.get("controller"),
        "inventory": InventoryId.model_validate(header.get("inventory") or {}),
        "started": header.get("started"),
        "ended": header.get("ended"),
        "stages": _stages(facts, stage_limits(runbook)),
        "gates": [GateAction.model_validate(g) for g in facts.gates],
        "trigger": Trigger.model_validate(facts.trigger) if facts.trigger else None,
        "fault": fault,
        "fault_injected_at": facts.fault_injected_at,
        "fault_first_injected_at": facts.fault_first_injected_at,
        "detection_seconds": detection_seconds(facts),
        "canary_out_at": facts.canary_out_at,
        "detection_to_canary_out_seconds": canary_out_seconds(facts),
        "rollback": _rollback(facts),
        "switched_at": facts.switched_at,
        "rto_seconds": rto_seconds(facts),
        "rto_budget_seconds": runbook.rollback.rto_budget if runbook is not None else None,
        "traffic": Traffic.model_validate(traffic) if traffic is not None else None,
        "unreachable_hosts": facts.unreachable,
    }
    # A recovery measures its own timings (from the controller's death): ``extra`` wins.
    return RunRecord(**{**fields, **extra})


def write_run_report(run_dir: Path, record: RunRecord) -> Path:
    """Write ``KIND.json`` atomically into the run directory."""
    path = run_dir / f"{record.kind}.json"
    write_json(path, record.to_json())
    return path
