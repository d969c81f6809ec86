"""Anytime-valid sequential tests for canary analysis, standard library only.

Two e-processes, both fed with counts per interval (two integers per arm), both valid
however often they are looked at (Ville's inequality: under the null, the chance that an
e-process ever reaches ``1/alpha`` is at most ``alpha``):

The tests of a bake are combined by a weighted average of their e-values
(:func:`combine`), itself an e-process for "the canary is healthy in every respect".

- :class:`LimitTest`, one sample: "the canary's share of bad requests exceeds ``p0``".
  The e-value is a mixture, over a grid of alternatives ``p > p0``, of the binomial
  likelihood ratios ``prod_t (p/p0)^x_t ((1-p)/(1-p0))^(n_t-x_t)``. Each ratio is a
  martingale at ``p = p0`` and a supermartingale for any ``p < p0`` (monotone
  likelihood ratio), so the mixture is an e-process for the whole null ``p <= p0``.
- :class:`CompareTest`, two samples: "the canary's odds of a bad request exceed
  ``psi0`` times stable's". Conditional on the interval's total of bad requests
  ``k_t``, the canary's share of them follows Fisher's noncentral hypergeometric
  distribution with odds ratio ``psi`` whatever stable's own rate is (the nuisance
  drops out, as in Lindon & Malek's conditional approach to multinomial counts). The
  e-value mixes the exact conditional likelihood ratios ``psi_j`` vs ``psi0`` over a grid
  of ``psi_j > psi0``; by the same monotonicity it is an e-process for ``psi <= psi0``.

A "bad request" is a failed one (5xx, no answer) for the error tests and one slower than a
bound for the latency tests, so one machinery judges both. See docs/analysis.md.
"""

from __future__ import annotations

import math
from typing import Any

OFFSETS = (0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0, 2.5, 3.0, 3.5, 4.0, 5.0, 6.0)
"""The alternatives of each mixture, as distances from the null on the log-odds scale."""
WEIGHTS = (1.0,) * len(OFFSETS)
"""Their prior weights (normalised): see :func:`mixing`."""


def mixing(
    offsets: tuple[float, ...] | None = None, weights: tuple[float, ...] | None = None
) -> tuple[list[float], list[float]]:
    """The mixture's alternatives (log-odds distances > 0) and their log prior weights."""
    if offsets is None:
        offsets, weights = OFFSETS, WEIGHTS if weights is None else weights
    elif weights is None:
        weights = (1.0,) * len(offsets)
    if len(offsets) != len(weights) or not offsets or min(offsets) <= 0 or min(weights) <= 0:
        raise ValueError("mixture: as many positive offsets as positive weights")
    total = sum(weights)
    return list(offsets), [math.log(w / total) for w in weights]


def logsumexp(values: list[float]) -> float:
    """``log(sum(exp(v)))`` without overflow (``-inf`` for an empty list)."""
    top = max(values, default=-math.inf)
    if top == -math.inf:
        return -math.inf
    if top == math.inf:
        return math.inf
    return top + math.log(sum(math.exp(v - top) for v in values))


def log_choose(n: int, k: int) -> float:
    """``log C(n, k)``."""
    return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)


def _logit(p: float) -> float:
    return math.log(p / (1 - p))


def _expit(z: float) -> float:
    return 1 / (1 + math.exp(-z))


def _mixture(log_weights: list[float], log_ratios: list[float]) -> float:
    return logsumexp([w + r for w, r in zip(log_weights, log_ratios, strict=True)])


class LimitTest:
    """Anytime-valid test of ``H0: p <= p0`` from batches ``(n, x)`` (x bad of n).

    Attributes:
        p0: the limit (a share).
        alpha: the test's level; it rejects once the e-value reaches ``1/alpha``.
    """

    def __init__(
        self, p0: float, alpha: float, offsets: tuple[float, ...] | None = None,
        weights: tuple[float, ...] | None = None,
    ) -> None:
        self.p0 = p0
        self.alpha = alpha
        self.n = 0
        self.x = 0
        self.alternatives: list[float] = []
        deltas, self.log_weights = mixing(offsets, weights)
        if 0 < p0 < 1:
            base = _logit(p0)
            self.alternatives = [_expit(base + d) for d in deltas]
        self.log_ratios = [0.0] * len(self.alternatives)
        self._impossible = False  # a bad request seen under a limit of 0

    def update(self, n: int, x: int) -> None:
        """Add one interval: ``n`` requests, ``x`` of them bad."""
        if n <= 0:
            return
        x = min(max(x, 0), n)
        self.n += n
        self.x += x
        if self.p0 <= 0:
            self._impossible = self._impossible or x > 0
            return
        if self.p0 >= 1:
            return
        p0 = self.p0
        for j, p in enumerate(self.alternatives):
            self.log_ratios[j] += x * math.log(p / p0) + (n - x) * math.log((1 - p) / (1 - p0))

    @property
    def log_e(self) -> float:
        """Log of the e-value (0 before any data)."""
        if self._impossible:
            return math.inf
        if not self.log_ratios:
            return 0.0
        return _mixture(self.log_weights, self.log_ratios)

    @property
    def rejected(self) -> bool:
        """True once the data show ``p > p0`` with confidence ``1 - alpha``."""
        return self.log_e >= math.log(1 / self.alpha)


class CompareTest:
    """Anytime-valid test of ``H0: odds(canary) <= psi0 * odds(stable)``.

    Fed per interval with ``(n_canary, x_canary, n_stable, x_stable)``. An interval without
    bad requests, or without requests on either arm, carries no information about the
    ratio and leaves the e-value unchanged.

    Attributes:
        psi0: the tolerated odds ratio (1 + relative tolerance).
        alpha: the test's level.
    """

    def __init__(
        self, psi0: float, alpha: float, offsets: tuple[float, ...] | None = None,
        weights: tuple[float, ...] | None = None,
    ) -> None:
        self.psi0 = psi0
        self.alpha = alpha
        self.log_psi0 = math.log(psi0)
        deltas, self.log_weights = mixing(offsets, weights)
        self.log_psis = [self.log_psi0 + d for d in deltas]
        self.log_ratios = [0.0] * len(deltas)
        self.canary = [0, 0]  # requests, bad
        self.stable = [0, 0]

    def update(self, n_c: int, x_c: int, n_s: int, x_s: int) -> None:
        """Add one interval's counts per arm."""
        x_c = min(max(x_c, 0), max(n_c, 0))
        x_s = min(max(x_s, 0), max(n_s, 0))
        self.canary[0] += max(n_c, 0)
        self.canary[1] += x_c
        self.stable[0] += max(n_s, 0)
        self.stable[1] += x_s
        k = x_c + x_s
        if k == 0 or n_c <= 0 or n_s <= 0:
            return
        low, high = max(0, k - n_s), min(k, n_c)
        if low == high:
            return  # the split of bad requests is forced: no information
        base = [log_choose(n_c, y) + log_choose(n_s, k - y) for y in range(low, high + 1)]

        def log_norm(log_psi: float) -> float:
            return logsumexp([b + (low + i) * log_psi for i, b in enumerate(base)])

        norm0 = log_norm(self.log_psi0)
        for j, log_psi in enumerate(self.log_psis):
            self.log_ratios[j] += x_c * (log_psi - self.log_psi0) - (log_norm(log_psi) - norm0)

    @property
    def log_e(self) -> float:
        """Log of the e-value (0 before any informative interval)."""
        return _mixture(self.log_weights, self.log_ratios)

    @property
    def rejected(self) -> bool:
        """True once the canary is shown worse than stable beyond the tolerance."""
        return self.log_e >= math.log(1 / self.alpha)


def combine(parts: list[tuple[float, float]]) -> float:
    """Log of the weighted average ``sum_i w_i e_i`` of e-values given as ``(w_i, log e_i)``.

    The weights must sum to at most 1. An average of test supermartingales (each one's
    expectation at most 1 under a healthy canary, given the past) is one, so the average
    reaching ``1/alpha`` is a level-``alpha`` test of "every null holds" by Ville's
    inequality, as a Bonferroni split ("some ``e_i`` reaches ``1/(w_i alpha)``") is; the
    average always reaches its bound no later, and it adds evidence that several tests
    each hold in part (the error limit and the comparison both see the canary's errors).
    """
    return logsumexp([math.log(w) + log_e for w, log_e in parts if w > 0])


def e_value(log_e: float) -> float:
    """The e-value for a report: capped so JSON never holds infinity."""
    return round(math.exp(min(log_e, 700.0)), 3) if log_e > -math.inf else 0.0


def evidence(test: LimitTest | CompareTest) -> dict[str, Any]:
    """What a report shows of a test: its e-value against its bound ``1/alpha``.

    For a test averaged with others (see :func:`combine`), ``alpha`` is its weight times
    the bake's alpha, so the bound is where this test alone decides.
    """
    return {"e_value": e_value(test.log_e), "bound": round(1 / test.alpha, 3)}
