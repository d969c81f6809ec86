"""Benchmark the canary analysis: false rollbacks and detection time (prints tables).

Run: ``uv run python bench/bench_analysis.py [offline|attainable|sandbox|all] [--releases N]``.

Offline: thousands of simulated flagship releases (stages 5/25/50/100%, 10 s bakes, one
sample per ``interval``) through the *same* judging code the Ansible module runs
(``analysis_core.Judge``), with the old threshold rule (``analysis_core.judge`` on a 5 s
window, ``min_requests`` 2 at 5%, 5 after) side by side on the same streams:

- healthy canaries, background errors 0.5/1/2/5% and lognormal latency on both
  versions, 5-200 req/s: the share of releases rolled back (false rollbacks);
- faults from the second stage on (25%): +5 and +10 error points, 50% errors, latency
  +100 ms, x2 and 6 s: detection time (median, p95) and the share detected in the bake;
- a canary at 10% errors against a 1% stable: detected within its 10 s bake;
- beside relrun, for the error faults, the **oracle**: Wald's SPRT that knows the true
  error rates, on the same streams and looks at the same alpha (see :func:`ripr`). No
  test valid at alpha for every healthy canary detects sooner on average (Wald and
  Wolfowitz), so its figures are what is attainable at that alpha and request rate.

Sandbox: ``relrun drill`` runs against real local processes: releases with 2% background
errors on both versions and no fault (want 0 rollbacks), then flagship drills.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import subprocess
import sys
import tempfile
import time
from collections import deque
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "relrun" / "collection"))

from ansible_collections.relrun.release.plugins.module_utils.analysis.core import (  # noqa: E402
    Arm,
    Judge,
    Policy,
    Thresholds,
    judge,
)

from relrun.sandbox.routing import LATENCY_BOUNDS_MS  # noqa: E402

BOUNDS = np.array(LATENCY_BOUNDS_MS)
STAGES = ((5, 10.0), (25, 10.0), (50, 10.0), (100, 10.0))
FAULT_STAGE = 1  # the flagship drills at Blue-Green 25%
WINDOW = 5.0
LAT_MEDIAN_MS = 20.0
LAT_SIGMA = 1.0


@dataclass(frozen=True)
class Fault:
    """What goes wrong on the canary from the fault stage on."""

    name: str
    extra_errors: float = 0.0  # added error probability
    error_rate: float | None = None  # or a fixed error probability
    latency_add_ms: float = 0.0
    latency_factor: float = 1.0


def _cdf(x: np.ndarray, median: float, sigma: float) -> np.ndarray:
    with np.errstate(divide="ignore"):
        z = (np.log(np.maximum(x, 1e-9)) - math.log(median)) / (sigma * math.sqrt(2))
    return 0.5 * (1 + np.vectorize(math.erf)(z))


def bucket_probs(add_ms: float = 0.0, factor: float = 1.0) -> np.ndarray:
    """Probabilities of each histogram bucket for the lognormal noise, shifted/scaled."""
    cdf = _cdf((BOUNDS - add_ms) / factor, LAT_MEDIAN_MS, LAT_SIGMA)
    cdf = np.where(BOUNDS - add_ms <= 0, 0.0, cdf)
    probs = np.diff(np.concatenate([[0.0], cdf, [1.0]]))
    return np.clip(probs, 0, None) / np.clip(probs, 0, None).sum()


HEALTHY_PROBS = bucket_probs()


def p95_of(buckets: np.ndarray) -> float | None:
    total = int(buckets.sum())
    if not total:
        return None
    index = int(np.searchsorted(np.cumsum(buckets), math.ceil(0.95 * total)))
    return float(BOUNDS[min(index, len(BOUNDS) - 1)])


def _kl(p: np.ndarray | float, q: np.ndarray | float) -> np.ndarray:
    """Kullback-Leibler divergence of Bernoulli(p) from Bernoulli(q), nats."""
    p_, q_ = np.asarray(p, dtype=float), np.asarray(q, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        a = np.where(p_ > 0, p_ * np.log(p_ / q_), 0.0)
        b = np.where(p_ < 1, (1 - p_) * np.log((1 - p_) / (1 - q_)), 0.0)
    return np.asarray(a + b)


@cache
def ripr(
    p_c: float, p_s: float, share: float, limit: float, psi0: float | None
) -> tuple[float, float, float]:
    """The healthy canary nearest the truth: ``(q_c, q_s, KL per request)``.

    Healthy means ``q_c <= limit`` and, where stable is compared (``psi0`` not None),
    ``odds(q_c) <= psi0 * odds(q_s)``. A request goes to the canary with probability
    ``share`` whatever the rates, so per request the truth and a healthy canary are
    Bernoulli pairs mixed by ``share``, and the healthy set is convex in them. The
    likelihood ratio of the truth against its KL-nearest healthy point (the reverse
    information projection) then has expectation at most 1 under *every* healthy canary,
    so the oracle below is a valid level-alpha test of the whole null; and no level-alpha
    test of that one healthy point, so none of the whole null, needs fewer requests on
    average to reject (Wald-Wolfowitz; Lai's bound ``log(1/alpha) / KL``).
    """
    if psi0 is None:
        nearest = min(p_c, limit)
        return nearest, p_s, float(share * _kl(p_c, nearest))
    q_s = 1 / (1 + np.exp(-np.linspace(-12, 6, 20001)))
    bound = psi0 * q_s / (1 - q_s)
    q_c = np.minimum(min(p_c, limit), bound / (1 + bound))
    cost = share * _kl(p_c, q_c) + (1 - share) * _kl(p_s, q_s)
    i = int(np.argmin(cost))
    return float(q_c[i]), float(q_s[i]), float(cost[i])


def _llr(x: int, n: int, p: float, q: float) -> float:
    """Log likelihood ratio of ``x`` bad in ``n`` under rate ``p`` against ``q``."""
    if n <= 0:
        return 0.0
    good = n - x
    if (x and q <= 0) or (good and q >= 1):
        return math.inf
    a = x * math.log(p / q) if x else 0.0
    b = good * math.log((1 - p) / (1 - q)) if good else 0.0
    return a + b


def simulate(
    rate: float, background: float, fault: Fault | None, rng: np.random.Generator,
    interval: float, policy: Policy, stable_rate: float | None = None,
) -> dict[str, float | None]:
    """One release; returns when each rule breached (seconds since the fault stage began)."""
    stable_p = background if stable_rate is None else stable_rate
    canary_hist = np.zeros(len(BOUNDS) + 1, dtype=np.int64)
    stable_hist = np.zeros(len(BOUNDS) + 1, dtype=np.int64)
    # The stable server has served before the release: its histogram has history.
    stable_hist += rng.multinomial(int(rate * 30), HEALTHY_PROBS)
    totals = {"c_req": 0, "c_err": 0, "s_req": 0, "s_err": 0}
    window: deque[tuple[int, int, np.ndarray]] = deque()
    per_window = max(1, round(WINDOW / interval))
    delayed: dict[int, np.ndarray] = {}
    result: dict[str, float | None] = {"new": None, "old": None, "new_stage": None,
                                       "old_stage": None, "oracle": None}
    errors_only = fault is not None and not (fault.latency_add_ms or fault.latency_factor != 1)
    llr = 0.0  # the oracle's, carried over the stages (a product of e-variables)
    carry = 0.0
    tick = 0
    for stage_index, (weight, bake) in enumerate(STAGES):
        judge_ = Judge(policy, compare=weight < 100, latency="buckets")
        faulty = fault is not None and stage_index >= FAULT_STAGE
        samples = round(bake / interval)
        p_c_true = background
        if faulty and fault is not None:
            p_c_true = fault.error_rate if fault.error_rate is not None else background
            p_c_true = min(1.0, p_c_true + fault.extra_errors)
        oracle = faulty and errors_only and p_c_true > 0
        if oracle:
            q_c, q_s, _ = ripr(p_c_true, stable_p, weight / 100, policy.max_error_rate,
                               1 + policy.error_tolerance if weight < 100 else None)
        for step in range(samples + 1):
            if step:
                tick += 1
                carry += rate * interval
                n = int(carry)
                carry -= n
                n_c = int(rng.binomial(n, weight / 100))
                n_s = n - n_c
                x_c = int(rng.binomial(n_c, p_c_true))
                x_s = int(rng.binomial(n_s, stable_p))
                if oracle:
                    llr += _llr(x_c, n_c, p_c_true, q_c) + _llr(x_s, n_s, stable_p, q_s)
                slowed = fault is not None and (fault.latency_add_ms or fault.latency_factor != 1)
                if faulty and fault is not None and slowed:
                    probs = bucket_probs(fault.latency_add_ms, fault.latency_factor)
                    lat_c = rng.multinomial(n_c, probs)
                    lag = int(fault.latency_add_ms / 1000 / interval)
                    if lag:
                        delayed[tick + lag] = delayed.get(tick + lag, 0) + lat_c
                        lat_c = np.zeros_like(lat_c)
                else:
                    lat_c = rng.multinomial(n_c, HEALTHY_PROBS)
                if tick in delayed:
                    lat_c = lat_c + delayed.pop(tick)
                canary_hist += lat_c
                stable_hist += rng.multinomial(n_s, HEALTHY_PROBS)
                totals["c_req"] += n_c
                totals["c_err"] += x_c
                totals["s_req"] += n_s
                totals["s_err"] += x_s
                window.append((n_c, x_c, lat_c))
                while len(window) > per_window:
                    window.popleft()
            canary = Arm(requests=totals["c_req"], errors=totals["c_err"],
                         bounds=list(LATENCY_BOUNDS_MS), buckets=canary_hist.tolist())
            stable = Arm(requests=totals["s_req"], errors=totals["s_err"],
                         bounds=list(LATENCY_BOUNDS_MS), buckets=stable_hist.tolist())
            judge_.observe(canary, stable if weight < 100 else None)
            since_fault = (
                sum(b for _, b in STAGES[FAULT_STAGE:stage_index]) + step * interval
                if stage_index >= FAULT_STAGE else -1.0
            )
            if result["new"] is None and judge_.breach() is not None:
                result["new"], result["new_stage"] = since_fault, stage_index
            if oracle and result["oracle"] is None and llr >= math.log(1 / policy.alpha):
                result["oracle"] = since_fault
            if result["old"] is None and step:
                w_req = sum(r for r, _, _ in window)
                w_err = sum(e for _, e, _ in window)
                w_lat = np.sum([h for _, _, h in window], axis=0)
                point = {"missing": [], "unhealthy": {}, "requests": w_req, "errors": w_err,
                         "error_rate": w_err / w_req if w_req else None, "p95_ms": p95_of(w_lat)}
                limits = Thresholds(max_error_rate=policy.max_error_rate,
                                    max_p95_ms=policy.max_p95_ms,
                                    min_requests=2 if stage_index == 0 else 5,
                                    no_data="wait", consecutive=1)
                if judge(point, limits) is not None:
                    result["old"], result["old_stage"] = since_fault, stage_index
            if result["new"] is not None and result["old"] is not None and (
                    result["oracle"] is not None or not errors_only):
                return result
    return result


def _q(values: list[float], q: float) -> str:
    if not values:
        return "-"
    ordered = sorted(values)
    return f"{ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)]:.2f}"


def offline(releases: int, seed: int, interval: float, policy: Policy) -> None:
    rng = np.random.default_rng(seed)
    rates = (5.0, 20.0, 50.0, 200.0)
    backgrounds = (0.005, 0.01, 0.02, 0.05)
    per_cell = max(1, releases // (len(rates) * len(backgrounds)))
    print(f"# offline: alpha {policy.alpha}, tolerance {policy.error_tolerance}, "
          f"interval {interval}s, limit {policy.max_error_rate:.0%} / p95 "
          f"{policy.max_p95_ms:g} ms, latency lognormal median {LAT_MEDIAN_MS:g} ms "
          f"sigma {LAT_SIGMA}")
    print("\n## healthy canaries: false rollbacks per release "
          f"({per_cell} releases per cell, {per_cell * len(rates) * len(backgrounds)} total)")
    print(f"{'req/s':>6} {'bg errors':>9} {'new':>8} {'old rule':>9}")
    all_new = all_old = 0
    started = time.monotonic()
    for rate in rates:
        for bg in backgrounds:
            new = old = 0
            for _ in range(per_cell):
                r = simulate(rate, bg, None, rng, interval, policy)
                new += r["new"] is not None
                old += r["old"] is not None
            all_new += new
            all_old += old
            print(f"{rate:>6g} {bg:>9.1%} {new / per_cell:>8.2%} {old / per_cell:>9.2%}",
                  flush=True)
    total = per_cell * len(rates) * len(backgrounds)
    print(f"{'all':>6} {'':>9} {all_new / total:>8.2%} {all_old / total:>9.2%}"
          f"   ({all_new}/{total} new, {all_old}/{total} old; {time.monotonic() - started:.0f}s)")

    faults = (
        Fault("+5 points errors", extra_errors=0.05),
        Fault("+10 points errors", extra_errors=0.10),
        Fault("50% errors (flagship)", error_rate=0.5, extra_errors=0.02),
        Fault("latency +100 ms", latency_add_ms=100),
        Fault("latency x2", latency_factor=2.0),
        Fault("latency 6 s", latency_add_ms=6000),
    )
    runs = max(50, releases // 20)
    print(f"\n## faults from stage 2 (25%), 2% background: detection seconds after the fault "
          f"({runs} runs each; 'in bake' = detected within stage 2's 10 s; oracle: the SPRT "
          f"that knows the true error rates, error faults only)")
    print(f"{'fault':<22} {'req/s':>5} | {'new med':>7} {'p95':>6} {'in bake':>7} | "
          f"{'oracle':>6} {'p95':>6} {'in bake':>7} | "
          f"{'old med':>7} {'p95':>6} {'in bake':>7} | {'old: false, earlier':>19}")
    for fault in faults:
        for rate in (20.0, 200.0):
            row = _detect(runs, rate, 0.02, fault, rng, interval, policy)
            print(f"{fault.name:<22} {rate:>5g} | {row['new']} | {row['oracle']} | "
                  f"{row['old']} | {row['early']:>19.0%}", flush=True)

    print(f"\n## canary 10% errors against stable 1% from stage 2: detected within its 10 s "
          f"bake ({runs} runs per rate)")
    print(f"{'req/s':>6} {'new':>6} {'oracle':>6} {'old':>6}")
    for rate in (5.0, 20.0, 50.0, 100.0, 200.0):
        row = _detect(runs, rate, 0.01, TEN_VS_ONE, rng, interval, policy)
        print(f"{rate:>6g} {row['new_bake']:>6.0%} {row['oracle_bake']:>6.0%} "
              f"{row['old_bake']:>6.0%}", flush=True)


TEN_VS_ONE = Fault("10% vs 1%", extra_errors=0.09)
FLAGSHIP = Fault("50% errors (flagship)", error_rate=0.5, extra_errors=0.02)


def _detect(
    runs: int, rate: float, background: float, fault: Fault, rng: np.random.Generator,
    interval: float, policy: Policy,
) -> dict[str, object]:
    """Detection of one fault by relrun, the oracle and the old rule, on the same streams."""
    times: dict[str, list[float]] = {"new": [], "oracle": [], "old": []}
    bake: dict[str, int] = dict.fromkeys(times, 0)
    early = 0
    for _ in range(runs):
        r = simulate(rate, background, fault, rng, interval, policy)
        for key, out in times.items():
            value = r[key]
            if value is not None and value >= 0:
                out.append(value)
                bake[key] += value <= 10
        early += r["old"] is not None and r["old"] < 0
    row: dict[str, object] = {"early": early / runs}
    for key, out in times.items():
        row[f"{key}_bake"] = bake[key] / runs
        width = 6 if key == "oracle" else 7
        if key == "oracle" and not out:
            row[key] = f"{'-':>{width}} {'-':>6} {'-':>7}"
        else:
            row[key] = f"{_q(out, .5):>{width}} {_q(out, .95):>6} {bake[key] / runs:>7.0%}"
    return row


def attainable(runs: int, seed: int, policy: Policy) -> None:
    """What the targets need: relrun and the oracle across alpha, request rate, interval."""
    rng = np.random.default_rng(seed + 1)
    print(f"\n## attainable: the flagship fault (50% errors at 25%, 2% background), detection "
          f"seconds median / p95 ({runs} runs per row)")
    print(f"{'alpha':>6} {'req/s':>5} {'interval':>8} | {'new med':>7} {'p95':>6} {'in bake':>7} | "
          f"{'oracle':>6} {'p95':>6} {'in bake':>7}")
    for alpha in (0.01, 0.05):
        for rate in (20.0, 40.0, 80.0):
            for interval in (1.0, 0.5, 0.25):
                p = Policy(alpha=alpha, max_error_rate=policy.max_error_rate,
                           max_p95_ms=policy.max_p95_ms)
                row = _detect(runs, rate, 0.02, FLAGSHIP, rng, interval, p)
                print(f"{alpha:>6g} {rate:>5g} {interval:>8g} | {row['new']} | {row['oracle']}",
                      flush=True)
    print(f"\n## attainable: 10% vs 1% detected within the 10 s bake at 25%, interval 1 s "
          f"({runs} runs per cell; new / oracle)")
    alphas = (0.01, 0.05, 0.1, 0.2)
    print(f"{'req/s':>6} " + " ".join(f"{'alpha ' + format(a, 'g'):>15}" for a in alphas))
    for rate in (20.0, 50.0, 100.0, 200.0, 400.0):
        cells = []
        for alpha in alphas:
            p = Policy(alpha=alpha, max_error_rate=policy.max_error_rate,
                       max_p95_ms=policy.max_p95_ms)
            row = _detect(runs, rate, 0.01, TEN_VS_ONE, rng, 1.0, p)
            cells.append(f"{row['new_bake']:>6.0%} / {row['oracle_bake']:>6.0%}")
        print(f"{rate:>6g} " + " ".join(f"{c:>15}" for c in cells), flush=True)
    print("\n## information: the oracle's KL divergence per second at 25% (nats; it needs "
          "log(1/alpha) = 4.6 at alpha 0.01)")
    for name, p_c, p_s in (("flagship", 0.52, 0.02), ("10% vs 1%", 0.10, 0.01)):
        for rate in (20.0, 200.0):
            q_c, q_s, kl = ripr(p_c, p_s, 0.25, policy.max_error_rate,
                                1 + policy.error_tolerance)
            print(f"{name:<10} {rate:>5g} req/s: nearest healthy canary {q_c:.4f} vs stable "
                  f"{q_s:.4f}, {kl * rate:.3f} nats/s, log(100)/KL = "
                  f"{math.log(100) / (kl * rate):.1f} s")


def cost(samples: int = 2000) -> None:
    """CPU time of one sample in the judge (4 tests, 17-bucket histograms)."""
    policy = Policy()
    judge_ = Judge(policy, compare=True, latency="buckets")
    rng = np.random.default_rng(3)
    c = np.zeros(len(BOUNDS) + 1, dtype=np.int64)
    s = np.zeros(len(BOUNDS) + 1, dtype=np.int64)
    s += rng.multinomial(600, HEALTHY_PROBS)
    arms = []
    for i in range(samples):
        c += rng.multinomial(5, HEALTHY_PROBS)
        s += rng.multinomial(15, HEALTHY_PROBS)
        arms.append((Arm(requests=5 * i, errors=i // 10, bounds=list(LATENCY_BOUNDS_MS),
                         buckets=c.tolist()),
                     Arm(requests=15 * i, errors=i // 20, bounds=list(LATENCY_BOUNDS_MS),
                         buckets=s.tolist())))
    started = time.process_time()
    for canary, stable in arms:
        judge_.observe(canary, stable)
        judge_.breach()
    each = (time.process_time() - started) / samples
    print(f"\n## cost: {each * 1e6:.0f} us CPU per sample (observe + breach, 4 tests) in "
          f"the judge")


def _drill(args: list[str], workdir: Path, index: int) -> dict[str, object]:
    reports = workdir / f"run-{index}"
    proc = subprocess.run(
        [sys.executable, "-m", "relrun", "drill", "runbooks/release-v2.yml",
         "--report-dir", str(reports), *args],
        cwd=ROOT, capture_output=True, text=True, check=False, timeout=900,
    )
    data = json.loads((reports / "drill.json").read_text())
    return {"exit": proc.returncode, "verdict": data.get("verdict"),
            "trigger": (data.get("trigger") or {}).get("message"),
            "detection": data.get("detection_seconds"), "rto": data.get("rto_seconds"),
            "lost": (data.get("traffic") or {}).get("lost"),
            "canary_out": data.get("detection_to_canary_out_seconds")}


def sandbox(releases: int, drills: int) -> None:
    print(f"\n## real sandbox: {releases} noisy releases (2% background errors on both "
          "versions, lognormal latency median 5 ms, no fault)")
    rollbacks = 0
    with tempfile.TemporaryDirectory(prefix="relrun-bench-analysis-") as tmp:
        for i in range(releases):
            row = _drill(["--fault", "none", "--noise-errors", "0.02",
                          "--noise-latency-ms", "5"], Path(tmp), i)
            rolled = row["trigger"] is not None
            rollbacks += rolled
            print(f"release {i + 1}: exit {row['exit']} rollback {rolled} {row['trigger'] or ''}",
                  flush=True)
        print(f"rollbacks: {rollbacks}/{releases}")
        print(f"\n## real sandbox: {drills} flagship drills (50% errors at 25%, 2% noise)")
        rows = []
        for i in range(drills):
            row = _drill(["--noise-errors", "0.02"], Path(tmp), 100 + i)
            rows.append(row)
            print(f"drill {i + 1}: exit {row['exit']} verdict {row['verdict']} detection "
                  f"{row['detection']}s canary out {row['canary_out']}s RTO {row['rto']}s "
                  f"lost {row['lost']}", flush=True)
        for key in ("detection", "canary_out", "rto"):
            values = [float(r[key]) for r in rows if isinstance(r[key], int | float)]
            if values:
                print(f"median {key}: {statistics.median(values):.2f}s")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("part", nargs="?", default="offline",
                        choices=["offline", "attainable", "sandbox", "all"])
    parser.add_argument("--releases", type=int, default=2400)
    parser.add_argument("--seed", type=int, default=20)
    parser.add_argument("--interval", type=float, default=1.0)
    parser.add_argument("--alpha", type=float, default=0.01)
    parser.add_argument("--real-releases", type=int, default=10)
    parser.add_argument("--real-drills", type=int, default=5)
    args = parser.parse_args()
    policy = Policy(alpha=args.alpha, max_error_rate=0.05, max_p95_ms=5000)
    if args.part in ("offline", "all"):
        offline(args.releases, args.seed, args.interval, policy)
    if args.part in ("attainable", "offline", "all"):
        attainable(max(50, args.releases // 20), args.seed, policy)
        cost()
    if args.part in ("sandbox", "all"):
        sandbox(args.real_releases, args.real_drills)


if __name__ == "__main__":
    main()
