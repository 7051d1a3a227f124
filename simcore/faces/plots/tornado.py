"""The tornado chart of one-at-a-time swings (``analysis.sensitivity.tornado.swings``)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from ...analysis.sensitivity import targets as tg
from ..formatting import human_duration
from .axes import human_log_axis

COLOURS = {"low": "#4393c3", "high": "#d6604d"}


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
              for d, a, b in zip(sel["driver"], sel["driver_low"], sel["driver_high"],
                                  strict=False)]
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
