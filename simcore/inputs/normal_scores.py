"""Compiled normal scores: scipy's ``ndtri`` bit for bit, and the inverse CDFs built on it.

Sampling spends most of its time turning uniforms into normal scores (lognormals, the copula,
tabulated betas). scipy's ufunc costs the same per value as a compiled copy, but every numpy
expression around it (``np.where`` of the two sigmas, ``np.interp``'s binary search, the
temporaries) is another pass over the chunk; here each family is one compiled loop that
releases the GIL, so the sampler's threads run in parallel.

``_ndtri`` repeats scipy's implementation (xsf's C++ translation of Cephes ``ndtri.c``,
https://github.com/scipy/xsf/blob/main/include/xsf/cephes/ndtri.h, scipy 1.18): the same
coefficients and the same operations in the same order, so results are bit-identical to
``scipy.special.ndtri`` (tests/test_normal_scores.py: every branch, both tails, the sampler's
extreme uniforms, and arbitrary floats).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

# Rational approximations of Cephes ndtri.c (coefficients highest power first).
_P0 = np.array([-5.99633501014107895267E1, 9.80010754185999661536E1, -5.66762857469070293439E1,
                1.39312609387279679503E1, -1.23916583867381258016E0])
_Q0 = np.array([1.95448858338141759834E0, 4.67627912898881538453E0, 8.63602421390890590575E1,
                -2.25462687854119370527E2, 2.00260212380060660359E2, -8.20372256168333339912E1,
                1.59056225126211695515E1, -1.18331621121330003142E0])
_P1 = np.array([4.05544892305962419923E0, 3.15251094599893866154E1, 5.71628192246421288162E1,
                4.40805073893200834700E1, 1.46849561928858024014E1, 2.18663306850790267539E0,
                -1.40256079171354495875E-1, -3.50424626827848203418E-2,
                -8.57456785154685413611E-4])
_Q1 = np.array([1.57799883256466749731E1, 4.53907635128879210584E1, 4.13172038254672030440E1,
                1.50425385692907503408E1, 2.50464946208309415979E0, -1.42182922854787788574E-1,
                -3.80806407691578277194E-2, -9.33259480895457427372E-4])
_P2 = np.array([3.23774891776946035970E0, 6.91522889068984211695E0, 3.93881025292474443415E0,
                1.33303460815807542389E0, 2.01485389549179081538E-1, 1.23716634817820021358E-2,
                3.01581553508235416007E-4, 2.65806974686737550832E-6, 6.23974539184983293730E-9])
_Q2 = np.array([6.02427039364742014255E0, 3.67983563856160859403E0, 1.37702099489081330271E0,
                2.16236993594496635890E-1, 1.34204006088543189037E-2, 3.28014464682127739104E-4,
                2.89247864745380683936E-6, 6.79019408009981274425E-9])
_SQRT_2PI = 2.50662827463100050242E0
_EXP_MINUS_2 = 0.13533528323661269189


@njit(cache=True, inline="always")
def _polevl(x, coefficients):
    value = coefficients[0]
    for c in coefficients[1:]:
        value = value * x + c
    return value


@njit(cache=True, inline="always")
def _p1evl(x, coefficients):
    """_polevl with an implicit leading coefficient of 1."""
    value = x + coefficients[0]
    for c in coefficients[1:]:
        value = value * x + c
    return value


@njit(cache=True, inline="always")
def _ndtri(y0):
    if y0 == 0.0:
        return -np.inf
    if y0 == 1.0:
        return np.inf
    if not 0.0 < y0 < 1.0:   # also NaN
        return np.nan
    negate = True
    y = y0
    if y > 1.0 - _EXP_MINUS_2:
        y = 1.0 - y
        negate = False
    if y > _EXP_MINUS_2:
        y = y - 0.5
        y2 = y * y
        x = y + y * (y2 * _polevl(y2, _P0) / _p1evl(y2, _Q0))
        return x * _SQRT_2PI
    x = math.sqrt(-2.0 * math.log(y))
    x0 = x - math.log(x) / x
    z = 1.0 / x
    x1 = (z * _polevl(z, _P1) / _p1evl(z, _Q1) if x < 8.0
          else z * _polevl(z, _P2) / _p1evl(z, _Q2))
    x = x0 - x1
    return -x if negate else x


@njit(cache=True, nogil=True)
def _normal_scores(u, out):
    for i in range(u.size):
        out[i] = _ndtri(u[i])


@njit(cache=True, nogil=True)
def _split_normal_exponents(u, location, scale_below, scale_above, out):
    for i in range(u.size):
        z = _ndtri(u[i])
        out[i] = location + z * (scale_below if z < 0 else scale_above)


@njit(cache=True, nogil=True)
def _interp_even(u, knots, values, out, given_scores):
    """np.interp(ndtri(u), knots, values) for evenly spaced knots (``given_scores``: ``u``
    already holds the normal scores)."""
    n = knots.size
    step = knots[1] - knots[0]
    for i in range(u.size):
        x = u[i] if given_scores else _ndtri(u[i])
        if x != x:
            out[i] = np.nan
        elif x < knots[0]:
            out[i] = values[0]
        elif x >= knots[n - 1]:
            out[i] = values[n - 1]
        else:
            j = min(max(int((x - knots[0]) / step), 0), n - 2)
            # The computed index can be one off where knots[j] is rounded: numpy's search
            # gives the j with knots[j] <= x < knots[j + 1].
            while j > 0 and knots[j] > x:
                j -= 1
            while j < n - 2 and knots[j + 1] <= x:
                j += 1
            if x == knots[j]:
                out[i] = values[j]
                continue
            slope = (values[j + 1] - values[j]) / (knots[j + 1] - knots[j])
            result = slope * (x - knots[j]) + values[j]
            if result != result:     # numpy's fallback for inf/nan slopes
                result = slope * (x - knots[j + 1]) + values[j + 1]
                if result != result and values[j] == values[j + 1]:
                    result = values[j]
            out[i] = result


def _flat(u) -> tuple[np.ndarray, np.ndarray]:
    u = np.ascontiguousarray(u, dtype=np.float64)
    return u, np.empty(u.shape)


_MATCHES_SCIPY: bool | None = None


def compiled_matches_scipy() -> bool:
    """Whether the compiled ndtri gives scipy's bits here, checked once on values from every
    branch. On x86-64 it does; where scipy's build fuses multiply-adds (e.g. arm64 compilers
    by default) or a vector maths library replaces ``log``, it may not, and then scipy's own
    ufunc is used, so a run still reproduces runs made with plain scipy."""
    global _MATCHES_SCIPY
    if _MATCHES_SCIPY is None:
        from scipy import special
        rng = np.random.default_rng(0)
        probe = np.concatenate([rng.random(4096), np.exp(-rng.random(4096) * 745.0),
                                -np.expm1(-rng.random(4096) * 36.0),
                                [0.0, 1.0, 0.5, _EXP_MINUS_2, 1.0 - _EXP_MINUS_2, 2.0**-53]])
        ours = np.empty(probe.size)
        _normal_scores(probe, ours)
        _MATCHES_SCIPY = bool(np.array_equal(ours.view(np.int64),
                                             special.ndtri(probe).view(np.int64)))
    return _MATCHES_SCIPY


def normal_scores(u) -> np.ndarray:
    """``scipy.special.ndtri(u)``, bit-identical."""
    if not compiled_matches_scipy():
        from scipy import special
        return special.ndtri(np.asarray(u, dtype=np.float64))
    u, out = _flat(u)
    _normal_scores(u.reshape(-1), out.reshape(-1))
    return out


def split_lognormal_ppf(u, log_median: float, sigma_below: float, sigma_above: float
                        ) -> np.ndarray:
    """``exp(log_median + z * (sigma_below if z < 0 else sigma_above))`` with z = ndtri(u)
    (numpy's exp, as before: its SIMD exp need not round like libm's)."""
    if not compiled_matches_scipy():
        z = normal_scores(u)
        return np.exp(log_median + z * np.where(z < 0, sigma_below, sigma_above))
    u, out = _flat(u)
    _split_normal_exponents(u.reshape(-1), log_median, sigma_below, sigma_above, out.reshape(-1))
    return np.exp(out, out=out)


def interp_normal_scores(u, knots: np.ndarray, values: np.ndarray) -> np.ndarray:
    """``np.interp(scipy.special.ndtri(u), knots, values)`` for evenly spaced ``knots``,
    bit-identical to the numpy expression."""
    given_scores = not compiled_matches_scipy()
    u, out = _flat(normal_scores(u) if given_scores else u)
    _interp_even(u.reshape(-1), knots, values, out.reshape(-1), given_scores)
    return out
