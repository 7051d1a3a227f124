"""Tidy summary tables of a run, as pandas DataFrames (what the CSV files hold)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ..model import ALREADY_MET, BINDING_LABELS, EVENT_NAMES, PROFILES
from ..run.engine import RunResult
from ..run.summaries import QUANTILES, EventTimes, probability_mcse, year_ends
from .events import binding_joint

ALL_PROFILES = "all"  # the profile column's value for outputs that do not depend on the user
CENSORED = "censored"  # an MC error that cannot be computed because it reaches past the horizon


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


def event_columns(result: RunResult) -> list[tuple[str, str, EventTimes]]:
    """(event, profile, its times) for every event and profile."""
    result.summarise_events(EVENT_NAMES)
    columns = []
    for name in EVENT_NAMES:
        if result.events[name].ndim == 2:
            columns += [(name, p, result.event(name, i)) for i, p in enumerate(PROFILES)]
        else:
            columns.append((name, ALL_PROFILES, result.event(name)))
    return columns


def events_by_year(result: RunResult) -> pd.DataFrame:
    years = year_ends(result.priors.as_of_year, result.horizon_year)
    rows = []
    for name, profile, times in event_columns(result):
        for year, p in zip(years, times.probability_by(years), strict=False):
            rows.append((name, profile, int(year), float(p)))
    return pd.DataFrame(rows, columns=["event", "profile", "year", "p_by"])


def horizon_label(result: RunResult) -> str:
    return f"not by {math.floor(result.horizon_year)}"


def format_year(value: float, result: RunResult) -> str:
    return f"{value:.2f}" if math.isfinite(value) else horizon_label(result)


def events_summary(result: RunResult) -> pd.DataFrame:
    rows = []
    for name, profile, times in event_columns(result):
        times.quantiles([0.1, 0.5, 0.9, *times.mcse_quantiles(0.5)])  # one selection pass
        p10, p50, p90 = times.quantiles([0.1, 0.5, 0.9])
        p_not = times.p_not_by_horizon
        mcse = times.quantile_mcse(0.5)
        rows.append({
            "event": name,
            "profile": profile,
            "p10": format_year(p10, result),
            "p50": format_year(p50, result),
            "p90": format_year(p90, result),
            # Undefined when the median +- one standard error reaches the censored mass.
            "p50_mcse_years": round(mcse, 4) if math.isfinite(mcse) else CENSORED,
            "p_not_by_horizon": p_not,
            "p_not_by_horizon_mcse": probability_mcse(p_not, times.n),
        })
    return pd.DataFrame(rows)


def binding_shares(result: RunResult) -> pd.DataFrame:
    """Which requirement was met last, overall and among draws reaching the milestone by each
    year (years in which no world has reached it have no rows: the shares are undefined).
    Censored draws are attributed to the requirement furthest from being met."""
    labels = BINDING_LABELS
    years = year_ends(result.priors.as_of_year, result.horizon_year)
    if result.reduced is not None:
        joint = result.reduced.binding_joint("novel_to_movie_binding")
    else:
        binding = np.asarray(result.events["novel_to_movie_binding"],
                             dtype=np.int64) - ALREADY_MET
        joint = binding_joint(np.asarray(result.events["novel_to_movie_possible"][:]),
                              binding, len(labels), years)
    n = int(joint.sum())
    rows = []
    for code, label in enumerate(labels):
        share = joint[:, code].sum() / n
        rows.append({"requirement": label, "year": "all", "share": share,
                     "share_mcse": probability_mcse(share, n)})
    reached_by = np.cumsum(joint[:years.size], axis=0)
    for j, year in enumerate(years):
        reached = int(reached_by[j].sum())
        if not reached:
            continue
        for code, label in enumerate(labels):
            share = reached_by[j, code] / reached
            rows.append({"requirement": label, "year": str(int(year)), "share": share,
                         "share_mcse": probability_mcse(share, reached)})
    return pd.DataFrame(rows)
