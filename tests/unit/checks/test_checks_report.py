"""Report helpers: parse module results, latency summary, JUnit cases."""

from __future__ import annotations

from relrun.report.checks import CheckResult, junit_cases, latency_summary, parse_check_results

MODULE_RESULT = {
    "changed": False,
    "failed": True,
    "msg": "required API checks failed: auth",
    "checks": [
        {
            "name": "health",
            "kind": "health",
            "passed": True,
            "required": True,
            "status": 200,
            "assertions": [{"what": "status", "expected": 200, "actual": 200, "passed": True}],
            "latency_ms": 4.0,
            "latency_p50_ms": 4.0,
            "latency_p95_ms": 4.0,
            "duration_ms": 5.0,
            "message": "ok",
        },
        {
            "name": "auth",
            "kind": "jwt_auth",
            "passed": False,
            "required": True,
            "status": 200,
            "assertions": [
                {"what": "refused: alg_none", "expected": "401", "actual": 201, "passed": False}
            ],
            "latency_ms": 10.0,
            "latency_p50_ms": 8.0,
            "latency_p95_ms": 30.0,
            "duration_ms": 1500.0,
            "message": "refused: alg_none: expected '401', got 201",
            "future_key": 1,
        },
        {
            "name": "burst",
            "kind": "rate_limit",
            "passed": False,
            "required": False,
            "status": 200,
            "assertions": [
                {"what": "429 responses", "expected": ">= 1", "actual": 0, "passed": False}
            ],
            "latency_ms": None,
            "latency_p50_ms": None,
            "latency_p95_ms": None,
            "message": "x",
        },
    ],
}


def test_parse_and_junit() -> None:
    results = parse_check_results(MODULE_RESULT)
    assert [r.name for r in results] == ["health", "auth", "burst"]
    health, auth, burst = junit_cases(results, classname="api_checks.gate")
    assert (health.failure, health.skipped, health.seconds) == (None, None, 0.005)
    assert auth.failure == "refused: alg_none: expected '401', got 201"
    assert auth.classname == "api_checks.gate" and auth.seconds == 1.5
    assert (
        burst.failure is None
        and burst.skipped == "optional check failed: 429 responses: expected '>= 1', got 0"
    )


def test_latency_summary() -> None:
    summary = latency_summary(parse_check_results(MODULE_RESULT))
    assert (summary.checks, summary.p50_ms, summary.p95_ms, summary.max_ms, summary.slowest) == (
        2,
        4.0,
        10.0,
        10.0,
        "auth",
    )
    empty = latency_summary([])
    assert (empty.checks, empty.p95_ms, empty.slowest) == (0, None, None)


def test_module_that_never_ran_checks_is_a_failure() -> None:
    (result,) = parse_check_results({"failed": True, "msg": "newman not found", "checks": []})
    assert not result.passed and result.message == "newman not found"
    assert junit_cases([result])[0].failure == "checks ran: expected True, got 'newman not found'"
    assert parse_check_results({"skipped": True, "checks": []}) == []


def test_skipped_check_is_a_skipped_case() -> None:
    result = CheckResult(name="x", passed=False, skipped=True, message="check mode")
    assert junit_cases([result])[0].skipped == "check mode"
