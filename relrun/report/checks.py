"""API check results (``relrun.release.api_check`` / ``.newman``) as typed data for reports.

The modules return plain dicts; this parses them once into models, summarises latencies
and prepares JUnit test cases (the CI report writes the XML).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, JsonValue


class _Result(BaseModel):
    # Modules may add keys in later versions; reports read what they know.
    model_config = ConfigDict(extra="ignore", frozen=True)


class AssertionResult(_Result):
    """One assertion of a check."""

    what: str
    expected: JsonValue = None
    actual: JsonValue = None
    passed: bool

    def failure_text(self) -> str:
        """``what: expected X, got Y``."""
        return f"{self.what}: expected {_show(self.expected)}, got {_show(self.actual)}"


class CheckResult(_Result):
    """One check's outcome."""

    name: str
    kind: str = "http"
    passed: bool
    required: bool = True
    skipped: bool = False
    status: int | None = None
    assertions: list[AssertionResult] = Field(default_factory=list)
    latency_ms: float | None = None
    latency_p50_ms: float | None = None
    latency_p95_ms: float | None = None
    duration_ms: float | None = None
    message: str = ""

    @property
    def failed_assertions(self) -> list[AssertionResult]:
        """The assertions that failed."""
        return [a for a in self.assertions if not a.passed]


class LatencySummary(_Result):
    """Latency figures over a set of checks (ms; None when nothing was measured)."""

    checks: int
    p50_ms: float | None
    p95_ms: float | None
    max_ms: float | None
    slowest: str | None


class JUnitCase(_Result):
    """Data for one ``<testcase>``.

    ``failure`` is set for failed required checks, ``skipped`` for failed optional ones
    and for checks that did not run.
    """

    name: str
    classname: str
    seconds: float
    failure: str | None = None
    skipped: str | None = None


def parse_check_results(module_result: Mapping[str, Any]) -> list[CheckResult]:
    """Parse a registered module result into check results.

    Args:
        module_result: what ``relrun.release.api_check`` or ``.newman`` returned.

    Returns:
        One result per check; a module that failed before running any check (newman
        missing, bad credentials file) yields a single failed pseudo-check named after
        the task, so the failure is never silently dropped from reports.
    """
    checks = [CheckResult.model_validate(c) for c in module_result.get("checks") or []]
    if checks or module_result.get("skipped"):
        return checks
    if module_result.get("failed"):
        message = str(module_result.get("msg") or "the API checks did not run")
        return [
            CheckResult(
                name="api checks",
                kind="error",
                passed=False,
                assertions=[
                    AssertionResult(what="checks ran", expected=True, actual=message, passed=False)
                ],
                message=message,
            )
        ]
    return []


def _nearest_rank(samples: list[float], pct: float) -> float | None:
    if not samples:
        return None
    ordered = sorted(samples)
    return ordered[max(1, math.ceil(pct / 100.0 * len(ordered))) - 1]


def latency_summary(results: Iterable[CheckResult]) -> LatencySummary:
    """Summarise the checks' headline latencies (``latency_ms``).

    Args:
        results: check results.

    Returns:
        Nearest-rank p50/p95 and the maximum over the checks that measured a latency,
        and the name of the slowest check by its own p95 (else its latency).
    """
    measured = [r for r in results if r.latency_ms is not None]
    samples = [float(r.latency_ms) for r in measured if r.latency_ms is not None]
    slowest = max(
        measured,
        key=lambda r: r.latency_p95_ms if r.latency_p95_ms is not None else r.latency_ms or 0.0,
        default=None,
    )
    return LatencySummary(
        checks=len(measured),
        p50_ms=_nearest_rank(samples, 50),
        p95_ms=_nearest_rank(samples, 95),
        max_ms=max(samples, default=None),
        slowest=slowest.name if slowest is not None else None,
    )


def junit_cases(
    results: Iterable[CheckResult], *, classname: str = "api_checks"
) -> list[JUnitCase]:
    """One JUnit case per check.

    Args:
        results: check results.
        classname: the ``classname`` attribute, e.g. ``api_checks.gate``.

    Returns:
        The cases; failure messages read ``what: expected X, got Y`` joined by ``; ``.
    """
    cases: list[JUnitCase] = []
    for result in results:
        seconds = (result.duration_ms or result.latency_ms or 0.0) / 1000.0
        failure = skipped = None
        if result.skipped:
            skipped = result.message or "not run"
        elif not result.passed:
            text = "; ".join(a.failure_text() for a in result.failed_assertions)
            text = text or result.message or "failed"
            if result.required:
                failure = text
            else:
                skipped = f"optional check failed: {text}"
        cases.append(
            JUnitCase(
                name=result.name,
                classname=classname,
                seconds=round(seconds, 3),
                failure=failure,
                skipped=skipped,
            )
        )
    return cases


def _show(value: Any) -> str:
    return repr(value) if isinstance(value, str) else str(value)
