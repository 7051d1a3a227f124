"""How precise a run's headline numbers are, and the stopping rule of ``simcore run --until-mcse``.

The headline numbers are the ones the terminal answer and the summary tables lead with: the
median film time of each profile at the answer's years (Q5), each event's median date and its
probability of not happening by the horizon (Q6, Q7), the probability that a novel-to-movie is
possible by the end of the indicator year, and the overall shares of the binding requirement.
Their Monte Carlo standard errors are those the run reports (order-statistic errors for
medians, binomial errors for probabilities), each put on a scale where one tolerance fits all:

* durations relative to their value (TOL 0.01: the median film time is known to +-1%);
* dates relative to the time from ``as_of`` (a median 7 years out, TOL 0.01: +-0.07 years);
* probabilities absolutely (TOL 0.01: +-1 percentage point).

A median whose error bracket reaches the censored mass ("not by the horizon") has no order-
statistic error; its event's probability of not happening by the horizon, which is then near
one half, carries the precision instead.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..model import ALREADY_MET, BINDING_LABELS, EVENT_NAMES, PROFILES
from ..run.summaries import probability_mcse, year_ends
from .headline import INDICATOR_YEAR, headline_indices

# Never stop before this many draws: below it the error estimates themselves are noisy.
MIN_DRAWS = 20_000
# Growth between checks: at least this factor (each check re-reads the event columns) and at
# most the larger one (so a poor early estimate cannot overshoot by much).
MIN_GROWTH, MAX_GROWTH = 1.25, 4.0
SAFETY = 1.1   # aim a little past the N that the 1/sqrt(N) law predicts


@dataclass(frozen=True)
class Headline:
    name: str
    value: float
    mcse: float
    scale: float     # what the tolerance is relative to (1 for probabilities)

    @property
    def relative_error(self) -> float:
        if self.mcse == 0.0:
            return 0.0
        return self.mcse / self.scale if self.scale > 0 else math.inf


def headlines(result) -> list[Headline]:
    """Every headline number of a run with its Monte Carlo standard error."""
    rows: list[Headline] = []
    for profile in PROFILES:
        hist = result.histograms[f"film_days/{profile}"]
        median = hist.quantiles([0.5])[0]
        with np.errstate(invalid="ignore"):
            mcse = hist.quantile_mcse(0.5)
        for k in headline_indices(result):
            if 0.0 < median[k] < math.inf:     # not off the histogram's range
                rows.append(Headline(f"film_days/{profile} median at {result.time_abs[k]:.2f}",
                                     float(median[k]), float(mcse[k]), float(median[k])))
    as_of = result.priors.as_of_year
    for name in EVENT_NAMES:
        columns = ([(p, i) for i, p in enumerate(PROFILES)]
                   if np.ndim(result.events[name]) == 2 else [("all", None)])
        for profile, index in columns:
            times = result.event(name, index)
            p_not = times.p_not_by_horizon
            rows.append(Headline(f"{name}/{profile} P(not by horizon)", p_not,
                                 probability_mcse(p_not, times.n), 1.0))
            median, mcse = times.quantile(0.5), times.quantile_mcse(0.5)
            if math.isfinite(median) and math.isfinite(mcse):
                # (a median at as_of itself has zero error; the step keeps the scale positive)
                rows.append(Headline(f"{name}/{profile} median date", median, mcse,
                                     max(median - as_of, result.priors.meta.time_step_years)))
    possible = result.event("novel_to_movie_possible")
    if INDICATOR_YEAR in year_ends(as_of, result.horizon_year):
        p = float(possible.probability_by(np.array([INDICATOR_YEAR]))[0])
        rows.append(Headline(f"novel_to_movie_possible P(by end of {INDICATOR_YEAR})", p,
                             probability_mcse(p, possible.n), 1.0))
    binding = np.asarray(result.events["novel_to_movie_binding"])
    counts = np.bincount(binding.astype(np.int64) - ALREADY_MET, minlength=len(BINDING_LABELS))
    for label, count in zip(BINDING_LABELS, counts, strict=False):
        share = count / binding.size
        rows.append(Headline(f"binding share {label}", share,
                             probability_mcse(share, binding.size), 1.0))
    return rows


@dataclass
class UntilMcse:
    """Stopping rule for ``engine.run_forecast(until=...)``: more draws until every headline's
    relative error is at most ``tolerance``. Records the last check in ``worst``."""

    tolerance: float
    first_check: int = MIN_DRAWS
    worst: Headline | None = None
    checks: int = 0

    def __call__(self, result) -> int:
        self.checks += 1
        rows = headlines(result)
        self.worst = max(rows, key=lambda h: h.relative_error)
        ratio = self.worst.relative_error / self.tolerance
        if ratio <= 1.0 and result.draws >= MIN_DRAWS:
            return result.draws
        # Errors shrink as 1/sqrt(N): N * ratio**2 draws should do, within bounds (ratio is
        # capped first: squaring the ratio to a tolerance of 1e-300 would overflow).
        ratio = min(ratio, math.sqrt(MAX_GROWTH / SAFETY))
        wanted = result.draws * min(max(SAFETY * ratio**2, MIN_GROWTH), MAX_GROWTH)
        return max(int(math.ceil(wanted)), MIN_DRAWS)

    @property
    def met(self) -> bool:
        return self.worst is not None and self.worst.relative_error <= self.tolerance

    def summary(self, result) -> dict:
        """What the manifest records about the stopping rule."""
        return {"tolerance": self.tolerance, "draws_reached": result.draws,
                "met": self.met, "checks": self.checks,
                "largest_relative_error": self.worst.relative_error if self.worst else None,
                "largest_error_of": self.worst.name if self.worst else None}
