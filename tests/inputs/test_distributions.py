"""Every family's sampled quantiles match its specification within Monte Carlo error."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter
from scipy import special

from simcore.inputs.distributions import AnyFamily, Beta, Pert, scipy_reference
from simcore.inputs.sampling import uniforms

N = 200_000
QS = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)
family = TypeAdapter(AnyFamily).validate_python


def draws(dist, name="x", seed=7):
    return dist.ppf(uniforms(seed, name, 0, N))


def assert_quantiles_match(sample, ppf, qs=QS, z=4.5):
    """The sample q-quantile lies between the specified quantiles at q -+ z standard errors of
    the empirical CDF: a distribution-free Monte Carlo tolerance."""
    for q in qs:
        se = math.sqrt(q * (1 - q) / sample.size)
        lo, hi = ppf(max(q - z * se, 1e-12)), ppf(min(q + z * se, 1 - 1e-12))
        got = np.quantile(sample, q)
        assert lo - 1e-12 <= got <= hi + 1e-12, (q, lo, got, hi)


CONTINUOUS = [
    {"family": "normal", "mean": 3.0, "sd": 2.0},
    {"family": "normal", "low": 1.0, "high": 5.0, "interval": 0.8},
    {"family": "lognormal", "median": 2.0, "low": 1.0, "high": 4.0},
    {"family": "lognormal", "low": 0.01, "high": 100.0},
    {"family": "loguniform", "low": 1e-3, "high": 1e5},
    {"family": "uniform", "low": -2.0, "high": 7.0},
    {"family": "triangular", "low": 1.0, "mode": 1.5, "high": 3.0},
    {"family": "triangular", "low": 0.0, "mode": 0.0, "high": 1.0},
    {"family": "pert", "low": 2.0, "mode": 3.0, "high": 10.0},
    {"family": "beta", "alpha": 1.5, "beta": 15.0},
    {"family": "beta", "alpha": 0.3, "beta": 0.5},
    {"family": "beta", "alpha": 3.0, "beta": 2.0, "low": 10.0, "high": 20.0},
]


@pytest.mark.parametrize("spec", CONTINUOUS, ids=lambda s: s["family"])
def test_continuous_quantiles_match_scipy(spec):
    dist = family(spec)
    ref = scipy_reference(dist)
    assert ref is not None
    assert_quantiles_match(draws(dist), ref.ppf)


@pytest.mark.parametrize("interval", [0.9, 0.8, 0.5])
def test_split_lognormal_honours_all_three_stated_quantiles(interval):
    dist = family({"family": "lognormal", "median": 2.0, "low": 1.5, "high": 8.0,
                   "interval": interval})
    sample = draws(dist)
    tail = (1 - interval) / 2
    for q, stated in ((tail, 1.5), (0.5, 2.0), (1 - tail, 8.0)):
        p = np.mean(sample <= stated)
        assert abs(p - q) < 4.5 * math.sqrt(q * (1 - q) / N), (q, p)
    # and the spec's own quantile function gives the stated values exactly
    assert dist.quantile(tail) == pytest.approx(1.5, rel=1e-12)
    assert dist.quantile(1 - tail) == pytest.approx(8.0, rel=1e-12)


def test_fixed_is_constant():
    assert np.all(draws(family({"family": "fixed", "value": 5400})) == 5400)


@pytest.mark.parametrize("p", [0.0, 0.25, 0.9, 1.0])
def test_bernoulli_frequency(p):
    sample = draws(family({"family": "bernoulli", "p": p}))
    assert set(np.unique(sample)) <= {0.0, 1.0}
    assert abs(sample.mean() - p) <= 4.5 * math.sqrt(p * (1 - p) / N) + 1e-12


def test_regime_frequencies():
    choices = [{"name": "a", "value": 0.25, "p": 0.3}, {"name": "b", "value": 0.75, "p": 0.5},
               {"name": "c", "value": 2.0, "p": 0.2}]
    sample = draws(family({"family": "regimes", "choices": choices}))
    for choice in choices:
        share = np.mean(sample == choice["value"])
        q = choice["p"]
        assert abs(share - q) <= 4.5 * math.sqrt(q * (1 - q) / N)


@pytest.mark.parametrize("a,b", [(1.5, 15.0), (0.3, 0.5), (4.0, 4.0), (50.0, 2.0)])
def test_tabulated_beta_ppf_is_close_to_the_exact_one(a, b):
    dist = family({"family": "beta", "alpha": a, "beta": b})
    u = np.concatenate([uniforms(1, "t", 0, 50_000), [1e-15, 1e-9, 0.5, 1 - 1e-9]])
    exact = special.betaincinv(a, b, u)
    assert np.max(np.abs(dist.ppf(u) - exact) / np.maximum(exact, 1e-300)) < 1e-3
    core = (u > 1e-6) & (u < 1 - 1e-6)
    assert np.max(np.abs(dist.ppf(u[core]) - exact[core])) < 1e-6


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(min_value=2.0**-53, max_value=1.0 - 2.0**-53), min_size=1,
                max_size=200),
       st.sampled_from(["beta", "pert"]))
def test_compiled_table_lookup_is_bit_identical_to_numpy_interp(us, family):
    from scipy import special

    from simcore.inputs.distributions import _TABLE_Z
    from simcore.inputs.normal_scores import interp_normal_scores

    dist = (Beta(family="beta", alpha=0.4, beta=0.7) if family == "beta"
            else Pert(family="pert", low=1.0, mode=2.0, high=9.0))
    # The extremes, the knots themselves and the values between are where an index computed
    # from the spacing could differ from numpy's binary search.
    u = np.concatenate([us, special.ndtr(_TABLE_Z[::512]), [2.0**-53, 0.5, 1.0 - 2.0**-53]])
    expected = np.interp(special.ndtri(u), _TABLE_Z, dist._table)
    np.testing.assert_array_equal(interp_normal_scores(u, _TABLE_Z, dist._table), expected)


@given(low=st.floats(1e-3, 1e3), width=st.floats(1e-6, 1e3), family=st.sampled_from(
    ["loguniform", "uniform"]))
def test_bounded_families_never_draw_outside_their_stated_bounds(low, width, family):
    # exp(log(24)) is 24.000000000000004: without clipping a (0, 24]-hour driver was rejected.
    high = low + width
    dist = TypeAdapter(AnyFamily).validate_python({"family": family, "low": low, "high": high})
    smallest, largest = dist.draw_range()
    assert low <= smallest <= largest <= high


def test_loguniform_reaching_24_stays_within_24():
    dist = TypeAdapter(AnyFamily).validate_python(
        {"family": "loguniform", "low": 9.30572040929699, "high": 24.0})
    assert dist.draw_range()[1] <= 24.0


@settings(max_examples=60, deadline=None)
@given(a=st.floats(0.3, 60.0), b=st.floats(0.3, 60.0))
def test_beta_table_is_finite_and_monotone_even_where_scipy_gives_up(a, b):
    # scipy's betaincinv(1.03125, 0.75, u) is NaN for u < 6e-17; such a prior was rejected as
    # "not finite" before the tail fallback.
    dist = family({"family": "beta", "alpha": a, "beta": b, "low": 0.001, "high": 0.002})
    table = dist._table
    assert np.isfinite(table).all()
    assert np.all(np.diff(table) >= 0)
    assert table[0] >= 0.001 and table[-1] <= 0.002


def test_beta_tail_fallback_agrees_with_the_exact_ppf_where_both_exist():
    from simcore.inputs.distributions import _unit_beta_ppf
    a, b = 1.03125, 0.75
    u = np.array([2e-16, 1e-15, 1e-12])           # betaincinv still converges here
    tail = np.exp((np.log(u * a) + special.betaln(a, b)) / a)
    assert np.allclose(_unit_beta_ppf(a, b, u), tail, rtol=1e-6)
    assert np.isfinite(_unit_beta_ppf(a, b, np.array([5e-17]))).all()
