"""Generate-and-verify (docs/model.md 2.7) in closed form, in both backends: the chance a
shipped unit is bad P(k) = B + a^k (1 - B) with a = p r, B = p (1 - r) / (1 - a), and the
expected takes E(k) = (1 - a^k) / (1 - a) at the fewest takes reaching the tolerated share."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simcore.model import kernel, reference

probabilities = st.floats(1e-6, 1.0)
recalls = st.floats(0.0, 1.0)
takes = st.floats(1.0, 200.0)


def both(p: float, r: float, k: float, q: float) -> tuple[tuple[float, float], ...]:
    """(P(k), E(k*)) from each backend, as values."""
    with np.errstate(divide="ignore"):
        args = (math.log2(p), float(np.log2(1.0 - r)), math.log2(k), math.log2(q))
    ref = reference.verified_error(*(np.array([a]) for a in args))
    lg_p, lg_miss, lg_k, lg_q = args
    ker = kernel._verified_error(kernel._odds(lg_p), kernel._odds(lg_miss), 2.0 ** lg_k,
                                 2.0 ** lg_q, lg_q)
    return tuple((2.0 ** float(np.asarray(e).ravel()[0]), 2.0 ** float(np.asarray(x).ravel()[0]))
                 for e, x in (ref, ker))


def closed_form(p: float, r: float, k: float) -> tuple[float, float]:
    a = p * r
    floor = 0.0 if a == 1.0 else p * (1.0 - r) / (1.0 - a)
    expected = k if a == 1.0 else (1.0 - a ** k) / (1.0 - a)
    return floor + a ** k * (1.0 - floor), expected


TINY = 1e-300   # a tolerated share no number of takes reaches: the maker takes all k


@settings(max_examples=200, deadline=None)
@given(p=probabilities, r=recalls, k=takes)
def test_the_error_and_the_takes_are_the_closed_form(p, r, k):
    error, expected = closed_form(p, r, k)
    for got_error, got_takes in both(p, r, k, TINY):
        assert got_error == pytest.approx(error, rel=1e-9, abs=1e-300)
        assert got_takes == pytest.approx(max(expected, 1.0), rel=1e-9)


@settings(max_examples=100, deadline=None)
@given(p=probabilities, k=takes)
def test_limits_no_reviewer_a_perfect_one_and_one_take(p, k):
    for error, expected in both(p, 0.0, k, TINY):       # r = 0: every take ships as it is
        assert error == pytest.approx(p, rel=1e-12) and expected == pytest.approx(1.0)
    for error, _ in both(p, 1.0, k, TINY):              # r = 1: only k bad takes in a row ship
        assert error == pytest.approx(p ** k, rel=1e-9, abs=1e-300)
    for r in (0.0, 0.3, 0.9, 1.0):                      # k = 1: the raw probability
        for error, expected in both(p, r, 1.0, TINY):
            assert error == pytest.approx(p, rel=1e-12) and expected == pytest.approx(1.0)


@settings(max_examples=100, deadline=None)
@given(p=st.floats(1e-3, 0.999), r=st.floats(0.01, 0.999), k=takes, more=st.floats(1.01, 10.0))
def test_more_takes_and_a_better_reviewer_ship_fewer_errors_and_cost_more_takes(p, r, k, more):
    for backend in range(2):
        error, expected = both(p, r, k, TINY)[backend]
        error_more, expected_more = both(p, r, k * more, TINY)[backend]
        assert error_more <= error * (1 + 1e-12)
        assert expected_more >= expected * (1 - 1e-12)      # buying quality costs takes
        error_better, _ = both(p, min(r * more, 1.0), k, TINY)[backend]
        assert error_better <= error * (1 + 1e-12)


@settings(max_examples=200, deadline=None)
@given(p=st.floats(1e-4, 0.999), r=st.floats(0.01, 1.0), k=takes, share=st.floats(0.0, 1.0))
def test_the_maker_takes_the_fewest_takes_that_reach_the_tolerated_share(p, r, k, share):
    a = p * r
    floor = 0.0 if a == 1.0 else p * (1.0 - r) / (1.0 - a)
    q = floor + share * (p - floor)           # between what takes can reach and the raw rate
    if q <= 0.0:
        return
    for error, expected in both(p, r, k, q):
        if q >= p:
            assert expected == pytest.approx(1.0)
            continue
        if floor >= q or closed_form(p, r, k)[0] > q * (1 + 1e-9):   # out of reach: all k
            assert expected == pytest.approx(closed_form(p, r, k)[1], rel=1e-9)
            continue
        # k*: P(k*) = q, and E at k*.
        k_star = math.log((q - floor) / (1.0 - floor)) / math.log(a)
        assert expected == pytest.approx(closed_form(p, r, max(k_star, 1.0))[1], rel=1e-6)
        assert error <= q * (1 + 1e-9)


@settings(max_examples=300, deadline=None)
@given(p=probabilities, r=recalls, k=takes, fewer=st.floats(0.0, 1.0), q=st.floats(1e-9, 1.0))
def test_fewer_takes_from_a_verified_pair_are_its_evaluation_bit_for_bit(p, r, k, fewer, q):
    """The director's evaluation reuses the team's k* when it fits his fewer takes: the
    shortcut must give exactly what evaluating with his K does."""
    with np.errstate(divide="ignore"):
        pair = kernel._verification(kernel._odds(math.log2(p)),
                                    kernel._odds(float(np.log2(1.0 - r))))
    fewer_takes = 1.0 + fewer * (k - 1.0)
    lg_q = math.log2(q)
    team = kernel._verified(pair, k, q, lg_q)
    assert kernel._verified_with_fewer(pair, team, fewer_takes) == \
        kernel._verified(pair, fewer_takes, q, lg_q)[:2]


lg_terms = st.one_of(st.floats(-2000.0, 2000.0), st.floats(-2.0 ** -18, 2.0 ** -18),
                     st.sampled_from([0.0, -0.0, np.inf, -np.inf, 2.0 ** -20, -(2.0 ** -20)]))


@settings(max_examples=500, deadline=None)
@given(x=lg_terms, y=lg_terms, apart=st.one_of(st.none(), st.floats(79.0, 81.0)))
def test_logaddexp2_is_numpys_bit_for_bit(x, y, apart):
    """The kernel skips logaddexp2's log1p when one term is negligible; numpy's result must
    not move by a bit, near the cut-off included."""
    if apart is not None:
        y = x - apart
    with np.errstate(invalid="ignore"):
        expected = np.logaddexp2(x, y)
    got = kernel._logaddexp2(x, y)
    assert np.array_equal(np.float64(got), expected, equal_nan=True)
    assert np.signbit(got) == np.signbit(expected)
