"""Reproducible, chunkable sampling of drivers.

Each driver (and each auxiliary noise column the model needs) has its own Philox stream, keyed
by the run seed and the stream's *name*. Draw ``j`` of a stream is always the ``j``-th 64-bit
output of that stream, found by advancing the counter, so a chunk ``[start, stop)`` gets the
same numbers whatever the chunk size, worker count or order. Keying by name (not position)
means adding a driver to a prior file leaves every other driver's draws unchanged.

Uniforms become values only through each family's inverse CDF, after an optional Gaussian
copula has correlated them.
"""

from __future__ import annotations

import os
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from numba import njit
from scipy import special

from ..base import fixed_order
from .priors import PriorSet

_WORDS_PER_COUNTER = 4  # Philox4x64 yields four 64-bit words per counter increment.
_TWO_POW_MINUS_52 = 2.0**-52
_U_MIN = 2.0**-53


def stream_key(seed: int, name: str) -> np.random.SeedSequence:
    return np.random.SeedSequence([int(seed) & 0xFFFFFFFFFFFFFFFF, zlib.crc32(name.encode())])


def uniforms(seed: int, name: str, start: int, stop: int,
             out: np.ndarray | None = None) -> np.ndarray:
    """Draws ``start..stop-1`` of the named stream, as floats strictly inside (0, 1) (into
    ``out`` if given)."""
    bits = np.random.Philox(stream_key(seed, name))
    bits.advance(start // _WORDS_PER_COUNTER)
    skip = start % _WORDS_PER_COUNTER
    raw = bits.random_raw(stop - start + skip)[skip:]
    out = np.empty(raw.size) if out is None else out
    if out.shape != raw.shape:   # compiled code does not check bounds
        raise ValueError(f"out has shape {out.shape}, need {raw.shape}")
    _unit_floats(raw, out)
    return out


@njit(cache=True, nogil=True)
def _unit_floats(raw, out):
    # 52 random bits and a half-step offset: the largest value is 1 - 2**-53, which float64
    # represents exactly (with 53 bits it would round up to 1.0), the smallest 2**-53; so u is
    # never 0 or 1 and every inverse CDF stays finite. (Every step is exact: one compiled pass
    # instead of numpy's four gives the same floats.)
    for i in range(raw.size):
        out[i] = (float(raw[i] >> np.uint64(12)) + 0.5) * _TWO_POW_MINUS_52


def nearest_correlation(matrix: np.ndarray, tol: float = 1e-10, max_iter: int = 500) -> np.ndarray:
    """Higham's (2002) alternating projections: the nearest positive semi-definite matrix with
    unit diagonal. A small eigenvalue floor keeps the result usable by a Cholesky factor.
    Eigen-decompositions, products and norms in a fixed order (:mod:`.fixed_order`): the
    repaired matrix feeds every correlated draw."""
    floor = 1e-8
    y = matrix.copy()
    correction = np.zeros_like(matrix)
    for _ in range(max_iter):
        r = y - correction
        values, vectors = fixed_order.symmetric_eigen(r)
        x = fixed_order.from_eigen(np.maximum(values, floor), vectors)
        correction = x - r
        previous, y = y, x.copy()
        np.fill_diagonal(y, 1.0)
        if fixed_order.frobenius_norm(y - previous) <= tol * fixed_order.frobenius_norm(y):
            break
    return (y + y.T) / 2.0


@dataclass(frozen=True)
class Copula:
    """Gaussian copula over a subset of drivers, built from target rank correlations."""

    names: tuple[str, ...]
    target_rank: np.ndarray      # the Spearman correlations asked for
    linear: np.ndarray           # the normal-score correlation actually used
    cholesky: np.ndarray
    repair: float                # largest absolute change made by the repair (0 if none)

    @classmethod
    def from_priors(cls, priors: PriorSet) -> Copula | None:
        if not priors.correlations:
            return None
        names = tuple(sorted({n for pair in priors.correlations for n in pair}))
        index = {n: i for i, n in enumerate(names)}
        rank = np.eye(len(names))
        for (a, b), rho in priors.correlations.items():
            rank[index[a], index[b]] = rank[index[b], index[a]] = rho
        linear = 2.0 * np.sin(np.pi * rank / 6.0)
        np.fill_diagonal(linear, 1.0)
        repair = 0.0
        # Eigenvalues and the Cholesky factor in a fixed order, not LAPACK: L multiplies every
        # correlated draw, so its bits must not depend on the BLAS build or thread count.
        if fixed_order.symmetric_eigen(linear)[0].min() <= 1e-10:
            repaired = nearest_correlation(linear)
            repair = float(np.abs(repaired - linear).max())
            linear = repaired
        return cls(names, rank, linear, fixed_order.cholesky(linear), repair)

    def apply(self, columns: dict[str, np.ndarray]) -> None:
        """Replace the named uniform columns, in place, by correlated ones."""
        # Row by row on the thread pool: the normal (inverse) CDFs are elementwise, so the
        # split changes nothing but the time.
        from .normal_scores import normal_scores
        z = list(_pool().map(lambda n: normal_scores(columns[n]), self.names))
        # An explicit sum in a fixed order, not a BLAS matmul: BLAS picks kernels and summation
        # orders by array shape, which would make draws depend on the chunk size.

        def correlate(i: int) -> np.ndarray:
            mixed = np.zeros_like(z[i])
            for j in range(i + 1):
                mixed += self.cholesky[i, j] * z[j]
            correlated = special.ndtr(mixed)
            # Keep strictly inside (0, 1) so that inverse CDFs stay finite in the far tails.
            return np.clip(correlated, _U_MIN, 1.0 - _U_MIN, out=correlated)

        rows = list(_pool().map(correlate, range(len(self.names))))
        for name, row in zip(self.names, rows, strict=False):
            columns[name] = row


_POOL: ThreadPoolExecutor | None = None


def _pool() -> ThreadPoolExecutor:
    """Threads for per-driver work: numpy releases the GIL inside these large array loops, and
    every driver's numbers depend on its own stream only, so the result does not depend on
    scheduling."""
    global _POOL
    if _POOL is None:
        _POOL = ThreadPoolExecutor(max_workers=os.cpu_count() or 1)
    return _POOL


def sample_drivers(priors: PriorSet, seed: int, start: int, stop: int,
                   copula: Copula | None = None,
                   out: np.ndarray | None = None, order: tuple[str, ...] | None = None
                   ) -> dict[str, np.ndarray]:
    """Values of every driver for draws ``start..stop-1``.

    With ``out`` (shape (stop - start, len(order))), values are written into its columns in
    ``order`` and the returned arrays are views of them. A name of ``order`` that the prior file
    does not define (an optional model driver it leaves out) is not drawn: its column of ``out``
    is left as it is, and it is not returned.
    """
    n = stop - start
    order = list(order or priors.drivers)
    if out is None:
        out = np.empty((n, len(order)), order="F")
    column = {name: j for j, name in enumerate(order)}
    names = [name for name in order if name in priors.drivers]
    random = [name for name in names if not priors.drivers[name].dist.is_constant]
    u = dict(zip(random, _pool().map(lambda name: uniforms(seed, name, start, stop), random),
                 strict=False))
    if copula is not None:
        copula.apply(u)

    def transform(name: str) -> None:
        dist = priors.drivers[name].dist
        out[:, column[name]] = dist.ppf(u[name]) if name in u else dist.ppf(np.empty(n))

    list(_pool().map(transform, names))
    return {name: out[:, column[name]] for name in names}


def noise(seed: int, name: str, columns: int, start: int, stop: int) -> np.ndarray:
    """Auxiliary uniforms the model needs beyond drivers (e.g. regime-switch clocks),
    shape (stop - start, columns), each column its own named stream (Fortran order: each
    column is written in place by the thread pool)."""
    out = np.empty((stop - start, columns), order="F")
    list(_pool().map(lambda k: uniforms(seed, f"{name}[{k}]", start, stop, out=out[:, k]),
                     range(columns)))
    return out
