"""Densities of prior families (simcore reweight's density ratios): against scipy where it has
the family, against the sampler's own ppf where it has not (the split lognormal), and the
Gaussian copula's density against scipy's multivariate normal."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, special, stats

from simcore.inputs.densities import (
    cdf,
    gaussian_copula_log_density,
    log_density,
    support,
    support_values,
)
from simcore.inputs.distributions import (
    Bernoulli,
    Beta,
    Lognormal,
    LogUniform,
    Normal,
    Pert,
    Regimes,
    Triangular,
    Uniform,
    scipy_reference,
)
from simcore.inputs.sampling import Copula

# 40 points: not the median, where a split lognormal's density has its kink.
U = np.linspace(0.001, 0.999, 40)


def _families():
    yield Normal(family="normal", mean=1.0, sd=2.0)
    yield Lognormal(family="lognormal", median=3.0, low=1.0, high=20.0)   # split (asymmetric)
    yield Lognormal(family="lognormal", low=0.5, high=2.0)
    yield LogUniform(family="loguniform", low=0.1, high=30.0)
    yield Uniform(family="uniform", low=-1.0, high=4.0)
    yield Triangular(family="triangular", low=0.0, mode=1.0, high=5.0)
    yield Pert(family="pert", low=0.0, mode=2.0, high=10.0)
    yield Beta(family="beta", alpha=2.0, beta=5.0)


def test_density_is_the_derivative_of_the_cdf_and_cdf_inverts_ppf():
    for dist in _families():
        x = dist.ppf(U)
        # cdf(ppf(u)) = u (the sampler's tabulated beta/PERT ppf within its table error)
        assert np.allclose(cdf(dist, x), U, atol=2e-6), dist.family
        step = 1e-6 * np.maximum(np.abs(x), 1.0)
        slope = (cdf(dist, x + step) - cdf(dist, x - step)) / (2 * step)
        assert np.allclose(np.exp(log_density(dist, x)), slope, rtol=1e-4), dist.family


def test_split_lognormal_density_integrates_to_one():
    dist = Lognormal(family="lognormal", median=3.0, low=1.0, high=20.0)
    def density(v):
        return math.exp(log_density(dist, np.array([v]))[0])
    below, _ = integrate.quad(density, 0, 3.0, limit=200)
    above, _ = integrate.quad(density, 3.0, np.inf, limit=200)
    # Half the mass on each side of the median, whatever the two spreads.
    assert abs(below - 0.5) < 1e-6 and abs(above - 0.5) < 1e-6


def test_scipy_families_agree_with_scipy():
    for dist in _families():
        reference = scipy_reference(dist)
        if reference is None:
            continue
        x = dist.ppf(U)
        assert np.allclose(log_density(dist, x), reference.logpdf(x), rtol=1e-10, atol=1e-12)


def test_density_outside_support_is_zero_and_support_bounds_the_draws():
    for dist in _families():
        low, high = support(dist)
        draws = dist.ppf(np.array([1e-12, 1 - 1e-12]))
        assert low <= draws.min() and draws.max() <= high
        if math.isfinite(low):
            assert log_density(dist, np.array([low - 1.0]))[0] == -np.inf


def test_discrete_masses():
    regimes = Regimes(family="regimes", choices=[
        {"name": "a", "value": 1.0, "p": 0.2}, {"name": "b", "value": 2.0, "p": 0.5},
        {"name": "c", "value": 1.0, "p": 0.3}])
    assert np.allclose(np.exp(log_density(regimes, np.array([1.0, 2.0, 3.0]))), [0.5, 0.5, 0.0])
    assert support_values(regimes) == {1.0, 2.0}
    coin = Bernoulli(family="bernoulli", p=0.25)
    assert np.allclose(np.exp(log_density(coin, np.array([0.0, 1.0]))), [0.75, 0.25])


@settings(max_examples=40, deadline=None)
# |rho| < 0.5: diagonally dominant, so positive definite (no repair, well conditioned).
@given(st.lists(st.floats(-0.49, 0.49), min_size=3, max_size=3), st.integers(0, 2**31))
def test_gaussian_copula_density_is_scipy_multivariate_normal_over_its_marginals(rhos, seed):
    names = ("a", "b", "c")
    correlations = {("a", "b"): rhos[0], ("a", "c"): rhos[1], ("b", "c"): rhos[2]}

    class Priors:
        pass
    priors = Priors()
    priors.correlations = correlations
    copula = Copula.from_priors(priors)
    assert copula.names == names
    z = np.random.default_rng(seed).normal(size=(200, 3))
    expected = (stats.multivariate_normal(cov=copula.linear, allow_singular=True).logpdf(z)
                - stats.norm.logpdf(z).sum(axis=1))
    got = gaussian_copula_log_density([z[:, i] for i in range(3)], copula.cholesky)
    assert np.allclose(got, expected, rtol=1e-8, atol=1e-8)
    # Independence: density 1 everywhere.
    identity = np.eye(3)
    assert np.allclose(gaussian_copula_log_density([z[:, i] for i in range(3)], identity), 0.0)
    assert np.all(np.isfinite(special.ndtr(z)))
