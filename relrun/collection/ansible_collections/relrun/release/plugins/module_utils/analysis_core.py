"""Metric analysis, standard library only: sample, compare with thresholds, decide."""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .traffic_base import MetricProvider as Driver
from .traffic_base import ServerInfo


@dataclass(frozen=True)
class Thresholds:
    """When a sample is a breach."""

    max_error_rate: float
    max_p95_ms: float
    min_requests: int
    no_data: str  # "wait" or "fail"
    consecutive: int


TIMED_OUT = "timed out"


def probe(address: str | None, path: str, timeout: float) -> str | None:
    """GET a server's health path directly (not through the router).

    Returns:
        None when healthy, ``TIMED_OUT`` when it answered too slowly, else what went wrong.
    """
    if not address:
        return "no address"
    try:
        with urllib.request.urlopen(f"http://{address}{path}", timeout=timeout) as response:
            response.read()
            return None
    except urllib.error.HTTPError as err:
        return f"HTTP {err.code}"
    except TimeoutError:
        return TIMED_OUT
    except OSError as err:
        reason = getattr(err, "reason", err)
        return TIMED_OUT if isinstance(reason, TimeoutError) else str(reason)


def sample(
    driver: Driver, names: list[str], window: float, health_path: str, timeout: float
) -> dict[str, Any]:
    """One sample: the judged servers' combined window stats and health."""
    servers: dict[str, ServerInfo] = driver.servers(window)
    chosen = [servers[n] for n in names if n in servers]
    requests = sum(s["requests"] for s in chosen)
    errors = sum(s["errors"] for s in chosen)
    p95s = [s["p95_ms"] for s in chosen if s.get("p95_ms") is not None]
    health = {}
    if health_path:
        for server in chosen:
            if server["state"] != "maint":
                health[server["name"]] = probe(server.get("address"), health_path, timeout)
    # A probe that got an answer is one more request: an error status counts in the error
    # rate like any user request would, so one 500 does not outweigh the window's figures.
    answered = [why for why in health.values() if why is None or why.startswith("HTTP ")]
    requests += len(answered)
    errors += sum(1 for why in answered if why is not None and why[5:6] == "5")
    return {
        "time": round(time.time(), 3),
        "requests": requests,
        "errors": errors,
        "error_rate": round(errors / requests, 6) if requests else None,
        "p95_ms": max(p95s) if p95s else None,
        "unhealthy": {n: why for n, why in health.items() if why is not None},
        "missing": [n for n in names if n not in servers],
    }


def _health_breach(unhealthy: dict[str, str]) -> dict[str, Any]:
    detail = ", ".join(f"{n}: {why}" for n, why in sorted(unhealthy.items()))
    return {
        "reason": "health_check",
        "observed": unhealthy,
        "threshold": "healthy",
        "message": f"health check failed ({detail})",
    }


def judge(point: dict[str, Any], limits: Thresholds) -> dict[str, Any] | None:
    """The breach a sample shows, if any.

    Order matters for the reason reported: a server that does not answer at all is a
    health failure first (it has no error rate or latency to speak of); a server that
    answers with errors or slowly is judged by its error rate and latency. A health
    endpoint that answered with an error status is one more failed request in the error
    rate (see :func:`sample`), not a breach of its own: one unlucky probe under an
    error-rate fault must not be reported as a dead server.
    """
    if point["missing"]:
        return {
            "reason": "health_check",
            "observed": point["missing"],
            "threshold": "present",
            "message": f"router has no server {', '.join(point['missing'])}",
        }
    unhealthy: dict[str, str] = point["unhealthy"]
    dead = {
        n: why for n, why in unhealthy.items() if why != TIMED_OUT and not why.startswith("HTTP ")
    }
    if dead:
        return _health_breach(dead)
    enough = point["requests"] >= limits.min_requests
    if enough and point["error_rate"] is not None and point["error_rate"] > limits.max_error_rate:
        return {
            "reason": "error_rate",
            "observed": point["error_rate"],
            "threshold": limits.max_error_rate,
            "message": f"error rate {point['error_rate']:.1%} above "
            f"{limits.max_error_rate:.1%} ({point['errors']}/{point['requests']})",
        }
    if enough and point["p95_ms"] is not None and point["p95_ms"] > limits.max_p95_ms:
        return {
            "reason": "latency",
            "observed": point["p95_ms"],
            "threshold": limits.max_p95_ms,
            "message": f"p95 latency {point['p95_ms']:.0f} ms above {limits.max_p95_ms:.0f} ms",
        }
    slow = sorted(n for n, why in unhealthy.items() if why == TIMED_OUT)
    if slow:
        # Alive but slower than the latency bound allows: a latency breach, not a dead server.
        waited = point.get("probe_timeout_ms", limits.max_p95_ms)
        return {
            "reason": "latency",
            "observed": waited,
            "threshold": limits.max_p95_ms,
            "message": f"health probe of {', '.join(slow)} took over {waited:.0f} ms "
            f"(p95 bound {limits.max_p95_ms:.0f} ms)",
        }
    if not enough and limits.no_data == "fail":
        return {
            "reason": "no_data",
            "observed": point["requests"],
            "threshold": limits.min_requests,
            "message": f"only {point['requests']} requests in the window "
            f"(need {limits.min_requests})",
        }
    return None


def watch(
    driver: Driver,
    names: list[str],
    limits: Thresholds,
    duration: float,
    interval: float,
    window: float,
    health_path: str,
    keepalive: Callable[[], None] | None = None,
) -> dict[str, Any]:
    """Sample every ``interval`` for ``duration``; stop at the first triggering breach.

    ``keepalive`` runs before every sample (the dead man's switch renewal); what it raises
    ends the watch.

    Returns:
        ``samples`` and ``breach`` (None when the bake passed).
    """
    started = time.monotonic()
    samples: list[dict[str, Any]] = []
    streak = 0
    while True:
        if keepalive is not None:
            keepalive()
        # A probe may take as long as the latency bound: slower than that is a breach anyway.
        timeout = max(0.5, limits.max_p95_ms / 1000)
        point = sample(driver, names, window, health_path, timeout=timeout)
        point["probe_timeout_ms"] = round(timeout * 1000)
        found = judge(point, limits)
        point["breach"] = found["reason"] if found else None
        samples.append(point)
        streak = streak + 1 if found else 0
        if found and streak >= limits.consecutive:
            return {"samples": samples, "breach": {**found, "at": point["time"]}}
        elapsed = time.monotonic() - started
        if elapsed >= duration:
            return {"samples": samples, "breach": None}
        time.sleep(min(interval, max(0.0, duration - elapsed)))
