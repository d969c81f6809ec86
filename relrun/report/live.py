"""A running (or dead) run as its journal tells it so far, for ``relrun status [--watch]``.

The journal is flushed event by event, so any terminal can read where a release or drill
is: its stage and weight, the latest evidence the canary analysis reported, the trigger of
a rollback and each rollback step as it starts and ends.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from relrun.report.facts import collect_facts
from relrun.report.journal import read_journal


@dataclass(frozen=True)
class LiveView:
    """Where a run is, read from its journal.

    Attributes:
        stage: the latest stage that started (index, name, weight, status), if any.
        evidence: the latest stage analysis that reported: stage, decision, counts per
            version (the analysis reports when a stage's bake ends or breaches).
        trigger: what started the rollback, with its evidence, if one started.
        rollback: each rollback step so far: name, status (``running`` while it runs).
        last_event: the time of the journal's last event.
    """

    stage: dict[str, Any] | None = None
    evidence: dict[str, Any] | None = None
    trigger: dict[str, Any] | None = None
    rollback: list[dict[str, Any]] = field(default_factory=list)
    last_event: float | None = None

    def to_json(self) -> dict[str, Any]:
        """JSON-ready data."""
        return dict(self.__dict__)

    def lines(self) -> list[str]:
        """What a person reads, one fact per line."""
        out: list[str] = []
        if self.stage is None:
            out.append("stage: none started yet (gates or deploy)")
        else:
            weight = self.stage["weight"]
            out.append(
                f"stage {self.stage['index']} {self.stage['name']}: "
                f"{'weight ' + str(weight) + '%' if weight is not None else 'shifting'}, "
                f"{self.stage['status']}"
            )
        if self.evidence is not None:
            out.append(f"analysis ({self.evidence['stage']}): {_evidence(self.evidence)}")
        if self.trigger is not None:
            where = f" at {self.trigger['stage']}" if self.trigger.get("stage") else ""
            out.append(
                f"rollback triggered by {self.trigger.get('reason')}{where}: "
                f"{self.trigger.get('message') or ''}".rstrip(": ")
            )
        if self.rollback:
            out.append("rollback: " + ", ".join(
                f"{s['name']} {s['status']}"
                + (f" ({s['seconds']:.2f}s)" if s.get("seconds") is not None else "")
                for s in self.rollback
            ))
        return out


def _evidence(evidence: dict[str, Any]) -> str:
    parts = [str(evidence.get("decision") or "?")]
    for version in ("canary", "stable"):
        counts = (evidence.get("totals") or {}).get(version)
        if isinstance(counts, dict):
            parts.append(f"{version} {counts.get('errors')}/{counts.get('requests')} errors")
    return ", ".join(parts)


def live_view(run_dir: Path, alive: bool = True) -> LiveView | None:
    """The run in ``run_dir`` as its journal tells it (None: no readable journal yet).

    Args:
        run_dir: the run's directory.
        alive: its controller still runs: a stage without a verdict is still baking
            (for a dead run it was interrupted).
    """
    try:
        _, events = read_journal(run_dir / "journal.jsonl")
    except (OSError, ValueError):
        return None
    facts = collect_facts(events)
    started = [s for s in facts.stages if s.started is not None]
    stage = started[-1] if started else None
    judged = [s for s in facts.stages if s.analysis.get("decision")]
    steps: list[dict[str, Any]] = []
    if facts.rollback_ran:
        for step in facts.rollback:
            status = step.status
            if step.started is not None and step.ended is None:
                status = "running"
            if step.started is None and status == "not_run":
                status = "pending"
            steps.append({"name": step.name, "status": status, "seconds": step.seconds})
    return LiveView(
        stage=None if stage is None else {
            "index": stage.index, "name": stage.name, "weight": stage.weight,
            "status": "running" if alive and stage.status == "interrupted" else stage.status,
        },
        evidence=None if not judged else {
            "stage": judged[-1].name,
            "decision": judged[-1].analysis.get("decision"),
            "totals": judged[-1].analysis.get("totals"),
        },
        trigger=facts.trigger,
        rollback=steps,
        last_event=events[-1].time if events else None,
    )


def age(stamp: float | None) -> str:
    """``3.2s ago``, for people."""
    return "never" if stamp is None else f"{max(0.0, time.time() - stamp):.1f}s ago"
