"""The router's table: servers, weighted choice and statistics (no I/O, unit-tested)."""

from __future__ import annotations

import bisect
import math
import random
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from relrun.sandbox.models import (
    Percentiles,
    ServerState,
    ServerStats,
    ServerUpdate,
    ServerView,
    WindowStats,
)

# Samples older than this are dropped; a stats request may ask for any window up to it.
MAX_WINDOW_S = 300.0

# Upper bounds (ms) of the cumulative latency histogram: four buckets per doubling from
# 0.25 ms to about 65 s, one more bucket for slower responses. The analysis reads it to
# count, per interval, the responses above stable's p95 or above the runbook's limit.
LATENCY_BOUNDS_MS = tuple(round(0.25 * 2 ** (i / 4), 4) for i in range(73))


@dataclass
class Recorder:
    """Counters and a sliding window of (time, latency, status, fault) samples.

    Attributes:
        clock: monotonic clock, replaceable in unit tests.
    """

    clock: Callable[[], float] = time.monotonic
    requests: int = 0
    responses: dict[str, int] = field(
        default_factory=lambda: {"2xx": 0, "3xx": 0, "4xx": 0, "5xx": 0}
    )
    faults: int = 0
    connection_errors: int = 0
    redispatched: int = 0
    in_flight: int = 0
    samples: deque[tuple[float, float, int, bool]] = field(default_factory=deque)
    latency_buckets: list[int] = field(default_factory=lambda: [0] * (len(LATENCY_BOUNDS_MS) + 1))
    latency_sum_ms: float = 0.0

    def response(self, status: int, latency_ms: float, fault: bool) -> None:
        """Record response headers received from the server."""
        now = self.clock()
        self.requests += 1
        klass = f"{status // 100}xx"
        if klass in self.responses:
            self.responses[klass] += 1
        if fault:
            self.faults += 1
        self.latency_buckets[bisect.bisect_left(LATENCY_BOUNDS_MS, latency_ms)] += 1
        self.latency_sum_ms += latency_ms
        self.samples.append((now, latency_ms, status, fault))
        self._prune(now)

    def connection_error(self) -> None:
        """Record an attempt that got no response (it counts as a failed request)."""
        now = self.clock()
        self.requests += 1
        self.connection_errors += 1
        # 599: recorded in the window as a server error, so a dead server shows up in
        # the error rate the analysis step reads.
        self.samples.append((now, math.nan, 599, False))
        self._prune(now)

    def _prune(self, now: float) -> None:
        while self.samples and now - self.samples[0][0] > MAX_WINDOW_S:
            self.samples.popleft()

    def snapshot(self, window_s: float) -> ServerStats:
        """Return the counters and the statistics of the last ``window_s`` seconds."""
        now = self.clock()
        recent = [s for s in self.samples if now - s[0] <= window_s]
        errors = sum(1 for s in recent if s[2] >= 500)
        latencies = sorted(s[1] for s in recent if not math.isnan(s[1]))
        window = WindowStats(
            seconds=window_s,
            requests=len(recent),
            errors_5xx=errors,
            error_rate=round(errors / len(recent), 6) if recent else 0.0,
            faults=sum(1 for s in recent if s[3]),
            latency_ms=Percentiles(
                p50=percentile(latencies, 50),
                p95=percentile(latencies, 95),
                p99=percentile(latencies, 99),
            ),
        )
        return ServerStats(
            requests=self.requests,
            responses=dict(self.responses),
            faults=self.faults,
            connection_errors=self.connection_errors,
            redispatched=self.redispatched,
            in_flight=self.in_flight,
            latency_bounds_ms=list(LATENCY_BOUNDS_MS),
            latency_buckets=list(self.latency_buckets),
            window=window,
        )


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(value: float) -> str:
    return repr(float(value)) if value != int(value) else str(int(value))


def prometheus_text(servers: Iterable[Server], unrouted: int, failed: int) -> str:
    """The router's counters in Prometheus' text exposition format (version 0.0.4).

    Per server (labels ``server`` and ``role``): requests by status class (``code`` is
    ``2xx`` … ``5xx``, or ``error`` for an attempt that got no response), and the latency
    histogram in seconds. ``relrun_router_requests_total`` summed over ``code`` is what
    the analysis calls the server's requests; ``code=~"5xx|error"`` its errors.
    """
    lines = [
        "# HELP relrun_router_requests_total Requests the router sent to a server, by status"
        " class.",
        "# TYPE relrun_router_requests_total counter",
    ]
    table = list(servers)
    for server in table:
        rec = server.recorder
        who = f'server="{_label(server.name)}",role="{_label(server.role)}"'
        for klass, count in rec.responses.items():
            lines.append(f'relrun_router_requests_total{{{who},code="{klass}"}} {count}')
        lines.append(f'relrun_router_requests_total{{{who},code="error"}} {rec.connection_errors}')
    lines += [
        "# HELP relrun_router_request_duration_seconds Time to a server's response headers.",
        "# TYPE relrun_router_request_duration_seconds histogram",
    ]
    for server in table:
        rec = server.recorder
        who = f'server="{_label(server.name)}",role="{_label(server.role)}"'
        seen = 0
        for bound, count in zip(LATENCY_BOUNDS_MS, rec.latency_buckets, strict=False):
            seen += count
            le = _number(round(bound / 1000, 10))
            lines.append(f'relrun_router_request_duration_seconds_bucket{{{who},le="{le}"}} {seen}')
        total = sum(rec.latency_buckets)
        lines.append(f'relrun_router_request_duration_seconds_bucket{{{who},le="+Inf"}} {total}')
        seconds = _number(rec.latency_sum_ms / 1000)
        lines.append(f"relrun_router_request_duration_seconds_sum{{{who}}} {seconds}")
        lines.append(f"relrun_router_request_duration_seconds_count{{{who}}} {total}")
    lines += [
        "# HELP relrun_router_in_flight Requests a server is handling now.",
        "# TYPE relrun_router_in_flight gauge",
    ]
    for server in table:
        who = f'server="{_label(server.name)}",role="{_label(server.role)}"'
        lines.append(f"relrun_router_in_flight{{{who}}} {server.recorder.in_flight}")
    lines += [
        "# HELP relrun_router_unrouted_total Requests no server was eligible for (answered 503).",
        "# TYPE relrun_router_unrouted_total counter",
        f"relrun_router_unrouted_total {unrouted}",
        "# HELP relrun_router_failed_total Requests every attempt of which failed (answered 502).",
        "# TYPE relrun_router_failed_total counter",
        f"relrun_router_failed_total {failed}",
    ]
    return "\n".join(lines) + "\n"


def percentile(sorted_values: list[float], pct: float) -> float | None:
    """Nearest-rank percentile of already sorted values (None when empty)."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(pct / 100 * len(sorted_values)))
    return round(sorted_values[rank - 1], 3)


@dataclass
class Server:
    """One named backend server of the router."""

    name: str
    role: str
    address: str | None = None
    weight: int = 0
    state: ServerState = "maint"
    recorder: Recorder = field(default_factory=Recorder)

    def eligible(self) -> bool:
        """True when the server may take a new request."""
        return self.state == "ready" and self.weight > 0 and self.address is not None

    def apply(self, update: ServerUpdate) -> None:
        """Apply the fields set in ``update`` (an explicit null address clears it)."""
        if update.role is not None:
            self.role = update.role
        if "address" in update.model_fields_set:
            self.address = update.address
        if update.weight is not None:
            self.weight = update.weight
        if update.state is not None:
            self.state = update.state

    def view(self, window_s: float) -> ServerView:
        """The admin API's view of this server."""
        return ServerView(
            name=self.name,
            role=self.role,
            address=self.address,
            weight=self.weight,
            state=self.state,
            stats=self.recorder.snapshot(window_s),
        )


def choose(
    servers: Iterable[Server], rng: random.Random, exclude: frozenset[str] = frozenset()
) -> Server | None:
    """Pick an eligible server with probability proportional to its weight.

    Args:
        servers: the table.
        rng: source of randomness.
        exclude: names already tried for this request.

    Returns:
        The server, or None when none is eligible.
    """
    candidates = [s for s in servers if s.eligible() and s.name not in exclude]
    total = sum(s.weight for s in candidates)
    if total <= 0:
        return None
    point = rng.random() * total
    for server in candidates:
        point -= server.weight
        if point < 0:
            return server
    return candidates[-1]
