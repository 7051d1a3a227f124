"""Densities and CDFs of prior families, and the Gaussian copula's density: what a density
ratio between two prior sets needs (``simcore reweight``: importance weights of stored draws
under changed priors).

Sampling never uses these (it goes through ``ppf`` only). Beta and PERT draws come from a
tabulated ppf (relative error ~1e-7, :mod:`.distributions`); their exact density is used here,
an error far below the Monte Carlo error of any weight.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import special, stats

from .distributions import (
    Bernoulli,
    Family,
    Fixed,
    Lognormal,
    Normal,
    Regimes,
    scipy_reference,
)

DISCRETE = (Fixed, Bernoulli, Regimes)


def is_discrete(dist: Family) -> bool:
    return isinstance(dist, DISCRETE)


def _values_and_masses(dist: Family) -> tuple[np.ndarray, np.ndarray]:
    """The distinct values a discrete family takes and their probabilities."""
    match dist:
        case Fixed():
            return np.array([dist.value]), np.array([1.0])
        case Bernoulli():
            return np.array([0.0, 1.0]), np.array([1.0 - dist.p, dist.p])
        case Regimes():
            values = sorted({c.value for c in dist.choices})
            masses = [math.fsum(c.p for c in dist.choices if c.value == v) for v in values]
            return np.array(values), np.array(masses)
    raise TypeError(f"{dist.family} is not discrete")


def support_values(dist: Family) -> set[float]:
    """The values a discrete family takes with positive probability."""
    values, masses = _values_and_masses(dist)
    return {float(v) for v, m in zip(values, masses, strict=True) if m > 0.0}


def support(dist: Family) -> tuple[float, float]:
    """The closed hull of where a continuous family has density (its theoretical support, not
    the sampler's extreme draws: how far the tails reach is the importance weights' matter)."""
    match dist:
        case Normal():
            return -math.inf, math.inf
        case Lognormal():
            return 0.0, math.inf
    return float(dist.low), float(dist.high)


def log_density(dist: Family, x: np.ndarray) -> np.ndarray:
    """log pdf of a continuous family, log pmf of a discrete one, at ``x``; -inf where ``x``
    cannot be drawn."""
    x = np.asarray(x, dtype=float)
    if is_discrete(dist):
        values, masses = _values_and_masses(dist)
        out = np.full(x.shape, -np.inf)
        with np.errstate(divide="ignore"):
            for value, mass in zip(values, masses, strict=True):
                out[x == value] = math.log(mass) if mass > 0.0 else -np.inf
        return out
    if isinstance(dist, Lognormal):
        z, sigma, log_x = _split_normal_scores(dist, x)
        with np.errstate(divide="ignore", invalid="ignore"):
            out = stats.norm.logpdf(z) - np.log(sigma) - log_x
        return np.where(x > 0.0, out, -np.inf)
    with np.errstate(divide="ignore"):
        return scipy_reference(dist).logpdf(x)


def cdf(dist: Family, x: np.ndarray) -> np.ndarray:
    """P(draw <= x) of a continuous family."""
    x = np.asarray(x, dtype=float)
    if is_discrete(dist):
        raise TypeError(f"{dist.family} is discrete: the copula needs continuous marginals")
    if isinstance(dist, Lognormal):
        z, _, _ = _split_normal_scores(dist, x)
        return special.ndtr(z)
    return scipy_reference(dist).cdf(x)


def _split_normal_scores(dist: Lognormal, x: np.ndarray):
    """Normal scores of ``x`` under a (split) lognormal: its ppf is exp(mu + z * sigma), sigma
    the lower spread below the median and the upper one above."""
    below, above = dist.sigmas
    with np.errstate(divide="ignore", invalid="ignore"):
        log_x = np.log(x)
    sigma = np.where(log_x < dist.log_median, below, above)
    return (log_x - dist.log_median) / sigma, sigma, log_x


def gaussian_copula_log_density(z: list[np.ndarray], cholesky: np.ndarray) -> np.ndarray:
    """log c(u) of a Gaussian copula with correlation L L^T at normal scores z_i = ndtri(u_i)
    (one array per copula dimension):
    -sum log L_ii - (|L^-1 z|^2 - |z|^2) / 2.
    Forward substitution written out, element by element in a fixed order (no BLAS): the
    weights it feeds must not depend on the BLAS build or thread count."""
    n = len(z)
    solved: list[np.ndarray] = []
    quadratic = np.zeros_like(z[0])
    for i in range(n):
        rest = z[i].copy()
        for j in range(i):
            rest -= cholesky[i, j] * solved[j]
        solved.append(rest / cholesky[i, i])
        quadratic += solved[i] * solved[i] - z[i] * z[i]
    log_det_half = math.fsum(math.log(cholesky[i, i]) for i in range(n))
    return -log_det_half - 0.5 * quadratic
