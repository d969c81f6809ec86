"""``drill.json`` (and ``release.json``): stages, trigger, detection, rollback timings, traffic."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from relrun.report.facts import Facts
from relrun.report.files import write_json


def detection_seconds(facts: Facts) -> float | None:
    """Fault injected → breach detected."""
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


def run_report(
    header: dict[str, Any],
    facts: Facts,
    verdict: dict[str, Any],
    traffic: dict[str, Any] | None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The JSON document of a release or drill.

    Args:
        header: the journal header (runbook, tools, operator, inventory).
        facts: what happened.
        verdict: ``verdict``, ``reasons``, ``state``, ``exit_code``.
        traffic: the load generator's counts, whole run and per phase (None if unknown).
        extra: more top-level fields (the fault, rto budget, …).

    Returns:
        JSON-ready data.
    """
    steps = [
        {"name": s.name, "status": s.status, "seconds": s.seconds, "started": s.started,
         "ended": s.ended, **s.details}
        for s in facts.rollback
    ]
    started = [s.started for s in facts.rollback if s.started is not None]
    ended = [s.ended for s in facts.rollback if s.ended is not None]
    return {
        "kind": header.get("run_kind"),
        **verdict,
        "runbook": header.get("runbook", {}),
        "playbook_sha256": header.get("playbook_sha256"),
        "tools": header.get("tools", {}),
        "operator": header.get("operator"),
        "inventory": header.get("inventory", {}),
        "started": header.get("started"),
        "ended": header.get("ended"),
        "stages": [
            {
                "index": s.index,
                "name": s.name,
                "weight": s.weight,
                "status": s.status,
                "started": s.started,
                "ended": s.ended,
                "metrics": {
                    "samples": len(s.samples),
                    "max_error_rate": s.max_error_rate,
                    "max_p95_ms": s.max_p95_ms,
                    "max_window_requests": s.requests,
                },
                "analysis": s.analysis or None,
                "samples": s.samples,
            }
            for s in facts.stages
        ],
        "trigger": facts.trigger,
        "fault_injected_at": facts.fault_injected_at,
        "detection_seconds": detection_seconds(facts),
        "canary_out_at": facts.canary_out_at,
        "detection_to_canary_out_seconds": canary_out_seconds(facts),
        "rollback": {
            "ran": facts.rollback_ran,
            "complete": facts.rollback_complete,
            "steps": steps,
            "total_seconds": round(max(ended) - min(started), 3) if started and ended else None,
        },
        "rto_seconds": rto_seconds(facts),
        "traffic": traffic,
        "unreachable_hosts": facts.unreachable,
        **(extra or {}),
    }


def write_run_report(run_dir: Path, name: str, report: dict[str, Any]) -> Path:
    """Write ``NAME.json`` atomically into the run directory."""
    path = run_dir / f"{name}.json"
    write_json(path, report)
    return path
