"""Several stored runs on one chart: scenario medians over a baseline fan, event curves, and the
headline numbers side by side."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from ...model import PROFILES
from ...stored.tree import event_distribution, grid_times, percentile_table, run_event_curve
from ..formatting import human_duration
from .axes import (
    FAN_SPECS,
    LEGEND_SIZE,
    MILESTONE_COLOUR,
    PROFILE_COLOURS,
    PROFILE_WORDS,
    SCENARIO_COLOURS,
    _fan,
    _figure,
    _finish_fan,
    _not_by_words,
    _not_by_zone,
    _probability_axis,
    _title,
    as_of_line,
)

if TYPE_CHECKING:
    import xarray as xr

# --------------------------------------------------------------------------------------------
# Scenarios: several stored runs together
# --------------------------------------------------------------------------------------------

def scenario_chart(runs: Mapping[str, xr.DataTree], output: str = "film_days",
                   profiles: Sequence[str] | None = None, baseline: str | None = None):
    """The baseline's fan with every other run's median as a thin line over it (one panel per
    profile for per-profile outputs)."""
    names = list(runs)
    baseline = baseline or names[0]
    base = runs[baseline]
    spec = FAN_SPECS[output]
    by_profile = "profile" in base["trajectories"][output].dims
    panels = list(profiles or PROFILES) if by_profile else [None]
    fig, axes = _figure(5.8 * len(panels) + 1.0, 5.0, ncols=len(panels), sharey=True)
    axes = np.atleast_1d(axes)
    others = [n for n in names if n != baseline]
    for i, (ax, profile) in enumerate(zip(axes, panels, strict=False)):
        colour = PROFILE_COLOURS.get(profile, spec.colour) if profile else spec.colour
        _fan(ax, grid_times(base), percentile_table(base, output, profile), colour,
             f"{output}:{profile or 'all'}:{baseline}", baseline, spec.scale)
        for k, name in enumerate(others):
            run = runs[name]
            table = percentile_table(run, output, profile)
            ax.plot(grid_times(run), table.sel(quantile=0.5).values * spec.scale,
                    color=SCENARIO_COLOURS[k % len(SCENARIO_COLOURS)], linewidth=1.4,
                    linestyle=("-", "--", "-.", ":")[k // len(SCENARIO_COLOURS) % 4],
                    label=f"{name}: median world", gid=f"scenario:{name}:{profile or 'all'}")
        times = grid_times(base)
        ax.set_xlim(times[0] - 0.3, times[-1] + 0.3)
        title = (f"free user, {PROFILE_WORDS.get(profile, profile)}" if profile
                 else spec.title)
        _finish_fan(ax, base, spec.kind, spec.ylabel if i == 0 else None, title,
                    "lower left" if output == "film_days" else "best")
    if by_profile:
        fig.suptitle(f"{spec.title}: {baseline} fan, scenario medians", fontsize=11.5)
    return fig


def scenario_event_chart(runs: Mapping[str, xr.DataTree],
                         event: str = "novel_to_movie_possible", profile: str | None = None,
                         title: str | None = None):
    """P(event by date) for several runs, with each run's 'not by the horizon' mass."""
    fig, ax = _figure(8.5, 4.8)
    names = list(runs)
    curves = []
    for i, name in enumerate(names):
        colour = MILESTONE_COLOUR if i == 0 else SCENARIO_COLOURS[(i - 1) % len(SCENARIO_COLOURS)]
        curve = run_event_curve(runs[name], event, profile)
        gid = f"{event}:{profile or 'all'}:{name}"
        ax.plot(curve.dates, curve.p_by, color=colour, linewidth=2.0 if i == 0 else 1.4,
                gid=f"p_by:{gid}",
                label=f"{name}  ({_not_by_words(runs[name], curve.p_not_by_horizon)})")
        curves.append((curve, colour, gid))
    first = runs[names[0]]
    _not_by_zone(ax, first, curves)
    as_of_line(ax, first, "middle")
    _probability_axis(ax)
    ax.set_ylabel("share of simulated worlds in which\nit has happened by then")
    default = event.replace("_", " ") + (f", {PROFILE_WORDS.get(profile, profile)}"
                                         if profile else "")
    _title(ax, title or default, 10.5)
    ax.legend(fontsize=LEGEND_SIZE, loc="upper left", framealpha=0.9)
    return fig


def scenario_headlines(runs: Mapping[str, xr.DataTree], profile: str = "no_hardware",
                       offsets_years: Sequence[float] = (4.0, 9.0), p_by_year: int = 2030):
    """Headline numbers of several runs and their shift against the first (the baseline):
    median film time at as_of + each offset, the median year of novel-to-movie, P(by the end of
    ``p_by_year``) and P(not by the horizon)."""
    import pandas as pd

    rows = []
    for name, run in runs.items():
        times = grid_times(run)
        table = percentile_table(run, "film_days", profile)
        row = {"scenario": name}
        for k in offsets_years:
            t = times[int(np.argmin(np.abs(times - (times[0] + k))))]
            row[f"film_days_median_{t:.0f}"] = float(table.sel(quantile=0.5, time=t).values)
        possible = event_distribution(run, "novel_to_movie_possible")
        row["novel_to_movie_median_year"] = possible.quantile(0.5)
        row[f"p_novel_to_movie_by_{p_by_year}"] = float(
            possible.probability_by(np.array([p_by_year]))[0])
        row["p_novel_to_movie_not_by_horizon"] = possible.p_not_by_horizon
        rows.append(row)
    frame = pd.DataFrame(rows).set_index("scenario")
    base = frame.iloc[0]
    for column in [c for c in frame.columns if c.startswith("film_days_median_")]:
        frame[column + "_text"] = frame[column].map(human_duration)
        frame[column.replace("film_days_median", "times_faster_than_baseline")] = (
            base[column] / frame[column])
    frame["novel_to_movie_shift_years"] = (frame["novel_to_movie_median_year"]
                                           - base["novel_to_movie_median_year"])
    return frame
