"""``ci.json``: the gates' results (scan, builds, API checks) as a typed record."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from relrun.fsutil import write_json
from relrun.report.checks import latency_summary, parse_check_results
from relrun.report.facts import collect_facts
from relrun.report.record import (
    BuildRecord,
    CheckRun,
    CiRecord,
    CiSummary,
    GateAction,
    GuardRun,
    RunbookId,
    ScanSummary,
)
from relrun.run.events import Event, TaskResult
from relrun.runbook.steps import StepKind, parse_task

BUILD_ACTION = "relrun.release.build"
SCAN_ACTION = "relrun.release.scan"
ANALYSIS_ACTION = "relrun.release.analysis"
CHECK_ACTIONS = {"relrun.release.api_check", "relrun.release.newman"}


def check_runs(events: Iterable[Event]) -> list[dict[str, Any]]:
    """Every run of the API checks: its phase (gate, verify), host, checks and latencies."""
    runs: list[dict[str, Any]] = []
    for event in events:
        if not isinstance(event, TaskResult) or event.action not in CHECK_ACTIONS:
            continue
        if event.status == "skipped":
            continue
        results = parse_check_results(event.result)
        if event.status == "unreachable" and not results:
            message = str(event.result.get("msg", "host unreachable"))
            results = parse_check_results({"failed": True, "msg": message})
        ref = parse_task(event.task)
        runs.append(
            {
                "phase": ref.name if ref.kind is StepKind.API_CHECK else event.task,
                "host": event.host,
                "passed": event.status == "ok",
                "checks": [r.model_dump(mode="json") for r in results],
                "latency": latency_summary(results).model_dump(mode="json"),
            }
        )
    return runs


def build_results(events: Iterable[Event]) -> list[dict[str, Any]]:
    """Every build's outcome, per host, in the order they finished.

    Args:
        events: the journal's events.

    Returns:
        One record per build and host: name, host, status, rc, seconds, output tail, artifacts.
    """
    builds: list[dict[str, Any]] = []
    for event in events:
        if not isinstance(event, TaskResult) or event.action != BUILD_ACTION:
            continue
        ref = parse_task(event.task)
        if ref.kind is not StepKind.BUILD:
            continue  # deploy, cleanup and hook steps use the same module
        if event.status == "skipped":
            continue
        record = dict(event.result.get("build") or {})
        if event.status == "unreachable":
            record.update(
                name=ref.name,
                status="unreachable",
                message=str(event.result.get("msg", "host unreachable")),
            )
        elif not record:
            record = {
                "name": ref.name,
                "status": "failed",
                "message": str(event.result.get("msg", "")),
            }
        record["host"] = event.host
        builds.append(record)
    return builds


def guard_runs(events: Iterable[Event]) -> list[dict[str, Any]]:
    """Every business-metric guard of every bake: limit, source, readings, worst, breach."""
    runs: list[dict[str, Any]] = []
    for event in events:
        if not isinstance(event, TaskResult) or event.action != ANALYSIS_ACTION:
            continue
        method = event.result.get("method")
        guards = method.get("guards") if isinstance(method, dict) else None
        if not isinstance(guards, list):
            continue
        breach = event.result.get("breach")
        breach = breach if isinstance(breach, dict) else {}
        stage = parse_task(event.task).name
        for guard in guards:
            if not isinstance(guard, dict):
                continue
            hit = breach.get("guard") == guard.get("name")
            runs.append({
                "stage": stage,
                "name": str(guard.get("name", "")),
                "limit": str(guard.get("limit", "")),
                "source": str(guard.get("source", "")),
                "readings": int(guard.get("readings") or 0),
                "worst": guard.get("worst"),
                "breached": hit,
                "message": str(breach.get("message")) if hit else None,
            })
    return runs


def scan_result(events: Iterable[Event]) -> dict[str, Any] | None:
    """The scan module's result (the last one, when several build hosts scanned)."""
    found = None
    for event in events:
        if (
            isinstance(event, TaskResult)
            and event.action == SCAN_ACTION
            and event.status in {"ok", "failed"}
            and "findings" in event.result
        ):
            found = event.result
    return found


def ci_report(header: dict[str, Any], events: list[Event]) -> CiRecord:
    """The content of ``ci.json``.

    Args:
        header: the journal header (runbook identity, tool versions, …).
        events: the journal's events.

    Returns:
        The gates' record.
    """
    builds = [BuildRecord.model_validate(b) for b in build_results(events)]
    checks = [CheckRun.model_validate(run) for run in check_runs(events)]
    guards = [GuardRun.model_validate(run) for run in guard_runs(events)]
    failed = [b for b in builds if not b.passed and b.required]
    record = CiRecord(
        runbook=RunbookId.model_validate(header.get("runbook") or {}),
        builds=builds,
        api_checks=checks,
        guards=guards,
        gates=[GateAction.model_validate(g) for g in collect_facts(events).gates],
        summary=CiSummary(
            builds=len(builds),
            builds_failed=len([b for b in builds if not b.passed]),
            required_failed=len(failed),
            api_checks_failed=sum(
                1 for run in checks for c in run.checks if not c.passed and c.required
            ),
            guards_breached=sum(1 for g in guards if g.breached),
        ),
    )
    scan = scan_result(events)
    if scan is not None:
        stats = scan.get("stats") or {}
        record.scan = ScanSummary(
            failing=scan.get("failing", 0),
            findings=len(scan.get("findings") or []),
            fail_on=scan.get("fail_on"),
            files=stats.get("files"),
            seconds=stats.get("seconds"),
        )
    return record


def write_ci_reports(report_dir: Path, header: dict[str, Any], events: list[Event]) -> CiRecord:
    """Write ``ci.json`` (and the scan's reports) atomically.

    ``junit.xml`` is not written here: it is a view of the whole run record, written once
    the run's verdict is known (:mod:`relrun.report.junit`).

    Args:
        report_dir: the run's report directory.
        header: the journal header.
        events: the journal's events.

    Returns:
        The CI record.
    """
    record = ci_report(header, events)
    scan = scan_result(events)
    if scan is not None:
        from relrun.scan.reports import write_scan_reports

        write_scan_reports(scan, report_dir)
    write_json(report_dir / "ci.json", record.model_dump(mode="json"))
    return record
