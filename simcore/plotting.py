"""Charts drawn from a stored run (a DataTree), never from recomputation."""

from __future__ import annotations

import xarray as xr
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter

from .units import human_dollars, human_duration

BANDS = ((0.05, 0.95, "9 in 10"), (0.10, 0.90, "8 in 10"), (0.25, 0.75, "1 in 2"))
PROFILE_COLOURS = {"no_hardware": "#b2182b", "gaming_pc": "#2166ac", "all": "#1b7837"}

# Tick positions at round human durations (in days), from seconds to centuries.
_DURATION_TICKS = [1 / 86400, 10 / 86400, 1 / 1440, 10 / 1440, 1 / 24, 6 / 24, 1.0, 7.0,
                   365.25 / 12, 365.25, 3652.5, 36525.0]


def _time_axis_labels(ax, as_of_year: float) -> None:
    ax.axvline(as_of_year, color="0.3", linestyle="--", linewidth=1)
    ax.annotate("as of", (as_of_year, 1.0), xycoords=("data", "axes fraction"),
                xytext=(3, -12), textcoords="offset points", fontsize=8, color="0.3")
    ax.set_xlabel("year")


def _human_log_axis(ax, kind: str) -> None:
    ax.set_yscale("log")
    if kind == "days":
        low, high = ax.get_ylim()
        ticks = [t for t in _DURATION_TICKS if low <= t <= high]
        ax.yaxis.set_major_locator(FixedLocator(ticks))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: human_duration(v)))
    elif kind == "usd":
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: human_dollars(v)))
    ax.yaxis.set_minor_formatter(NullFormatter())


def fan_chart(run: xr.DataTree, output: str, ax=None, title: str | None = None):
    """Median line and nested central 50/80/90% bands per profile, log axis in human units."""
    ds = run["trajectories"].to_dataset()
    da = ds[output]
    years = da["time"].values
    as_of = years[0]
    if ax is None:
        # A bare Figure (no pyplot): no global state, no GUI backend, a faster import.
        fig = Figure(figsize=(8, 4.8), layout="constrained")
        ax = fig.subplots()
    else:
        fig = ax.figure
    profiles = list(da["profile"].values) if "profile" in da.dims else ["all"]
    for profile in profiles:
        sel = da.sel(profile=profile) if "profile" in da.dims else da
        colour = PROFILE_COLOURS.get(str(profile), "#444444")
        for alpha, (lo, hi, words) in zip((0.15, 0.22, 0.3), BANDS):
            ax.fill_between(years, sel.sel(quantile=lo), sel.sel(quantile=hi), color=colour,
                            alpha=alpha, linewidth=0,
                            label=f"{profile}: in {words} simulated worlds")
        ax.plot(years, sel.sel(quantile=0.5), color=colour, linewidth=2,
                label=f"{profile}: median world")
    unit = da.attrs.get("unit", "")
    _human_log_axis(ax, "days" if unit == "days" else "usd" if unit.startswith("USD") else "")
    _time_axis_labels(ax, as_of)
    if unit == "days":
        for days, label in ((365.25, "1 year"), (30.44, "1 month"), (7, "1 week"), (1, "1 day"),
                            (1 / 24, "1 hour"), (1 / 144, "10 minutes")):
            ax.axhline(days, color="0.75", linewidth=0.6, zorder=0)
    ax.set_ylabel(unit)
    ax.set_title(title or output.replace("_", " "))
    ax.grid(True, which="major", axis="x", color="0.92")
    ax.legend(fontsize=7, loc="best", ncols=len(profiles))
    return fig
