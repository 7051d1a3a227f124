"""Tidy summary tables of a run, as pandas DataFrames (what the CSV files hold)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from .engine import RunResult
from .events import ALREADY_MET, event_names
from .model import PROFILES, REQUIREMENTS
from .summaries import (
    QUANTILES,
    event_quantile,
    event_quantile_mcse,
    probability_by,
    probability_mcse,
    year_ends,
)

ALL_PROFILES = "all"  # the profile column's value for outputs that do not depend on the user


def split_series(series: str) -> tuple[str, str]:
    output, _, profile = series.partition("/")
    return output, profile or ALL_PROFILES


def percentiles(result: RunResult) -> pd.DataFrame:
    frames = []
    for series, hist in result.histograms.items():
        output, profile = split_series(series)
        values = hist.quantiles(QUANTILES)  # (Q, T)
        frames.append(pd.DataFrame({
            "output": output,
            "profile": profile,
            "time": np.tile(result.time_abs, len(QUANTILES)),
            "quantile": np.repeat(QUANTILES, result.time_abs.size),
            "value": values.ravel(),
        }))
    return pd.concat(frames, ignore_index=True)


def event_columns(result: RunResult) -> list[tuple[str, str, np.ndarray]]:
    """(event, profile, per-draw times) for every event and profile."""
    columns = []
    for name in event_names():
        times = result.events[name]
        if times.ndim == 2:
            columns += [(name, p, times[:, i]) for i, p in enumerate(PROFILES)]
        else:
            columns.append((name, ALL_PROFILES, times))
    return columns


def events_by_year(result: RunResult) -> pd.DataFrame:
    years = year_ends(result.priors.as_of_year, result.horizon_year)
    rows = []
    for name, profile, times in event_columns(result):
        for year, p in zip(years, probability_by(times, years)):
            rows.append((name, profile, int(year), float(p)))
    return pd.DataFrame(rows, columns=["event", "profile", "year", "p_by"])


def horizon_label(result: RunResult) -> str:
    return f"not by {math.floor(result.horizon_year)}"


def format_year(value: float, result: RunResult) -> str:
    return f"{value:.2f}" if math.isfinite(value) else horizon_label(result)


def events_summary(result: RunResult) -> pd.DataFrame:
    rows = []
    for name, profile, times in event_columns(result):
        p_not = float(np.mean(~np.isfinite(times)))
        p50 = event_quantile(times, 0.5)
        rows.append({
            "event": name,
            "profile": profile,
            "p10": format_year(event_quantile(times, 0.1), result),
            "p50": format_year(p50, result),
            "p90": format_year(event_quantile(times, 0.9), result),
            "p50_mcse_years": round(event_quantile_mcse(times, 0.5), 4),
            "p_not_by_horizon": p_not,
            "p_not_by_horizon_mcse": probability_mcse(p_not, times.size),
        })
    return pd.DataFrame(rows)


def binding_shares(result: RunResult) -> pd.DataFrame:
    """Which requirement was met last, overall and among draws reaching the milestone by each
    year. Censored draws are attributed to the requirement furthest from being met."""
    binding = result.events["novel_to_movie_binding"]
    times = result.events["novel_to_movie_possible"]
    labels = {ALREADY_MET: "already_met", **dict(enumerate(REQUIREMENTS))}
    rows = []
    for code, label in labels.items():
        share = float(np.mean(binding == code))
        rows.append({"requirement": label, "year": "all", "share": share,
                     "share_mcse": probability_mcse(share, binding.size)})
    for year in year_ends(result.priors.as_of_year, result.horizon_year):
        reached = times <= year + 1.0
        n = int(reached.sum())
        for code, label in labels.items():
            share = float(np.mean(binding[reached] == code)) if n else float("nan")
            rows.append({"requirement": label, "year": str(int(year)), "share": share,
                         "share_mcse": probability_mcse(share, n) if n else float("nan")})
    return pd.DataFrame(rows)
