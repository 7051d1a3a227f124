"""Charts drawn from a stored run (an ``xarray.DataTree`` from ``store.load_run``), never from
recomputation.

Conventions (Bank of England / Epoch / IPCC, see docs): one hue per quantity or user profile; the
median line and nested equal-tailed central bands holding 5, 8 and 9 of 10 simulated worlds
(quantiles 25-75, 10-90, 5-95 of the stored percentile table); log axes for durations, costs and
probabilities with human tick labels; a dashed "as of" line; legends in frequency words. Event
milestones are drawn as P(by date) curves with the mass "not by <horizon>" drawn explicitly as a
hatched bar beyond the horizon, never folded into the last year. Named scenarios are thin median
lines over a baseline fan.

Every function returns a ``matplotlib.figure.Figure`` built without pyplot (no global state, no
GUI backend, a faster import). Artists carry ``gid`` tags (``band:...``, ``median:...``,
``p_by:...``, ``not_by_horizon:...``, ``seed:...``, ``binding:...``) so tests and notebooks can
find what was drawn. ``CHARTS`` lists every chart by name (the names ``simcore plot --output``
takes); ``STANDARD_SET`` is what ``simcore run`` draws.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from ...model import FILM_TIME_THRESHOLDS_DAYS, PROFILES
from ...stored.tree import (
    as_of_year,
    horizon_year,
    prior_values,
    run_binding_by_year,
    run_event_curve,
    run_event_curves,
)
from ..seed import compare
from .axes import (
    FAN_SPECS,
    LEGEND_SIZE,
    MILESTONE_COLOUR,
    PROFILE_COLOURS,
    PROFILE_WORDS,
    REQUIREMENT_COLOURS,
    REQUIREMENT_WORDS,
    SEED_COLOUR,
    THRESHOLD_COLOURS,
    THRESHOLD_WORDS,
    _fan_panel,
    _figure,
    _finish_fan,
    _legend,
    _not_by_words,
    _not_by_zone,
    _probability_axis,
    _requirement,
    _title,
    _year_ticks,
    as_of_line,
)

# matplotlib is imported where a chart is drawn, not here: the CLI, the report and the scenario
# comparison import the chart package for its names, tables and helpers (start-up speed).
if TYPE_CHECKING:
    import xarray as xr


def fan_chart(run: xr.DataTree, output: str, ax=None, title: str | None = None,
              profiles: Sequence[str] | None = None, legend: str | None = "best"):
    """Median line and nested central 50/80/90% bands, log axis in human units; any output of
    ``model.OUTPUTS``. Per-profile outputs get one panel per profile (or, with ``ax``, one
    panel for the first of ``profiles``) with the other profiles' medians for comparison."""
    spec = FAN_SPECS[output]
    by_profile = "profile" in run["trajectories"][output].dims
    panels = list(profiles or PROFILES) if by_profile else [None]
    if ax is not None:
        fig, axes, panels = ax.figure, [ax], panels[:1]
    else:
        fig, axes = _figure(5.6 * len(panels) + 1.0 if by_profile else 8.0, 4.9,
                            ncols=len(panels), sharey=True)
        axes = list(np.atleast_1d(axes))
    for a, profile in zip(axes, panels, strict=False):
        _fan_panel(a, run, output, profile)
    for i, (a, profile) in enumerate(zip(axes, panels, strict=False)):
        panel_title = (f"free user, {PROFILE_WORDS.get(profile, profile)}" if len(panels) > 1
                       else title if title is not None else spec.title)
        _finish_fan(a, run, spec.kind, spec.ylabel if i == 0 else None, panel_title, legend)
    if len(panels) > 1:
        fig.suptitle(title if title is not None else spec.title, fontsize=11.5)
    return fig


def film_days_chart(run: xr.DataTree, seed=None, title: str | None = None):
    """Q5: one fan per profile (the other profile's median dashed), the Q6 thresholds, and the
    seed forecast's points (Q9) on the panel of the profile they are compared with: points
    before as_of hollow (history, not ranked), later ones filled and labelled with their
    percentile rank (``seed_comparison.csv``)."""

    spec = FAN_SPECS["film_days"]
    fig, axes = _figure(12.5, 5.9, ncols=len(PROFILES), sharey=True)
    table = compare(run, seed) if seed is not None else None
    start = as_of_year(run) - 0.3
    if table is not None:
        start = min(start, float(table[table.quantity == "film_days"].date.min()) - 0.7)
    for i, (ax, profile) in enumerate(zip(axes, PROFILES, strict=False)):
        _fan_panel(ax, run, "film_days", profile)
        for k, (label, days) in enumerate(FILM_TIME_THRESHOLDS_DAYS.items()):
            ax.axhline(days, color="0.45", linestyle=(0, (1, 2)), linewidth=0.9, zorder=1,
                       gid=f"threshold:{label}",
                       label="Q6 thresholds: a year, month, week, day, hour, 10 minutes"
                       if k == 0 else None)
        if table is not None and profile == seed.profile:
            _seed_points(ax, table[table.quantity == "film_days"], seed)
        if table is not None and profile == seed.profile:
            ax.set_xlim(start, horizon_year(run) + 0.3)
            ax.axvspan(start, as_of_year(run), color="0.96", zorder=0, linewidth=0)
        _finish_fan(ax, run, spec.kind, spec.ylabel if i == 0 else None,
                    f"free user, {PROFILE_WORDS[profile]}", "upper right")
    fig.suptitle(title if title is not None else spec.title, fontsize=11.5)
    return fig


def _seed_points(ax, film, seed) -> None:
    ax.plot(film.date, film.seed_value, color=SEED_COLOUR, linewidth=0.8,
            linestyle=(0, (4, 3)), zorder=5, gid="seed:line")
    history = film[film.status != "ranked"]
    ranked = film[film.status == "ranked"]
    ax.plot(history.date, history.seed_value, linestyle="none", marker="o", markersize=6,
            markerfacecolor="white", markeredgecolor=SEED_COLOUR, zorder=6, gid="seed:history",
            label=f"{seed.label}: history (before as-of, not ranked)")
    ax.plot(ranked.date, ranked.seed_value, linestyle="none", marker="D", markersize=6,
            color=SEED_COLOUR, zorder=6, gid="seed:ranked",
            label=f"{seed.label}: ranked in this run")
    for row in film.itertuples():
        words = row.seed_text.split(" (")[0]
        if row.status == "ranked":
            words = f"{words}\n{row.rank_text.replace('percentile', 'pct')}"
        ax.annotate(words, (row.date, row.seed_value), xytext=(7, 2), textcoords="offset points",
                    fontsize=7, color=SEED_COLOUR, zorder=7, va="bottom",
                    gid=f"seed:label:{row.year}",
                    bbox={"boxstyle": "round,pad=0.15", "facecolor": "white", "alpha": 0.75,
                          "edgecolor": "none"})


def price_compute_chart(run: xr.DataTree):
    """Q2 and Q3: price and compute per video-second side by side, and their ratio."""
    fig, axes = _figure(13.5, 4.6, ncols=3)
    for ax, output in zip(axes, ("price_per_video_second", "compute_per_video_second",
                                 "usd_per_gpu_second"), strict=False):
        fan_chart(run, output, ax=ax, legend="upper right")
    fig.suptitle("Q2/Q3  Price and compute per second of watchable video, and their ratio",
                 fontsize=11.5)
    return fig


def _fan_with_requirement(run, output, values, words, gid, legend, **legend_kw):
    spec = FAN_SPECS[output]
    fig, ax = _figure(8.0, 4.9)
    _fan_panel(ax, run, output)
    _requirement(ax, values, words, gid, spec.kind)
    _finish_fan(ax, run, spec.kind, spec.ylabel, spec.title, None)
    _legend(ax, legend, **legend_kw)
    return fig


def shot_length_chart(run: xr.DataTree):
    """Q1 fan with the longest take a watchable feature needs (its prior, per world)."""
    return _fan_with_requirement(run, "coherent_shot_seconds",
                                 prior_values(run, "required_long_take_seconds"),
                                 "longest take a feature needs", "long_take", "upper left",
                                 bbox_to_anchor=(0.0, 0.94))


def cut_break_chart(run: xr.DataTree):
    """Q4 fan with the per-cut chance a feature tolerates (visible breaks / cuts, per world)."""
    tolerated = (np.asarray(prior_values(run, "tolerated_visible_breaks"), dtype=float)
                 / np.asarray(prior_values(run, "cuts_per_feature"), dtype=float))
    return _fan_with_requirement(run, "cut_break_probability", tolerated,
                                 "tolerated by a feature", "consistency", "lower left")


def film_cost_chart(run: xr.DataTree):
    """Cost of a film's footage at list prices (draft tier), with one person's budget (Q7's
    one-director and fully automatic milestones)."""
    return _fan_with_requirement(run, "film_cost_usd",
                                 prior_values(run, "individual_budget_usd"),
                                 "one person's budget", "budget", "lower left")


def cost_per_minute_chart(run: xr.DataTree):
    """Cost per finished minute of the two quality tiers, side by side."""
    fig, axes = _figure(13.0, 4.9, ncols=2, sharey=True)
    for ax, output in zip(axes, ("cost_per_finished_minute_draft_usd",
                                 "cost_per_finished_minute_festival_usd"), strict=True):
        fan_chart(run, output, ax=ax, legend="lower left")
    return fig


def free_video_chart(run: xr.DataTree):
    return fan_chart(run, "free_video_seconds_per_day", legend="lower right")


# --------------------------------------------------------------------------------------------
# Event curves (Q6, Q7) and the binding requirement
# --------------------------------------------------------------------------------------------

def film_events_chart(run: xr.DataTree):
    """Q6: P(a free user's film time has fallen below each threshold by date), one panel per
    profile, with the 'not by the horizon' mass as hatched bars."""
    fig, axes = _figure(12.0, 4.8, ncols=len(PROFILES), sharey=True)
    by_event = {label: run_event_curves(run, f"free_film_within_{label}")
                for label in THRESHOLD_WORDS}
    for ax, profile in zip(axes, PROFILES, strict=False):
        curves = []
        for (label, words), colour in zip(THRESHOLD_WORDS.items(), THRESHOLD_COLOURS, strict=False):
            curve = by_event[label][profile]
            gid = f"free_film_within_{label}:{profile}"
            ax.plot(curve.dates, curve.p_by, color=colour, linewidth=1.8, gid=f"p_by:{gid}",
                    label=f"within {words}  ({_not_by_words(run, curve.p_not_by_horizon)})")
            curves.append((curve, colour, gid))
        _not_by_zone(ax, run, curves)
        as_of_line(ax, run, "middle")
        _probability_axis(ax)
        _title(ax, f"free user, {PROFILE_WORDS[profile]}")
        ax.legend(fontsize=LEGEND_SIZE, loc="lower right", bbox_to_anchor=(0.8, 0.0),
                  title="the film takes at most …", title_fontsize=LEGEND_SIZE)
    axes[0].set_ylabel("share of simulated worlds in which\nit has happened by then")
    fig.suptitle("Q6  When does a free user's time to generate a 90-minute film first fall "
                 "below a year, a month, … 10 minutes?", fontsize=11.5)
    return fig


def binding_chart(run: xr.DataTree, ax=None, min_reached: int = 30):
    """Q7: which requirement was met last, among worlds that reach the milestone by each
    year's end (stacked shares; years with fewer than ``min_reached`` such worlds omitted)."""
    if ax is None:
        fig, ax = _figure(7.5, 4.6)
    else:
        fig = ax.figure
    years, labels, shares, reached = run_binding_by_year(run)
    keep = reached >= min_reached
    present = [i for i, label in enumerate(labels) if np.nansum(shares[i, keep]) > 0]
    x = years[keep] + 1.0    # the end of each year
    if x.size:
        layers = ax.stackplot(x, shares[present][:, keep],
                              colors=[REQUIREMENT_COLOURS.get(labels[i], "0.5") for i in present],
                              labels=[REQUIREMENT_WORDS.get(labels[i], labels[i])
                                      for i in present], alpha=0.85, linewidth=0)
        for layer, i in zip(layers, present, strict=False):
            layer.set_gid(f"binding:{labels[i]}")
        handles, words = ax.get_legend_handles_labels()
        ax.legend(handles[::-1], words[::-1], fontsize=LEGEND_SIZE, loc="center left",
                  bbox_to_anchor=(1.01, 0.5), title="met last", title_fontsize=LEGEND_SIZE)
    ax.set_xlim(as_of_year(run) - 0.3, horizon_year(run) + 0.3)
    _year_ticks(ax, as_of_year(run), horizon_year(run))
    as_of_line(ax, run)
    _probability_axis(ax)
    ax.set_ylim(0.0, 1.0)
    ax.set_ylabel("share of the worlds that have it by then")
    _title(ax, "which requirement is met last")
    return fig


def novel_to_movie_chart(run: xr.DataTree, seed=None):
    """Q7: P(a watchable feature from a novel's text is possible / a free user can make one by
    date), the 'not by the horizon' mass, the seed forecast's 2029-2030, and which requirement
    binds."""
    fig, (ax, bx) = _figure(13.0, 4.9, ncols=2, width_ratios=(1.45, 1.0))
    series = [("novel_to_movie_possible", None, MILESTONE_COLOUR, "-",
               "fully automatic from the text"),
              ("film_by_one_director", None, "#1b7837", "-.", "one person directing a month"),
              ("film_by_small_team", None, "#762a83", ":", "a small team (10 people, 3 months)")]
    series += [("novel_to_movie_free_user", p, PROFILE_COLOURS[p], "--",
                f"a free user with {PROFILE_WORDS[p]} can")
               for p in PROFILES]
    curves = []
    free_user = run_event_curves(run, "novel_to_movie_free_user")
    for event, profile, colour, style, words in series:
        curve = free_user[profile] if profile else run_event_curve(run, event)
        gid = f"{event}:{profile or 'all'}"
        ax.plot(curve.dates, curve.p_by, color=colour, linestyle=style, linewidth=1.8,
                gid=f"p_by:{gid}",
                label=f"{words}  ({_not_by_words(run, curve.p_not_by_horizon)})")
        curves.append((curve, colour, gid))
    ax.axhline(0.5, color="0.5", linewidth=0.8, linestyle=":", zorder=1)
    ax.annotate("half of the worlds", (as_of_year(run), 0.5), xytext=(4, 3),
                textcoords="offset points", fontsize=7, color="0.4")
    if seed is not None:
        m = seed.milestone
        ax.axvspan(m.first_year, m.last_year + 1.0, color="#f6c342", alpha=0.25, linewidth=0,
                   zorder=0, gid="seed:milestone_span",
                   label=f"{seed.label}: {m.first_year}–{m.last_year}")
        possible = curves[0][0]
        ends = [y + 1.0 for y in m.years if as_of_year(run) <= y + 1.0 <= horizon_year(run)]
        p = [possible.at(e) for e in ends]
        words = ", ".join(f"{v:.0%} by the end of {int(e) - 1}"
                          for e, v in zip(ends, p, strict=False))
        ax.plot(ends, p, linestyle="none", marker="D", markersize=5.5, color=SEED_COLOUR,
                zorder=6, gid="seed:milestone", label=f"… in this run: {words}")
        for e, v in zip(ends, p, strict=False):
            ax.annotate(f"{v:.0%}", (e, v), ha="right", va="bottom", xytext=(-4, 3),
                        textcoords="offset points", fontsize=7, color=SEED_COLOUR,
                        gid=f"seed:milestone_label:{int(e) - 1}")
    _not_by_zone(ax, run, curves)
    as_of_line(ax, run)
    _probability_axis(ax)
    ax.set_ylabel("share of simulated worlds in which\nit has happened by then")
    _title(ax, "when it becomes possible")
    ax.legend(fontsize=LEGEND_SIZE, loc="upper left", bbox_to_anchor=(0.0, 0.93),
              framealpha=0.9)
    binding_chart(run, ax=bx)
    fig.suptitle("Q7  A watchable feature film made from a novel's text", fontsize=11.5)
    return fig
