"""What every chart shares: colours, bands, words, the figure, human log axes, year ticks, the
as-of line, fans and legends."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ...analysis.events import EventCurve, count_slots
from ...model import PROFILES
from ...stored.tree import (
    _as_of_text,
    as_of_year,
    grid_times,
    horizon_words,
    horizon_year,
    percentile_table,
)
from ..formatting import (
    PROFILE_LEGEND,
    REQUIREMENT_LEGEND,
    THRESHOLD_WORDS,
    human_dollars,
    human_duration,
)

# matplotlib is imported where a chart is drawn (start-up speed of the CLI, which imports this
# package for its names).
if TYPE_CHECKING:
    import xarray as xr

# (low quantile, high quantile, simulated worlds out of 10 inside), lightest band first.
BANDS = ((0.05, 0.95, 9), (0.10, 0.90, 8), (0.25, 0.75, 5))
BAND_ALPHAS = (0.14, 0.20, 0.30)
PROFILE_COLOURS = {"no_hardware": "#b2182b", "gaming_pc": "#2166ac", "all": "#1b7837"}
# The legends' words (the formatting module's tables for charts).
PROFILE_WORDS = PROFILE_LEGEND
REQUIREMENT_WORDS = REQUIREMENT_LEGEND
THRESHOLD_WORDS = THRESHOLD_WORDS
THRESHOLD_COLOURS = ("#fdb863", "#e08214", "#b35806", "#8073ac", "#542788", "#2d004b")
REQUIREMENT_COLOURS = {"already_met": "#bababa", "long_take": "#2166ac",
                       "consistency": "#b2182b", "director_agent": "#1b7837",
                       "dialogue": "#e08214", "budget": "#762a83",
                       "consistency_team": "#b2182b", "dialogue_team": "#e08214",
                       "budget_team": "#762a83", "consistency_director": "#b2182b",
                       "dialogue_director": "#e08214", "director_agent_assisted": "#1b7837",
                       "budget_director": "#762a83"}
SCENARIO_COLOURS = ("#e08214", "#542788", "#1a9850", "#c51b7d", "#35978f", "#8c510a")
SEED_COLOUR = "#111111"
MILESTONE_COLOUR = "#222222"
DPI = 110
LEGEND_SIZE = 7.5

# Round human durations in days: the coarse set for wide axes, the dense one for narrow ones.
_MINUTE, _HOUR, _YEAR = 1 / 1440, 1 / 24, 365.25
_COARSE_DURATIONS = (1 / 86400, 10 / 86400, _MINUTE, 10 * _MINUTE, _HOUR, 6 * _HOUR, 1.0, 7.0,
                     _YEAR / 12, _YEAR, 10 * _YEAR, 100 * _YEAR, 1000 * _YEAR)
# Horizontal axes: duration labels are wide, so ticks 24 to 365-fold apart.
_SPARSE_DURATIONS = (1 / 86400, _MINUTE, _HOUR, 1.0, _YEAR, 10 * _YEAR, 100 * _YEAR,
                     1000 * _YEAR)
_DENSE_DURATIONS = (1 / 86400, 2 / 86400, 5 / 86400, 10 / 86400, 20 / 86400, 30 / 86400,
                    _MINUTE, 2 * _MINUTE, 5 * _MINUTE, 10 * _MINUTE, 20 * _MINUTE, 30 * _MINUTE,
                    _HOUR, 2 * _HOUR, 3 * _HOUR, 6 * _HOUR, 12 * _HOUR, 1.0, 2.0, 3.0, 7.0, 14.0,
                    _YEAR / 12, _YEAR / 6, _YEAR / 4, _YEAR / 2, _YEAR, 2 * _YEAR, 5 * _YEAR,
                    10 * _YEAR, 20 * _YEAR, 50 * _YEAR, 100 * _YEAR, 1000 * _YEAR)


@dataclass(frozen=True)
class FanSpec:
    """How one trajectory output is presented."""

    title: str
    ylabel: str
    kind: str                 # days | seconds | usd | percent | plain: the tick labels
    colour: str = "#1b7837"   # for outputs without a profile dimension
    scale: float = 1.0        # stored value x scale = plotted value


FAN_SPECS = {
    "film_days": FanSpec("Q5  Time for a free-tier user to generate a 90-minute film",
                         "time to generate the footage (log scale)", "days"),
    "free_video_seconds_per_day": FanSpec(
        "Video a free user can generate per day (free tier or own device)",
        "video per day (log scale)", "seconds"),
    "price_per_video_second": FanSpec("Q2  Price of a second of video",
                                      "USD per video-second (log scale)", "usd", "#1b7837"),
    "compute_per_video_second": FanSpec(
        "Q2  Compute per second of video", "H100-equivalent GPU-seconds\nper video-second "
        "(log scale)", "plain", "#762a83"),
    "open_compute_per_video_second": FanSpec(
        "Compute per second of video, best open model (the local path)",
        "H100-equivalent GPU-seconds\nper video-second (log scale)", "plain", "#542788"),
    "usd_per_gpu_second": FanSpec("Q3  Price ÷ compute (the margin)",
                                  "USD per H100-equivalent GPU-hour\n(log scale)", "usd",
                                  "#8c510a", 3600.0),
    "film_cost_usd": FanSpec("Cost of a 90-minute film's footage at list prices",
                             "USD (log scale)", "usd", "#01665e"),
    "coherent_shot_seconds": FanSpec("Q1  Longest coherent single shot",
                                     "shot length (log scale)", "seconds", "#2166ac"),
    "cut_break_probability": FanSpec(
        "Q4  Chance that a cut breaks a character's identity or continuity",
        "chance per take and cut (log scale)", "percent", "#b35806"),
    "cost_per_finished_minute_draft_usd": FanSpec(
        "Cost per finished minute, draft tier (generation at list prices)",
        "USD per finished minute (log scale)", "usd", "#01665e"),
    "cost_per_finished_minute_festival_usd": FanSpec(
        "Cost per finished minute, festival tier (premium generation and labour)",
        "USD per finished minute (log scale)", "usd", "#8c510a"),
    "takes_per_unit_automatic": FanSpec(
        "Q7  Takes per shot a fully automatic maker pays for (generate-and-verify)",
        "takes per shot (log scale)", "plain", "#762a83"),
}



# --------------------------------------------------------------------------------------------
# Axes helpers
# --------------------------------------------------------------------------------------------

def prepare_drawing() -> None:
    """Load matplotlib, its Agg canvas, a font and the compiled event counter ahead of
    drawing (``simcore run`` does this in its drawing process while the run file is being
    finished: ~1 s that would otherwise come after it)."""
    count_slots(np.full((1, 1), math.inf), 2026.0, 12, 1, 2026.0)
    import matplotlib.patches  # noqa: F401
    import matplotlib.ticker  # noqa: F401
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(1, 1))
    figure.text(0.5, 0.5, "0")
    FigureCanvasAgg(figure).draw()


def _figure(width: float, height: float, ncols: int = 1, **kw):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    axes = fig.subplots(1, ncols, **kw)
    return fig, axes


def _title(ax, text: str, fontsize: float = 10) -> None:
    """Panel title at the left. ``y=1.0`` is where matplotlib would put it anyway (no tick labels
    on top); giving it skips the automatic placement, which measures the axis's tick labels at
    every layout pass and every draw (~30 ms a chart)."""
    ax.set_title(text, fontsize=fontsize, loc="left", y=1.0)


def _in_range(ticks, low, high):
    return [t for t in ticks if low * 0.999 <= t <= high * 1.001]


def _decade_ticks(low: float, high: float, dense_below: int = 3) -> list[float]:
    first, last = math.floor(math.log10(low)), math.ceil(math.log10(high))
    for mantissas in ((1.0,), (1.0, 2.0, 5.0), (1.0, 1.5, 2.0, 3.0, 5.0, 7.0)):
        ticks = _in_range([m * 10.0 ** e for e in range(first, last + 1) for m in mantissas],
                          low, high)
        if len(ticks) >= dense_below:
            break
    if len(ticks) > 9:   # keep every other decade on very wide axes
        ticks = ticks[::2]
    return ticks


_SUPERSCRIPT = str.maketrans("0123456789-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻")


def _mantissa_exponent(v: float) -> tuple[float, int]:
    exponent = math.floor(math.log10(v) + 1e-9)
    return round(v / 10.0 ** exponent, 6), exponent


def _scientific(v: float) -> str:
    """'10⁻⁵', '2×10⁻⁵': compact and exact for tick values."""
    mantissa, exponent = _mantissa_exponent(v)
    power = f"10{str(exponent).translate(_SUPERSCRIPT)}"
    return power if mantissa == 1 else f"{mantissa:g}×{power}"


def _positional(v: float) -> str:
    return np.format_float_positional(v, precision=3, unique=True, fractional=False, trim="-")


def _plain(v: float) -> str:
    return _positional(v) if 1e-3 <= v < 1e6 else _scientific(v)


def _dollars(v: float) -> str:
    return human_dollars(v) if v >= 1e-3 else f"${_scientific(v)}"


def _count(n: float) -> str:
    """10,000 / 1M / 10B / 10¹³."""
    if n < 1e6:
        return f"{n:,.0f}"
    for size, suffix in ((1e9, "B"), (1e6, "M")):
        if n >= size and n / size < 1000:
            return f"{n / size:g}{suffix}"
    return _scientific(n)


def _chance(v: float) -> str:
    """'10%', '0.1%', then frequency words for rare events: '1 in 100,000', '2 in 1M'."""
    if v >= 1e-3:
        return f"{_positional(v * 100)}%"
    mantissa, exponent = _mantissa_exponent(v)
    return f"{mantissa:g} in {_count(10.0 ** -exponent)}"


def tick_formatter(kind: str):
    """The function (value -> label) of a human axis ``kind``."""
    if kind == "days":
        return human_duration
    if kind == "seconds":
        return lambda v: human_duration(v / 86400.0)
    return {"usd": _dollars, "percent": _chance}.get(kind, _plain)


def human_log_axis(ax, kind: str, axis: str = "y") -> None:
    """Log axis (``axis`` "y" or "x") with ticks at round values in human units (call after
    drawing the data). Every chart with a duration, dollar or chance axis uses this one."""
    getattr(ax, f"set_{axis}scale")("log")
    low, high = getattr(ax, f"get_{axis}lim")()
    if kind in ("days", "seconds"):
        per_day = 1.0 if kind == "days" else 86400.0
        sets = (_COARSE_DURATIONS, _DENSE_DURATIONS)
        if axis == "x":
            sets = (_SPARSE_DURATIONS, *sets)
        for durations in sets:   # the sparsest set that still gives enough ticks
            ticks = _in_range([d * per_day for d in durations], low, high)
            if len(ticks) >= (3 if axis == "x" else 4):
                break
    else:
        ticks = _decade_ticks(low, high)
    label = tick_formatter(kind)
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

    scale = getattr(ax, f"{axis}axis")
    scale.set_major_locator(FixedLocator(ticks))
    scale.set_major_formatter(FuncFormatter(lambda v, _: label(v)))
    scale.set_minor_locator(NullLocator())
    getattr(ax, f"set_{axis}lim")(low, high)


def _year_ticks(ax, start: float, end: float, extra: Sequence[tuple[float, str]] = ()) -> None:
    years = list(range(math.ceil(start), math.floor(end) + 1))
    majors = [y for y in years if y % 5 == 0]
    positions = [float(y) for y in majors] + [x for x, _ in extra]
    labels = [str(y) for y in majors] + [text for _, text in extra]
    by_position = {round(x, 6): text for x, text in zip(positions, labels, strict=False)}
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

    ax.xaxis.set_major_locator(FixedLocator(positions))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: by_position.get(round(v, 6), "")))
    ax.xaxis.set_minor_locator(NullLocator())   # (minor ticks cost more to draw than they tell)


def as_of_line(ax, run: xr.DataTree, where: str = "top") -> None:
    x = as_of_year(run)
    ax.axvline(x, color="0.3", linestyle="--", linewidth=1, zorder=4, gid="as_of")
    y, offset, va, rotation = {"top": (1.0, -4, "top", 0), "bottom": (0.0, 4, "bottom", 0),
                               "middle": (0.5, 0, "center", 90)}[where]
    ax.annotate(f"as of {_as_of_text(run)}", (x, y), xycoords=("data", "axes fraction"),
                xytext=(3, offset), textcoords="offset points", fontsize=7.5, color="0.3",
                va=va, ha="left", rotation=rotation)


def _band_alpha(index: int) -> float:
    """What the eye sees of band ``index`` (0 = outermost): the bands are stacked."""
    return 1.0 - float(np.prod([1.0 - a for a in BAND_ALPHAS[:index + 1]]))


def _fan(ax, years, table: xr.DataArray, colour: str, gid: str, who: str = "",
         scale: float = 1.0) -> None:
    """Median and nested central bands of one (quantile, time) table."""
    prefix = f"{who}: " if who else ""
    for alpha, (lo, hi, k) in zip(BAND_ALPHAS, BANDS, strict=False):
        ax.fill_between(years, table.sel(quantile=lo).values * scale,
                        table.sel(quantile=hi).values * scale, color=colour, alpha=alpha,
                        linewidth=0, label=f"{prefix}in {k} of 10 simulated worlds",
                        gid=f"band:{gid}:{lo:g}-{hi:g}")
    ax.plot(years, table.sel(quantile=0.5).values * scale, color=colour, linewidth=2,
            label=f"{prefix}median world", gid=f"median:{gid}")


def _legend_entries(ax):
    """The axes' legend entries, median first, then bands inner to outer (drawn with the
    colour the eye sees where the bands stack), then everything else in drawing order."""
    from matplotlib.patches import Patch

    handles, labels = ax.get_legend_handles_labels()
    entries = []
    for order, (handle, label) in enumerate(zip(handles, labels, strict=False)):
        gid = handle.get_gid() or ""
        rank = 10 + order
        if gid.startswith("median:"):
            rank = 0
        elif gid.startswith("band:"):
            index = [f"{lo:g}-{hi:g}" for lo, hi, _ in BANDS].index(gid.rsplit(":", 1)[1])
            rank = len(BANDS) - index
            rgb = handle.get_facecolor()[0][:3]
            handle = Patch(facecolor=(*rgb, _band_alpha(index)), linewidth=0)
        entries.append((rank, handle, label))
    entries.sort(key=lambda e: e[0])
    return [e[1] for e in entries], [e[2] for e in entries]


def _legend(ax, loc: str = "best", **kw):
    handles, labels = _legend_entries(ax)
    return ax.legend(handles, labels, fontsize=LEGEND_SIZE, loc=loc, framealpha=0.9, **kw)


def _requirement(ax, values: np.ndarray, words: str, gid: str, kind: str,
                 scale: float = 1.0) -> None:
    """What a watchable feature needs, as drawn per world from its prior: median and 5-95%."""
    lo, mid, hi = np.quantile(np.asarray(values, dtype=float) * scale, [0.05, 0.5, 0.95])
    ax.annotate(f"{words}: {tick_formatter(kind)(mid)} (median world)", (1.0, mid),
                xycoords=("axes fraction", "data"), xytext=(-4, 3), textcoords="offset points",
                ha="right", va="bottom", fontsize=7, color="0.25",
                bbox={"boxstyle": "round,pad=0.15", "facecolor": "white", "alpha": 0.75,
                      "edgecolor": "none"})
    if hi > lo:
        ax.axhspan(lo, hi, facecolor="none", edgecolor="0.55", hatch="....", linewidth=0,
                   zorder=0, gid=f"requirement_band:{gid}",
                   label=f"{words}: in 9 of 10 worlds")
    ax.axhline(mid, color="0.3", linestyle=(0, (1, 1.5)), linewidth=1.4, zorder=1,
               gid=f"requirement:{gid}", label=f"{words}: median world")


def _fan_panel(ax, run: xr.DataTree, output: str, profile: str | None = None,
               comparison: bool = True) -> None:
    """One fan: ``output`` (for ``profile`` if it has a profile dimension), and the other
    profiles' medians as thin dashed lines for comparison."""
    spec = FAN_SPECS.get(output, FanSpec(output.replace("_", " "), "", "plain"))
    years = grid_times(run)
    colour = PROFILE_COLOURS.get(profile, "#444444") if profile else spec.colour
    _fan(ax, years, percentile_table(run, output, profile), colour,
         f"{output}:{profile or 'all'}", scale=spec.scale)
    if profile and comparison:
        for other in PROFILES:
            if other != profile:
                ax.plot(years, percentile_table(run, output, other).sel(quantile=0.5).values
                        * spec.scale, color=PROFILE_COLOURS[other], linewidth=1.1,
                        linestyle="--", gid=f"comparison:{output}:{other}",
                        label=f"{PROFILE_WORDS[other]}: median world")
    start = observation_points(ax, run, output, profile, spec.scale)
    ax.set_xlim(min(years[0], start) - 0.3, years[-1] + 0.3)


# Observations over the fans: a marker per quality tier (simcore/inputs/observations.py); the
# run's observations.csv says where each falls in the run (PIT, flag).
TIER_MARKERS = {"first-party": "o", "independent": "s", "press": "^", "estimate": "D"}


def observation_points(ax, run: xr.DataTree, output: str, profile: str | None,
                       scale: float = 1.0) -> float:
    """The run's observations of ``output`` (and ``profile``) as points (intervals as bars) at
    their dates, labelled by tier; returns the earliest year drawn (inf if none)."""
    if "observations" not in run.children:
        return np.inf
    table = run["observations"].to_dataset()
    wanted = ((table["measures"].values == output)
              & (table["profile"].values == (profile or "all")))
    if not wanted.any():
        return np.inf
    years = table["year"].values[wanted]
    value, low, high = (table[k].values[wanted] * scale for k in ("value", "low", "high"))
    tiers = table["quality"].values[wanted]
    centre = np.where(np.isnan(value), np.sqrt(low * high), value)
    for tier, marker in TIER_MARKERS.items():
        mine = tiers == tier
        if not mine.any():
            continue
        bars = ~np.isnan(low[mine]) & ~np.isnan(high[mine])
        if bars.any():
            ax.vlines(years[mine][bars], low[mine][bars], high[mine][bars], color="#222222",
                      linewidth=0.9, alpha=0.8, gid=f"observed-interval:{output}:{tier}")
        ax.scatter(years[mine], centre[mine], marker=marker, s=26, facecolor="white",
                   edgecolor="#111111", linewidth=1.1, zorder=5,
                   gid=f"observed:{output}:{profile or 'all'}:{tier}",
                   label=f"observed ({tier})")
    return float(np.nanmin(years))


def _finish_fan(ax, run, kind: str, ylabel: str | None, title: str | None,
                legend: str | None = "best", as_of: str = "top") -> None:
    human_log_axis(ax, kind)
    as_of_line(ax, run, as_of)
    _year_ticks(ax, *ax.get_xlim())
    ax.set_xlabel("year")
    if ylabel is not None:
        ax.set_ylabel(ylabel)
    if title is not None:
        _title(ax, title)
    ax.grid(True, which="major", color="0.9", linewidth=0.7)
    if legend:
        _legend(ax, legend)


def _not_by_zone(ax, run: xr.DataTree, curves: Sequence[tuple[EventCurve, str, str]]) -> None:
    """Hatched bars beyond the horizon, one per curve, from 1 - P(not by horizon) up to 1: the
    probability mass of worlds in which the event does not happen by the horizon."""
    horizon = horizon_year(run)
    width = min(0.7, 3.2 / max(len(curves), 1))
    left = horizon + 0.5
    right = left + width * len(curves) + 0.3
    ax.axvspan(horizon + 0.15, right, color="0.93", zorder=0, linewidth=0)
    for i, (curve, colour, gid) in enumerate(curves):
        p = curve.p_not_by_horizon
        ax.bar(left + width * (i + 0.5), p, bottom=1.0 - p, width=width * 0.85,
               facecolor=colour, alpha=0.35, edgecolor=colour, hatch="////", linewidth=0.8,
               zorder=3, gid=f"not_by_horizon:{gid}")
    ax.set_xlim(as_of_year(run) - 0.3, right)
    _year_ticks(ax, as_of_year(run), horizon,
                extra=[((horizon + 0.15 + right) / 2, horizon_words(run).replace(" by", "\nby"))])


def _probability_axis(ax) -> None:
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

    ax.set_ylim(0.0, 1.02)
    ax.yaxis.set_major_locator(FixedLocator([0.0, 0.25, 0.5, 0.75, 1.0]))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:.0%}"))
    ax.yaxis.set_minor_locator(NullLocator())
    ax.grid(True, which="major", color="0.9", linewidth=0.7)
    ax.set_xlabel("year")


def _not_by_words(run, p: float) -> str:
    share = "0%" if p == 0 else "<0.1%" if p < 0.001 else f"{p:.1%}" if p < 0.01 else f"{p:.0%}"
    return f"{horizon_words(run)}: {share}"
