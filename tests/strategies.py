"""Hypothesis strategies shared by the tests: model inputs drawn from the whole domain of every
driver (simcore.model.spec), time grids and free-tier regime clocks."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import strategies as st

from simcore.model import DRIVER_DEFAULTS, DRIVER_DOMAINS, DRIVER_MAGNITUDE_LIMIT, DRIVER_ORDER
from simcore.model.spec import MAX_REGIME_SWITCHES, Domain

LIMIT = DRIVER_MAGNITUDE_LIMIT
SMALLEST = 1.0 / LIMIT          # the least a driver logged or divided by may be
U_LOW, U_HIGH = 2.0**-53, 1.0 - 2.0**-53   # the sampler's uniforms lie in [U_LOW, U_HIGH]
ABSENT = None                   # an optional driver left out of the prior file


def log_uniform(low: float, high: float) -> st.SearchStrategy[float]:
    """Uniform in log10 between two positive numbers (both reachable)."""
    return st.one_of(
        st.floats(math.log10(low), math.log10(high)).map(lambda e: min(max(10.0 ** e, low), high)),
        st.sampled_from([low, high]))


def domain_values(domain: Domain) -> st.SearchStrategy[float]:
    """Any value a draw of a driver with this domain may take, extremes and boundaries
    included: log-uniform over every valid magnitude (1e-100 .. 1e100 where the domain allows),
    moderate values, the domain's ends, 0 where it is allowed, values near 1 for fractions."""
    high = min(domain.high, LIMIT)
    if domain.low == -math.inf:                                   # any finite value
        magnitudes = log_uniform(SMALLEST, LIMIT)
        return st.one_of(st.just(0.0), magnitudes, magnitudes.map(lambda v: -v),
                         st.floats(-30.0, 30.0), st.sampled_from([0.5, 1.0, -LIMIT, LIMIT]))
    assert domain.low == 0.0, domain
    parts = [log_uniform(SMALLEST, high), log_uniform(min(1e-3, high), min(1e3, high)),
             st.sampled_from([SMALLEST, high])]
    if not domain.low_open:
        parts.append(st.just(0.0))
    if domain.high == 1.0:                                        # a probability or share
        parts.append(st.sampled_from([1.0 - 2.0**-53, 1.0 - 1e-9, 0.5]))
        parts.append(st.floats(0.0, 1.0).filter(domain.contains))
    return st.one_of(*parts).filter(domain.contains)


@st.composite
def worlds(draw, n: int | None = None) -> dict[str, np.ndarray]:
    """Driver values for ``n`` worlds (1 to 3 by default), each driver from its whole domain;
    an optional driver may be left out (every world then takes its default)."""
    n = n or draw(st.integers(1, 3))
    values = {}
    for name in DRIVER_ORDER:
        if name in DRIVER_DEFAULTS and draw(st.booleans()):
            continue
        values[name] = np.array([draw(_DRIVER_VALUES[name]) for _ in range(n)])
    return values


_DRIVER_VALUES = {name: domain_values(domain) for name, domain in DRIVER_DOMAINS.items()}


# (horizon years, time step years): the baseline's quarterly grid, and the extremes a prior
# file may ask for (one step, monthly, 600 steps, five-year steps).
GRIDS = [(20.0, 0.25), (1.0, 1.0), (5.0, 1.0 / 12.0), (60.0, 0.1), (200.0, 5.0)]


@st.composite
def grids(draw) -> tuple[np.ndarray, float]:
    """(t, as_of_year): a time grid as engine.time_grid builds it."""
    horizon, step = draw(st.sampled_from(GRIDS))
    steps = int(round(horizon / step))
    as_of_year = draw(st.sampled_from([2026.0 + 10.0 / 12.0, 2000.0, 2100.5]))
    return np.linspace(0.0, steps * step, steps + 1), as_of_year


def regime_clocks(n: int) -> st.SearchStrategy[np.ndarray]:
    """(n, MAX_REGIME_SWITCHES) uniforms as the sampler makes them, extremes included."""
    uniform = st.one_of(st.just(0.5), st.floats(U_LOW, U_HIGH), st.sampled_from([U_LOW, U_HIGH]))
    return st.lists(uniform, min_size=n * MAX_REGIME_SWITCHES,
                    max_size=n * MAX_REGIME_SWITCHES).map(
        lambda u: np.array(u).reshape(n, MAX_REGIME_SWITCHES))


@st.composite
def model_inputs(draw):
    """(drivers, t, as_of_year, clock): everything the model's interface takes."""
    drivers = draw(worlds())
    n = next(iter(drivers.values())).size
    t, as_of_year = draw(grids())
    return drivers, t, as_of_year, draw(regime_clocks(n))
