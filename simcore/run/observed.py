"""Per-draw model values at the dates of observations (issue 16): what a run needs to rank
observations in its own predictive distribution (PIT), to condition on them and to back-test.

Which observations a run scores (:func:`scored`): every modelled row dated inside the run's
window (after ``as_of``, up to the horizon) at its own date, and every row dated in the
``AS_OF_WINDOW`` (half a year) before ``as_of``, or in as_of's own month when as_of is a month,
against the run's as-of value (t = 0; a run claims to know the present, and the model is not
defined before ``as_of``). Drivers are scored
only at as_of (a driver is a value at as_of); events by their per-draw times.

How the values are computed: in the engine's pass, chunk by chunk, from the same driver matrix
and regime clock the chunk was simulated with (no second sampling), by the compiled backend on
a small grid holding 0, the run's own grid times up to the last observation and the
observation times themselves. The model is evaluated *at* each observation's time, not
interpolated: every log-quantity is piecewise linear in time, and the only state the kernel
carries from one grid time to the next (the as-of cost and the once-unlimited free tier) is
monotone in time, so a value at time t does not depend on the other grid times as long as 0
is one of them. Per-draw and elementwise: bit-identical for any chunk size and thread count.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..inputs.observations import Observation
from ..inputs.priors import decimal_year, known_at, time_grid
from ..model import DRIVER_ORDER, N_BINDING_COLUMNS, N_EVENT_COLUMNS, REQUIREMENTS, SERIES, spec

# Observations dated up to this many years before as_of are compared with the as-of value:
# short, because a fast trend (the agent horizon doubles every 4-7 months) moves within it.
AS_OF_WINDOW = 0.5
# Rows per call of the kernel: bounds its (rows x series x grid) scratch to a few MB.
_ROWS_PER_CALL = 4096


@dataclass(frozen=True)
class Scored:
    """An observation a run scores: where (years after as_of; 0 for an as-of comparison)."""

    observation: Observation
    t: float
    as_of: bool          # compared with the as-of value (known at as_of)


def scored(observations, as_of: str, horizon_year: float) -> list[Scored]:
    """The observations a run from ``as_of`` up to ``horizon_year`` ranks, in file order. A row
    known at as_of (an as_of month covers all of it, :func:`..inputs.priors.known_at`) is
    compared with the as-of value: the priors could know it."""
    as_of_year = decimal_year(as_of)
    chosen = []
    for obs in observations:
        if not obs.modelled:
            continue
        year = obs.year
        if as_of_year - AS_OF_WINDOW <= year and known_at(obs.date, as_of):
            chosen.append(Scored(obs, 0.0, True))
        elif as_of_year < year <= horizon_year and obs.measure.kind != "driver":
            chosen.append(Scored(obs, year - as_of_year, False))
    return chosen


def point_name(series: str, t: float) -> str:
    return f"{series}@{t:.6f}"


@dataclass(frozen=True)
class ObservationPoints:
    """The distinct (measure, time) points of a run's scored observations (events excluded:
    their per-draw times are stored already), and the grid the kernel evaluates them on."""

    scored: tuple[Scored, ...]
    names: tuple[str, ...]
    series: tuple[str, ...]
    t: np.ndarray
    grid: np.ndarray
    grid_index: np.ndarray
    # The observation files' exact bytes (path -> bytes): what a run copies, verify reloads.
    files: dict = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def for_run(cls, chosen: list[Scored], run_grid: np.ndarray,
                files: dict | None = None) -> ObservationPoints:
        points = sorted({(s.observation.series, s.t) for s in chosen
                         if s.observation.measure.kind != "event"})
        times = np.array([t for _, t in points], dtype=float)
        last = times.max() if times.size else 0.0
        grid = np.unique(np.concatenate([[0.0], run_grid[run_grid <= last], times]))
        return cls(scored=tuple(chosen), names=tuple(point_name(s, t) for s, t in points),
                   series=tuple(s for s, _ in points), t=times, grid=grid,
                   grid_index=np.searchsorted(grid, times), files=dict(files or {}))

    def __len__(self) -> int:
        return len(self.names)

    @classmethod
    def for_priors(cls, observations, priors) -> ObservationPoints:
        """The points a run of ``priors`` scores among ``observations``."""
        grid = time_grid(priors)
        chosen = scored(observations, priors.meta.as_of, priors.as_of_year + grid[-1])
        return cls.for_run(chosen, grid, getattr(observations, "contents", None))

    def dataset(self, observed: np.ndarray):
        """run.nc's /observed group: every draw's base-2 log (or value) at every point."""
        import xarray as xr

        return xr.Dataset(
            {"log2_value": (("sample", "point"), observed,
                            {"description": "per draw, base-2 log of the measure at the point "
                                            "(a driver not on a log scale: its value)"})},
            coords={"point": list(self.names), "series": ("point", list(self.series)),
                    "years_after_as_of": ("point", self.t)})

    def table_dataset(self):
        """run.nc's /observations group: the scored observations themselves (what charts draw
        over the fans): id, measure, profile, decimal year, value or interval (NaN where not
        given), quality tier, and whether the run compares it with its as-of value."""
        import xarray as xr

        rows = [s.observation for s in self.scored]

        def number(v):
            return np.nan if v is None else float(v)
        text = {"id": [o.id for o in rows], "measures": [o.measures for o in rows],
                "profile": [o.profile or "all" for o in rows],
                "quality": [o.quality for o in rows]}
        return xr.Dataset(
            {**{k: ("observation", np.array(v, dtype=object)) for k, v in text.items()},
             "year": ("observation", np.array([o.year for o in rows], dtype=float)),
             "value": ("observation", np.array([number(o.value) for o in rows])),
             "low": ("observation", np.array([number(o.low) for o in rows])),
             "high": ("observation", np.array([number(o.high) for o in rows])),
             "compared_at_as_of": ("observation",
                                   np.array([s.as_of for s in self.scored], dtype=np.int8))},
            attrs={"description": "the observations this run ranks (observations.csv has "
                                  "their ranks), in the model's units"})

    def evaluate(self, drivers: np.ndarray, clock: np.ndarray, as_of_year: float) -> np.ndarray:
        """Base-2 logs of every point for each row of ``drivers`` (rows x DRIVER_ORDER, the
        engine's chunk) with its regime ``clock``: (rows, points)."""
        from numba import get_num_threads

        from ..model import kernel

        rows = drivers.shape[0]
        out = np.empty((rows, len(self)))
        if not len(self) or not rows:
            return out
        grid = np.ascontiguousarray(self.grid)
        years = as_of_year + grid
        for start in range(0, rows, _ROWS_PER_CALL):
            stop = min(start + _ROWS_PER_CALL, rows)
            n = stop - start
            matrix = np.asfortranarray(drivers[start:stop])
            series = np.empty((n, len(SERIES), grid.size))
            gaps = np.empty((n, len(REQUIREMENTS), grid.size))
            events = np.empty((n, N_EVENT_COLUMNS))
            binding = np.empty((n, N_BINDING_COLUMNS), dtype=np.int8)
            kernel.simulate_points(matrix, grid, years, np.asfortranarray(clock[start:stop]),
                                   series, gaps, events, binding, False,
                                   max(min(n, get_num_threads()), 1))
            for p, (name, k) in enumerate(zip(self.series, self.grid_index, strict=True)):
                out[start:stop, p] = _log2_at(name, k, matrix, series, gaps)
        return out


def _log2_at(name: str, k: int, matrix: np.ndarray, series: np.ndarray,
             gaps: np.ndarray) -> np.ndarray:
    if name in spec.SERIES_ROW:
        return series[:, spec.SERIES_ROW[name], k]
    if name in spec.LEVEL_BY_NAME:
        level = spec.LEVEL_BY_NAME[name]
        need = sum(np.log2(matrix[:, DRIVER_ORDER.index(d)]) for d in level.need_drivers)
        return need - gaps[:, spec.REQUIREMENT_ROW[level.requirement], k]
    # A driver: its drawn value (at as_of), as a base-2 log when it is positive-only.
    column = matrix[:, DRIVER_ORDER.index(name)]
    return np.log2(column) if spec.DRIVER_DOMAINS[name].low_open else column
