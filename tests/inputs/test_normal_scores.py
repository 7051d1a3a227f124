"""The compiled normal scores and the sampler's compiled steps give exactly the floats of the
numpy/scipy expressions they replace (so runs made before them verify bit for bit)."""

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from scipy import special

from simcore.inputs.normal_scores import normal_scores, split_lognormal_ppf
from simcore.inputs.sampling import stream_key, uniforms

U_MIN = 2.0**-53


def _every_region(rng: np.random.Generator) -> np.ndarray:
    """Uniforms covering each branch of Cephes ndtri: the centre, both tails to exp(-32) and
    beyond it (down to subnormals), the branch points, the sampler's extremes and its grid."""
    steps = np.arange(1, 4096) + 0.5
    return np.concatenate([
        rng.random(400_000),
        np.exp(-rng.random(100_000) * 745.0),          # lower tails, through exp(-32)
        -np.expm1(-rng.random(100_000) * 36.0),        # upper tail as close to 1 as doubles go
        steps * 2.0**-52, 1.0 - steps * 2.0**-52,      # the sampler's finest steps at both ends
        [0.0, 1.0, 0.5, 0.13533528323661269189, 1.0 - 0.13533528323661269189,
         np.exp(-32.0), 5e-324, U_MIN, 1.0 - U_MIN, np.nextafter(1.0, 0.0)],
    ])


def test_normal_scores_are_bit_identical_to_scipy_in_every_branch():
    u = _every_region(np.random.default_rng(20261201))
    np.testing.assert_array_equal(normal_scores(u).view(np.int64),
                                  special.ndtri(u).view(np.int64))


@given(st.lists(st.floats(allow_nan=True, allow_infinity=True), min_size=1, max_size=50))
def test_normal_scores_agree_with_scipy_on_any_float_including_invalid_ones(values):
    u = np.array(values)
    with np.errstate(invalid="ignore"):
        expected = special.ndtri(u)
    np.testing.assert_array_equal(normal_scores(u), expected)   # NaN where scipy gives NaN


@given(log_median=st.floats(-50.0, 50.0), sigma_below=st.floats(1e-6, 10.0),
       sigma_above=st.floats(1e-6, 10.0))
def test_split_lognormal_is_bit_identical_to_the_numpy_expression(log_median, sigma_below,
                                                                  sigma_above):
    u = _every_region(np.random.default_rng(3))[::50]
    u = u[(u > 0.0) & (u < 1.0)]
    z = special.ndtri(u)
    with np.errstate(over="ignore"):
        expected = np.exp(log_median + z * np.where(z < 0, sigma_below, sigma_above))
        got = split_lognormal_ppf(u, log_median, sigma_below, sigma_above)
    np.testing.assert_array_equal(got, expected)


@given(seed=st.integers(0, 2**63), start=st.integers(0, 10_000), length=st.integers(1, 2000))
def test_uniforms_are_the_numpy_conversion_of_the_raw_philox_words(seed, start, length):
    bits = np.random.Philox(stream_key(seed, "driver"))
    raw = bits.random_raw(start + length)[start:]
    expected = ((raw >> np.uint64(12)).astype(np.float64) + 0.5) * 2.0**-52
    np.testing.assert_array_equal(uniforms(seed, "driver", start, start + length), expected)


def test_where_the_compiled_ndtri_differs_from_scipy_scipy_is_used(monkeypatch):
    """On a platform whose scipy rounds differently (fused multiply-adds), the three functions
    fall back to scipy's ufunc and the numpy expressions they replace."""
    from simcore.inputs import normal_scores as ns
    from simcore.inputs.distributions import _TABLE_Z, Beta

    monkeypatch.setattr(ns, "_MATCHES_SCIPY", False)
    u = _every_region(np.random.default_rng(5))[::20]
    u = u[(u > 0.0) & (u < 1.0)]
    z = special.ndtri(u)
    np.testing.assert_array_equal(ns.normal_scores(u), z)
    np.testing.assert_array_equal(ns.split_lognormal_ppf(u, 1.0, 0.5, 2.0),
                                  np.exp(1.0 + z * np.where(z < 0, 0.5, 2.0)))
    table = Beta(family="beta", alpha=0.4, beta=0.7)._table
    np.testing.assert_array_equal(ns.interp_normal_scores(u, _TABLE_Z, table),
                                  np.interp(z, _TABLE_Z, table))
