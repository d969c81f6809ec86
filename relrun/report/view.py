"""What a person reads about a run, as typed rows built from its JSON documents.

The HTML and Markdown reports, the JUnit file, the history store and the notification all
read this one view, so they never disagree about a verdict, a threshold or a count.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from relrun.report.checks import CheckResult, LatencySummary, latency_summary
from relrun.report.record import CiRecord, RunRecord, StepRecord
from relrun.report.rundocs import RunDocuments
from relrun.runbook.steps import ROLLBACK_STEPS, RollbackStep

NONE = "\u2013"  # an en dash: "no value", in tables


@dataclass(frozen=True)
class StageRow:
    """One stage: what the canary showed against its limits."""

    index: int
    name: str
    weight: int | None
    status: str
    seconds: float | None
    samples: int
    requests: int
    peak_error_rate: float | None
    peak_p95_ms: float | None
    limit_error_rate: float | None
    limit_p95_ms: float | None

    @property
    def failed(self) -> bool:
        """Breached or failed (a stage that never started is not a failure of its own)."""
        return self.status in {"breached", "failed"}

    def observed_text(self) -> str:
        """``error rate 14.3% (limit 5.0%), p95 4.6 ms (limit 1000 ms)``."""
        return (
            f"error rate {percent(self.peak_error_rate)} (limit {percent(self.limit_error_rate)}), "
            f"p95 {millis(self.peak_p95_ms)} (limit {millis(self.limit_p95_ms)})"
        )


@dataclass(frozen=True)
class StepRow:
    """One rollback step."""

    number: int
    name: str
    status: str
    seconds: float | None
    detail: str
    started_after: float | None = None  # seconds from the fault (or the trigger) to its start
    in_rto: bool = False  # it ran before all traffic was on stable: the RTO covers it


@dataclass(frozen=True)
class Artifact:
    """A build artifact with its digest."""

    path: str
    size: int | None
    sha256: str


@dataclass(frozen=True)
class BuildRow:
    """One build on one host."""

    name: str
    host: str
    status: str
    seconds: float | None
    required: bool
    artifacts: list[Artifact]
    message: str

    @property
    def passed(self) -> bool:
        """The build passed."""
        return self.status == "passed"


@dataclass(frozen=True)
class CheckRow:
    """One API check, in the run (phase, host) it belonged to."""

    phase: str
    host: str
    result: CheckResult


@dataclass(frozen=True)
class FindingRow:
    """One scan finding (already redacted by the scanner)."""

    rule: str
    severity: str
    where: str
    message: str


@dataclass(frozen=True)
class ScanView:
    """The scan gate."""

    findings: int
    failing: int
    fail_on: str
    suppressed: int
    files: int
    rows: list[FindingRow]


@dataclass(frozen=True)
class Audit:
    """Who ran what, with which tools, where and when."""

    runbook_name: str
    runbook_version: str
    runbook_file: str
    runbook_sha256: str
    playbook_sha256: str
    tools: dict[str, str]
    operator: str
    inventory_file: str
    hosts: list[str]
    started: str
    ended: str


@dataclass(frozen=True)
class RunView:
    """Everything the reports show about one run."""

    kind: str
    runbook: str
    version: str
    verdict: str
    state: str
    exit_code: int
    reasons: list[str]
    fault: str
    trigger: str
    detection_seconds: float | None
    rto_seconds: float | None
    rto_budget_seconds: float | None
    rollback_ran: bool
    rollback_total_seconds: float | None
    lost: int | None
    stages: list[StageRow]
    steps: list[StepRow]
    builds: list[BuildRow]
    checks: list[CheckRow]
    scan: ScanView | None
    audit: Audit
    run_dir: str
    unreachable: list[str] = field(default_factory=list)
    target: str = ""  # a check run's target: router, canary or stable
    run_id: str = ""
    controller: str = ""  # the host relrun ran on
    started_iso: str = ""  # ISO 8601, UTC, to the second (JUnit's timestamp)
    gates: list[str] = field(default_factory=list)  # the manual gates, one line each

    @property
    def checks_only(self) -> bool:
        """A ``relrun check`` run: API checks, nothing deployed, no traffic moved."""
        return self.kind == "check"

    @property
    def builds_failed(self) -> int:
        """Builds that did not pass (required or not)."""
        return sum(1 for b in self.builds if not b.passed)

    @property
    def checks_failed(self) -> int:
        """API checks that ran and did not pass."""
        return sum(1 for c in self.checks if not c.result.passed and not c.result.skipped)

    @property
    def checks_passed(self) -> int:
        """API checks that passed."""
        return sum(1 for c in self.checks if c.result.passed and not c.result.skipped)

    @property
    def checks_latency(self) -> LatencySummary:
        """p50/p95 over every API check's latency."""
        return latency_summary(c.result for c in self.checks)

    @property
    def scan_findings(self) -> int | None:
        """Scan findings (None: no scan in this run)."""
        return None if self.scan is None else self.scan.findings


def percent(value: float | None) -> str:
    """``0.142857`` → ``14.3%``; None → an en dash."""
    return NONE if value is None else f"{value * 100:.1f}%"


def millis(value: float | None) -> str:
    """``4.553`` → ``4.6 ms``; None → an en dash."""
    return NONE if value is None else f"{value:.1f} ms" if value < 100 else f"{value:.0f} ms"


def seconds_text(value: float | None) -> str:
    """``1.2234`` → ``1.22 s``; None → an en dash."""
    return NONE if value is None else f"{value:.2f} s"


def iso_time(value: float | None) -> str:
    """An epoch as ``2026-11-26T04:00:37`` (UTC); empty for None."""
    if value is None:
        return ""
    moment = dt.datetime.fromtimestamp(float(value), tz=dt.UTC).replace(tzinfo=None)
    return moment.isoformat(timespec="seconds")


def timestamp(value: Any) -> str:
    """An epoch as ``2026-11-26 04:00:37 UTC``; anything else as text."""
    if isinstance(value, int | float):
        moment = dt.datetime.fromtimestamp(float(value), tz=dt.UTC)
        return moment.strftime("%Y-%m-%d %H:%M:%S UTC")
    return NONE if value is None else str(value)


def _stages(run: RunRecord) -> list[StageRow]:
    return [
        StageRow(
            index=stage.index,
            name=stage.name,
            weight=stage.weight,
            status=stage.status,
            seconds=stage.seconds,
            samples=stage.observed.samples,
            requests=stage.observed.max_window_requests,
            peak_error_rate=stage.observed.peak_error_rate,
            peak_p95_ms=stage.observed.peak_p95_ms,
            limit_error_rate=stage.limits.max_error_rate,
            limit_p95_ms=stage.limits.max_p95_ms,
        )
        for stage in run.stages
    ]


def _steps(run: RunRecord) -> list[StepRow]:
    if not run.rollback.ran:
        return []
    by_name = {s.name: s for s in run.rollback.steps}
    origin = run.fault_injected_at or (run.trigger.at if run.trigger else None)
    # The RTO runs from the fault to all traffic confirmed on stable: it covers the steps
    # up to and including the switch, whatever their timings say.
    covered = ROLLBACK_STEPS[: RollbackStep.SWITCH_TRAFFIC.number]
    rows = []
    for step_name in ROLLBACK_STEPS:
        step = by_name.get(step_name) or StepRecord(name=step_name)
        detail = ", ".join(f"{k}: {_compact(v)}" for k, v in sorted(step.details().items()))
        after = (
            round(step.started - origin, 3)
            if step.started is not None and origin is not None
            else None
        )
        rows.append(
            StepRow(step_name.number, str(step_name), step.status, step.seconds, detail,
                    after, step_name in covered)
        )
    return rows


def _compact(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in sorted(value.items())) or "none"
    return str(value)


def _builds(ci: CiRecord | None) -> list[BuildRow]:
    rows = []
    for build in ci.builds if ci is not None else []:
        message = build.message
        if not build.passed and build.output_tail:
            # The last line of output is usually the reason; the full tail is in ci.json.
            tail = build.output_tail.strip().splitlines()[-1:]
            message = "; ".join([m for m in (message, *tail) if m])
        if build.missing_artifacts:
            message = (message + "; " if message else "") + "missing artifacts: " + ", ".join(
                build.missing_artifacts
            )
        rows.append(
            BuildRow(
                name=build.name,
                host=build.host,
                status=build.status,
                seconds=build.seconds,
                required=build.required,
                artifacts=[Artifact(a.path, a.size, a.sha256) for a in build.artifacts],
                message=message,
            )
        )
    return rows


def _checks(ci: CiRecord | None) -> list[CheckRow]:
    """Flatten ``ci.json``'s runs of checks (one per phase and host) into rows."""
    return [
        CheckRow(run.phase, run.host, check)
        for run in (ci.api_checks if ci is not None else [])
        for check in run.checks
    ]


def _scan(scan: dict[str, Any] | None) -> ScanView | None:
    if scan is None:
        return None
    findings = scan.get("findings") or []
    rows = [
        FindingRow(
            rule=str(f.get("rule", "")),
            severity=str(f.get("severity", "")),
            where=f"{f.get('path', '')}:{f.get('line', '')}:{f.get('column', '')}",
            message=str(f.get("message", "")),
        )
        for f in findings
    ]
    return ScanView(
        findings=len(findings),
        failing=int(scan.get("failing") or 0),
        fail_on=str(scan.get("fail_on", "")),
        suppressed=len(scan.get("suppressed") or []),
        files=int((scan.get("stats") or {}).get("files") or 0),
        rows=rows,
    )


def _audit(run: RunRecord) -> Audit:
    return Audit(
        runbook_name=run.runbook.name,
        runbook_version=run.runbook.version,
        runbook_file=run.runbook.file,
        runbook_sha256=run.runbook.sha256,
        playbook_sha256=run.playbook_sha256 or "",
        tools=dict(run.tools),
        operator=run.operator or "",
        inventory_file=run.inventory.file,
        hosts=list(run.inventory.hosts),
        started=timestamp(run.started),
        ended=timestamp(run.ended),
    )


def fault_text(run: RunRecord) -> str:
    """The drill's fault in words (``none`` outside drills)."""
    fault = run.fault
    if fault is None:
        return "none"
    if fault.kind == "none":
        return "none injected"
    return f"{fault.kind}={fault.value:g} at stage {fault.stage}"


def gate_texts(run: RunRecord) -> list[str]:
    """Each operator's gate request the run took (and each pause that timed out), in words."""
    texts = []
    for gate in run.gates:
        what = {
            "pause": "paused", "resume": "resumed",
            "promote": "promoted (--full)" if gate.scope == "full" else "promoted",
            "timeout": f"pause timed out, default {gate.default}",
        }[gate.action]
        stage = f" at stage {gate.stage}" if gate.stage else ""
        why = f": {gate.reason}" if gate.reason else ""
        texts.append(f"{what}{stage} by {gate.by or '?'} at {timestamp(gate.at)}{why}")
    return texts


def trigger_text(run: RunRecord) -> str:
    """What triggered the rollback, in words (``none`` if nothing did)."""
    trigger = run.trigger
    if trigger is None:
        return "none"
    stage = f" at stage {trigger.stage}" if trigger.stage else ""
    message = f": {trigger.message}" if trigger.message else ""
    return f"{trigger.reason}{stage}{message}"


def run_view(docs: RunDocuments) -> RunView:
    """Build the view of a run from its documents.

    Args:
        docs: the run's JSON documents.

    Returns:
        The view; missing fields show as empty, never as an error.
    """
    run = docs.run
    audit = _audit(run)
    return RunView(
        kind=docs.kind,
        runbook=audit.runbook_name,
        version=audit.runbook_version,
        verdict=run.verdict,
        state=run.state,
        exit_code=run.exit_code,
        reasons=list(run.reasons),
        fault=fault_text(run),
        trigger=trigger_text(run),
        detection_seconds=run.detection_seconds,
        rto_seconds=run.rto_seconds,
        rto_budget_seconds=run.rto_budget_seconds,
        rollback_ran=run.rollback.ran,
        rollback_total_seconds=run.rollback.total_seconds,
        lost=run.traffic.lost if run.traffic is not None else None,
        stages=_stages(run),
        steps=_steps(run),
        builds=_builds(docs.ci),
        checks=_checks(docs.ci),
        scan=_scan(docs.scan),
        audit=audit,
        run_dir=docs.run_dir,
        unreachable=list(run.unreachable_hosts),
        target=run.target or "",
        run_id=run.run_id or "",
        controller=run.controller or "",
        started_iso=iso_time(run.started),
        gates=gate_texts(run),
    )
