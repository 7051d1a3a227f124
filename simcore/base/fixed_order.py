"""Small dense linear algebra in a fixed order of operations, instead of BLAS and LAPACK.

Every number simcore stores must be the same whoever computes it: the CLI or a notebook, one
BLAS thread or several. BLAS and LAPACK do not promise that: OpenBLAS picks kernels by array
shape, thread count and CPU, and each sums in its own order (``np.linalg.pinv`` of the 43 x 43
rank-correlation matrix of a run differs in the last bits between ``OPENBLAS_NUM_THREADS=1``
and 2). The matrices on the stored path are small (the copula's correlations, a few drivers;
the drivers' rank correlations, ~50), so plain compiled loops cost microseconds to
milliseconds, and their summation order is the one written here. numba does not reassociate
or fuse floating-point operations unless asked, so the results do not depend on the CPU's
vector width either.

* :func:`cholesky`: the lower Cholesky factor (row by row, sums in increasing index order).
* :func:`symmetric_eigen`: eigenvalues and eigenvectors of a symmetric matrix by cyclic Jacobi
  rotations (a fixed sweep order; accurate to about eps x the matrix's norm).
* :func:`from_eigen`: ``V diag(values) V^T``.
* :func:`symmetric_pseudo_inverse`: the Moore-Penrose inverse of a symmetric matrix from its
  eigen-decomposition, eigenvalues at or below ``n eps max|lambda|`` counted as zero.
* :func:`product` and :func:`frobenius_norm`.
"""

from __future__ import annotations

import numpy as np
from numba import njit

_EPS = float(np.finfo(np.float64).eps)
MAX_SWEEPS = 100        # Jacobi converges quadratically: ~6-10 sweeps for n <= 100


@njit(cache=True)
def _cholesky(a, lower):  # pragma: no cover - compiled
    """Lower factor into ``lower``; returns False (``lower`` then partial) unless positive
    definite."""
    n = a.shape[0]
    for i in range(n):
        for j in range(i + 1):
            total = a[i, j]
            for k in range(j):
                total -= lower[i, k] * lower[j, k]
            if i == j:
                if not total > 0.0:     # also catches NaN
                    return False
                lower[i, i] = np.sqrt(total)
            else:
                lower[i, j] = total / lower[j, j]
    return True


def cholesky(matrix: np.ndarray) -> np.ndarray:
    """The lower-triangular L with ``L L^T = matrix`` (symmetric positive definite; only the
    lower triangle is read). Raises ``np.linalg.LinAlgError`` otherwise, as numpy does."""
    a = np.ascontiguousarray(matrix, dtype=np.float64)
    lower = np.zeros_like(a)
    if not _cholesky(a, lower):
        raise np.linalg.LinAlgError("matrix is not positive definite")
    return lower


@njit(cache=True)
def _jacobi(a, vectors, max_sweeps):  # pragma: no cover - compiled
    """Diagonalise the symmetric ``a`` in place by cyclic Jacobi rotations, accumulating them
    in ``vectors`` (the identity on entry). Pairs (p, q) are visited row by row; a pair whose
    off-diagonal entry is below eps ||A||_F / n is skipped, so the off-diagonal part ends below
    eps ||A||_F and eigenvalues are within about that of the exact ones. Returns the sweeps
    used (max_sweeps + 1 if not converged)."""
    n = a.shape[0]
    largest = 0.0
    for i in range(n):
        for j in range(n):
            largest = max(largest, abs(a[i, j]))
    norm = 0.0                  # ||A||_F / largest: no overflow for entries near 1e308
    for i in range(n):
        for j in range(n):
            norm += (a[i, j] / largest) * (a[i, j] / largest) if largest > 0.0 else 0.0
    negligible = _EPS * largest * np.sqrt(norm) / max(n, 1)
    for sweep in range(max_sweeps):
        rotated = False
        for p in range(n - 1):
            for q in range(p + 1, n):
                apq = a[p, q]
                if not abs(apq) > negligible:
                    continue
                rotated = True
                # The rotation that zeroes a[p, q] (Golub & Van Loan 2013, alg. 8.5.1), with
                # the smaller angle: t = tan(angle), |t| <= 1.
                theta = (a[q, q] - a[p, p]) / (2.0 * apq)
                if abs(theta) > 1e150:        # theta ** 2 would overflow
                    t = 0.5 / theta
                else:
                    t = 1.0 / (abs(theta) + np.sqrt(theta * theta + 1.0))
                    if theta < 0.0:
                        t = -t
                c = 1.0 / np.sqrt(t * t + 1.0)
                s = t * c
                for k in range(n):
                    akp, akq = a[k, p], a[k, q]
                    a[k, p] = c * akp - s * akq
                    a[k, q] = s * akp + c * akq
                for k in range(n):
                    apk, aqk = a[p, k], a[q, k]
                    a[p, k] = c * apk - s * aqk
                    a[q, k] = s * apk + c * aqk
                a[p, q] = 0.0
                a[q, p] = 0.0
                for k in range(n):
                    vkp, vkq = vectors[k, p], vectors[k, q]
                    vectors[k, p] = c * vkp - s * vkq
                    vectors[k, q] = s * vkp + c * vkq
        if not rotated:
            return sweep + 1
    return max_sweeps + 1


def symmetric_eigen(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Eigenvalues (ascending) and unit eigenvectors (columns) of a symmetric matrix, like
    ``np.linalg.eigh`` (eigenvectors' signs may differ). Raises ``np.linalg.LinAlgError`` if
    the rotations do not converge (never seen: they converge for every finite symmetric
    matrix) or the matrix holds NaN or infinity."""
    a = np.array(matrix, dtype=np.float64, order="C")
    if not np.isfinite(a).all():
        raise np.linalg.LinAlgError("matrix holds NaN or infinity")
    a = (a + a.T) / 2.0
    vectors = np.eye(a.shape[0])
    if _jacobi(a, vectors, MAX_SWEEPS) > MAX_SWEEPS:
        raise np.linalg.LinAlgError("Jacobi rotations did not converge")
    values = np.diag(a).copy()
    order = np.argsort(values, kind="stable")
    return values[order], np.ascontiguousarray(vectors[:, order])


@njit(cache=True)
def _from_eigen(values, vectors, out):  # pragma: no cover - compiled
    n = vectors.shape[0]
    for i in range(n):
        for j in range(i + 1):
            total = 0.0
            for k in range(values.size):
                total += vectors[i, k] * values[k] * vectors[j, k]
            out[i, j] = total
            out[j, i] = total


def from_eigen(values: np.ndarray, vectors: np.ndarray) -> np.ndarray:
    """``V diag(values) V^T`` (symmetric by construction)."""
    vectors = np.ascontiguousarray(vectors, dtype=np.float64)
    out = np.empty((vectors.shape[0], vectors.shape[0]))
    _from_eigen(np.ascontiguousarray(values, dtype=np.float64), vectors, out)
    return out


def symmetric_pseudo_inverse(matrix: np.ndarray) -> np.ndarray:
    """Moore-Penrose inverse of a symmetric matrix: ``V diag(1/lambda) V^T`` over the
    eigenvalues with |lambda| > n eps max|lambda| (the others count as zero). For a positive
    semi-definite matrix these are its singular values, and the threshold is the one
    ``np.linalg.pinv(matrix, rtol=None)`` and the array API use: below it, an eigenvalue is
    indistinguishable from rounding noise of the matrix's entries."""
    values, vectors = symmetric_eigen(matrix)
    n = values.size
    largest = float(np.abs(values).max()) if n else 0.0
    kept = np.abs(values) > n * _EPS * largest
    inverse_values = np.zeros_like(values)
    inverse_values[kept] = 1.0 / values[kept]
    return from_eigen(inverse_values, vectors)


@njit(cache=True)
def _product(a, b, out):  # pragma: no cover - compiled
    for i in range(a.shape[0]):
        for j in range(b.shape[1]):
            total = 0.0
            for k in range(a.shape[1]):
                total += a[i, k] * b[k, j]
            out[i, j] = total


def product(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a @ b``, each entry summed in increasing index order."""
    a = np.ascontiguousarray(a, dtype=np.float64)
    b = np.ascontiguousarray(b, dtype=np.float64)
    if a.shape[1] != b.shape[0]:
        raise ValueError(f"shapes {a.shape} and {b.shape} do not align")
    out = np.empty((a.shape[0], b.shape[1]))
    _product(a, b, out)
    return out


@njit(cache=True)
def _sum_of_squares(a):  # pragma: no cover - compiled
    total = 0.0
    for value in a.ravel():
        total += value * value
    return total


def frobenius_norm(matrix: np.ndarray) -> float:
    """sqrt of the sum of squared entries, in storage order (``np.linalg.norm`` of a matrix
    is a BLAS dot product)."""
    return float(np.sqrt(_sum_of_squares(np.ascontiguousarray(matrix, dtype=np.float64))))
