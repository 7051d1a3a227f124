"""Reproducible streams, chunk invariance and the Gaussian copula."""

import numpy as np
import priorfiles as pf
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from simcore.inputs.priors import load_priors
from simcore.inputs.sampling import Copula, nearest_correlation, sample_drivers, uniforms


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**63), start=st.integers(0, 5000), length=st.integers(1, 300),
       split=st.integers(0, 300))
def test_any_split_of_a_stream_gives_the_same_numbers(seed, start, length, split):
    split = min(split, length)
    whole = uniforms(seed, "driver", start, start + length)
    parts = np.concatenate([uniforms(seed, "driver", start, start + split),
                            uniforms(seed, "driver", start + split, start + length)])
    assert np.array_equal(whole, parts)
    assert np.all((whole > 0) & (whole < 1))


def test_streams_differ_by_name_and_seed():
    a = uniforms(1, "a", 0, 1000)
    assert not np.array_equal(a, uniforms(1, "b", 0, 1000))
    assert not np.array_equal(a, uniforms(2, "a", 0, 1000))
    assert abs(stats.spearmanr(a, uniforms(1, "b", 0, 1000))[0]) < 0.15


def correlated_priors(tmp_path, pairs):
    drivers = pf.point_drivers(
        alg_halving_years=pf.entry("lognormal", median=0.8, low=0.4, high=1.6),
        coherent_shot_doubling_years=pf.entry("beta", alpha=2.0, beta=5.0),
        cut_break_halving_years=pf.entry("uniform", low=0.5, high=2.5),
        stall_occurs=pf.entry("bernoulli", p=0.25))
    return load_priors(pf.write(tmp_path / "c.toml", drivers, correlations=pairs))


@pytest.mark.parametrize("chunk", [1, 7, 10_000])
def test_drivers_are_identical_for_any_chunk_size(tmp_path, chunk):
    priors = correlated_priors(tmp_path, [["alg_halving_years", "cut_break_halving_years", 0.6]])
    copula = Copula.from_priors(priors)
    n = 2000 if chunk > 1 else 300
    whole = sample_drivers(priors, 11, 0, n, copula)
    pieces = [sample_drivers(priors, 11, s, min(s + chunk, n), copula) for s in range(0, n, chunk)]
    for name, values in whole.items():
        assert np.array_equal(values, np.concatenate([p[name] for p in pieces])), name


def test_copula_preserves_marginals_and_meets_rank_targets(tmp_path):
    pairs = [["alg_halving_years", "coherent_shot_doubling_years", 0.5],
             ["alg_halving_years", "cut_break_halving_years", -0.3],
             ["coherent_shot_doubling_years", "cut_break_halving_years", 0.2]]
    priors = correlated_priors(tmp_path, pairs)
    n = 100_000
    d = sample_drivers(priors, 3, 0, n, Copula.from_priors(priors))
    for a, b, rho in pairs:
        got = stats.spearmanr(d[a], d[b])[0]
        assert abs(got - rho) < 0.02, (a, b, got)
    # Marginals: each correlated driver still follows its own distribution.
    for name in ("alg_halving_years", "coherent_shot_doubling_years", "cut_break_halving_years"):
        dist = priors.drivers[name].dist
        ks = stats.kstest(d[name], lambda x, dist=dist: np.interp(
            x, dist.ppf(np.linspace(1e-6, 1 - 1e-6, 20001)), np.linspace(1e-6, 1 - 1e-6, 20001)))
        assert ks.pvalue > 1e-3, (name, ks)


def test_non_positive_definite_matrix_is_repaired_and_reported(tmp_path):
    # a ~ b, b ~ c strongly positive but a ~ c strongly negative: impossible together.
    pairs = [["alg_halving_years", "coherent_shot_doubling_years", 0.9],
             ["coherent_shot_doubling_years", "cut_break_halving_years", 0.9],
             ["alg_halving_years", "cut_break_halving_years", -0.9]]
    copula = Copula.from_priors(correlated_priors(tmp_path, pairs))
    assert copula.repair > 0.1
    assert np.linalg.eigvalsh(copula.linear).min() > 0
    assert np.allclose(np.diag(copula.linear), 1.0)


@settings(max_examples=25, deadline=None)
@given(st.integers(2, 6).flatmap(
    lambda k: st.lists(st.floats(-1, 1), min_size=k * (k - 1) // 2, max_size=k * (k - 1) // 2)
    .map(lambda v: (k, v))))
def test_nearest_correlation_is_a_valid_correlation_matrix(case):
    k, values = case
    m = np.eye(k)
    m[np.triu_indices(k, 1)] = values
    m = m + np.triu(m, 1).T
    fixed = nearest_correlation(m)
    assert np.allclose(np.diag(fixed), 1.0)
    assert np.allclose(fixed, fixed.T)
    assert np.linalg.eigvalsh(fixed).min() > -1e-10
    if np.linalg.eigvalsh(m).min() > 1e-6:
        assert np.allclose(fixed, m, atol=1e-6)  # a valid matrix is left (almost) alone
