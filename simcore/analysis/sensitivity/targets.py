"""What sensitivity is measured on: headline outputs, their years, and how censoring is handled.

A *target* is one scalar per simulated world: a trajectory output at one grid time (e.g.
``film_days`` for the no-hardware profile in 2030), an event's time, or whether an event has
happened by the end of a given year. Every analysis in this package (given-data indices on a
run's draws, Sobol and Morris indices, tornado swings) is computed per target, and every table
it writes names the target by the same columns: ``output, profile, year, quantity``.

Censoring: an event not reached by the horizon has time ``+inf`` in a run. For rank- and
CDF-based measures (Spearman, PRCC, PAWN) it is replaced by ``horizon + 1`` year, a value
beyond every observed time: all censored worlds then tie as "latest", which is exactly what
they are, and no information is invented about *how much* later. Variance-based measures
(Sobol, Morris, tornado swings) analyse the same capped time, so "not by the horizon" counts as
one year past it; the share of capped values is reported with every target, and the 0/1
indicator "by the end of YEAR" (whose variance decomposition needs no cap) is analysed beside it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ...model import EVENT_SPECS, OUTPUTS, PROFILES, per_profile
from ..headline import INDICATOR_YEAR

ALL_PROFILES = "all"           # the profile of outputs that do not depend on the user
HEADLINE_CALENDAR_YEARS = (2030, 2035, 2040)   # plus as_of + 1, see headline_offsets
CENSORED_OFFSET_YEARS = 1.0    # censored event times are placed this far past the horizon
LOG10_BOUND = 30.0             # log10 values are clipped to +-this (extreme priors only)

# What a target's scalar is, in the tables' ``quantity`` column.
VALUE, LOG10_VALUE, TIME, BY_YEAR = "value", "log10_value", "time", "by_end_of_year"


@dataclass(frozen=True)
class Target:
    """One scalar per world. ``series`` and ``time_index`` locate trajectory targets;
    ``event`` and ``column`` (profile index, or None) locate event targets."""

    output: str
    profile: str
    year: int | None
    quantity: str
    series: str | None = None
    time_index: int | None = None
    event: str | None = None
    column: int | None = None

    @property
    def key(self) -> tuple[str, str, int | None, str]:
        return (self.output, self.profile, self.year, self.quantity)

    @property
    def label(self) -> str:
        where = "" if self.profile == ALL_PROFILES else f" ({self.profile})"
        if self.quantity == BY_YEAR:
            return f"{self.output}{where} by end of {self.year}"
        if self.quantity == TIME:
            return f"{self.output}{where} time"
        return f"{self.output}{where} {self.year}"


def offset_index(offset_years: float, time_step_years: float) -> int:
    return int(round(offset_years / time_step_years))


def year_offsets(as_of_year: float, horizon_years: float) -> list[int]:
    """Whole years after as_of inside the horizon: 0, 1, ..., floor(horizon)."""
    return list(range(0, math.floor(horizon_years + 1e-9) + 1))


def headline_offsets(as_of_year: float, horizon_years: float,
                     calendar_years=HEADLINE_CALENDAR_YEARS) -> list[int]:
    """Offsets (whole years after as_of) of the headline years: as_of + 1 and each calendar
    year in ``calendar_years`` (read at as_of's month, like the terminal answer's "2030-11"),
    kept if inside the horizon, without repeats."""
    first = math.floor(as_of_year)
    wanted = [1, *(year - first for year in calendar_years)]
    out = []
    for k in wanted:
        if 0 <= k <= horizon_years + 1e-9 and k not in out:
            out.append(k)
    return sorted(out)


def calendar_year(as_of_year: float, offset: int) -> int:
    return math.floor(as_of_year) + offset


def trajectory_targets(output: str, offsets, as_of_year: float, time_step_years: float,
                       quantity: str = VALUE) -> list[Target]:
    by_profile = OUTPUTS[output][0]
    profiles = PROFILES if by_profile else (None,)
    targets = []
    for profile in profiles:
        series = f"{output}/{profile}" if profile else output
        for k in offsets:
            targets.append(Target(output, profile or ALL_PROFILES,
                                  calendar_year(as_of_year, k), quantity, series=series,
                                  time_index=offset_index(k, time_step_years)))
    return targets


def event_targets(quantity: str = TIME, year: int | None = None) -> list[Target]:
    """Every event (per profile where it has one), as its time or as 'by the end of year'."""
    targets = []
    for event in EVENT_SPECS:
        columns = list(enumerate(PROFILES)) if per_profile(event) else [(None, ALL_PROFILES)]
        for column, profile in columns:
            targets.append(Target(event.name, profile, year, quantity, event=event.name,
                                  column=column))
    return targets


def censor(times: np.ndarray, horizon_year: float) -> np.ndarray:
    """Event times with +inf (not by the horizon) replaced by horizon + 1 year."""
    return np.where(np.isfinite(times), times, horizon_year + CENSORED_OFFSET_YEARS)


def target_values(target: Target, events: dict[str, np.ndarray],
                  trajectories: dict[str, np.ndarray] | None, horizon_year: float,
                  rows: slice | np.ndarray = slice(None)) -> np.ndarray:
    """The target's scalar for each world (float64): trajectories as values or log10 values,
    events as censored times or 0/1 'by the end of year' indicators."""
    if target.series is not None:
        values = np.asarray(trajectories[target.series][rows, target.time_index], float)
        if target.quantity != LOG10_VALUE:
            return values
        # Worlds whose film time is 0 or infinite (only with extreme priors) are clipped to
        # 1e-30 / 1e30: finite, and far beyond anything a variance share could be about.
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.clip(np.log10(values), -LOG10_BOUND, LOG10_BOUND)
    times = events[target.event]
    times = times[rows] if target.column is None else times[rows, target.column]
    if target.quantity == BY_YEAR:
        return (times <= target.year + 1.0).astype(float)   # by the end of the year
    return censor(times, horizon_year)


def censored_share(target: Target, events: dict[str, np.ndarray],
                   rows: slice | np.ndarray = slice(None)) -> float:
    if target.event is None or target.quantity != TIME:
        return 0.0
    times = events[target.event]
    times = times[rows] if target.column is None else times[rows, target.column]
    return float(np.mean(~np.isfinite(times))) if times.size else 0.0


def headline_targets(as_of_year: float, horizon_years: float, time_step_years: float,
                     indicator_year: int | None = INDICATOR_YEAR,
                     calendar_years=HEADLINE_CALENDAR_YEARS) -> list[Target]:
    """The targets of variance-based analyses and tornado swings: log10 film_days per profile
    at the headline years, every event's (censored) time, and, if ``indicator_year`` ends inside
    the run, whether each event has happened by the end of it."""
    offsets = headline_offsets(as_of_year, horizon_years, calendar_years)
    targets = trajectory_targets("film_days", offsets, as_of_year, time_step_years, LOG10_VALUE)
    targets += event_targets(TIME)
    horizon_year = as_of_year + horizon_years
    if indicator_year is not None and as_of_year <= indicator_year + 1.0 <= horizon_year:
        targets += event_targets(BY_YEAR, indicator_year)
    return targets


def select(targets: list[Target], outputs) -> list[Target]:
    """Targets whose output is one of ``outputs`` (all if empty)."""
    if not outputs:
        return targets
    wanted = set(outputs)
    return [t for t in targets if t.output in wanted]
