"""The judge reading from a metric provider that is not the router: outages are no data."""

from __future__ import annotations

from typing import Any

from relrun.collection.ansible_collections.relrun.release.plugins.module_utils.analysis.core import (  # noqa: E501
    Policy,
    watch,
)
from relrun.collection.ansible_collections.relrun.release.plugins.module_utils.traffic.base import (
    MetricsUnavailable,
)


class Router:
    """States and weights only; its own counters say nothing (the provider's count)."""

    def servers(self, window: float) -> dict[str, Any]:
        return {
            name: {
                "name": name,
                "address": None,
                "state": "ready",
                "weight": 1,
                "in_flight": 0,
                "requests": 0,
                "errors": 0,
                "total_requests": 0,
                "total_errors": 0,
            }
            for name in ("canary", "stable")
        }

    def set_state(self, name: str, state: str) -> None:
        self.last = (name, state)

    def set_weight(self, name: str, weight: int) -> None:
        pass


class Metrics:
    """Cumulative counts that grow by ``step`` per reading; readings in ``down`` fail."""

    def __init__(self, down: set[int], canary_errors: int = 0) -> None:
        self.down, self.reading, self.canary_errors = down, 0, canary_errors
        self.source = "fake"

    def servers(self, window: float) -> dict[str, Any]:
        self.reading += 1
        if self.reading in self.down:
            raise MetricsUnavailable("connection refused")
        n = self.reading * 20
        return {
            "canary": {
                "requests": 20,
                "errors": 0,
                "total_requests": n,
                "total_errors": self.reading * self.canary_errors,
            },
            "stable": {"requests": 20, "errors": 0, "total_requests": n, "total_errors": 0},
        }


def run(metrics: Metrics, no_data: str, duration: float = 0.2, max_outage: float = 30) -> Any:
    return watch(
        Router(),
        ["canary"],
        Policy(no_data=no_data),
        duration,
        0.01,
        5,
        "",
        baseline=["stable"],
        metrics=metrics,
        max_outage=max_outage,
    )


def test_with_no_data_fail_a_missing_reading_is_a_breach_at_once() -> None:
    outcome = run(Metrics(down={3}), "fail", duration=60)
    assert outcome["decision"] == "breach"
    assert outcome["breach"]["reason"] == "no_data"
    assert "no_data: fail" in outcome["breach"]["message"]
    assert "connection refused" in outcome["breach"]["message"]
    assert outcome["method"]["metrics"] == "fake"


def test_with_wait_the_bake_holds_then_breaches_after_max_outage() -> None:
    outcome = run(Metrics(down=set(range(2, 10_000))), "wait", duration=0.05, max_outage=0.2)
    assert outcome["decision"] == "breach"
    breach = outcome["breach"]
    assert breach["reason"] == "no_data" and breach["threshold"] == 0.2
    assert breach["observed"] >= 0.2  # held past the bake's own end, up to max_outage
    assert "holds at most 0.2s" in breach["message"]


def test_an_outage_shorter_than_max_outage_loses_nothing() -> None:
    # Readings 2-4 fail; the fifth counts what happened during them (cumulative counters).
    outcome = run(Metrics(down={2, 3, 4}, canary_errors=0), "wait", duration=0.0001)
    assert outcome["decision"] == "pass"
    judged = [s for s in outcome["samples"] if "canary" in s]
    assert judged[0]["canary"] == {"requests": 80, "errors": 0}
    assert "after_outage_s" in judged[0]
    assert outcome["totals"]["canary"]["requests"] == 80


def test_a_bake_never_ends_on_a_bare_baseline() -> None:
    # The first reading fails and the bake is over before the next: one more interval is
    # judged, never just the baseline.
    outcome = run(Metrics(down={1}), "wait", duration=0.0001)
    assert outcome["decision"] == "pass"
    assert outcome["totals"]["canary"]["requests"] == 20


class Asked(Exception):
    """Stands for RollbackRequested: what ``between`` raises ends the watch."""


def test_a_request_between_samples_ends_the_watch_before_the_next_sample() -> None:
    # A 10 s interval: without ``between`` being called during the wait, the second sample
    # would be read (reading 2) ten seconds later, before anything could end the watch.
    looks = []

    def between() -> None:
        looks.append(1)
        if len(looks) == 3:
            raise Asked

    metrics = Metrics(set())
    try:
        watch(Router(), ["canary"], Policy(no_data="fail"), 60, 10, 5, "",
              baseline=["stable"], metrics=metrics, between=between)
    except Asked:
        pass
    else:
        raise AssertionError("the watch ended without taking the request")
    assert metrics.reading == 1  # the first sample only: the wait for the second was cut
    assert len(looks) == 3
