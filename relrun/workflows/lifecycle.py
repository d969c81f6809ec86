"""The lifecycle every run shares: run directory → journal → run → facts → verdict → reports.

Release, drill, rollback, recover and check differ in what they run and how they judge
it; they open their journal with :func:`open_run` and end with :func:`conclude`, which
builds the one run record and writes every report from it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from relrun.fsutil import write_atomic
from relrun.report.ci import write_ci_reports
from relrun.report.drill import build_record, write_run_report
from relrun.report.facts import Facts
from relrun.report.finish import FinishResult, finish_documents
from relrun.report.journal import JournalWriter
from relrun.report.record import CiRecord, Fault, RunRecord
from relrun.report.rundocs import RunDocuments, read_object
from relrun.report.verdict import Verdict
from relrun.run.events import Event, EventBus, Handler
from relrun.runbook.schema import Runbook
from relrun.workflows.context import RunContext
from relrun.workflows.handbook import write_handbook


@dataclass
class ReleaseResult:
    """What a release, drill, rollback, recovery or check did, for the CLI to summarise.

    ``verdict``, ``exit_code`` and ``reasons`` are the record's when there is one.
    """

    run_dir: Path
    verdict: str
    exit_code: int
    reasons: list[str] = field(default_factory=list)
    ci: CiRecord | None = None
    report: RunRecord | None = None
    unreachable: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, run_dir: Path, record: RunRecord, ci: CiRecord | None) -> ReleaseResult:
        """The result that says what the run's record says."""
        return cls(
            run_dir, record.verdict, record.exit_code, list(record.reasons), ci, record,
            list(record.unreachable_hosts),
        )


@dataclass
class OpenRun:
    """A run whose journal is open: its header, journal and event bus."""

    context: RunContext
    header: dict[str, Any]
    journal: JournalWriter
    bus: EventBus


def open_run(
    context: RunContext,
    progress: Handler | None,
    *,
    header: dict[str, Any] | None = None,
    handbook: bool = True,
    write_playbook: bool = True,
) -> OpenRun:
    """Start a run's records: its playbook, its handbook, the journal with its header.

    Args:
        context: the run.
        progress: shows progress to a person.
        header: the journal header (default: the context's; a recovery appends to the dead
            run's journal under that run's header).
        handbook: write the rollback handbook (runs that can roll back).
        write_playbook: write ``playbook.yml`` (a recovery keeps the dead run's).

    Returns:
        The open run.
    """
    if write_playbook:
        write_atomic(context.run_dir / "playbook.yml", context.playbook_text)
    if handbook:
        write_handbook(context.run_dir, context.loaded)
    head = header if header is not None else context.header()
    journal = JournalWriter(context.run_dir / "journal.jsonl", head)
    bus = EventBus([journal] + ([progress] if progress else []))
    return OpenRun(context, head, journal, bus)


def conclude(
    run_dir: Path,
    header: dict[str, Any],
    events: list[Event],
    facts: Facts,
    verdict: Verdict,
    *,
    runbook: Runbook | None,
    traffic: dict[str, Any] | None = None,
    fault: Fault | None = None,
    **extra: Any,
) -> tuple[RunRecord, CiRecord, FinishResult]:
    """End a run: ``ci.json``, the run record, then the human reports, history, notification.

    Args:
        run_dir: the run directory.
        header: the journal header (``ended`` is set here unless it is there).
        events: every event of the run.
        facts: what the events say happened.
        verdict: the run's verdict.
        runbook: the Runbook the run used (stage limits, RTO budget, notifications).
        traffic: the load generator's counts.
        fault: a drill's fault.
        extra: further record fields (``target``, ``crash``, ``recovered``).

    Returns:
        The record, the gates' record, and what the finishing steps did.
    """
    header["ended"] = header.get("ended") or time.time()  # a recorded run's own end
    ci = write_ci_reports(run_dir, header, events)
    record = build_record(
        header, facts, verdict, runbook=runbook, traffic=traffic, fault=fault, **extra
    )
    write_run_report(run_dir, record)
    docs = RunDocuments(
        kind=record.kind, run=record, ci=ci, scan=read_object(run_dir / "scan.json"),
        run_dir=str(run_dir.resolve()),
    )
    finished = finish_documents(docs, runbook.notify if runbook is not None else None)
    return record, ci, finished
