"""One-at-a-time swings and the tornado chart.

Every uncertain driver in turn is set to its 10th and its 90th percentile while all the others
sit at their medians (``dist.quantile``), and the model is evaluated at those 1 + 2D points with
``engine.evaluate`` (one call). The free-tier regime clocks stay at their medians (each
withdrawal/relaunch sojourn of median length given its hazard), as in ``engine.evaluate``.

A driver's *swing* is |target at the 90th percentile - target at the 10th| on the target's
analysed scale: decades (log10) for film_days, years for event times (an event not reached by
the horizon is placed at horizon + 1 year and flagged in ``capped``). Drivers are ranked by
swing. Unlike variance-based indices, a swing ignores interactions, the shape of a driver's
distribution beyond the two percentiles, and correlations; it is the picture to show beside them.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from .. import engine
from ..plotting import human_log_axis
from ..priors import PriorSet
from ..units import human_duration
from . import targets as tg

LOW, HIGH = 0.1, 0.9
COLOURS = {"low": "#4393c3", "high": "#d6604d"}


def tornado_targets(priors: PriorSet) -> list[tg.Target]:
    """The headline targets without the 0/1 'by the end of year' ones."""
    return [t for t in tg.headline_targets(priors.as_of_year, priors.meta.horizon_years,
                                           priors.meta.time_step_years)
            if t.quantity != tg.BY_YEAR]


def swings(priors: PriorSet, targets: list[tg.Target] | None = None, low: float = LOW,
           high: float = HIGH) -> pd.DataFrame:
    """The tornado table: one row per target and uncertain driver, ranked by swing.

    Columns: ``output, profile, year, quantity, driver, low_quantile, high_quantile,
    driver_low, driver_median, driver_high, value_low, value_base, value_high, swing,
    swing_unit, capped, rank``. Values are in the output's own units (days for film_days,
    decimal years for events); ``capped`` lists which of low/base/high are "not by the horizon".
    """
    targets = targets if targets is not None else tornado_targets(priors)
    names = [n for n, d in priors.drivers.items() if not d.dist.is_constant]
    medians = {n: d.dist.quantile(0.5) for n, d in priors.drivers.items()}
    ends = {n: (priors.drivers[n].dist.quantile(low), priors.drivers[n].dist.quantile(high))
            for n in names}
    points = 1 + 2 * len(names)
    drivers = {n: np.full(points, value) for n, value in medians.items()}
    for i, n in enumerate(names):
        drivers[n][1 + 2 * i], drivers[n][2 + 2 * i] = ends[n]
    t_rel = engine.time_grid(priors)
    horizon_year = priors.as_of_year + t_rel[-1]
    events, trajectories = engine.evaluate(drivers, t_rel, priors.as_of_year)
    frames = []
    for target in targets:
        scaled = tg.target_values(target, events, trajectories, horizon_year)  # log10 / capped
        if target.series is not None:
            raw, capped = 10.0 ** scaled, np.zeros(points, dtype=bool)
        else:
            times = events[target.event]
            times = times if target.column is None else times[:, target.column]
            raw, capped = scaled, ~np.isfinite(times)
        lo, hi = scaled[1::2], scaled[2::2]
        swing = np.abs(hi - lo)
        order = np.argsort(-swing, kind="stable")
        rank = np.empty(len(names), dtype=np.int64)
        rank[order] = np.arange(1, len(names) + 1)
        flags = [";".join(w for w, c in (("low", capped[1 + 2 * i]), ("base", capped[0]),
                                         ("high", capped[2 + 2 * i])) if c)
                 for i in range(len(names))]
        frames.append(pd.DataFrame({
            "output": target.output, "profile": target.profile, "year": target.year,
            "quantity": target.quantity, "driver": names, "low_quantile": low,
            "high_quantile": high, "driver_low": [ends[n][0] for n in names],
            "driver_median": [medians[n] for n in names],
            "driver_high": [ends[n][1] for n in names],
            "value_low": raw[1::2], "value_base": raw[0], "value_high": raw[2::2],
            "swing": swing,
            "swing_unit": "decades" if target.series is not None else "years",
            "capped": flags, "rank": rank}))
    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    if not table.empty:
        table["year"] = pd.array(table["year"], dtype="Int64")
    return table


def _selection(table: pd.DataFrame, output: str, profile: str, year: int | None,
               quantity: str | None) -> pd.DataFrame:
    sel = table[(table["output"] == output) & (table["profile"] == profile)]
    if quantity is not None:
        sel = sel[sel["quantity"] == quantity]
    sel = sel[sel["year"].isna()] if year is None else sel[sel["year"] == year]
    if sel.empty:
        raise ValueError(f"no tornado rows for {output} / {profile} / {year}")
    return sel.sort_values("rank")


def _short(value: float) -> str:
    return f"{value:.3g}"


def tornado_chart(table: pd.DataFrame, output: str, profile: str = tg.ALL_PROFILES,
                  year: int | None = None, quantity: str | None = None, top: int = 15,
                  horizon_year: float | None = None, ax=None, title: str | None = None):
    """The tornado chart of one target from a :func:`swings` table: the ``top`` drivers by
    swing, largest on top; bars from the all-medians value to the value with the driver at its
    10th (blue) and 90th (red) percentile. film_days on a log axis in human units; event times
    in years, with "not by the horizon" shown at horizon + 1. Returns a matplotlib Figure."""
    sel = _selection(table, output, profile, year, quantity)
    sel = sel[sel["swing"] > 0].head(top).iloc[::-1]          # drivers that move it at all
    if sel.empty:
        sel = _selection(table, output, profile, year, quantity).head(1)
    if ax is None:
        fig = Figure(figsize=(8.5, 0.32 * len(sel) + 1.6), layout="constrained")
        ax = fig.subplots()
    else:
        fig = ax.figure
    base = float(sel["value_base"].iloc[0])
    rows = np.arange(len(sel))
    days = sel["swing_unit"].iloc[0] == "decades"
    for side in ("low", "high"):
        values = sel[f"value_{side}"].to_numpy(float)
        quantile = sel[f"{side}_quantile"].iloc[0]
        ax.barh(rows, values - base, left=base, height=0.7, color=COLOURS[side],
                label=f"driver at its {quantile:.0%} percentile")
    ax.axvline(base, color="0.2", linewidth=1)
    labels = [f"{d}  ({_short(a)} – {_short(b)})"
              for d, a, b in zip(sel["driver"], sel["driver_low"], sel["driver_high"])]
    ax.set_yticks(rows, labels, fontsize=8)
    if days:
        human_log_axis(ax, "days", axis="x")
        ax.set_xlabel("days for a free user to generate a 90-minute film (log scale)")
        base_words = human_duration(base)
    else:
        ax.set_xlabel("year")
        base_words = f"{base:.1f}"
        if horizon_year is not None and (sel["capped"] != "").any():
            cap = horizon_year + tg.CENSORED_OFFSET_YEARS
            ax.axvline(cap, color="0.5", linestyle=":", linewidth=1)
            ax.annotate(f"not by {math.floor(horizon_year)}", (cap, 1.0),
                        xycoords=("data", "axes fraction"), xytext=(-3, -10),
                        textcoords="offset points", ha="right", fontsize=7, color="0.4")
    target = tg.Target(output, profile, year, str(sel["quantity"].iloc[0]))
    ax.set_title(title or f"{target.label}: one driver at a time", fontsize=10)
    ax.legend(fontsize=7, loc="lower right",
              title=f"others at their medians (value {base_words})", title_fontsize=7)
    ax.grid(True, axis="x", color="0.92")
    return fig
