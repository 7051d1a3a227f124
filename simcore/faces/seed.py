"""The seed forecast (Q9): a published point forecast, loaded from data and ranked in a run.

The forecast lives in ``data/seed_forecast.toml`` (source: the seed document
``000_519ea55294f20521.txt`` of January 2026). :func:`compare` places each of its points in a
stored run's distribution, reading only what the run stored (never recomputing the model), and
:func:`write_comparison` writes the result as ``seed_comparison.csv`` in the run directory.

How a point is ranked
---------------------
*Film time (Q5).* A point for calendar year ``Y`` stands for the middle of that year
(``Y + 0.5``) unless the file gives a ``date``. Points dated before the run's ``as_of`` (or after
its horizon) are **history**: drawn on the charts, not ranked. A ranked point is compared with the
``no_hardware`` profile (the seed's free-tier user owns no hardware that could generate locally;
the profile used is the ``profile`` column and the file's ``[source] profile``). Its percentile
rank is ``P(film_days <= seed value)`` at the point's date, in percent: the share of simulated
worlds in which a free user is at least as fast as the seed says. It is read from the stored
percentile table of ``film_days`` (quantiles 5, 10, 25, 50, 75, 90, 95): each stored quantile is
first interpolated to the point's date linearly in time and in log(value) (the grid is
quarterly; the model's trends are log-linear between grid points), then the rank is interpolated
linearly in log(value) between the two stored quantiles that bracket the seed value. The table
is exact to within one histogram bin (1.1% in value), so inside [5%, 95%] the rank is good to a
fraction of a percentile. Outside that range the table cannot say more than "below the 5th" or
"above the 95th percentile": ``percentile_rank`` is then empty and ``rank_text`` says which side.
As a coarse cross-check that also works outside [5%, 95%], ``share_of_sample_paths_at_or_below``
gives the share of the stored sample paths (the first ``n_sample_paths`` draws, a random sample,
interpolated to the date the same way) at or below the seed value; its standard error is about
``sqrt(p (1 - p) / n_sample_paths)``.

*Novel-to-movie (Q7).* The seed's "2029-2030" becomes one row per year ``Y``, dated at the end of
``Y``. Its percentile rank is exact: ``P(novel_to_movie_possible by the end of Y)``, the share
of the stored per-draw event times ``<= Y + 1`` (the same number as ``events.csv``'s ``p_by``).
Draws in which the milestone is not reached by the horizon count as later than any seed year.
"""

from __future__ import annotations

import math
import weakref
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from ..base.csvfiles import write_csv
from ..base.errors import SimcoreError
from ..base.tomlfiles import read_toml
from ..model import spec
from ..stored.tree import event_distribution, has_per_draw
from .formatting import human_duration

SEED_FILE = Path(__file__).resolve().parents[2] / "data" / "seed_forecast.toml"
COMPARISON_FILE = "seed_comparison.csv"
UNIT_DAYS = {"minutes": 1 / 1440, "hours": 1 / 24, "days": 1.0, "weeks": 7.0,
             "months": 365.25 / 12, "years": 365.25}
COLUMNS = ["quantity", "profile", "year", "date", "seed_value", "seed_text", "status",
           "percentile_rank", "rank_text", "run_p05", "run_median", "run_p95",
           "run_median_text", "share_of_sample_paths_at_or_below", "n_sample_paths", "method",
           "why"]


class SeedForecastError(SimcoreError):
    """The seed forecast file is missing or malformed."""


@dataclass(frozen=True)
class SeedPoint:
    """One Q5 point: ``days`` for a free-tier user to generate a 90-minute film in ``year``."""

    year: int
    date: float
    days: float
    text: str       # e.g. "~9 months (~60 s of video per day)"
    why: str = ""   # why this baseline differs from the point, in words


@dataclass(frozen=True)
class SeedMilestone:
    event: str
    first_year: int
    last_year: int
    text: str
    why: str = ""

    @property
    def years(self) -> list[int]:
        return list(range(self.first_year, self.last_year + 1))


@dataclass(frozen=True)
class SeedForecast:
    document: str
    written: str
    title: str
    profile: str
    footage_seconds: float
    note: str
    points: tuple[SeedPoint, ...]
    milestone: SeedMilestone
    path: Path

    @property
    def label(self) -> str:
        """'seed forecast (Jan 2026)'."""
        year, _, month = self.written.partition("-")
        months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov",
                  "Dec"]
        when = f"{months[int(month) - 1]} {year}" if month.isdigit() and 1 <= int(month) <= 12 \
            else self.written
        return f"seed forecast ({when})"


def load_seed_forecast(path: str | Path | None = None) -> SeedForecast:
    """Read the seed forecast file (default ``data/seed_forecast.toml``)."""
    path = Path(path) if path is not None else SEED_FILE
    raw = read_toml(path, SeedForecastError, "seed forecast")
    try:
        source = raw["source"]
        points = []
        for i, p in enumerate(raw["film_days"]):
            unit = p["unit"]
            if unit not in UNIT_DAYS:
                raise SeedForecastError(f"{path}: film_days[{i}].unit: {unit!r} is not one of "
                                        f"{', '.join(UNIT_DAYS)}")
            value = float(p["value"])
            words = unit[:-1] if value == 1 else unit
            text = f"~{value:g} {words}" + (f" ({p['basis']})" if p.get("basis") else "")
            points.append(SeedPoint(year=int(p["year"]), date=float(p.get("date", p["year"] + 0.5)),
                                    days=value * UNIT_DAYS[unit], text=text,
                                    why=str(p.get("why", ""))))
        m = raw["milestone"]
        milestone = SeedMilestone(event=m["event"], first_year=int(m["first_year"]),
                                  last_year=int(m["last_year"]), text=m.get("text", ""),
                                  why=str(m.get("why", "")))
        return SeedForecast(document=source["document"], written=source["written"],
                            title=source.get("title", ""),
                            profile=source.get("profile", "no_hardware"),
                            footage_seconds=float(source.get("footage_seconds", math.nan)),
                            note=source.get("note", ""),
                            points=tuple(sorted(points, key=lambda p: p.date)),
                            milestone=milestone, path=path)
    except KeyError as exc:
        raise SeedForecastError(f"{path}: missing field {exc.args[0]!r}") from None
    except (TypeError, ValueError) as exc:
        raise SeedForecastError(f"{path}: bad value: {exc}") from None


_DEFAULT: dict[tuple, SeedForecast] = {}


def default_seed_forecast() -> SeedForecast | None:
    """The shipped seed forecast, or None when the data folder is not installed (read once per
    process while the file is unchanged)."""
    try:
        stat = SEED_FILE.stat()
    except OSError:
        return None
    key = (stat.st_mtime_ns, stat.st_size)
    if key not in _DEFAULT:
        _DEFAULT.clear()
        _DEFAULT[key] = load_seed_forecast()
    return _DEFAULT[key]


def ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _log_at(date: float, times: np.ndarray, values: np.ndarray) -> np.ndarray:
    """``values`` (..., T) interpolated to ``date`` linearly in time and in log(value)."""
    k = int(np.clip(np.searchsorted(times, date, side="right") - 1, 0, times.size - 2))
    w = (date - times[k]) / (times[k + 1] - times[k])
    with np.errstate(divide="ignore", invalid="ignore"):
        low, high = np.log(values[..., k]), np.log(values[..., k + 1])
        return np.where(w == 0.0, low, (1.0 - w) * low + w * high)


def rank_in_table(quantiles: np.ndarray, log_values: np.ndarray, log_x: float) -> float:
    """Percentile rank (0-1) of ``exp(log_x)`` from a quantile table, linear in log(value)
    between the bracketing quantiles; -inf below the first quantile, +inf above the last."""
    if log_x < log_values[0]:
        return -math.inf
    if log_x > log_values[-1]:
        return math.inf
    # Among equal stored values (a flat stretch of the distribution) take the middle rank.
    low = np.interp(log_x, log_values, quantiles)
    high = -np.interp(-log_x, -log_values[::-1], -quantiles[::-1])
    return float((low + high) / 2.0)


def _film_rows(run: xr.DataTree, seed: SeedForecast) -> list[dict]:
    traj = run["trajectories"]
    times = np.asarray(traj["time"].values, dtype=float)
    quantiles = np.asarray(traj["quantile"].values, dtype=float)
    table = traj["film_days"].sel(profile=seed.profile).transpose("quantile", "time").values
    paths = run["trajectories/paths"]["film_days"].sel(profile=seed.profile)
    paths = paths.transpose("path", "time").values
    rows = []
    for point in seed.points:
        row = {"quantity": "film_days", "profile": seed.profile, "year": point.year,
               "date": round(point.date, 4), "seed_value": point.days, "seed_text": point.text,
               "status": "history", "percentile_rank": math.nan, "rank_text": "",
               "run_p05": math.nan, "run_median": math.nan, "run_p95": math.nan,
               "run_median_text": "",
               "share_of_sample_paths_at_or_below": math.nan, "n_sample_paths": paths.shape[0],
               "method": "history: before the run's as_of, not ranked", "why": point.why}
        if not times[0] <= point.date <= times[-1]:
            if point.date > times[-1]:
                row["method"] = "after the run's horizon, not ranked"
            rows.append(row)
            continue
        log_q = _log_at(point.date, times, table)
        rank = rank_in_table(quantiles, log_q, math.log(point.days))
        if math.isfinite(rank):
            text = f"{ordinal(round(rank * 100))} percentile"
        else:
            side, q = ("below", quantiles[0]) if rank < 0 else ("above", quantiles[-1])
            text = f"{side} the {ordinal(round(q * 100))} percentile"
        median = float(np.exp(np.interp(0.5, quantiles, log_q)))
        # NaN when the run stores no paths (--paths 0): there is no share to give.
        at_or_below = (float(np.mean(_log_at(point.date, times, paths) <= math.log(point.days)))
                       if paths.shape[0] else math.nan)
        row.update({
            "status": "ranked", "percentile_rank": rank * 100 if math.isfinite(rank) else math.nan,
            "rank_text": text, "run_p05": float(np.exp(np.interp(0.05, quantiles, log_q))),
            "run_median": median, "run_p95": float(np.exp(np.interp(0.95, quantiles, log_q))),
            "run_median_text": human_duration(median),
            "share_of_sample_paths_at_or_below": at_or_below,
            "method": "P(film_days <= seed value) at the date, interpolated in log(value) "
                      "in the stored percentile table"})
        rows.append(row)
    return rows


def _milestone_rows(run: xr.DataTree, seed: SeedForecast) -> list[dict]:
    m = seed.milestone
    per_profile = spec.per_profile(spec.EVENT_BY_NAME[m.event])
    profile = seed.profile if per_profile else "all"   # compared with the seed's profile
    times = event_distribution(run, m.event, seed.profile if per_profile else None)
    grid = run["trajectories"]["time"].values
    horizon_words = f"not by {math.floor(grid[-1])}"
    # Inverted-CDF quantiles, as events_summary.csv.
    p05, p50, p95 = times.quantiles([0.05, 0.5, 0.95])
    p_by = times.probability_by(np.array(m.years))
    method = ("P(event by the end of the year), exact from the stored per-draw event times "
              "(not by the horizon counts as later)" if has_per_draw(run) else
              "P(event by the end of the year), exact from the stored counts of event times "
              "(a run without per-draw groups; quantiles within 6 hours)")
    rows = []
    for year, p in zip(m.years, p_by, strict=True):
        end = float(year + 1)
        ranked = grid[0] <= end <= grid[-1]
        p = float(p)
        rows.append({
            "quantity": m.event, "profile": profile, "year": year, "date": end,
            "seed_value": float(year), "seed_text": f"{m.text} (by the end of {year})",
            "status": "ranked" if ranked else "history",
            "percentile_rank": p * 100 if ranked else math.nan,
            "rank_text": (f"{p:.1%} of simulated worlds have it by the end of {year}"
                          if ranked else ""),
            "run_p05": p05, "run_median": p50, "run_p95": p95,
            "run_median_text": f"{p50:.2f}" if math.isfinite(p50) else horizon_words,
            "share_of_sample_paths_at_or_below": math.nan, "n_sample_paths": 0,
            "method": method,
            "why": m.why,
        })
    return rows


_COMPARED: dict[tuple[int, int], tuple[weakref.ref, SeedForecast, pd.DataFrame]] = {}


def compare(run: xr.DataTree, seed: SeedForecast | None = None) -> pd.DataFrame:
    """Every seed point placed in the run's distribution (see the module docstring). Remembered
    per (run, seed) while the run lives: ``simcore run`` writes the table and draws it."""
    seed = seed or load_seed_forecast()
    key = (id(run), id(seed))
    hit = _COMPARED.get(key)
    if hit is not None and hit[0]() is run and hit[1] is seed:
        return hit[2].copy()
    table = pd.DataFrame(_film_rows(run, seed) + _milestone_rows(run, seed), columns=COLUMNS)
    _COMPARED[key] = (weakref.ref(run, lambda _, k=key: _COMPARED.pop(k, None)), seed, table)
    return table.copy()


def write_comparison(run: xr.DataTree, directory: str | Path,
                     seed: SeedForecast | None = None) -> Path | None:
    """Write ``seed_comparison.csv`` into ``directory``; None if no seed forecast is installed."""
    seed = seed or default_seed_forecast()
    if seed is None:
        return None

    return write_csv(compare(run, seed), Path(directory) / COMPARISON_FILE)
