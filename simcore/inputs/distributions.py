"""Distribution families of prior entries: validated parameters and vectorised inverse CDFs.

Each family is a pydantic model, so a prior entry is checked field by field (unknown keys,
wrong types, non-finite numbers, intervals out of order) before anything is sampled. Sampling
only ever goes through ``ppf(u)``: uniforms in, values out. That keeps every driver's draws a
function of its own uniform stream, which is what makes runs chunk-size invariant and lets a
Gaussian copula correlate drivers of any family.
"""

from __future__ import annotations

import math
from functools import cached_property
from typing import Annotated, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from scipy import special

FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]
Probability = Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)]

# The extreme uniforms the sampler can produce (simcore.sampling: 52-bit uniforms offset by half a
# step, copula output clipped to the same range): every draw is ppf(u) for u in [U_MIN, 1 - U_MIN].
U_MIN = 2.0**-53
# Normal scores of the uniforms at which draw_range() evaluates a ppf: both extremes and a grid.
_RANGE_U = np.concatenate([[U_MIN, 1.0 - U_MIN], special.ndtr(np.linspace(-8.2, 8.2, 129))])


def _z_of_interval(interval: float) -> float:
    """Standard-normal quantile of the upper end of a central interval of this width."""
    return float(special.ndtri(0.5 + interval / 2.0))


class Family(BaseModel):
    # strict: a number must be a TOML number; "1.5" (a string) or true (a boolean) is an error,
    # not silently coerced.
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    def ppf(self, u: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def quantile(self, q: float) -> float:
        return float(self.ppf(np.array([q], dtype=float))[0])

    def draw_range(self) -> tuple[float, float]:
        """(smallest, largest) value any draw can take: the ppf over every uniform the sampler
        can produce. NaN if some draw would not be a number; may be +-inf (checked by priors)."""
        with np.errstate(all="ignore"):
            values = np.asarray(self._range_values(), dtype=float)
        if np.isnan(values).any():
            return math.nan, math.nan
        return float(values.min()), float(values.max())

    def _range_values(self) -> np.ndarray:
        return self.ppf(_RANGE_U)

    @property
    def is_constant(self) -> bool:
        return False


# Families without a closed-form inverse CDF (beta, PERT) read it from a table: the exact
# ppf at knots evenly spaced in normal-score z, interpolated linearly in z: far cheaper than exact
# ppf calls (benchmarks/README.md), with error ~1e-7 relative typically and < 1e-4 in the far
# tails of U-shaped betas (checked by tests/inputs/test_distributions.py).
_TABLE_Z = np.linspace(-8.3, 8.3, 16385)   # covers u in [5e-17, 1 - 5e-17]


def _unit_beta_ppf(a: float, b: float, u):
    """Inverse CDF of Beta(a, b) on [0, 1]. scipy's betaincinv gives NaN deep in some tails
    (a=1.03, b=0.75 at u < 6e-17: its root finder gives up); there the leading term of the
    tail, F(x) ~ x^a / (a B(a, b)), is exact to relative O(x), far below double precision."""
    u = np.asarray(u, dtype=float)
    x = special.betaincinv(a, b, u)
    failed = np.isnan(x) & ~np.isnan(u)
    if failed.any():
        log_beta = special.betaln(a, b)
        lower = np.exp((np.log(u * a) + log_beta) / a)
        upper = -np.expm1((np.log((1.0 - u) * b) + log_beta) / b)
        x = np.where(failed, np.where(u < 0.5, lower, upper), x)
    return x


class _Tabulated(Family):
    def exact_ppf(self, u):  # pragma: no cover - abstract
        raise NotImplementedError

    @cached_property
    def _table(self) -> np.ndarray:
        return self.exact_ppf(special.ndtr(_TABLE_Z))

    def ppf(self, u):
        from .normal_scores import interp_normal_scores  # numba: loaded only when sampling
        return interp_normal_scores(u, _TABLE_Z, self._table)

    def _range_values(self):
        # Interpolation never leaves the table's values, so the table bounds every draw.
        return np.concatenate([self._table, self.ppf(_RANGE_U)])


class Fixed(Family):
    family: Literal["fixed"]
    value: FiniteFloat

    def ppf(self, u):
        return np.full(np.shape(u), self.value, dtype=float)

    @property
    def is_constant(self) -> bool:
        return True


class _Interval(Family):
    """Shared handling of a central interval given by ``low``/``high`` and its width."""

    # Bounded away from 0 and 1 so that the normal score of its end is a usable, non-zero number.
    interval: Annotated[float, Field(ge=1e-6, le=0.999999, allow_inf_nan=False)] = 0.9

    @property
    def z(self) -> float:
        return _z_of_interval(self.interval)


class Normal(_Interval):
    family: Literal["normal"]
    mean: FiniteFloat | None = None
    sd: Annotated[float, Field(gt=0.0, allow_inf_nan=False)] | None = None
    low: FiniteFloat | None = None
    high: FiniteFloat | None = None

    @model_validator(mode="after")
    def _one_parametrisation(self):
        by_moments = self.mean is not None and self.sd is not None
        by_interval = self.low is not None and self.high is not None
        if by_moments == by_interval:
            raise ValueError("give either mean and sd, or low and high")
        if by_interval and not self.low < self.high:
            raise ValueError(f"low ({self.low}) must be below high ({self.high})")
        return self

    @property
    def loc_scale(self) -> tuple[float, float]:
        if self.mean is not None:
            return self.mean, self.sd
        return (self.low + self.high) / 2.0, (self.high - self.low) / (2.0 * self.z)

    def ppf(self, u):
        loc, scale = self.loc_scale
        return loc + scale * special.ndtri(u)


class Lognormal(_Interval):
    """Median plus a central interval; asymmetric intervals give a split (two-piece) lognormal."""

    family: Literal["lognormal"]
    median: Annotated[float, Field(gt=0.0, allow_inf_nan=False)] | None = None
    low: Annotated[float, Field(gt=0.0, allow_inf_nan=False)]
    high: Annotated[float, Field(gt=0.0, allow_inf_nan=False)]

    @model_validator(mode="after")
    def _ordered(self):
        median = (self.median if self.median is not None
                  else math.exp((math.log(self.low) + math.log(self.high)) / 2.0))
        if not self.low < median < self.high:
            raise ValueError(
                f"need low < median < high, got {self.low} / {median} / {self.high}"
            )
        return self

    @property
    def log_median(self) -> float:
        if self.median is None:
            return 0.5 * (math.log(self.low) + math.log(self.high))
        return math.log(self.median)

    @property
    def sigmas(self) -> tuple[float, float]:
        mu = self.log_median
        return (mu - math.log(self.low)) / self.z, (math.log(self.high) - mu) / self.z

    def ppf(self, u):
        from .normal_scores import split_lognormal_ppf
        return split_lognormal_ppf(u, self.log_median, *self.sigmas)


class LogUniform(Family):
    family: Literal["loguniform"]
    low: Annotated[float, Field(gt=0.0, allow_inf_nan=False)]
    high: Annotated[float, Field(gt=0.0, allow_inf_nan=False)]

    @model_validator(mode="after")
    def _ordered(self):
        if not self.low < self.high:
            raise ValueError(f"low ({self.low}) must be below high ({self.high})")
        return self

    def ppf(self, u):
        # exp(log(high)) can round above high (24 -> 24.000000000000004), which a domain like
        # (0, 24] hours rejects: clip to the stated bounds.
        values = np.exp(np.log(self.low) + u * (np.log(self.high) - np.log(self.low)))
        return np.clip(values, self.low, self.high)


class Uniform(Family):
    family: Literal["uniform"]
    low: FiniteFloat
    high: FiniteFloat

    @model_validator(mode="after")
    def _ordered(self):
        if not self.low < self.high:
            raise ValueError(f"low ({self.low}) must be below high ({self.high})")
        return self

    def ppf(self, u):
        width = self.high - self.low
        values = self.low + u * width
        # Rounding can land one ulp past high; clip, unless the width overflowed (then the
        # infinite draws must stay infinite so the file is rejected as overflowing).
        return np.clip(values, self.low, self.high) if math.isfinite(width) else values


class Triangular(Family):
    family: Literal["triangular"]
    low: FiniteFloat
    mode: FiniteFloat
    high: FiniteFloat

    @model_validator(mode="after")
    def _ordered(self):
        if not (self.low <= self.mode <= self.high and self.low < self.high):
            raise ValueError(
                "need low <= mode <= high and low < high, got "
                f"{self.low} / {self.mode} / {self.high}"
            )
        return self

    def ppf(self, u):
        width = self.high - self.low
        split = (self.mode - self.low) / width
        left = self.low + np.sqrt(u * width * (self.mode - self.low))
        right = self.high - np.sqrt((1.0 - u) * width * (self.high - self.mode))
        return np.where(u < split, left, right)


class Pert(_Tabulated):
    family: Literal["pert"]
    low: FiniteFloat
    mode: FiniteFloat
    high: FiniteFloat
    lambda_: Annotated[float, Field(gt=0.0, allow_inf_nan=False, alias="lambda")] = 4.0

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="after")
    def _ordered(self):
        if not (self.low <= self.mode <= self.high and self.low < self.high):
            raise ValueError(
                "need low <= mode <= high and low < high, got "
                f"{self.low} / {self.mode} / {self.high}"
            )
        return self

    @property
    def shapes(self) -> tuple[float, float]:
        width = self.high - self.low
        a = 1.0 + self.lambda_ * (self.mode - self.low) / width
        b = 1.0 + self.lambda_ * (self.high - self.mode) / width
        return a, b

    def exact_ppf(self, u):
        a, b = self.shapes
        return self.low + (self.high - self.low) * _unit_beta_ppf(a, b, u)


class Beta(_Tabulated):
    family: Literal["beta"]
    alpha: Annotated[float, Field(gt=0.0, allow_inf_nan=False)]
    beta: Annotated[float, Field(gt=0.0, allow_inf_nan=False)]
    low: FiniteFloat = 0.0
    high: FiniteFloat = 1.0

    @model_validator(mode="after")
    def _ordered(self):
        if not self.low < self.high:
            raise ValueError(f"low ({self.low}) must be below high ({self.high})")
        return self

    def exact_ppf(self, u):
        return self.low + (self.high - self.low) * _unit_beta_ppf(self.alpha, self.beta, u)


class Bernoulli(Family):
    family: Literal["bernoulli"]
    p: Probability

    def ppf(self, u):
        # u > 1 - p rather than u < p so that a larger p only ever switches more draws on.
        return (u > 1.0 - self.p).astype(float)


class Regime(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)
    name: str
    value: FiniteFloat
    p: Probability


class Regimes(Family):
    family: Literal["regimes"]
    choices: Annotated[list[Regime], Field(min_length=1)]

    @field_validator("choices")
    @classmethod
    def _sum_to_one(cls, choices):
        total = math.fsum(choice.p for choice in choices)
        if abs(total - 1.0) > 1e-9:
            raise ValueError(f"regime probabilities sum to {total:g}, not 1")
        names = [choice.name for choice in choices]
        if len(set(names)) != len(names):
            raise ValueError("regime names must be distinct")
        return choices

    def ppf(self, u):
        edges = np.cumsum([choice.p for choice in self.choices])[:-1]
        index = np.searchsorted(edges, u, side="right")
        return np.asarray([choice.value for choice in self.choices], dtype=float)[index]

    def _range_values(self):
        # Every listed value, even one with p = 0 (rounding of the cumulative sum could reach it).
        return np.asarray([choice.value for choice in self.choices], dtype=float)


AnyFamily = Annotated[
    Fixed | Normal | Lognormal | LogUniform | Uniform | Triangular | Pert | Beta | Bernoulli
    | Regimes,
    Field(discriminator="family"),
]

FAMILY_NAMES = (
    "fixed", "normal", "lognormal", "loguniform", "uniform",
    "triangular", "pert", "beta", "bernoulli", "regimes",
)


def scipy_reference(dist: Family):
    """A scipy distribution with the same law, for statistical tests of ``ppf``.

    Split lognormals and regimes have no scipy twin; they return None and are tested directly.
    """
    from scipy import stats

    match dist:
        case Normal():
            loc, scale = dist.loc_scale
            return stats.norm(loc, scale)
        case Lognormal() if math.isclose(*dist.sigmas):
            return stats.lognorm(dist.sigmas[0], scale=math.exp(dist.log_median))
        case LogUniform():
            return stats.loguniform(dist.low, dist.high)
        case Uniform():
            return stats.uniform(dist.low, dist.high - dist.low)
        case Triangular():
            width = dist.high - dist.low
            return stats.triang((dist.mode - dist.low) / width, dist.low, width)
        case Pert():
            a, b = dist.shapes
            return stats.beta(a, b, dist.low, dist.high - dist.low)
        case Beta():
            return stats.beta(dist.alpha, dist.beta, dist.low, dist.high - dist.low)
        case Bernoulli():
            return stats.bernoulli(dist.p)
    return None
