"""What a single analysis sample is judged to be."""

from __future__ import annotations

from typing import Any

from relrun.collection.ansible_collections.relrun.release.plugins.module_utils.analysis.core import (  # noqa: E501
    Thresholds,
    judge,
)

LIMITS = Thresholds(
    max_error_rate=0.05, max_p95_ms=1000, min_requests=5, no_data="wait", consecutive=1
)


def point(requests: int, errors: int, unhealthy: dict[str, str]) -> dict[str, Any]:
    return {
        "requests": requests,
        "errors": errors,
        "error_rate": errors / requests if requests else None,
        "p95_ms": 5.0,
        "unhealthy": unhealthy,
        "missing": [],
    }


def test_a_dead_server_is_a_health_breach_at_once() -> None:
    breach = judge(point(1, 0, {"canary": "[Errno 111] Connection refused"}), LIMITS)
    assert breach is not None and breach["reason"] == "health_check"


def test_a_probe_answering_500_is_an_error_not_a_dead_server() -> None:
    # Too little data yet: wait for the error rate, do not call the server dead.
    assert judge(point(3, 1, {"canary": "HTTP 500"}), LIMITS) is None
    breach = judge(point(9, 2, {"canary": "HTTP 500"}), LIMITS)
    assert breach is not None and breach["reason"] == "error_rate"


def test_a_slow_probe_is_a_latency_breach() -> None:
    breach = judge(point(9, 0, {"canary": "timed out"}), LIMITS)
    assert breach is not None and breach["reason"] == "latency"
