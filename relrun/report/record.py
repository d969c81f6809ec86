"""The run record: one typed object per run, built once from the journal.

``drill.json`` (``release.json``, ``rollback.json``, ``check.json``) is this record dumped;
``ci.json`` is its ``ci`` part; JUnit, Markdown, HTML, the history store, the notification
and the console summary are views of it. It is validated when it is built and when it is
read back, never re-parsed field by field.

Stages carry their effective limits (from the Runbook the run used) beside what was
observed (``peak_error_rate``, ``peak_p95_ms``: the worst sample, never the limit).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from relrun.report.checks import CheckResult, LatencySummary
from relrun.run.samples import Peaks, Sample
from relrun.runbook.steps import RollbackStep

SCHEMA_VERSION = 1


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TriggerReason(StrEnum):
    """Why a rollback started. Drills' ``expect.trigger`` names a subset of these."""

    ERROR_RATE = "error_rate"
    LATENCY = "latency"
    HEALTH_CHECK = "health_check"
    NO_DATA = "no_data"
    DEADMAN = "deadman"
    ROUTER_UNREACHABLE = "router_unreachable"
    UNREACHABLE_HOST = "unreachable_host"
    READINESS = "readiness"
    FAILED_CHECK = "failed_check"
    FAULT_NOT_INJECTED = "fault_not_injected"
    FAILED_RUN = "failed_run"
    SIGNAL = "signal"
    MANUAL = "manual"
    GUARD = "guard"
    CONTROLLER_LOST = "controller_lost"
    PAUSE_TIMEOUT = "pause_timeout"


StageStatus = Literal[
    "passed", "breached", "failed", "interrupted", "running", "not_started", "skipped"
]
StepStatus = Literal["passed", "failed", "not_run"]


class RunbookId(_Record):
    """Which runbook the run came from."""

    name: str = ""
    version: str = ""
    file: str = ""
    sha256: str = ""


class InventoryId(_Record):
    """Which environment it ran against."""

    file: str = ""
    hosts: list[str] = Field(default_factory=list)


class Limits(_Record):
    """A stage's canary analysis limits, as the runbook set them for that stage."""

    max_error_rate: float | None = None
    max_p95_ms: float | None = None


class AnalysisRecord(_Record):
    """How a stage's canary was judged (see docs/analysis.md), as the module reported it."""

    method: dict[str, Any] | None = Field(
        default=None, description="tests, alpha, tolerances, latency source, notes"
    )
    totals: dict[str, Any] | None = Field(
        default=None, description="requests and errors per version over the bake"
    )
    decision: Literal["pass", "breach"] | None = None
    canary_out: dict[str, Any] | None = Field(
        default=None, description="at a breach: whether and when the analysis drained it"
    )


class StageRecord(_Record):
    """One stage: when it ran, how it ended, its limits and what the canary showed."""

    index: int
    name: str
    weight: int | None = None
    status: StageStatus = "not_started"
    started: float | None = None
    ended: float | None = None
    limits: Limits = Field(default_factory=Limits)
    observed: Peaks = Field(default_factory=Peaks)
    analysis: AnalysisRecord | None = None
    samples: list[Sample] = Field(default_factory=list)

    @property
    def seconds(self) -> float | None:
        """How long the stage ran."""
        if self.started is None or self.ended is None:
            return None
        return round(self.ended - self.started, 3)


class Trigger(_Record):
    """What started the rollback, with the evidence the module gave."""

    reason: TriggerReason
    stage: str | None = None
    message: str = ""
    at: float | None = None
    observed: Any = None
    threshold: Any = None
    host: str | None = None
    hosts: list[str] | None = None
    task: str | None = None
    # A statistical breach's evidence: which test, counts per version, e-value, bound, alpha.
    test: str | None = None
    counts: dict[str, dict[str, int]] | None = None
    e_value: float | None = None
    bound: float | None = None
    alpha: float | None = None
    stable_error_rate: float | None = None
    stable_p95_ms: float | None = None
    # A business-metric guard's breach: which guard, and stable's value beside the canary's.
    guard: str | None = None
    stable_value: float | None = None
    # An operator's rollback (signal, manual): who asked, and whether the running
    # playbook's own rescue did it (``in_playbook``) or a second, standalone run.
    by: str | None = None
    path: Literal["in_playbook", "standalone"] | None = None


class StepRecord(_Record):
    """One rollback step."""

    name: RollbackStep
    status: StepStatus = "not_run"
    seconds: float | None = None
    started: float | None = None
    ended: float | None = None
    drained: bool | None = None
    in_flight: dict[str, int] | None = None
    error: str | None = None
    unreachable_hosts: list[str] | None = None
    router_unreachable: bool | None = None

    def details(self) -> dict[str, Any]:
        """The step's particulars (drain outcome, error, lost hosts), where it has any."""
        keys = ("drained", "in_flight", "error", "unreachable_hosts", "router_unreachable")
        return {k: getattr(self, k) for k in keys if getattr(self, k) is not None}


class RollbackRecord(_Record):
    """The five steps, if a rollback ran."""

    ran: bool = False
    complete: bool = False
    steps: list[StepRecord] = Field(default_factory=list)
    total_seconds: float | None = None


class TrafficPhase(_Record):
    """Request counts between two moments of the run."""

    model_config = ConfigDict(extra="allow")

    requests: int = 0
    ok: int = 0
    served_by: dict[str, int] = Field(default_factory=dict)
    injected_failures: int = 0
    lost: int = 0


class SecondCounts(_Record):
    """One second of the load generator's requests."""

    second: int
    requests: int
    served_by: dict[str, int]
    injected: int
    lost: int


class Traffic(TrafficPhase):
    """The load generator's counts: whole run, per second and per phase."""

    per_second: list[SecondCounts] = Field(default_factory=list)
    phases: dict[str, TrafficPhase] = Field(default_factory=dict)


class Fault(_Record):
    """The fault a drill injected, and where."""

    kind: str
    value: float
    stage: str


class Artifact(_Record):
    """A build artifact with its digest."""

    model_config = ConfigDict(extra="allow")

    path: str = ""
    size: int | None = None
    sha256: str = ""


class BuildRecord(_Record):
    """One build on one host, as the build module reported it."""

    model_config = ConfigDict(extra="allow")

    name: str = ""
    host: str = ""
    status: str = "failed"
    rc: int | None = None
    seconds: float | None = None
    required: bool = True
    artifacts: list[Artifact] = Field(default_factory=list)
    missing_artifacts: list[str] = Field(default_factory=list)
    output_tail: str = ""
    message: str = ""

    @property
    def passed(self) -> bool:
        """The build passed."""
        return self.status == "passed"


class CheckRun(_Record):
    """One run of the API checks: its phase (gate, verify, check) and host."""

    phase: str
    host: str
    passed: bool
    checks: list[CheckResult] = Field(default_factory=list)
    latency: LatencySummary


class ScanSummary(_Record):
    """The scan gate in figures (``scan.json`` holds the findings)."""

    failing: int = 0
    findings: int = 0
    fail_on: str | None = None
    files: int | None = None
    seconds: float | None = None


class CiSummary(_Record):
    """Counts over the gates."""

    builds: int = 0
    builds_failed: int = 0
    required_failed: int = 0
    api_checks_failed: int = 0
    guards_breached: int = 0


class GuardRun(_Record):
    """One business-metric guard over one stage's bake: its limit and what it read."""

    stage: str
    name: str
    limit: str = ""
    source: str = ""
    readings: int = 0
    worst: float | None = None
    breached: bool = False
    message: str | None = None


class GateAction(_Record):
    """A gate request a bake took (pause, resume, promote), or a pause's timeout."""

    action: Literal["pause", "resume", "promote", "timeout"]
    stage: str | None = None
    by: str | None = None
    reason: str | None = None
    at: float | None = None
    taken_at: float | None = None
    scope: Literal["stage", "full"] | None = None
    default: Literal["promote", "rollback"] | None = None


class CiRecord(_Record):
    """The gates' results: ``ci.json``."""

    runbook: RunbookId = Field(default_factory=RunbookId)
    builds: list[BuildRecord] = Field(default_factory=list)
    api_checks: list[CheckRun] = Field(default_factory=list)
    guards: list[GuardRun] = Field(
        default_factory=list, description="business-metric guards, per stage they watched"
    )
    # The operators' gate requests (pause, resume, promote) and pause timeouts of the run.
    gates: list[GateAction] = Field(default_factory=list)
    summary: CiSummary = Field(default_factory=CiSummary)
    scan: ScanSummary | None = None


class Incident(_Record):
    """How a run whose controller died went, as ``relrun recover`` reconstructs it.

    Attributes:
        controller_last_seen: the controller's last sign of life: the later of its
            journal's last event and its last renewal of the dead man's switch.
        last_seen_from: which of the two that was (``journal`` or ``lease renewal``).
        controller_pid: the dead controller's process.
        deadman_fired_at: when the dead man's switch fired (None: it did not).
        deadman_reverted_at: when it put traffic back on stable (None: it did not).
        deadman_attempts: its revert attempts.
        deadman_error: its last revert error, while it had not succeeded.
        recovery_started: when ``relrun recover`` started.
        on_stable_at: when all traffic was on stable: the switch's revert or the
            recovery's confirmed switch, whichever came first.
        on_stable_by: ``dead man's switch`` or ``recovery`` (None: not confirmed).
    """

    controller_last_seen: float | None = None
    last_seen_from: str | None = None
    controller_pid: int | None = None
    deadman_fired_at: float | None = None
    deadman_reverted_at: float | None = None
    deadman_attempts: int | None = None
    deadman_error: str | None = None
    recovery_started: float | None = None
    on_stable_at: float | None = None
    on_stable_by: str | None = None


class RunRecord(_Record):
    """Everything about one run: the one document every report is a view of."""

    schema_version: int = SCHEMA_VERSION
    kind: str
    run_id: str | None = None
    verdict: Literal["pass", "fail"]
    state: str
    exit_code: int
    reasons: list[str] = Field(default_factory=list)
    runbook: RunbookId = Field(default_factory=RunbookId)
    playbook_sha256: str | None = None
    tools: dict[str, str] = Field(default_factory=dict)
    operator: str | None = None
    controller: str | None = None
    inventory: InventoryId = Field(default_factory=InventoryId)
    started: float | None = None
    ended: float | None = None
    stages: list[StageRecord] = Field(default_factory=list)
    gates: list[GateAction] = Field(default_factory=list)
    trigger: Trigger | None = None
    fault: Fault | None = None
    # When the fault was in force on every host it targets (the last one faulted): detection
    # and RTO are measured from here. The first host's moment, when it reached several.
    fault_injected_at: float | None = None
    fault_first_injected_at: float | None = None
    detection_seconds: float | None = None
    canary_out_at: float | None = None
    detection_to_canary_out_seconds: float | None = None
    rollback: RollbackRecord = Field(default_factory=RollbackRecord)
    switched_at: float | None = None
    rto_seconds: float | None = None
    rto_budget_seconds: float | None = None
    traffic: Traffic | None = None
    unreachable_hosts: list[str] = Field(default_factory=list)
    target: str | None = None
    crash: str | None = None
    recovered: bool = False
    incident: Incident | None = None  # a recovered run: how it went after its controller died

    def to_json(self) -> dict[str, Any]:
        """The record as ``KIND.json`` holds it."""
        return self.model_dump(mode="json")


def upgrade(
    data: dict[str, Any], limits: dict[str, dict[str, float]] | None = None
) -> dict[str, Any]:
    """A run document written before the record had a schema version, in today's shape.

    Such documents (in history databases, or in old run directories) kept the observed
    peaks under ``metrics`` with the limits' names, and no limits: those come from the
    run's rendered playbook, which the caller passes as ``limits``.

    Args:
        data: the document as read.
        limits: per stage name, the limits of that stage.

    Returns:
        The document in the current shape (``data`` itself if already current).
    """
    if "schema_version" in data:
        return data
    new = {k: v for k, v in data.items() if k not in {"metrics"}}
    stages = []
    for stage in data.get("stages") or []:
        metrics = stage.get("metrics") or {}
        stage = {k: v for k, v in stage.items() if k != "metrics"}
        stage["observed"] = {
            "samples": metrics.get("samples", 0),
            "peak_error_rate": metrics.get("max_error_rate"),
            "peak_p95_ms": metrics.get("max_p95_ms"),
            "max_window_requests": metrics.get("max_window_requests", 0),
        }
        stage["limits"] = (limits or {}).get(str(stage.get("name")), {})
        stages.append(stage)
    new["stages"] = stages
    if new.get("traffic") and "phases" not in new["traffic"]:
        new["traffic"] = {**new["traffic"], "phases": {}}
    new["schema_version"] = SCHEMA_VERSION
    return new
