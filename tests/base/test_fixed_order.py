"""simcore.base.fixed_order: small matrix algebra without BLAS, checked against numpy's LAPACK
results and the definitions; and the partial rank correlations built on it."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simcore.analysis.sensitivity import given as given_data
from simcore.base import fixed_order as fo

EPS = np.finfo(float).eps


def correlation_matrix(seed: int, n: int, samples: int) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal((n, samples))
    return np.atleast_2d(np.corrcoef(x))


sizes = st.integers(1, 45)
seeds = st.integers(0, 2**32 - 1)


@settings(max_examples=40, deadline=None)
@given(seeds, sizes, st.integers(0, 30))
def test_symmetric_eigen_diagonalises(seed, n, extra):
    a = correlation_matrix(seed, n, n + 1 + extra)   # at most rank n, often close to singular
    values, vectors = fo.symmetric_eigen(a)
    scale = n * EPS * max(1.0, np.abs(a).max())
    assert np.all(np.diff(values) >= 0)
    np.testing.assert_allclose(values, np.linalg.eigvalsh(a), rtol=0, atol=20 * scale)
    np.testing.assert_allclose(vectors.T @ vectors, np.eye(n), rtol=0, atol=20 * scale)
    np.testing.assert_allclose(a @ vectors, vectors * values, rtol=0, atol=20 * scale)
    np.testing.assert_allclose(fo.from_eigen(values, vectors), a, rtol=0, atol=20 * scale)


def test_symmetric_eigen_of_special_matrices():
    assert fo.symmetric_eigen(np.zeros((0, 0)))[0].shape == (0,)
    values, vectors = fo.symmetric_eigen(np.zeros((3, 3)))
    assert np.all(values == 0) and np.all(vectors == np.eye(3))
    values, _ = fo.symmetric_eigen(np.diag([3.0, -1.0, 2.0]))
    assert list(values) == [-1.0, 2.0, 3.0]
    values, _ = fo.symmetric_eigen(np.array([[1.0, 1e-300], [1e-300, 1.0]]))
    assert list(values) == [1.0, 1.0]
    values, _ = fo.symmetric_eigen(np.array([[1e300, 1e300], [1e300, 1e300]]))
    np.testing.assert_allclose(values, [0.0, 2e300], atol=1e285)
    with pytest.raises(np.linalg.LinAlgError):
        fo.symmetric_eigen(np.array([[1.0, np.nan], [np.nan, 1.0]]))


@settings(max_examples=40, deadline=None)
@given(seeds, sizes)
def test_cholesky_factors_positive_definite_matrices(seed, n):
    a = correlation_matrix(seed, n, 3 * n + 5)
    lower = fo.cholesky(a)
    assert np.all(np.triu(lower, 1) == 0) and np.all(np.diag(lower) > 0)
    np.testing.assert_allclose(lower @ lower.T, a, rtol=0, atol=10 * n * EPS)
    np.testing.assert_allclose(lower, np.linalg.cholesky(a), rtol=0, atol=1e-12)


def test_cholesky_refuses_what_is_not_positive_definite():
    for a in (np.array([[1.0, 2.0], [2.0, 1.0]]), np.zeros((2, 2)),
              np.array([[1.0, np.nan], [np.nan, 1.0]])):
        with pytest.raises(np.linalg.LinAlgError):
            fo.cholesky(a)


@settings(max_examples=30, deadline=None)
@given(seeds, st.integers(2, 30), st.integers(0, 5))
def test_pseudo_inverse_meets_the_moore_penrose_conditions(seed, n, repeated):
    x = np.random.default_rng(seed).standard_normal((n, 4 * n))
    x = np.vstack([x, x[:repeated]])              # repeated rows: a singular matrix
    a = np.corrcoef(x)
    p = fo.symmetric_pseudo_inverse(a)
    tolerance = 1e-9 * max(1.0, np.abs(p).max())
    for left, right in ((a @ p @ a, a), (p @ a @ p, p), (a @ p, (a @ p).T), (p @ a, (p @ a).T)):
        np.testing.assert_allclose(left, right, rtol=0, atol=tolerance)
    np.testing.assert_allclose(p, np.linalg.pinv(a, rtol=None), rtol=0, atol=tolerance)


def test_product_and_norm_follow_their_definitions():
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((4, 3)), np.asfortranarray(rng.standard_normal((3, 6)))
    expected = np.array([[sum(a[i, k] * b[k, j] for k in range(3)) for j in range(6)]
                         for i in range(4)])
    assert np.array_equal(fo.product(a, b), expected)     # summed in index order, exactly
    assert fo.frobenius_norm(a) == np.sqrt(sum(v * v for v in a.ravel()))
    with pytest.raises(ValueError):
        fo.product(a, a)


def test_results_do_not_depend_on_memory_layout():
    a = correlation_matrix(1, 12, 40)
    f = np.asfortranarray(a)
    for function in (fo.cholesky, fo.symmetric_pseudo_inverse,
                     lambda m: fo.symmetric_eigen(m)[1]):
        assert function(a).tobytes() == function(f).tobytes()


def _standardised(rows: np.ndarray) -> np.ndarray:
    rows = rows - rows.mean(axis=1, keepdims=True)
    return rows / np.sqrt((rows * rows).sum(axis=1, keepdims=True))


def _textbook_partial_correlations(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Correlation of the residuals of x_i and y regressed on the other drivers."""
    out = []
    for i in range(len(x)):
        others = np.vstack([np.ones(y.size), np.delete(x, i, axis=0)]).T
        residual = [v - others @ np.linalg.lstsq(others, v, rcond=None)[0] for v in (x[i], y)]
        out.append(np.corrcoef(*residual)[0, 1])
    return np.array(out)


def _partial_correlations(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    zx, zy = _standardised(x), _standardised(y[None])
    return given_data._partial_correlations(given_data.cross(zx, zx),
                                            given_data.cross(zx, zy))[:, 0]


def test_partial_correlations_are_those_of_the_residuals():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((6, 2000))
    x[1] += 0.6 * x[0]                                   # correlated drivers
    y = x[0] + 0.5 * x[1] - 0.3 * x[2] + rng.standard_normal(2000)
    np.testing.assert_allclose(_partial_correlations(x, y),
                               _textbook_partial_correlations(x, y), rtol=0, atol=1e-12)


def test_a_repeated_driver_gets_its_twins_partial_correlation_and_changes_no_other():
    """Linearly dependent drivers (here a driver twice) make the correlation matrix singular:
    the pseudo-inverse gives each twin the index the driver has alone, and every other driver
    the index it has without the repetition."""
    rng = np.random.default_rng(4)
    x = rng.standard_normal((5, 2000))
    y = x[0] + 0.5 * x[1] - 0.3 * x[2] + rng.standard_normal(2000)
    alone = _textbook_partial_correlations(x, y)
    for twin in (0, 3):
        with_twin = _partial_correlations(np.vstack([x, x[twin]]), y)
        np.testing.assert_allclose(with_twin, [*alone, alone[twin]], rtol=0, atol=1e-10)
