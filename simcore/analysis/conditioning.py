"""Conditioning a run on observations (``simcore run --condition OBS``), and the importance
weights what-if reweighting shares with it.

1. Likelihood of each draw given the observations, from its values at their dates (the noise
   model of ``data/observation_noise.toml``: Student-t on base-2 logs, scale per quality tier,
   a row's own interval added in quadrature; an interval-only row is an interval likelihood;
   an event row "had (not) happened by DATE" is a hard 0/1 constraint).
2. Pareto-smoothed importance sampling of those log-weights with arviz-stats, and its Pareto
   k-hat: above ``KHAT_LIMIT`` the weights are not trusted (the run is refused unless
   ``--resample`` is given, which says so and goes on with the raw weights).
3. The weights quantised to integers: systematic rounding of N x weight with a fixed offset,
   which keeps their sum exactly N and depends on nothing but the weights (no order of
   summation across chunks or threads). Draw i then counts m_i times: a run over the multiset
   (``engine.run_forecast(source_draws=...)``) carries the weights into every percentile,
   event curve, binding share and sensitivity index with the run's own code. Monte Carlo
   errors are those of the effective sample size ESS = (sum w)^2 / sum w^2: every MC error
   the run prints is to be multiplied by sqrt(N / ESS) (printed, and in the manifest).

Statistics on plain arrays: this module reads no file and runs no model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

from ..inputs.observations import NoiseModel, Observation, on_model_scale

# Pareto k-hat above which importance weights are unreliable (Vehtari et al. 2024, "Pareto
# smoothed importance sampling", JMLR 25(72): 0.7; for fewer than 2,200 draws the limit is
# the lower 1 - 1/log10(S)).
KHAT_LIMIT = 0.7
# Raw weights all within this multiple of their mean are trusted whatever k-hat says: the
# importance estimate's variance is then at most this multiple of plain Monte Carlo's (its
# effective sample size at least N / this). k-hat's tail fit misleads on bounded ratios whose
# top tail is a cluster near the cut-off plus a few larger values: a prior's median moved by
# half gave k-hat 2.1 (20k draws) and 5.0 (100k) with every weight under 6.3x the mean and
# ESS 97%. A truly heavy tail's largest weight grows with N past this bound (93x at 4k draws
# and 1,066x at 100k for a prior widened far beyond the run's).
BOUNDED_WEIGHT_RATIO = 10.0


def khat_text(khat: float | None) -> str:
    """k-hat as printed: two decimals, or "not estimable" (NaN from arviz-stats, None once
    stored in a manifest)."""
    return "not estimable" if khat is None or math.isnan(khat) else f"{khat:.2f}"


def khat_limit(draws: int) -> float:
    return min(1.0 - 1.0 / math.log10(draws), KHAT_LIMIT) if draws > 10 else 0.0


def log_likelihood(obs: Observation, model_values: np.ndarray, noise: NoiseModel) -> np.ndarray:
    """log p(obs | draw) for every draw: ``model_values`` are its base-2 logs (or values, for
    a measure not on a log scale) at the observation's date."""
    scale = noise.scale(obs)
    if obs.value is not None:
        z = (on_model_scale(obs, obs.value) - model_values) / scale
        return stats.t.logpdf(z, noise.df) - math.log(scale)
    low, high = on_model_scale(obs, obs.low), on_model_scale(obs, obs.high)
    upper = stats.t.cdf((high - model_values) / scale, noise.df) if high is not None else 1.0
    lower = stats.t.cdf((low - model_values) / scale, noise.df) if low is not None else 0.0
    with np.errstate(divide="ignore"):
        return np.log(np.maximum(upper - lower, 0.0))


def event_log_likelihood(obs: Observation, happened_by_date: np.ndarray) -> np.ndarray:
    """0 where the draw agrees with the event row (had happened by its date or not), -inf
    where it does not: a hard constraint."""
    agrees = happened_by_date == bool(obs.value)
    return np.where(agrees, 0.0, -np.inf)


@dataclass(frozen=True)
class Weights:
    """PSIS importance weights of N draws and what they are worth."""

    log_weights: np.ndarray      # smoothed, normalised (sum of exp = 1); -inf: weight 0
    khat: float
    multiplicity: np.ndarray     # integers, sum N: how often each draw counts
    ess: float                   # (sum w)^2 / sum w^2 of the smoothed weights
    excluded: int                # draws with likelihood 0 (a hard constraint fails)
    max_weight_ratio: float = math.inf   # largest raw weight / mean raw weight (all draws)

    def trusted(self, limit: float) -> bool:
        """k-hat at or below ``limit``, or every raw weight within BOUNDED_WEIGHT_RATIO of
        their mean. A NaN k-hat (arviz-stats cannot fit the tail: most of it tied at one ratio
        while a few draws carry far larger ones) is not trusted unless the weights are
        bounded so."""
        return bool(self.khat <= limit or self.max_weight_ratio <= BOUNDED_WEIGHT_RATIO)

    @property
    def khat_text(self) -> str:
        return khat_text(self.khat)

    @property
    def draws(self) -> int:
        return int(self.multiplicity.size)

    @property
    def mc_error_factor(self) -> float:
        """Multiply an MC error computed as if the N resampled draws were independent."""
        return math.sqrt(self.draws / self.ess) if self.ess > 0 else math.inf

    def source_draws(self) -> np.ndarray:
        """Draw indices repeated by multiplicity, sorted: the resampled run's draws."""
        return np.repeat(np.arange(self.draws, dtype=np.int64), self.multiplicity)

    def summary(self) -> dict:
        return {"khat": None if math.isnan(self.khat) else round(float(self.khat), 4),
                "ess": round(float(self.ess), 1),
                "max_weight_over_mean": round(self.max_weight_ratio, 3),
                "draws": self.draws, "excluded_by_constraints": self.excluded,
                "distinct_draws_kept": int(np.count_nonzero(self.multiplicity)),
                "mc_error_factor": round(self.mc_error_factor, 4)}


def psis(log_ratios: np.ndarray) -> tuple[np.ndarray, float]:
    """Pareto-smoothed, normalised log-weights and k-hat of finite log importance ratios, by
    arviz-stats (its array interface takes the negated ratios, LOO's convention)."""
    from arviz_stats.base import array_stats

    smoothed, khat = array_stats.psislw(-np.asarray(log_ratios, dtype=float))
    return np.asarray(smoothed, dtype=float), float(khat)


def quantise(weights: np.ndarray, total: int) -> np.ndarray:
    """Integers m_i >= 0 summing to ``total`` with m_i ~ total * weights_i: systematic rounding
    of the cumulative weights at offset 1/2 (deterministic; weights need not be normalised)."""
    cumulative = np.cumsum(weights, dtype=float)
    if cumulative[-1] <= 0.0:
        raise ValueError("every weight is zero")
    edges = np.floor(cumulative / cumulative[-1] * total + 0.5).astype(np.int64)
    edges[-1] = total
    return np.diff(edges, prepend=0)


def importance_weights(log_ratios: np.ndarray) -> Weights:
    """PSIS weights of draws with these log importance ratios (-inf: weight 0)."""
    log_ratios = np.asarray(log_ratios, dtype=float)
    finite = np.isfinite(log_ratios)
    if not finite.any():
        raise ValueError("no draw is compatible with the observations")
    smoothed = np.full(log_ratios.shape, -np.inf)
    kept = log_ratios[finite]
    if kept.max() == kept.min():
        # Equal ratios wherever they are finite (a prior narrowed to part of a uniform's range,
        # or a hard constraint alone): equal weights, no tail to smooth; k-hat 0.
        smoothed[finite], khat = -math.log(kept.size), 0.0
    else:
        smoothed[finite], khat = psis(kept)
    weights = np.exp(smoothed)
    ess = float(weights.sum() ** 2 / np.square(weights).sum())
    raw = np.zeros(log_ratios.shape)
    raw[finite] = np.exp(kept - kept.max())
    return Weights(log_weights=smoothed, khat=khat,
                   multiplicity=quantise(weights, log_ratios.size), ess=ess,
                   excluded=int((~finite).sum()),
                   max_weight_ratio=float(raw.max() / raw.mean()))
