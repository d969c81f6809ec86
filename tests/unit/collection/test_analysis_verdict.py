"""What a bake's judge decides from cumulative readings, and what it says."""

from __future__ import annotations

from relrun.collection.ansible_collections.relrun.release.plugins.module_utils.analysis.core import (  # noqa: E501
    HAPROXY_RTIME_SPAN,
    Arm,
    Judge,
    Policy,
    health_breach,
)

POLICY = Policy(alpha=0.01, max_error_rate=0.05, max_p95_ms=800)


def feed(judge: Judge, steps: list[tuple[int, int, int, int]]) -> None:
    c = [0, 0]
    s = [0, 0]
    judge.observe(Arm(), Arm())
    for n_c, x_c, n_s, x_s in steps:
        c = [c[0] + n_c, c[1] + x_c]
        s = [s[0] + n_s, s[1] + x_s]
        judge.observe(Arm(requests=c[0], errors=c[1]), Arm(requests=s[0], errors=s[1]))


def test_one_error_in_twelve_is_not_a_rollback() -> None:
    judge = Judge(POLICY, compare=True, latency=None)
    feed(judge, [(12, 1, 36, 0)])
    assert judge.breach() is None


def test_a_breach_states_counts_per_version_the_e_value_and_alpha() -> None:
    judge = Judge(POLICY, compare=True, latency=None)
    feed(judge, [(5, 3, 15, 0)] * 4)
    breach = judge.breach()
    assert breach is not None and breach["reason"] == "error_rate"
    assert breach["counts"] == {
        "canary": {"requests": 20, "errors": 12},
        "stable": {"requests": 60, "errors": 0},
    }
    assert breach["e_value"] >= breach["bound"] == 1 / 0.01  # the average of 2 tests' e-values
    assert "12/20" in breach["message"] and "alpha 0.01" in breach["message"]


def test_a_canary_failing_as_often_as_stable_is_not_blamed_by_the_comparison() -> None:
    judge = Judge(Policy(alpha=0.01, max_error_rate=0.5), compare=True, latency=None)
    feed(judge, [(10, 2, 30, 6)] * 30)  # a shared flaky upstream: 20% on both
    assert judge.breach() is None


def test_counters_from_before_the_bake_never_count() -> None:
    judge = Judge(POLICY, compare=False, latency=None)
    judge.observe(Arm(requests=1000, errors=900), None)  # the slot's history
    judge.observe(Arm(requests=1010, errors=900), None)
    assert judge.breach() is None
    assert judge.totals() == {"canary": {"requests": 10, "errors": 0}}


def test_haproxy_rtime_is_not_used_until_its_average_is_all_fresh() -> None:
    judge = Judge(POLICY, compare=False, latency="average")
    judge.observe(Arm(average_ms=1106.0, responses=5000), None)  # left by a latency drill
    judge.observe(Arm(requests=100, average_ms=1106.0, responses=5100), None)
    assert judge.breach() is None
    fresh = 5000 + HAPROXY_RTIME_SPAN
    judge.observe(Arm(requests=1100, average_ms=1200.0, responses=fresh), None)
    breach = judge.breach()
    assert breach is not None and breach["reason"] == "latency"
    assert "average" in breach["message"]
    assert "not a p95" in judge.method()["latency"]


def test_a_404_from_the_health_path_is_not_healthy() -> None:
    breach = health_breach([], {"canary": "HTTP 404"}, "/healthz", 800, 800)
    assert breach is not None and breach["reason"] == "health_check"
    assert "GET /healthz" in breach["message"]


def test_a_5xx_from_the_health_path_is_an_error_not_a_breach() -> None:
    assert health_breach([], {"canary": "HTTP 500"}, "/health", 800, 800) is None


def test_slow_canary_latencies_breach_the_p95_limit() -> None:
    bounds = [100.0, 800.0, 1600.0]
    judge = Judge(POLICY, compare=False, latency="buckets")
    judge.observe(Arm(bounds=bounds, buckets=[0, 0, 0, 0]), None)
    judge.observe(Arm(requests=40, bounds=bounds, buckets=[10, 10, 20, 0]), None)
    breach = judge.breach()
    assert breach is not None and breach["reason"] == "latency"
    assert breach["test"] == "latency_limit"


def test_without_stable_traffic_the_method_says_absolute_limits_decide() -> None:
    judge = Judge(POLICY, compare=False, latency=None)
    assert judge.method()["compared_with_stable"] is False
    assert judge.tests == 1
