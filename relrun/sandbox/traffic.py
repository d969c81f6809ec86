"""What users saw: the load generator's record format and its summary (pure functions).

Each line of ``loadgen.jsonl`` is one :class:`TrafficRecord`. A request is *lost* when
the user got no answer or a failure nobody injected on purpose: connection errors,
timeouts, 502/503/504 and any other 5xx without ``X-Fault: injected``.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationError

Outcome = Literal["ok", "injected", "lost", "rate_limited", "client_error", "skipped"]


class TrafficRecord(BaseModel):
    """One request of the load generator, as written to ``loadgen.jsonl``.

    Attributes:
        t: wall-clock time the request was sent (epoch seconds).
        method: HTTP method.
        path: path and query (never a token).
        sent: False when the generator skipped the request (concurrency limit reached).
        status: HTTP status, or None when there was no answer.
        latency_ms: time to the complete answer (or to the failure).
        served_by: the ``X-Served-By`` header (the API version), if any.
        fault: the ``X-Fault`` header, if any.
        error: connection error or timeout text, if any.
        success: whether the status is one the request mix counts as success (written by
            a mix with ``ok`` statuses; absent: any status below 400 is a success).
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    t: float
    method: str
    path: str
    sent: bool = True
    status: int | None = None
    latency_ms: float | None = None
    served_by: str | None = None
    fault: str | None = None
    error: str | None = None
    success: bool | None = None


def classify(record: TrafficRecord) -> Outcome:
    """Classify one request by what its user saw."""
    if not record.sent:
        return "skipped"
    if record.status is None:
        return "lost"
    if record.status >= 500:
        return "injected" if record.fault == "injected" else "lost"
    if record.success is not None:  # the mix said which statuses are a success
        return "ok" if record.success else "client_error"
    if record.status == 429:
        return "rate_limited"
    if record.status >= 400:
        return "client_error"
    return "ok"


def lost_reason(record: TrafficRecord) -> str:
    """Short reason of a lost request: the error text's kind or the status."""
    if record.status is not None:
        return str(record.status)
    return (record.error or "no answer").split(":", 1)[0]


class SecondBucket(BaseModel):
    """Requests sent during one wall-clock second."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    second: int
    requests: int
    served_by: dict[str, int]
    injected: int
    lost: int


class TrafficSummary(BaseModel):
    """Counts of what users saw between ``since`` and ``until``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    requests: int = 0
    ok: int = 0
    served_by: dict[str, int] = {}
    injected_failures: int = 0
    lost: int = 0
    lost_reasons: dict[str, int] = {}
    rate_limited: int = 0
    client_errors: int = 0
    skipped: int = 0
    first_t: float | None = None
    last_t: float | None = None
    seconds: list[SecondBucket] = []


def read_records(
    path: Path, since: float | None = None, until: float | None = None
) -> list[TrafficRecord]:
    """Read the records sent in ``[since, until)``, skipping unreadable lines.

    A torn last line (the generator was writing it) is ignored, not an error.
    """
    records: list[TrafficRecord] = []
    try:
        handle = path.open(encoding="utf-8")
    except FileNotFoundError:
        return records
    with handle:
        for line in handle:
            try:
                record = TrafficRecord.model_validate(json.loads(line))
            except (json.JSONDecodeError, ValidationError):
                continue
            if (since is None or record.t >= since) and (until is None or record.t < until):
                records.append(record)
    return records


def aborted_by_fault(record: TrafficRecord, window: tuple[float, float] | None) -> bool:
    """Whether a drill's ``abort`` fault explains this request's missing answer.

    An abort closes connections without an answer, so nothing in the record can carry a
    fault mark: a request sent while the fault was in force (``window``: injection to the
    confirmed switch) whose connection was closed is the fault's, not a lost request. A
    timeout or a request the generator stopped is not a closed connection.
    """
    if window is None or record.status is not None or not record.sent:
        return False
    error = record.error or ""
    if error.startswith(("timeout", "stopped", "login failed")):
        return False
    return window[0] <= record.t < window[1]


def summarize(
    path: Path | str,
    since: float | None = None,
    until: float | None = None,
    abort_window: tuple[float, float] | None = None,
) -> TrafficSummary:
    """Summarize ``loadgen.jsonl``: requests, versions served, injected and lost failures.

    Args:
        path: the traffic log.
        since: count only requests sent at or after this epoch time.
        until: count only requests sent before this epoch time.
        abort_window: when a drill injected an ``abort`` fault, from its injection to the
            confirmed switch: connections closed then count as injected failures.

    Returns:
        The summary, with one bucket per wall-clock second (for charts).
    """
    records = read_records(Path(path), since, until)
    outcomes: Counter[str] = Counter()
    served: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    buckets: dict[int, dict[str, Counter[str]]] = defaultdict(
        lambda: {"served": Counter(), "outcome": Counter()}
    )
    for record in records:
        outcome = "injected" if aborted_by_fault(record, abort_window) else classify(record)
        outcomes[outcome] += 1
        if outcome == "lost":
            reasons[lost_reason(record)] += 1
        if outcome == "skipped":
            continue
        bucket = buckets[int(record.t)]
        bucket["outcome"][outcome] += 1
        if record.served_by:
            served[record.served_by] += 1
            bucket["served"][record.served_by] += 1
    sent = [r for r in records if r.sent]
    return TrafficSummary(
        requests=len(sent),
        ok=outcomes["ok"],
        served_by=dict(sorted(served.items())),
        injected_failures=outcomes["injected"],
        lost=outcomes["lost"],
        lost_reasons=dict(sorted(reasons.items())),
        rate_limited=outcomes["rate_limited"],
        client_errors=outcomes["client_error"],
        skipped=outcomes["skipped"],
        first_t=min((r.t for r in sent), default=None),
        last_t=max((r.t for r in sent), default=None),
        seconds=[
            SecondBucket(
                second=second,
                requests=sum(b["outcome"].values()),
                served_by=dict(sorted(b["served"].items())),
                injected=b["outcome"]["injected"],
                lost=b["outcome"]["lost"],
            )
            for second, b in sorted(buckets.items())
        ],
    )
