"""The demo API's own ``GET /metrics``: what an app instrumented with a client library exports.

Prometheus' text exposition format 0.0.4, written by hand (two metrics need no library):
``http_requests_total`` by status class (``status="2xx"`` … ``"5xx"``) and the
``http_request_duration_seconds`` histogram, both labelled with the API's ``version``. They
are the series docs/metrics.md's worked example 3 queries. Every request the app answers
counts (injected faults included: a faulty release fails in its own metrics), except
``/metrics`` itself, which is monitoring, not traffic.
"""

from __future__ import annotations

import bisect
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from aiohttp import web

METRICS_PATH = "/metrics"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# Upper bounds in seconds: a client library's defaults, with two finer ones below 5 ms.
BOUNDS_S = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _label(value: str) -> str:
    """A label value escaped as the format wants (backslash, double quote, newline)."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


@dataclass
class AppMetrics:
    """Request counts by status class and the latency histogram of one API process."""

    version: str
    by_class: dict[str, int] = field(default_factory=dict)
    buckets: list[int] = field(default_factory=lambda: [0] * (len(BOUNDS_S) + 1))
    seconds_sum: float = 0.0

    def observe(self, status: int, seconds: float) -> None:
        """Count one answered request."""
        klass = f"{status // 100}xx"
        self.by_class[klass] = self.by_class.get(klass, 0) + 1
        self.buckets[bisect.bisect_left(BOUNDS_S, seconds)] += 1
        self.seconds_sum += seconds

    def text(self) -> str:
        """The exposition (format 0.0.4), ending in a newline."""
        version = f'version="{_label(self.version)}"'
        lines = [
            "# HELP http_requests_total Requests the API answered, by status class.",
            "# TYPE http_requests_total counter",
        ]
        for klass in sorted(self.by_class):
            lines.append(
                f'http_requests_total{{{version},status="{klass}"}} {self.by_class[klass]}'
            )
        lines += [
            "# HELP http_request_duration_seconds Time the API took to answer a request.",
            "# TYPE http_request_duration_seconds histogram",
        ]
        seen = 0
        for bound, count in zip(BOUNDS_S, self.buckets, strict=False):
            seen += count
            lines.append(f'http_request_duration_seconds_bucket{{{version},le="{bound}"}} {seen}')
        total = sum(self.buckets)
        lines += [
            f'http_request_duration_seconds_bucket{{{version},le="+Inf"}} {total}',
            f"http_request_duration_seconds_sum{{{version}}} {self.seconds_sum!r}",
            f"http_request_duration_seconds_count{{{version}}} {total}",
        ]
        return "\n".join(lines) + "\n"


METRICS = web.AppKey("metrics", AppMetrics)


@web.middleware
async def metrics_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Time and count every request but ``/metrics`` (outermost: faults included).

    A request cancelled before its answer (the client went away) is not counted: it was
    never answered.
    """
    if request.path == METRICS_PATH:
        return await handler(request)
    recorder = request.app[METRICS]
    start = time.perf_counter()
    try:
        response = await handler(request)
    except web.HTTPException as err:
        recorder.observe(err.status, time.perf_counter() - start)
        raise
    except Exception:
        recorder.observe(500, time.perf_counter() - start)  # aiohttp answers it 500
        raise
    recorder.observe(response.status, time.perf_counter() - start)
    return response


async def metrics(request: web.Request) -> web.Response:
    """``GET /metrics`` (no token needed: counts only, and the API binds loopback)."""
    text = request.app[METRICS].text()
    return web.Response(body=text.encode(), headers={"Content-Type": CONTENT_TYPE})
