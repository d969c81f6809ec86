"""The sequential tests of the canary analysis: known values, and their false-alarm rate."""

from __future__ import annotations

import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from relrun.collection.ansible_collections.relrun.release.plugins.module_utils.analysis.core import (  # noqa: E501
    Arm,
    Judge,
    Policy,
)
from relrun.collection.ansible_collections.relrun.release.plugins.module_utils.analysis.stats import (  # noqa: E501
    CompareTest,
    LimitTest,
    combine,
    mixing,
)


def test_limit_test_is_the_mixture_of_binomial_likelihood_ratios() -> None:
    test = LimitTest(0.05, 0.01)
    test.update(12, 3)
    expected = sum(
        stats.binom.pmf(3, 12, p) / stats.binom.pmf(3, 12, 0.05) for p in test.alternatives
    ) / len(test.alternatives)
    assert math.exp(test.log_e) == pytest.approx(expected, rel=1e-9)


def test_limit_test_batches_multiply_like_one_stream() -> None:
    one, two = LimitTest(0.05, 0.01), LimitTest(0.05, 0.01)
    one.update(30, 4)
    two.update(10, 1)
    two.update(20, 3)
    assert one.log_e == pytest.approx(two.log_e, rel=1e-12)


def test_compare_test_is_the_noncentral_hypergeometric_likelihood_ratio() -> None:
    test = CompareTest(2.0, 0.01)
    test.update(40, 6, 120, 3)  # 9 errors in all, 6 of them on the canary
    ratios = [
        stats.nchypergeom_fisher.pmf(6, 160, 40, 9, math.exp(lp))
        / stats.nchypergeom_fisher.pmf(6, 160, 40, 9, 2.0)
        for lp in test.log_psis
    ]
    assert math.exp(test.log_e) == pytest.approx(sum(ratios) / len(ratios), rel=1e-7)


def test_at_odds_ratio_one_the_conditional_law_is_the_hypergeometric() -> None:
    test = CompareTest(1.0, 0.01)
    lp = test.log_psis[0]
    test.update(25, 4, 75, 2)
    alt = stats.nchypergeom_fisher.pmf(4, 100, 25, 6, math.exp(lp))
    central = stats.hypergeom.pmf(4, 100, 25, 6)
    assert math.exp(test.log_ratios[0]) == pytest.approx(alt / central, rel=1e-7)


def test_a_weighted_mixture_is_the_prior_weighted_average_of_likelihood_ratios() -> None:
    offsets, weights = (0.5, 2.0, 4.0), (1.0, 2.0, 5.0)
    limit = LimitTest(0.05, 0.01, offsets, weights)
    limit.update(20, 5)
    expected = sum(
        w * stats.binom.pmf(5, 20, p) / stats.binom.pmf(5, 20, 0.05)
        for w, p in zip(weights, limit.alternatives, strict=True)
    ) / sum(weights)
    assert math.exp(limit.log_e) == pytest.approx(expected, rel=1e-9)
    assert limit.alternatives[1] == pytest.approx(stats.logistic.cdf(math.log(0.05 / 0.95) + 2))
    compare = CompareTest(2.0, 0.01, offsets, weights)
    compare.update(30, 7, 90, 4)
    expected = sum(
        w * stats.nchypergeom_fisher.pmf(7, 120, 30, 11, 2.0 * math.exp(d))
        / stats.nchypergeom_fisher.pmf(7, 120, 30, 11, 2.0)
        for w, d in zip(weights, offsets, strict=True)
    ) / sum(weights)
    assert math.exp(compare.log_e) == pytest.approx(expected, rel=1e-7)


def test_mixing_rejects_a_grid_it_cannot_weigh() -> None:
    with pytest.raises(ValueError):
        mixing((0.5, 1.0), (1.0,))
    with pytest.raises(ValueError):
        mixing((0.0, 1.0), (1.0, 1.0))
    offsets, log_weights = mixing((1.0, 2.0), (1.0, 3.0))
    assert offsets == [1.0, 2.0]
    assert [math.exp(w) for w in log_weights] == pytest.approx([0.25, 0.75])


def test_combine_is_the_weighted_average_of_e_values() -> None:
    assert math.exp(combine([(0.25, math.log(8.0)), (0.75, math.log(2.0))])) == pytest.approx(3.5)
    assert math.exp(combine([(0.5, 0.0), (0.5, -math.inf)])) == pytest.approx(0.5)
    assert combine([(0.5, math.inf), (0.5, 0.0)]) == math.inf  # a limit of 0 broken


def test_the_judge_breaches_on_the_average_where_no_test_alone_would() -> None:
    judge = Judge(Policy(alpha=0.01), compare=True, latency=None)
    judge.observe(Arm(), Arm())
    judge.observe(Arm(requests=20, errors=6), Arm(requests=60, errors=0))
    limit, compare = judge.error_limit, judge.error_compare
    assert compare is not None
    # Each alone is short of the Bonferroni bound 1/(alpha/2) = 200 ...
    assert not limit.rejected and not compare.rejected
    average = (math.exp(limit.log_e) + math.exp(compare.log_e)) / 2
    assert math.exp(judge.log_e()) == pytest.approx(average, rel=1e-9)
    # ... their average is past 1/alpha = 100: the evidence of both counts.
    breach = judge.breach()
    assert breach is not None and breach["e_value"] >= breach["bound"] == 100
    assert breach["test_e_value"] < 200


def test_one_failed_request_is_never_a_verdict() -> None:
    limit, compare = LimitTest(0.05, 0.01), CompareTest(2.0, 0.01)
    limit.update(1, 1)
    compare.update(1, 1, 20, 0)
    assert not limit.rejected and not compare.rejected


def test_a_clear_regression_is_detected() -> None:
    limit, compare = LimitTest(0.05, 0.01), CompareTest(2.0, 0.01)
    for _ in range(4):
        limit.update(5, 3)
        compare.update(5, 3, 15, 0)
    assert limit.rejected and compare.rejected


def test_intervals_without_errors_or_without_an_arm_carry_no_evidence() -> None:
    compare = CompareTest(2.0, 0.01)
    compare.update(10, 0, 30, 0)
    compare.update(10, 5, 0, 0)  # stable took no traffic
    compare.update(0, 0, 30, 2)
    assert compare.log_e == pytest.approx(0.0)


def test_a_limit_of_zero_is_broken_by_the_first_error() -> None:
    test = LimitTest(0.0, 0.01)
    test.update(100, 0)
    assert not test.rejected
    test.update(1, 1)
    assert test.rejected


def _false_alarms(streams: int, seed: int, run: object) -> int:
    rng = random.Random(seed)
    return sum(1 for _ in range(streams) if run(rng))  # type: ignore[operator]


@settings(max_examples=6, deadline=None, derandomize=True)
@given(
    p=st.sampled_from([0.01, 0.05, 0.2]),
    n=st.integers(min_value=1, max_value=30),
    seed=st.integers(min_value=0, max_value=2**16),
)
def test_limit_test_false_alarms_stay_below_alpha_at_the_limit(p: float, n: int, seed: int) -> None:
    alpha, looks, streams = 0.2, 30, 200

    def run(rng: random.Random) -> bool:
        test = LimitTest(p, alpha)
        for _ in range(looks):
            test.update(n, sum(1 for _ in range(n) if rng.random() < p))
            if test.rejected:
                return True
        return False

    alarms = _false_alarms(streams, seed, run)
    # Ville: P(ever rejected) <= alpha; allow three binomial standard deviations of noise.
    assert alarms <= streams * alpha + 3 * math.sqrt(streams * alpha * (1 - alpha))


@settings(max_examples=6, deadline=None, derandomize=True)
@given(
    p_stable=st.sampled_from([0.01, 0.05, 0.3]),
    share=st.sampled_from([0.05, 0.25, 0.5]),
    seed=st.integers(min_value=0, max_value=2**16),
)
def test_compare_test_false_alarms_stay_below_alpha_at_the_tolerance(
    p_stable: float, share: float, seed: int
) -> None:
    alpha, looks, streams, psi0 = 0.2, 25, 200, 2.0
    odds = psi0 * p_stable / (1 - p_stable)
    p_canary = odds / (1 + odds)  # exactly at the tolerance: the hardest null

    def run(rng: random.Random) -> bool:
        test = CompareTest(psi0, alpha)
        for _ in range(looks):
            n = 20
            n_c = sum(1 for _ in range(n) if rng.random() < share)
            x_c = sum(1 for _ in range(n_c) if rng.random() < p_canary)
            x_s = sum(1 for _ in range(n - n_c) if rng.random() < p_stable)
            test.update(n_c, x_c, n - n_c, x_s)
            if test.rejected:
                return True
        return False

    alarms = _false_alarms(streams, seed, run)
    assert alarms <= streams * alpha + 3 * math.sqrt(streams * alpha * (1 - alpha))


@settings(max_examples=4, deadline=None, derandomize=True)
@given(
    share=st.sampled_from([0.05, 0.25, 0.5]),
    seed=st.integers(min_value=0, max_value=2**16),
)
def test_the_judge_false_alarms_stay_below_alpha_at_the_limit_and_the_tolerance(
    share: float, seed: int
) -> None:
    # The hardest healthy canary for both error tests at once: exactly at the 5% limit and
    # exactly twice stable's odds (stable at 2.56%). The average of the two e-processes is
    # judged, so this is the false-rollback rate of the whole bake.
    alpha, looks, streams = 0.2, 25, 200
    p_canary, psi0 = 0.05, 2.0
    odds = p_canary / (1 - p_canary) / psi0
    p_stable = odds / (1 + odds)
    policy = Policy(alpha=alpha, max_error_rate=p_canary, error_tolerance=psi0 - 1)

    def run(rng: random.Random) -> bool:
        judge = Judge(policy, compare=True, latency=None)
        canary, stable = Arm(), Arm()
        judge.observe(canary, stable)
        for _ in range(looks):
            n = 20
            n_c = sum(1 for _ in range(n) if rng.random() < share)
            canary = Arm(requests=canary.requests + n_c, errors=canary.errors
                         + sum(1 for _ in range(n_c) if rng.random() < p_canary))
            stable = Arm(requests=stable.requests + n - n_c, errors=stable.errors
                         + sum(1 for _ in range(n - n_c) if rng.random() < p_stable))
            judge.observe(canary, stable)
            if judge.breach() is not None:
                return True
        return False

    alarms = _false_alarms(streams, seed, run)
    assert alarms <= streams * alpha + 3 * math.sqrt(streams * alpha * (1 - alpha))
