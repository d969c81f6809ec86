"""What a person reads about a run, as typed rows built from its JSON documents.

The HTML and Markdown reports, the JUnit file, the history store and the notification all
read this one view, so they never disagree about a verdict, a threshold or a count.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from relrun.report.checks import CheckResult, LatencySummary, latency_summary
from relrun.report.rundocs import RunDocuments

NONE = "\u2013"  # an en dash: "no value", in tables
ROLLBACK_STEPS = ("stop_deployment", "drain", "switch_traffic", "verify", "cleanup")


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
    max_error_rate: float | None
    max_p95_ms: float | None
    limit_error_rate: float | None
    limit_p95_ms: float | None

    @property
    def failed(self) -> bool:
        """Breached or failed (a stage that never started is not a failure of its own)."""
        return self.status in {"breached", "failed"}

    def observed_text(self) -> str:
        """``error rate 14.3% (limit 5.0%), p95 4.6 ms (limit 1000 ms)``."""
        return (
            f"error rate {percent(self.max_error_rate)} (limit {percent(self.limit_error_rate)}), "
            f"p95 {millis(self.max_p95_ms)} (limit {millis(self.limit_p95_ms)})"
        )


@dataclass(frozen=True)
class StepRow:
    """One rollback step."""

    number: int
    name: str
    status: str
    seconds: float | None
    detail: str


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


def timestamp(value: Any) -> str:
    """An epoch as ``2026-11-26 04:00:37 UTC``; anything else as text."""
    if isinstance(value, int | float):
        moment = dt.datetime.fromtimestamp(float(value), tz=dt.UTC)
        return moment.strftime("%Y-%m-%d %H:%M:%S UTC")
    return NONE if value is None else str(value)


def _float(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _stages(docs: RunDocuments) -> list[StageRow]:
    rows: list[StageRow] = []
    for stage in docs.run.get("stages") or []:
        metrics = stage.get("metrics") or {}
        limits = docs.thresholds.get(str(stage.get("name")), {})
        start, end = _float(stage.get("started")), _float(stage.get("ended"))
        rows.append(
            StageRow(
                index=int(stage.get("index", len(rows) + 1)),
                name=str(stage.get("name", "")),
                weight=stage.get("weight"),
                status=str(stage.get("status", "not_started")),
                seconds=round(end - start, 3) if start is not None and end is not None else None,
                samples=int(metrics.get("samples") or 0),
                requests=int(metrics.get("max_window_requests") or 0),
                max_error_rate=_float(metrics.get("max_error_rate")),
                max_p95_ms=_float(metrics.get("max_p95_ms")),
                limit_error_rate=limits.get("max_error_rate"),
                limit_p95_ms=limits.get("max_p95_ms"),
            )
        )
    return rows


def _steps(run: dict[str, Any]) -> list[StepRow]:
    rollback = run.get("rollback") or {}
    if not rollback.get("ran"):
        return []
    by_name = {s.get("name"): s for s in rollback.get("steps") or []}
    rows = []
    for number, name in enumerate(ROLLBACK_STEPS, start=1):
        step = by_name.get(name, {})
        extra = {k: v for k, v in step.items() if k not in {"name", "status", "seconds"}}
        detail = ", ".join(f"{k}: {_compact(v)}" for k, v in sorted(extra.items()))
        rows.append(
            StepRow(number, name, str(step.get("status", "not_run")),
                    _float(step.get("seconds")), detail)
        )
    return rows


def _compact(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in sorted(value.items())) or "none"
    return str(value)


def _builds(ci: dict[str, Any] | None) -> list[BuildRow]:
    rows = []
    for build in (ci or {}).get("builds") or []:
        artifacts = [
            Artifact(str(a.get("path", "")), a.get("size"), str(a.get("sha256", "")))
            for a in build.get("artifacts") or []
            if isinstance(a, dict)
        ]
        message = str(build.get("message") or "")
        if build.get("status") != "passed" and build.get("output_tail"):
            # The last line of output is usually the reason; the full tail is in ci.json.
            tail = str(build["output_tail"]).strip().splitlines()[-1:]
            message = "; ".join([m for m in (message, *tail) if m])
        if build.get("missing_artifacts"):
            message = (message + "; " if message else "") + "missing artifacts: " + ", ".join(
                map(str, build["missing_artifacts"])
            )
        rows.append(
            BuildRow(
                name=str(build.get("name", "")),
                host=str(build.get("host", "")),
                status=str(build.get("status", "")),
                seconds=_float(build.get("seconds")),
                required=bool(build.get("required", True)),
                artifacts=artifacts,
                message=message,
            )
        )
    return rows


def _checks(ci: dict[str, Any] | None) -> list[CheckRow]:
    """Flatten ``ci.json``'s runs of checks (one per phase and host) into rows."""
    rows = []
    for run in (ci or {}).get("api_checks") or []:
        if not isinstance(run, dict):
            continue
        phase, host = str(run.get("phase", "")), str(run.get("host", ""))
        for check in run.get("checks") or []:
            if isinstance(check, dict):
                rows.append(CheckRow(phase, host, CheckResult.model_validate(check)))
    return rows


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


def _audit(run: dict[str, Any]) -> Audit:
    runbook = run.get("runbook") or {}
    inventory = run.get("inventory") or {}
    return Audit(
        runbook_name=str(runbook.get("name", "")),
        runbook_version=str(runbook.get("version", "")),
        runbook_file=str(runbook.get("file", "")),
        runbook_sha256=str(runbook.get("sha256", "")),
        playbook_sha256=str(run.get("playbook_sha256") or ""),
        tools={str(k): str(v) for k, v in (run.get("tools") or {}).items()},
        operator=str(run.get("operator") or ""),
        inventory_file=str(inventory.get("file", "")),
        hosts=[str(h) for h in inventory.get("hosts") or []],
        started=timestamp(run.get("started")),
        ended=timestamp(run.get("ended")),
    )


def _fault(run: dict[str, Any]) -> str:
    fault = run.get("fault")
    if not fault:
        return "none"
    if fault.get("kind") == "none":
        return "none injected"
    return f"{fault.get('kind')}={fault.get('value')} at stage {fault.get('stage')}"


def _trigger(run: dict[str, Any]) -> str:
    trigger = run.get("trigger")
    if not trigger:
        return "none"
    stage = f" at stage {trigger['stage']}" if trigger.get("stage") else ""
    message = f": {trigger['message']}" if trigger.get("message") else ""
    return f"{trigger.get('reason')}{stage}{message}"


def run_view(docs: RunDocuments) -> RunView:
    """Build the view of a run from its documents.

    Args:
        docs: the run's JSON documents.

    Returns:
        The view; missing fields show as empty, never as an error.
    """
    run = docs.run
    audit = _audit(run)
    rollback = run.get("rollback") or {}
    traffic = run.get("traffic") or {}
    return RunView(
        kind=docs.kind,
        runbook=audit.runbook_name,
        version=audit.runbook_version,
        verdict=str(run.get("verdict", "unknown")),
        state=str(run.get("state", "")),
        exit_code=int(run.get("exit_code", 1)),
        reasons=[str(r) for r in run.get("reasons") or []],
        fault=_fault(run),
        trigger=_trigger(run),
        detection_seconds=_float(run.get("detection_seconds")),
        rto_seconds=_float(run.get("rto_seconds")),
        rto_budget_seconds=_float(run.get("rto_budget_seconds")),
        rollback_ran=bool(rollback.get("ran")),
        rollback_total_seconds=_float(rollback.get("total_seconds")),
        lost=traffic.get("lost") if isinstance(traffic.get("lost"), int) else None,
        stages=_stages(docs),
        steps=_steps(run),
        builds=_builds(docs.ci),
        checks=_checks(docs.ci),
        scan=_scan(docs.scan),
        audit=audit,
        run_dir=docs.run_dir,
        unreachable=[str(h) for h in run.get("unreachable_hosts") or []],
        target=str(run.get("target") or ""),
    )
