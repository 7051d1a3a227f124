"""Outside forecasts: published forecasts of the same milestones by others (prediction markets,
surveys, statements), each placed in a run's distribution next to why the model differs.

The forecasts live in ``data/outside_forecasts.toml``; each names the spec's milestone it is
compared with and the year it is about. A run writes ``outside_comparison.csv``: the run's
probability that the milestone is met by the end of that year (exact, from the stored per-draw
event times) beside the forecaster's number, or "history" when the year ended before as_of.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from ..base.csvfiles import write_csv
from ..base.errors import SimcoreError
from ..base.tomlfiles import read_toml
from ..model import spec
from ..stored.tree import event_distribution

OUTSIDE_FILE = Path(__file__).resolve().parents[2] / "data" / "outside_forecasts.toml"
COMPARISON_FILE = "outside_comparison.csv"
BARS = ("higher", "same", "lower", "different")
COLUMNS = ["who", "made", "question", "url", "event", "by_end_of", "claim", "probability",
           "status", "run_p_by", "bar", "why"]
_FIELDS = ("who", "made", "question", "url", "event", "by_end_of", "claim", "bar", "why")


class OutsideForecastError(SimcoreError):
    """The outside-forecasts file is missing or malformed."""


@dataclass(frozen=True)
class OutsideForecast:
    who: str
    made: str
    question: str
    url: str
    event: str
    by_end_of: int
    claim: str
    probability: float      # NaN: a statement without a probability
    bar: str
    why: str


def load_outside_forecasts(path: str | Path | None = None) -> tuple[OutsideForecast, ...]:
    """Read the outside-forecasts file; every problem names the file, the entry and the field."""
    path = Path(path) if path is not None else OUTSIDE_FILE
    raw = read_toml(path, OutsideForecastError, "outside forecasts")
    entries = raw.get("forecast", [])
    if not isinstance(entries, list):
        raise OutsideForecastError(f"{path}: forecast: expected [[forecast]] tables")
    forecasts = []
    for i, entry in enumerate(entries):
        where = f"{path}: forecast[{i}]"
        if not isinstance(entry, dict):
            raise OutsideForecastError(f"{where}: expected a table")
        missing = [name for name in _FIELDS if name not in entry]
        if missing:
            raise OutsideForecastError(f"{where}: missing field {missing[0]!r}")
        if entry["event"] not in spec.EVENT_BY_NAME:
            raise OutsideForecastError(f"{where}.event: unknown milestone {entry['event']!r}")
        if entry["bar"] not in BARS:
            raise OutsideForecastError(f"{where}.bar: {entry['bar']!r} is not one of "
                                       f"{', '.join(BARS)}")
        year = entry["by_end_of"]
        if not isinstance(year, int) or isinstance(year, bool):
            raise OutsideForecastError(f"{where}.by_end_of: expected a year (an integer)")
        probability = entry.get("probability", math.nan)
        if (not isinstance(probability, (int, float)) or isinstance(probability, bool)
                or not (math.isnan(probability) or 0.0 <= probability <= 1.0)):
            raise OutsideForecastError(f"{where}.probability: expected a number in [0, 1]")
        forecasts.append(OutsideForecast(
            who=str(entry["who"]), made=str(entry["made"]), question=str(entry["question"]),
            url=str(entry["url"]), event=entry["event"], by_end_of=year,
            claim=str(entry["claim"]), probability=float(probability), bar=entry["bar"],
            why=str(entry["why"])))
    return tuple(forecasts)


def default_outside_forecasts() -> tuple[OutsideForecast, ...] | None:
    """The shipped outside forecasts, or None when the data folder is not installed."""
    return load_outside_forecasts() if OUTSIDE_FILE.is_file() else None


def compare(run: xr.DataTree, forecasts: tuple[OutsideForecast, ...]) -> pd.DataFrame:
    """Each forecast with the run's P(its milestone by the end of its year), or "history"."""
    grid = np.asarray(run["trajectories"]["time"].values, dtype=float)
    rows, times_of = [], {}
    for forecast in forecasts:
        if forecast.event not in times_of:
            times_of[forecast.event] = event_distribution(run, forecast.event)
        times = times_of[forecast.event]
        end = float(forecast.by_end_of + 1)
        ranked = grid[0] <= end <= grid[-1]
        rows.append({
            "who": forecast.who, "made": forecast.made, "question": forecast.question,
            "url": forecast.url, "event": forecast.event, "by_end_of": forecast.by_end_of,
            "claim": forecast.claim, "probability": forecast.probability,
            "status": "ranked" if ranked else "history",
            "run_p_by": (float(times.probability_by(np.array([forecast.by_end_of]))[0])
                         if ranked else math.nan),
            "bar": forecast.bar, "why": forecast.why})
    return pd.DataFrame(rows, columns=COLUMNS)


def write_outside_comparison(run: xr.DataTree, directory: str | Path) -> Path | None:
    """Write ``outside_comparison.csv``; None if no outside forecasts are installed."""
    forecasts = default_outside_forecasts()
    if forecasts is None:
        return None
    return write_csv(compare(run, forecasts), Path(directory) / COMPARISON_FILE)
