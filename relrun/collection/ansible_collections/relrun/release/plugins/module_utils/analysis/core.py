"""Metric analysis, standard library only: sample, judge the canary against stable, decide.

:func:`watch` reads cumulative per-server counters every interval, turns them into
per-interval counts per arm (canary, stable) and feeds the anytime-valid tests of
``analysis_stats`` through :class:`Judge`. :func:`judge` is the former threshold rule
(a point estimate over a window against a limit), kept for single-sample checks of
health and for the benchmark that compares both rules.
"""

from __future__ import annotations

import math
import time
import urllib.error
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from ..traffic.base import (
    Change,
    Driver,
    DriverError,
    MetricProvider,
    MetricsUnavailable,
    ServerInfo,
    apply_changes,
    read_routing,
)
from ..traffic.plainhttp import open_plain
from .guards import GuardWatch
from .stats import CompareTest, LimitTest, combine, e_value, evidence


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
        with open_plain(f"http://{address}{path}", timeout=timeout) as response:
            response.read()
            return None
    except urllib.error.HTTPError as err:
        return f"HTTP {err.code}"
    except TimeoutError:
        return TIMED_OUT
    except OSError as err:
        reason = getattr(err, "reason", err)
        return TIMED_OUT if isinstance(reason, TimeoutError) else str(reason)


# Health probes of one sample run side by side, so a sample takes one probe's time however
# many servers are judged (a fleet of 32 canaries is not 32 probes one after another).
# relrun.runbook.crosscheck (PROBES_AT_ONCE) bounds the lease renewals with it.
_PROBE_THREADS = 16

# How often the wait between two samples looks for an operator's rollback request
# (``between``): a request waits this long at most, not a whole interval.
REQUEST_POLL_S = 0.05


def _wait(seconds: float, between: Callable[[], None] | None) -> None:
    """Sleep ``seconds``; with ``between``, call it every :data:`REQUEST_POLL_S` meanwhile."""
    if between is None:
        time.sleep(seconds)
        return
    end = time.monotonic() + seconds
    while True:
        between()
        left = end - time.monotonic()
        if left <= 0:
            return
        time.sleep(min(REQUEST_POLL_S, left))


def probe_all(
    targets: dict[str, str | None], path: str, timeout: float
) -> dict[str, str | None]:
    """Probe every server (name -> address) at once; the same answers as :func:`probe`."""
    if len(targets) <= 1:
        return {name: probe(address, path, timeout) for name, address in targets.items()}
    with ThreadPoolExecutor(max_workers=min(_PROBE_THREADS, len(targets))) as pool:
        futures = {name: pool.submit(probe, address, path, timeout)
                   for name, address in targets.items()}
        return {name: future.result() for name, future in futures.items()}


def sample(
    driver: Driver, names: list[str], window: float, health_path: str, timeout: float
) -> dict[str, Any]:
    """One sample: the judged servers' combined window stats and health."""
    servers: dict[str, ServerInfo] = driver.servers(window)
    chosen = [servers[n] for n in names if n in servers]
    requests = sum(s["requests"] for s in chosen)
    errors = sum(s["errors"] for s in chosen)
    p95s = [s["p95_ms"] for s in chosen if s.get("p95_ms") is not None]
    health: dict[str, str | None] = {}
    if health_path:
        health = probe_all(
            {s["name"]: s.get("address") for s in chosen if s["state"] != "maint"},
            health_path, timeout,
        )
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


SLOW_SHARE = 0.05
"""A p95 above a bound means more than this share of requests is slower than the bound."""
MIN_STABLE_LATENCIES = 20
"""Stable latencies needed before stable's p95 is a threshold for the latency comparison."""
HAPROXY_RTIME_SPAN = 1024
"""HAProxy's ``rtime`` averages the last this many responses of a server slot."""


@dataclass(frozen=True)
class Policy:
    """How a bake is judged (see docs/analysis.md).

    Attributes:
        alpha: false-breach bound of the whole bake: the breach is the weighted average of
            the active tests' e-values (equal weights) reaching ``1/alpha``.
        max_error_rate: absolute error limit, breached when shown with confidence 1-alpha.
        max_p95_ms: absolute p95 limit, same.
        error_tolerance: the canary's odds of an error may be up to ``1 + this`` times
            stable's before it is worse than stable.
        latency_tolerance: same, for the odds of a request slower than stable's p95.
        min_requests: with ``no_data=fail``, fewer requests in a window is a breach.
        no_data: ``wait`` or ``fail``.
        consecutive: failed health probes in a row that trigger.
    """

    alpha: float = 0.01
    max_error_rate: float = 0.05
    max_p95_ms: float = 5000
    error_tolerance: float = 1.0
    latency_tolerance: float = 1.0
    min_requests: int = 5
    no_data: str = "wait"
    consecutive: int = 1


@dataclass
class Arm:
    """Cumulative counters of one arm (the canary servers, or the stable ones) at a reading.

    ``bounds``/``buckets`` are a latency histogram (``buckets[i]`` counts responses at or
    below ``bounds[i]`` and above the previous bound; one more bucket for the rest), when
    the router keeps one; ``average_ms``/``responses`` are HAProxy's ``rtime`` and ``stot``.
    """

    requests: int = 0
    errors: int = 0
    bounds: list[float] | None = None
    buckets: list[int] | None = None
    average_ms: float | None = None
    responses: int = 0
    servers: int = 0


def read_arm(servers: dict[str, ServerInfo], names: list[str]) -> Arm:
    """Sum the named servers' cumulative counters (servers the router lacks are skipped)."""
    arm = Arm()
    averages: list[float] = []
    for name in names:
        info = servers.get(name)
        if info is None:
            continue
        arm.servers += 1
        arm.requests += int(info.get("total_requests") or 0)
        arm.errors += int(info.get("total_errors") or 0)
        latency = info.get("latency") or {}
        if latency.get("kind") == "buckets":
            counts = [int(c) for c in latency.get("counts") or []]
            if arm.buckets is None:
                arm.bounds = [float(b) for b in latency.get("bounds") or []]
                arm.buckets = counts
            elif len(counts) == len(arm.buckets):
                arm.buckets = [a + b for a, b in zip(arm.buckets, counts, strict=True)]
        elif latency.get("kind") == "average":
            arm.responses += int(latency.get("responses") or 0)
            if latency.get("average_ms") is not None:
                averages.append(float(latency["average_ms"]))
    arm.average_ms = max(averages) if averages else None
    return arm


def _delta(old: int, new: int) -> int:
    # A counter that went down was reset (router restarted, server re-created): what it
    # counts now all happened since.
    return new if new < old else new - old


def _slow_above(bounds: list[float], counts: list[int], index: int) -> int:
    """Responses slower than ``bounds[index]`` (the buckets above it)."""
    return sum(counts[index + 1 :])


def _p95_index(bounds: list[float], counts: list[int]) -> int | None:
    """Index of the bound at or above the nearest-rank p95 of a histogram."""
    total = sum(counts)
    if total < MIN_STABLE_LATENCIES:
        return None
    rank = math.ceil(SLOW_SHARE * 19 * total)  # 95th percentile
    seen = 0
    for i, count in enumerate(counts):
        seen += count
        if seen >= rank:
            return min(i, len(bounds) - 1)
    return len(bounds) - 1


def _fmt_e(value: float) -> str:
    return f"{value:.3g}" if value < 1e6 else f"{value:.2e}"


class Judge:
    """The tests of one bake, fed with cumulative readings per arm.

    The first reading is the baseline: nothing counted before it (before this stage's
    bake, so before the canary's deploy) ever enters a test.
    """

    def __init__(self, policy: Policy, compare: bool, latency: str | None) -> None:
        self.policy = policy
        self.compare = compare
        self.latency = latency  # "buckets", "average" or None
        tests = 1 + (1 if compare else 0)
        if latency == "buckets":
            tests += 2 if compare else 1
        self.tests = tests
        self.weight = 1 / tests  # of each test in the average of e-values
        each = policy.alpha * self.weight  # where one test alone decides
        self.error_limit = LimitTest(policy.max_error_rate, each)
        self.error_compare = CompareTest(1 + policy.error_tolerance, each) if compare else None
        buckets = latency == "buckets"
        self.latency_limit = LimitTest(SLOW_SHARE, each) if buckets else None
        self.latency_compare = (
            CompareTest(1 + policy.latency_tolerance, each) if buckets and compare else None
        )
        self.canary: Arm | None = None
        self.stable: Arm | None = None
        self.stable_hist: list[int] | None = None
        self.fresh_responses = 0
        self.latency_threshold_ms: float | None = None

    def method(self) -> dict[str, Any]:
        """What is compared and how, for the report and the history."""
        p = self.policy
        latency = {
            "buckets": "p95 from per-request latencies (router histogram)",
            "average": "HAProxy rtime, an average of the last 1024 responses, not a p95; "
            "judged without a confidence bound, once 1024 responses are fresh",
            None: "not available from this router",
        }[self.latency]
        return {
            "name": "anytime-valid e-processes (Ville)",
            "alpha": p.alpha,
            "tests": self.tests,
            "combination": "average of the tests' e-values, equal weights, against 1/alpha",
            "alpha_per_test": round(p.alpha / self.tests, 6),
            "compared_with_stable": self.compare,
            "error_tolerance": p.error_tolerance,
            "latency_tolerance": p.latency_tolerance,
            "latency": latency,
        }

    def observe(
        self, canary: Arm, stable: Arm | None, extra_canary_errors: int = 0
    ) -> dict[str, Any]:
        """Feed one reading; return this interval's counts and the evidence so far.

        ``extra_canary_errors`` are failed health probes of the canary in this interval
        (one more request and one more error each).
        """
        point: dict[str, Any] = {}
        if self.canary is None:
            self.canary, self.stable = canary, stable
            self.stable_hist = list(stable.buckets) if stable and stable.buckets else None
            point["baseline"] = True
            return point | self._evidence()
        n_c = _delta(self.canary.requests, canary.requests) + extra_canary_errors
        x_c = _delta(self.canary.errors, canary.errors) + extra_canary_errors
        n_s = x_s = 0
        if stable is not None and self.stable is not None:
            n_s = _delta(self.stable.requests, stable.requests)
            x_s = _delta(self.stable.errors, stable.errors)
        point["canary"] = {"requests": n_c, "errors": x_c}
        if self.compare:
            point["stable"] = {"requests": n_s, "errors": x_s}
        self.error_limit.update(n_c, x_c)
        if self.error_compare is not None:
            self.error_compare.update(n_c, x_c, n_s, x_s)
        self._observe_latency(point, canary, stable)
        self.canary, self.stable = canary, stable if stable is not None else self.stable
        return point | self._evidence()

    def _observe_latency(self, point: dict[str, Any], canary: Arm, stable: Arm | None) -> None:
        if not (self.canary is not None):  # an invariant of the caller, kept for the type checker
            raise RuntimeError('invariant broken: self.canary is not None')
        if self.latency == "average":
            self.fresh_responses += _delta(self.canary.responses, canary.responses)
            point["canary"]["average_ms"] = canary.average_ms
            point["canary"]["fresh_responses"] = self.fresh_responses
            return
        old, new = self.canary.buckets, canary.buckets
        if self.latency != "buckets" or old is None or new is None or len(old) != len(new):
            return
        bounds = canary.bounds or []
        d_c = [_delta(a, b) for a, b in zip(old, new, strict=True)]
        n_lat = sum(d_c)
        if not (self.latency_limit is not None):  # an invariant of the caller, kept for the type checker
            raise RuntimeError('invariant broken: self.latency_limit is not None')
        limit_index = next(
            (i for i, b in enumerate(bounds) if b >= self.policy.max_p95_ms), len(bounds) - 1
        )
        slow_limit = _slow_above(bounds, d_c, limit_index)
        self.latency_limit.update(n_lat, slow_limit)
        point["canary"]["latencies"] = n_lat
        point["canary"]["over_limit"] = slow_limit
        if self.latency_compare is None or stable is None or stable.buckets is None:
            return
        before = self.stable.buckets if self.stable and self.stable.buckets else None
        if before is None or len(before) != len(stable.buckets):
            return
        d_s = [_delta(a, b) for a, b in zip(before, stable.buckets, strict=True)]
        # The threshold comes from stable's latencies before this interval, so it is fixed
        # before the interval's outcomes are seen (the test stays valid).
        index = _p95_index(bounds, self.stable_hist or [])
        if index is not None:
            self.latency_threshold_ms = bounds[index]
            slow_c = _slow_above(bounds, d_c, index)
            slow_s = _slow_above(bounds, d_s, index)
            self.latency_compare.update(n_lat, slow_c, sum(d_s), slow_s)
            point["canary"]["over_stable_p95"] = slow_c
            point["stable"]["latencies"] = sum(d_s)
            point["stable"]["over_stable_p95"] = slow_s
            point["stable_p95_ms"] = bounds[index]
        hist = self.stable_hist or [0] * len(d_s)
        self.stable_hist = [a + b for a, b in zip(hist, d_s, strict=True)]

    def _tests(self) -> dict[str, LimitTest | CompareTest]:
        tests: dict[str, LimitTest | CompareTest | None] = {
            "error_vs_stable": self.error_compare,
            "error_limit": self.error_limit,
            "latency_vs_stable": self.latency_compare,
            "latency_limit": self.latency_limit,
        }
        return {k: v for k, v in tests.items() if v is not None}

    def log_e(self) -> float:
        """Log of the bake's e-value: the weighted average of its tests' e-values."""
        return combine([(self.weight, t.log_e) for t in self._tests().values()])

    def _evidence(self) -> dict[str, Any]:
        tests: dict[str, Any] = {name: evidence(t) for name, t in self._tests().items()}
        tests["combined"] = {"e_value": e_value(self.log_e()),
                             "bound": round(1 / self.policy.alpha, 3)}
        return {"evidence": tests}

    def totals(self) -> dict[str, Any]:
        """Counts per version over the bake so far."""
        canary = {"requests": self.error_limit.n, "errors": self.error_limit.x}
        result: dict[str, Any] = {"canary": canary}
        if self.error_compare is not None:
            result["stable"] = {
                "requests": self.error_compare.stable[0],
                "errors": self.error_compare.stable[1],
            }
        return result

    def breach(self) -> dict[str, Any] | None:
        """The breach the evidence shows, if any, with that evidence."""
        tests = self._tests()
        if self.log_e() >= math.log(1 / self.policy.alpha):
            # Reported as the test that contributes most to the average.
            name = max(tests, key=lambda k: tests[k].log_e)
            return self._statistical_breach(name, tests[name])
        if self.latency == "average" and self.canary is not None:
            average = self.canary.average_ms
            fresh = self.fresh_responses >= HAPROXY_RTIME_SPAN
            if fresh and average is not None and average > self.policy.max_p95_ms:
                return {
                    "reason": "latency",
                    "observed": average,
                    "threshold": self.policy.max_p95_ms,
                    "test": "latency_average",
                    "message": f"average response time (HAProxy rtime over the last "
                    f"{HAPROXY_RTIME_SPAN} responses, all after this bake began) "
                    f"{average:.0f} ms above {self.policy.max_p95_ms:.0f} ms",
                }
        return None

    def _statistical_breach(self, name: str, test: LimitTest | CompareTest) -> dict[str, Any]:
        own = evidence(test)["e_value"]
        ev = {"e_value": e_value(self.log_e()), "bound": round(1 / self.policy.alpha, 3),
              "test_e_value": own}
        counts = self.totals()
        c, s = counts["canary"], counts.get("stable")
        alpha = f"alpha {self.policy.alpha:g}"
        if self.tests > 1:
            alpha += f", average of {self.tests} tests' e-values; this test's {_fmt_e(own)}"
        stat = f"e-value {_fmt_e(ev['e_value'])} >= {ev['bound']:g}"
        if name == "error_limit":
            if not (isinstance(test, LimitTest)):  # an invariant of the caller, kept for the type checker
                raise RuntimeError('invariant broken: isinstance(test, LimitTest)')
            message = (
                f"error rate above {test.p0:.1%} with confidence "
                f"{1 - self.policy.alpha:.0%}: canary {c['errors']}/{c['requests']} failed "
                f"({stat}, {alpha})"
            )
            return {"reason": "error_rate", "observed": _share(c), "threshold": test.p0,
                    "test": name, "counts": counts, **ev, "alpha": self.policy.alpha,
                    "message": message}
        if name == "error_vs_stable":
            if not (s is not None):  # an invariant of the caller, kept for the type checker
                raise RuntimeError('invariant broken: s is not None')
            message = (
                f"canary errors {c['errors']}/{c['requests']} against stable "
                f"{s['errors']}/{s['requests']}: more than {1 + self.policy.error_tolerance:g}x "
                f"stable's error odds ({stat}, {alpha})"
            )
            # threshold stays the runbook's limit; the comparison's evidence is in counts.
            return {"reason": "error_rate", "observed": _share(c),
                    "threshold": self.policy.max_error_rate, "stable_error_rate": _share(s),
                    "test": name, "counts": counts, **ev, "alpha": self.policy.alpha,
                    "message": message}
        slow = self.latency_limit.x if self.latency_limit else 0
        seen = self.latency_limit.n if self.latency_limit else 0
        if name == "latency_limit":
            message = (
                f"p95 latency above {self.policy.max_p95_ms:.0f} ms with confidence "
                f"{1 - self.policy.alpha:.0%}: {slow}/{seen} canary requests slower "
                f"({stat}, {alpha})"
            )
            return {"reason": "latency", "observed": slow / seen if seen else None,
                    "threshold": self.policy.max_p95_ms, "test": name, "counts": counts,
                    **ev, "alpha": self.policy.alpha, "message": message}
        if not (isinstance(test, CompareTest)):  # an invariant of the caller, kept for the type checker
            raise RuntimeError('invariant broken: isinstance(test, CompareTest)')
        message = (
            f"canary slower than stable: {test.canary[1]}/{test.canary[0]} canary requests "
            f"above stable's p95 (~{self.latency_threshold_ms or 0:g} ms) against "
            f"{test.stable[1]}/{test.stable[0]} of stable's ({stat}, {alpha})"
        )
        return {"reason": "latency", "observed": _share({"errors": test.canary[1],
                "requests": test.canary[0]}), "threshold": self.policy.max_p95_ms,
                "stable_p95_ms": self.latency_threshold_ms, "test": name, "counts": counts, **ev, "alpha": self.policy.alpha,
                "message": message}


def _share(counts: dict[str, int] | None) -> float | None:
    if not counts or not counts.get("requests"):
        return None
    return round(counts["errors"] / counts["requests"], 6)


def health(
    servers: dict[str, ServerInfo], names: list[str], path: str, timeout: float
) -> dict[str, str | None]:
    """Probe each judged server's health path (servers in maintenance are skipped)."""
    if not path:
        return {}
    targets = {
        name: info.get("address")
        for name, info in ((n, servers.get(n)) for n in names)
        if info is not None and info["state"] != "maint"
    }
    return probe_all(targets, path, timeout)


def health_breach(
    missing: list[str], probes: dict[str, str | None], path: str, limit_ms: float,
    timeout_ms: float,
) -> dict[str, Any] | None:
    """A breach from the health probes alone (a 5xx answer is an error, not a breach).

    A 4xx answer is not healthy: the service does not serve its health path (wrong
    ``health_path``, or a broken route), so it cannot be judged healthy.
    """
    if missing:
        return {"reason": "health_check", "observed": missing, "threshold": "present",
                "message": f"router has no server {', '.join(missing)}"}
    dead = {n: w for n, w in probes.items()
            if w is not None and w != TIMED_OUT and not w.startswith("HTTP 5")}
    if dead:
        detail = ", ".join(f"{n}: {w}" for n, w in sorted(dead.items()))
        return {"reason": "health_check", "observed": dead, "threshold": "healthy",
                "message": f"health check GET {path} failed ({detail})"}
    slow = sorted(n for n, w in probes.items() if w == TIMED_OUT)
    if slow:
        return {"reason": "latency", "observed": timeout_ms, "threshold": limit_ms,
                "message": f"health probe of {', '.join(slow)} took over {timeout_ms:.0f} ms "
                f"(p95 bound {limit_ms:.0f} ms)"}
    return None


def take_canary_out(
    driver: Driver, stable: list[str], canary: list[str], path: str, timeout: float
) -> dict[str, Any]:
    """The first act of the rollback's ``drain``, done where the breach is seen.

    The canary stops taking new requests (state ``drain``; in-flight ones finish). When no
    stable server takes traffic (the 100% stage), stable is put back first, but only if it
    answers its health check: never make it worse.

    Returns:
        ``{"done": bool, "at": epoch seconds, "servers": [...], "why": str}``.
    """
    changes: list[Change] = []
    try:
        servers = read_routing(driver)
        present = [s for s in stable if s in servers]
        if not present:
            return {"done": False, "why": "no stable server to take the traffic"}
        serving = [s for s in present
                   if servers[s]["state"] == "ready" and servers[s].get("weight", 0) > 0]
        if not serving:
            probes = health(servers, present, path, timeout)
            healthy = [s for s in present if probes.get(s, None) is None]
            if not healthy:
                return {"done": False, "why": "no stable server answers its health check"}
            # Stable takes traffic before the canary stops: one exchange, in this order.
            changes += [c for name in healthy
                        for c in ((name, "state", "ready"), (name, "weight", 1))]
        moved = [name for name in canary if name in servers and servers[name]["state"] == "ready"]
        changes += [(name, "state", "drain") for name in moved]
        apply_changes(driver, changes)
    except DriverError as err:
        return {"done": False, "why": f"router refused: {err}"}
    return {"done": True, "at": round(time.time(), 3), "servers": moved,
            "why": "breach: canary drained by the analysis"}


def latency_kind(servers: dict[str, ServerInfo], names: list[str]) -> str | None:
    """Which latency data the router has for the judged servers."""
    kinds = {(servers[n].get("latency") or {}).get("kind") for n in names if n in servers}
    if "buckets" in kinds:
        return "buckets"
    if "average" in kinds:
        return "average"
    return None


def _probe_errors(probes: dict[str, str | None]) -> int:
    return sum(1 for w in probes.values() if w is not None and w.startswith("HTTP 5"))


def watch(
    driver: Driver,
    names: list[str],
    policy: Policy,
    duration: float,
    interval: float,
    window: float,
    health_path: str,
    keepalive: Callable[[], None] | None = None,
    baseline: list[str] | None = None,
    react: bool = False,
    since: float | None = None,
    metrics: MetricProvider | None = None,
    max_outage: float = 30.0,
    guards: GuardWatch | None = None,
    hold: Callable[[bool], str | dict[str, Any] | None] | None = None,
    between: Callable[[], None] | None = None,
) -> dict[str, Any]:
    """Judge ``names`` (against ``baseline``, when given) every ``interval`` for ``duration``.

    Stops at the first breach. With ``react``, a breach takes the canary out of new
    traffic (see :func:`take_canary_out`) before this returns. With ``since`` (epoch
    seconds of this stage's traffic shift, on this host's clock), the first sample also
    counts the requests and errors the router saw between the shift and the first
    reading, so the few seconds before the module started are judged too; nothing from
    before the shift is.

    ``keepalive`` runs before every sample (the dead man's switch renewal); what it raises
    ends the watch. ``between`` runs every :data:`REQUEST_POLL_S` while the watch waits for
    its next sample, and what it raises ends the watch too (an operator's rollback request
    is taken within 50 ms, as fast as a breach, not at the next sample). ``hold`` (a manual gate) runs after every sample that found no breach,
    told whether the bake's duration has elapsed: ``"end"`` ends the bake now (passed),
    ``"hold"`` keeps judging past it, a dict is a breach (a pause that timed out).

    With ``metrics`` (a provider that is not the router, e.g. Prometheus), the counts,
    errors and latencies come from it; states, weights, addresses and the reaction stay
    with ``driver``. A reading it cannot give (:class:`MetricsUnavailable`) is no data:
    with ``no_data=fail`` a breach at once; with ``wait`` the bake holds (it never ends
    on a missing reading) for up to ``max_outage`` seconds, then it is a breach. Its
    counters are cumulative, so the first reading after an outage counts what happened
    during it.

    With ``guards`` (business-metric guards, see ``analysis_guards``), every sample of a
    bake also reads each guard; one over its limit is a breach like any other, and the
    bake does not end while a guard has no reading (``no_data: wait``).

    Returns:
        ``samples`` (counts per version and evidence over time), ``breach`` (None when
        the bake passed), ``method``, ``totals``, ``decision`` and, after a reaction,
        ``canary_out``.
    """
    started = time.monotonic()
    samples: list[dict[str, Any]] = []
    streak = 0
    timeout = max(0.5, policy.max_p95_ms / 1000)
    judge_: Judge | None = None
    compare_note = ""
    outage_since: float | None = None
    while True:
        if keepalive is not None:
            keepalive()
        try:
            # Read the window since the shift first: a request in between is then lost to
            # the tests, never counted twice.
            seed = (
                _window_since(driver, metrics, since)
                if judge_ is None and duration > 0 else None
            )
            servers = read_servers(driver, metrics, window)
        except MetricsUnavailable as err:
            now = round(time.time(), 3)
            outage_since = outage_since if outage_since is not None else time.monotonic()
            held = time.monotonic() - outage_since
            found = _outage_breach(str(err), policy.no_data, held, max_outage)
            samples.append({"time": now, "no_data": str(err), "outage_s": round(held, 3),
                            "breach": found["reason"] if found else None})
            if found is not None:
                judge_ = judge_ or Judge(policy, compare=False, latency=None)
                result = _outcome(judge_, samples, found, now, compare_note, driver, baseline,
                                  names, health_path, timeout, react)
                result["method"]["metrics"] = getattr(metrics, "source", type(metrics).__name__)
                return result
            _wait(interval, between)
            continue
        now = round(time.time(), 3)
        if outage_since is not None:
            samples_note = round(time.monotonic() - outage_since, 3)
            outage_since = None
        else:
            samples_note = None
        missing = [n for n in names if n not in servers]
        probes = health(servers, names, health_path, timeout)
        if judge_ is None:
            stable_names = [n for n in baseline or [] if n in servers]
            serving = [n for n in stable_names
                       if servers[n]["state"] == "ready" and servers[n].get("weight", 0) > 0]
            judge_ = Judge(policy, compare=bool(serving), latency=latency_kind(servers, names))
            if baseline is not None and not stable_names:
                compare_note = "no stable server on the router: absolute limits alone decide"
            elif baseline is not None and not serving:
                compare_note = "stable takes no traffic (100% stage): absolute limits alone decide"
        canary = read_arm(servers, names)
        stable = read_arm(servers, baseline) if judge_.compare and baseline else None
        point: dict[str, Any] = {"time": now}
        if samples_note is not None:
            point["after_outage_s"] = samples_note
        point |= judge_.observe(canary, stable, _probe_errors(probes))
        window_requests = sum(int(servers[n].get("requests") or 0) for n in names if n in servers)
        window_errors = sum(int(servers[n].get("errors") or 0) for n in names if n in servers)
        p95s = [servers[n].get("p95_ms") for n in names if n in servers]
        point["requests"] = window_requests
        point["errors"] = window_errors
        point["error_rate"] = round(window_errors / window_requests, 6) if window_requests else None
        point["p95_ms"] = max((p for p in p95s if p is not None), default=None)
        point["unhealthy"] = {n: w for n, w in probes.items() if w is not None}
        point["missing"] = missing
        point["probe_timeout_ms"] = round(timeout * 1000)
        if judge_.compare and stable is not None:
            point["stable_served"] = any(
                servers[n]["state"] == "ready" and servers[n].get("weight", 0) > 0
                for n in baseline or [] if n in servers
            )
        if seed is not None:
            point |= _seed(judge_, seed[0], seed[1], names, baseline)
        if duration <= 0 and point.get("baseline"):
            # One look (the check before a stage): judge the router's window counts.
            judge_.error_limit.update(window_requests + _probe_errors(probes),
                                      window_errors + _probe_errors(probes))
            point |= judge_._evidence()
        found = health_breach(missing, probes, health_path, policy.max_p95_ms, timeout * 1000)
        streak = streak + 1 if found else 0
        if found and streak < policy.consecutive:
            found = None
        if found is None:
            found = judge_.breach()
        if found is None and policy.no_data == "fail" and window_requests < policy.min_requests \
                and not point.get("baseline"):
            found = {"reason": "no_data", "observed": window_requests,
                     "threshold": policy.min_requests,
                     "message": f"only {window_requests} requests in the window "
                     f"(need {policy.min_requests})"}
        if guards is not None and duration > 0:
            beside = judge_.compare and bool(point.get("stable_served", True))
            point["guards"], guard_breach = guards.look(beside)
            found = found or guard_breach
        point["breach"] = found["reason"] if found else None
        samples.append(point)
        elapsed = time.monotonic() - started
        # A bake judged from a metric provider ends on a reading that judged an interval,
        # never on a bare baseline (one taken after an outage that outlasted the bake),
        # nor while a guard has no reading.
        bare = metrics is not None and duration > 0 and bool(point.get("baseline"))
        guard_held = guards is not None and duration > 0 and guards.holding()
        decision = (hold(elapsed >= duration and not bare and not guard_held)
                    if hold and found is None else None)
        if isinstance(decision, dict):
            found = decision
            point["breach"] = found["reason"]
        held = decision == "hold" or guard_held
        if found is not None or decision == "end" or (elapsed >= duration and not bare
                                                      and not held):
            result = _outcome(judge_, samples, found, now, compare_note, driver, baseline,
                              names, health_path, timeout, react)
            if metrics is not None:
                result["method"]["metrics"] = getattr(metrics, "source", type(metrics).__name__)
            if guards is not None and duration > 0:
                result["method"]["guards"] = guards.summary()
            return result
        _wait(interval if held or elapsed >= duration else min(interval, duration - elapsed),
              between)


def read_servers(
    driver: Driver, metrics: MetricProvider | None, window: float
) -> dict[str, ServerInfo]:
    """The router's servers, with their figures from ``metrics`` when it is given.

    Raises:
        DriverError: the router could not be read.
        MetricsUnavailable: the metric provider gave no reading (no data).
    """
    servers = driver.servers(window)
    if metrics is None:
        return servers
    measured = metrics.servers(window)
    return {name: {**info, **measured.get(name, {})} for name, info in servers.items()}


def _outage_breach(
    why: str, no_data: str, held: float, max_outage: float
) -> dict[str, Any] | None:
    if no_data == "fail":
        return {"reason": "no_data", "observed": None, "threshold": "metrics",
                "message": f"no data from the metric provider (no_data: fail): {why}"}
    if held >= max_outage:
        return {"reason": "no_data", "observed": round(held, 3), "threshold": max_outage,
                "message": f"no data from the metric provider for {held:.1f}s (the bake "
                f"holds at most {max_outage:g}s, metrics.max_outage): {why}"}
    return None


def _window_since(
    driver: Driver, metrics: MetricProvider | None, since: float | None
) -> tuple[dict[str, ServerInfo], float] | None:
    if since is None:
        return None
    span = round(time.time() - since, 3)
    if not 0.2 <= span <= 60:
        return None  # a clock far off, or a shift long ago: start from the baseline alone
    return read_servers(driver, metrics, span), span


def _seed(
    judge_: Judge, servers: dict[str, ServerInfo], span: float, names: list[str],
    baseline: list[str] | None,
) -> dict[str, Any]:
    """Count the router's window since the shift as the bake's first interval (errors only)."""

    def arm(which: list[str]) -> tuple[int, int]:
        chosen = [servers[n] for n in which if n in servers]
        return (sum(int(s.get("requests") or 0) for s in chosen),
                sum(int(s.get("errors") or 0) for s in chosen))

    n_c, x_c = arm(names)
    n_s, x_s = arm(baseline or []) if judge_.compare else (0, 0)
    judge_.error_limit.update(n_c, x_c)
    if judge_.error_compare is not None:
        judge_.error_compare.update(n_c, x_c, n_s, x_s)
    point: dict[str, Any] = {"since_shift_s": round(span, 3),
                             "canary": {"requests": n_c, "errors": x_c}}
    if judge_.compare:
        point["stable"] = {"requests": n_s, "errors": x_s}
    return point | judge_._evidence()


def _outcome(
    judge_: Judge, samples: list[dict[str, Any]], found: dict[str, Any] | None, at: float,
    note: str, driver: Driver, baseline: list[str] | None, names: list[str], path: str,
    timeout: float, react: bool,
) -> dict[str, Any]:
    method = judge_.method()
    if note:
        method["note"] = note
    elif judge_.compare and not any(s.get("stable_served", True) for s in samples):
        method["note"] = "stable took no traffic: absolute limits alone decided"
    result: dict[str, Any] = {
        "samples": samples,
        "method": method,
        "totals": judge_.totals(),
        "breach": None,
        "decision": "pass",
    }
    if found is None:
        return result
    result["breach"] = {**found, "at": at}
    result["decision"] = "breach"
    if react and baseline:
        result["canary_out"] = take_canary_out(driver, baseline, names, path, timeout)
    return result
