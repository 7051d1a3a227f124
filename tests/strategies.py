"""Hypothesis strategies shared by the tests: model inputs drawn from the whole domain of every
driver (simcore.model.spec), time grids and free-tier regime clocks."""

from __future__ import annotations

import math
import re

import numpy as np
import priorfiles as pf
from hypothesis import strategies as st

from simcore.model import (
    DRIVER_DEFAULTS,
    DRIVER_DOMAINS,
    DRIVER_MAGNITUDE_LIMIT,
    DRIVER_ORDER,
    MODEL_DRIVERS,
)
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


# ---------------------------------------------------------------------------------------------
# Prior files: valid ones (extreme values) and broken ones

E = pf.entry

def _pos(low_exp: int = -12, high_exp: int = 12):
    return st.builds(lambda m, e: m * 10.0 ** e, st.floats(1.0, 9.99),
                     st.integers(low_exp, high_exp))


_SPECIAL_POSITIVE = st.sampled_from([1 / 365, 300.0, 1e-10, 1e10, 1.0, 1e-90, 1e90])


@st.composite
def _positive_entry(draw, upper: float = math.inf):
    """An entry every draw of which is > 0 (and <= upper), spanning up to 20 orders."""
    kind = draw(st.sampled_from(["fixed", "lognormal", "loguniform", "uniform", "triangular",
                                 "pert", "normal", "regimes", "beta"]))
    bounded = upper < math.inf
    cap = min(upper, 1e40)
    m = min(draw(st.one_of(_pos(-8, 8), _SPECIAL_POSITIVE)), cap)
    if kind == "fixed" or (kind == "normal" and bounded):
        return E("fixed", value=m)
    if kind == "lognormal":
        # Up to 10 orders of magnitude on each side of a median within 1e+-30: even the extreme
        # draws (8.2 sd) stay inside the model's magnitude limit. A narrower stated interval
        # stretches the tails, so it comes with a narrower span.
        median = min(max(m, 1e-30), 1e30)
        params = {}
        widest = 10.0
        if draw(st.booleans()):
            params["interval"] = draw(st.floats(0.5, 0.99))
            widest = 2.0
        a, b = draw(st.floats(0.01, widest)), draw(st.floats(0.01, widest))
        params.update(low=median / 10 ** a, high=median * 10 ** b)
        if draw(st.booleans()):
            params["median"] = median
        if bounded:
            return E("loguniform", low=min(params["low"], upper / 2), high=upper)
        return E("lognormal", **params)
    if kind == "loguniform":
        span = draw(st.floats(0.001, 20.0))
        # Never below the model's magnitude limit (m may be 1e-90, span up to 20 decades).
        low = max(m / 10 ** span, 10.0 / DRIVER_MAGNITUDE_LIMIT) if bounded else m
        return E("loguniform", low=low, high=m if bounded else m * 10 ** span)
    if kind in ("uniform", "triangular", "pert", "beta"):
        low = m * draw(st.floats(0.001, 0.9))
        high = m
        mode = low + (high - low) * draw(st.floats(0.0, 1.0))
        if kind == "uniform":
            return E("uniform", low=low, high=high)
        if kind == "triangular":
            return E("triangular", low=low, mode=mode, high=high)
        if kind == "pert":
            return E("pert", low=low, mode=mode, high=high, **{"lambda": draw(st.floats(0.5, 20))})
        return E("beta", alpha=draw(st.floats(0.1, 50.0)), beta=draw(st.floats(0.1, 50.0)),
                 low=low, high=high)
    if kind == "normal":
        return E("normal", mean=m, sd=m * draw(st.floats(0.001, 0.12)))
    values = draw(st.lists(st.one_of(_pos(-6, 6), _SPECIAL_POSITIVE), min_size=1, max_size=4))
    return E("regimes", choices=_regime_choices(draw, [min(v, cap) for v in values]))


def _regime_choices(draw, values):
    weights = [draw(st.sampled_from([0.0, 0.1, 0.25, 0.5, 1.0])) for _ in values]
    if sum(weights) == 0:
        weights[0] = 1.0
    total = sum(weights)
    probabilities = [w / total for w in weights]
    probabilities[-1] = 1.0 - math.fsum(probabilities[:-1])
    return [{"name": f"r{i}", "value": v, "p": max(p, 0.0)}
            for i, (v, p) in enumerate(zip(values, probabilities, strict=False))]


@st.composite
def _unit_entry(draw, zero_ok: bool):
    """An entry in [0, 1] (zero_ok) or (0, 1]."""
    kind = draw(st.sampled_from(["fixed", "uniform", "beta", "loguniform", "bernoulli"]))
    if kind == "fixed":
        values = [1.0, 0.5, 1e-30, 1e-99] + ([0.0] if zero_ok else [])
        return E("fixed", value=draw(st.sampled_from(values)))
    if kind == "uniform":
        low = 0.0 if zero_ok and draw(st.booleans()) else draw(st.floats(1e-9, 0.5))
        return E("uniform", low=low, high=draw(st.floats(0.6, 1.0)))
    if kind == "beta":
        least = 0.05 if zero_ok else 0.5   # smaller alphas draw 0 in the far tail
        return E("beta", alpha=draw(st.floats(least, 50.0)), beta=draw(st.floats(0.05, 50.0)))
    if kind == "bernoulli" and zero_ok:
        return E("bernoulli", p=draw(st.sampled_from([0.0, 1.0, 0.3])))
    return E("loguniform", low=draw(st.sampled_from([1e-20, 1e-5, 0.1])), high=1.0)


@st.composite
def _nonnegative_entry(draw):
    kind = draw(st.sampled_from(["zero", "positive", "uniform", "regimes"]))
    if kind == "zero":
        return E("fixed", value=0.0)
    if kind == "positive":
        return draw(_positive_entry())
    if kind == "uniform":
        return E("uniform", low=0.0, high=draw(_pos(-3, 3)))
    values = [0.0, *draw(st.lists(_pos(-3, 3), min_size=1, max_size=3))]
    return E("regimes", choices=_regime_choices(draw, values))


@st.composite
def _any_entry(draw):
    kind = draw(st.sampled_from(["fixed", "normal", "uniform"]))
    m = draw(st.floats(-1e6, 1e6))
    if kind == "fixed":
        return E("fixed", value=m)
    if kind == "normal":
        return E("normal", mean=m, sd=draw(_pos(-3, 5)))
    return E("uniform", low=m, high=m + draw(_pos(-3, 5)))


def _valid_entry_for(name: str):
    domain = DRIVER_DOMAINS[name]
    if name == "stall_occurs":
        return st.one_of(st.just(E("bernoulli", p=0.0)), st.just(E("bernoulli", p=1.0)),
                         st.floats(0.0, 1.0).map(lambda p: E("bernoulli", p=p)))
    if domain.high == 1.0:
        return _unit_entry(zero_ok=not domain.low_open)
    if domain.high == 24.0:
        return _positive_entry(upper=24.0)
    if domain.low == 0.0 and domain.low_open:
        return _positive_entry()
    if domain.low == 0.0:
        return _nonnegative_entry()
    return _any_entry()


@st.composite
def valid_prior_files(draw):
    """Prior files that must be accepted: extreme but valid values on random drivers."""
    names = draw(st.lists(st.sampled_from(sorted(MODEL_DRIVERS)), min_size=1, max_size=12,
                          unique=True))
    overrides = {name: draw(_valid_entry_for(name)) for name in names}
    horizon = draw(st.sampled_from([1.0, 2.5, 20.0, 60.0, 200.0]))
    steps = draw(st.integers(max(1, math.ceil(horizon / 5.0)), 80))
    meta = {"horizon_years": horizon, "time_step_years": horizon / steps,
            "as_of": draw(st.sampled_from(["2026-11", "2000-12-31", "2100-06"]))}
    drivers = pf.point_drivers(**overrides)
    random = [n for n in names if overrides[n]["family"] != "fixed"]
    pairs = []
    if len(random) >= 2 and draw(st.booleans()):
        for a, b in draw(st.lists(st.tuples(st.sampled_from(random), st.sampled_from(random)),
                                  max_size=3)):
            if a != b and not any({a, b} == {x, y} for x, y, _ in pairs):
                pairs.append((a, b, draw(st.sampled_from([-1.0, -0.5, 0.0, 0.9, 1.0]))))
    return pf.render(drivers, meta, pairs or None)


_WEIRD_LITERALS = ['"1.5"', "true", "nan", "inf", "-inf", "1e400", "-0.0", "0", "[1.0]", "{}",
                   "1979-05-27", '""', "-1", "1e-400", "99999999999999999999999"]


@st.composite
def broken_prior_files(draw) -> bytes:
    """A valid file, then one mutation that may or may not make it invalid."""
    text = draw(valid_prior_files())
    lines = text.splitlines(keepends=True)
    mutation = draw(st.sampled_from(["literal", "typo", "drop_line", "truncate", "bytes",
                                     "duplicate", "family", "swap", "empty", "structure"]))
    if mutation == "literal":
        numeric = [i for i, line in enumerate(lines)
                   if re.match(r"^\w+ = -?[\d.]", line) or line.startswith("p = ")]
        if numeric:
            i = draw(st.sampled_from(numeric))
            key = lines[i].split(" = ")[0]
            lines[i] = f"{key} = {draw(st.sampled_from(_WEIRD_LITERALS))}\n"
    elif mutation == "typo":
        i = draw(st.integers(0, len(lines) - 1))
        lines.insert(i + 1, f"{draw(st.sampled_from(['meidan', 'lowe', 'familly', 'p']))} = 1.0\n")
    elif mutation == "drop_line":
        del lines[draw(st.integers(0, len(lines) - 1))]
    elif mutation == "truncate":
        return text.encode()[:draw(st.integers(0, len(text)))]
    elif mutation == "bytes":
        raw = bytearray(text.encode())
        position = draw(st.integers(0, len(raw)))
        raw[position:position] = draw(st.binary(min_size=1, max_size=4))
        return bytes(raw)
    elif mutation == "duplicate":
        headers = [line for line in lines if line.startswith("[")]
        lines.append(draw(st.sampled_from(headers)))
    elif mutation == "family":
        families = [i for i, line in enumerate(lines) if line.startswith("family = ")]
        i = draw(st.sampled_from(families))
        name = draw(st.sampled_from(["normal", "lognormal", "uniform", "beta", "bernoulli",
                                     "regimes", "fixed", "gamma", "pert", "triangular"]))
        lines[i] = f'family = "{name}"\n'
    elif mutation == "swap":
        text = text.replace("low = ", "tmp = ").replace("high = ", "low = ")
        return text.replace("tmp = ", "high = ").encode()
    elif mutation == "empty":
        return b""
    else:
        extra = draw(st.sampled_from([
            '\n[meta]\nextends = "../../etc/passwd"\n', "\n[correlations]\npairs = 5\n",
            "\n[drivers.alg_halving_years]\nmedian = -1.0\n", "\n[[meta]]\n",
            '\n[correlations]\npairs = [["alg_halving_years", "x", 0.1]]\n']))
        return (text + extra).encode()
    return "".join(lines).encode()
