"""Statistics of per-draw event times: P(by date) curves on a monthly grid, and which
requirement of Q7 binds among the worlds reaching the milestone by each year."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..run.summaries import MONTH_SLOTS, EventSlots, count_slots, year_slots


@dataclass(frozen=True)
class EventCurve:
    """P(event by date) on a monthly grid from as_of to the horizon, from per-draw times."""

    dates: np.ndarray
    p_by: np.ndarray
    p_not_by_horizon: float
    n: int

    def at(self, date: float) -> float:
        """P(by ``date``) at a grid date (e.g. a year's end)."""
        k = int(np.argmin(np.abs(self.dates - date)))
        if abs(self.dates[k] - date) > 1e-9:
            raise ValueError(f"{date} is not on the curve's grid")
        return float(self.p_by[k])


def event_curves(times: np.ndarray, as_of: float, horizon: float,
                 per_year: int = 12) -> list[EventCurve]:
    """P(time <= d) for each column of ``times`` ((n,) or (n, m)), at d = as_of, every month's
    end after it (calendar months, so every year's end is on the grid: these values equal
    ``events.csv``), and the horizon. The times are counted into monthly slots in one compiled
    pass: fast at millions of draws, no sort. ``(t - first) * 12`` is exact at whole years, so a
    time that falls on a year's end is counted by that year, as in the tables."""
    times = np.asarray(times, dtype=np.float64)
    times = times[:, None] if times.ndim == 1 else times
    first = math.floor(as_of)
    k_max = math.ceil((horizon - first) * per_year)
    counts, at_as_of, reached = count_slots(times, first, per_year, k_max, as_of)
    return [_curve(np.cumsum(counts[c, :k_max + 1]), int(at_as_of[c]), int(reached[c]),
                   times.shape[0], first, per_year, as_of, horizon)
            for c in range(times.shape[1])]


def slot_curve(slots: EventSlots, column: int) -> EventCurve:
    """``event_curves``' monthly curve of one column of a run's event slots (a run without
    per-draw groups): each month's end is a slot edge, so the values are the same counts."""
    cumulative = slots.cumulative(column)[::MONTH_SLOTS]
    return _curve(cumulative, int(slots.at_as_of[column]), int(slots.finite[column]), slots.n,
                  slots.first, 12, slots.as_of, slots.horizon)


def _curve(cumulative: np.ndarray, at_as_of: int, reached: int, n: int, first: float,
           per_year: int, as_of: float, horizon: float) -> EventCurve:
    """The curve from the draws by each slot's end (``cumulative``, slots 0..k_max)."""
    grid = first + np.arange(cumulative.size) / per_year
    inside = (grid > as_of) & (grid < horizon)
    dates = np.concatenate([[as_of], grid[inside], [horizon]])
    p_by = np.concatenate([[at_as_of / n], cumulative[inside] / n, [reached / n]])
    return EventCurve(dates=dates, p_by=p_by, p_not_by_horizon=1.0 - reached / n, n=n)


def event_curve(times: np.ndarray, as_of: float, horizon: float,
                per_year: int = 12) -> EventCurve:
    """``event_curves`` of one event's times (n,)."""
    return event_curves(np.asarray(times).reshape(-1), as_of, horizon, per_year)[0]


def binding_joint(times: np.ndarray, label_index: np.ndarray, n_labels: int,
                  years: np.ndarray) -> np.ndarray:
    """Joint counts (len(years) + 1, n_labels) of the year slot in which the milestone is reached
    (``year_slots``: the last row is "not by the horizon") and the binding requirement's label
    index: ``binding.csv`` and the binding chart both read their shares from these."""
    slot = year_slots(np.asarray(times, dtype=np.float64), years)
    slot *= n_labels
    slot += label_index
    return np.bincount(slot, minlength=(years.size + 1) * n_labels).reshape(-1, n_labels)


def binding_by_year(times: np.ndarray, label_index: np.ndarray, n_labels: int,
                    years: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Which requirement of Q7 was met last, among the worlds reaching the milestone by the end
    of each of ``years``: (shares (labels, years), NaN where no world reached it; reached
    (years,))."""
    return binding_shares(binding_joint(times, label_index, n_labels, years), years)


def binding_shares(joint: np.ndarray, years: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``binding_by_year`` from the joint counts of ``binding_joint``."""
    reached_by = np.cumsum(joint[:years.size], axis=0)          # (years, labels)
    reached = reached_by.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        shares = np.where(reached[:, None] > 0, reached_by / reached[:, None], np.nan)
    return shares.T, reached
