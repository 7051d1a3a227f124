"""Statistics of per-draw event times: P(by date) curves on a monthly grid, and which
requirement of Q7 binds among the worlds reaching the milestone by each year."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..run.summaries import year_slots


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


def _count_slots_py(times, first, per_year, k_max, as_of):
    """For each column of ``times`` (n, m): counts[c, j] = #{t: first + (j-1)/per_year < t <=
    first + j/per_year} (slot 0: t <= first; slot k_max + 1: later, +inf and NaN included),
    #{t <= as_of} and #{t finite}."""
    n, m = times.shape
    counts = np.zeros((m, k_max + 2), dtype=np.int64)
    at_as_of = np.zeros(m, dtype=np.int64)
    finite = np.zeros(m, dtype=np.int64)
    last = k_max + 1
    # Column by column, the two tallies in locals: as array elements bumped on every value they
    # chained each iteration to the last through memory.
    for c in range(m):
        row = counts[c]
        n_as_of = 0
        n_finite = 0
        for i in range(n):
            t = times[i, c]
            slot = last
            if t < math.inf:
                n_finite += 1
                x = (t - first) * per_year
                if x < last:
                    slot = max(int(math.ceil(x)), 0)
            row[slot] += 1
            if t <= as_of:
                n_as_of += 1
        at_as_of[c] = n_as_of
        finite[c] = n_finite
    return counts, at_as_of, finite


_COUNT_SLOTS = None


def count_slots(times, first, per_year, k_max, as_of):
    """The compiled form of ``_count_slots_py``: one pass per column, no temporaries, and it
    releases the GIL (``simcore run`` draws its charts while another thread writes run.nc)."""
    global _COUNT_SLOTS
    if _COUNT_SLOTS is None:
        import numba
        _COUNT_SLOTS = numba.njit(cache=True, nogil=True)(_count_slots_py)
    return _COUNT_SLOTS(times, float(first), float(per_year), int(k_max), float(as_of))


def event_curves(times: np.ndarray, as_of: float, horizon: float,
                 per_year: int = 12) -> list[EventCurve]:
    """P(time <= d) for each column of ``times`` ((n,) or (n, m)), at d = as_of, every month's
    end after it (calendar months, so every year's end is on the grid: these values equal
    ``events.csv``), and the horizon. The times are counted into monthly slots in one compiled
    pass: fast at millions of draws, no sort. ``(t - first) * 12`` is exact at whole years, so a
    time that falls on a year's end is counted by that year, as in the tables."""
    times = np.asarray(times, dtype=np.float64)
    times = times[:, None] if times.ndim == 1 else times
    n = times.shape[0]
    first = math.floor(as_of)
    k_max = math.ceil((horizon - first) * per_year)
    counts, at_as_of, reached = count_slots(times, first, per_year, k_max, as_of)
    grid = first + np.arange(k_max + 1) / per_year
    inside = (grid > as_of) & (grid < horizon)
    dates = np.concatenate([[as_of], grid[inside], [horizon]])
    curves = []
    for c in range(times.shape[1]):
        cdf = np.cumsum(counts[c, :k_max + 1]) / n
        p_by = np.concatenate([[at_as_of[c] / n], cdf[inside], [reached[c] / n]])
        curves.append(EventCurve(dates=dates, p_by=p_by,
                                 p_not_by_horizon=1.0 - reached[c] / n, n=n))
    return curves


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
    joint = binding_joint(times, label_index, n_labels, years)
    reached_by = np.cumsum(joint[:years.size], axis=0)          # (years, labels)
    reached = reached_by.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        shares = np.where(reached[:, None] > 0, reached_by / reached[:, None], np.nan)
    return shares.T, reached
