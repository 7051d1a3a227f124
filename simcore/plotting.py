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

import io
import json
import math
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

# matplotlib (~0.5 s) and xarray are imported where a chart is drawn, not here: the CLI, the
# report and the scenario comparison import this module for its names, tables and helpers.
if TYPE_CHECKING:
    import xarray as xr

from .errors import RunDirError, SimcoreError
from .model import FILM_TIME_THRESHOLDS_DAYS, PROFILES
from .units import human_dollars, human_duration

# (low quantile, high quantile, simulated worlds out of 10 inside), lightest band first.
BANDS = ((0.05, 0.95, 9), (0.10, 0.90, 8), (0.25, 0.75, 5))
BAND_ALPHAS = (0.14, 0.20, 0.30)
PROFILE_COLOURS = {"no_hardware": "#b2182b", "gaming_pc": "#2166ac", "all": "#1b7837"}
PROFILE_WORDS = {"no_hardware": "no hardware (phone/laptop)", "gaming_pc": "gaming PC"}
THRESHOLD_WORDS = {"1y": "a year", "1mo": "a month", "1w": "a week", "1d": "a day",
                   "1h": "an hour", "10min": "10 minutes"}
THRESHOLD_COLOURS = ("#fdb863", "#e08214", "#b35806", "#8073ac", "#542788", "#2d004b")
REQUIREMENT_WORDS = {"already_met": "already met at as-of", "shot_length": "shot length",
                     "consistency": "consistency across cuts", "director_agent": "director agent",
                     "dialogue": "dialogue", "budget": "budget"}
REQUIREMENT_COLOURS = {"already_met": "#bababa", "shot_length": "#2166ac",
                       "consistency": "#b2182b", "director_agent": "#1b7837",
                       "dialogue": "#e08214", "budget": "#762a83"}
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
    "usd_per_gpu_second": FanSpec("Q3  Price ÷ compute (the margin)",
                                  "USD per H100-equivalent GPU-hour\n(log scale)", "usd",
                                  "#8c510a", 3600.0),
    "film_cost_usd": FanSpec("Cost of a 90-minute film's footage at list prices",
                             "USD (log scale)", "usd", "#01665e"),
    "coherent_shot_seconds": FanSpec("Q1  Longest coherent single shot",
                                     "shot length (log scale)", "seconds", "#2166ac"),
    "cut_break_probability": FanSpec(
        "Q4  Chance that a cut breaks a character's identity or continuity",
        "chance per cut (log scale)", "percent", "#b35806"),
}


# --------------------------------------------------------------------------------------------
# Reading a stored run
# --------------------------------------------------------------------------------------------

_GRID_CACHE: dict[int, tuple[weakref.ref, np.ndarray]] = {}


def grid_times(run: xr.DataTree) -> np.ndarray:
    """The run's time grid (decimal years, read-only; remembered per run while it lives)."""
    key = id(run)
    hit = _GRID_CACHE.get(key)
    if hit is not None and hit[0]() is run:
        return hit[1]
    times = np.array(run["trajectories"]["time"].values, dtype=float)
    times.flags.writeable = False
    _GRID_CACHE[key] = (weakref.ref(run, lambda _, k=key: _GRID_CACHE.pop(k, None)), times)
    return times


def as_of_year(run: xr.DataTree) -> float:
    return float(grid_times(run)[0])


def horizon_year(run: xr.DataTree) -> float:
    return float(grid_times(run)[-1])


def horizon_words(run: xr.DataTree) -> str:
    """'not by 2046', as in the tables."""
    return f"not by {math.floor(horizon_year(run))}"


def _as_of_text(run: xr.DataTree) -> str:
    return str(run.attrs.get("as_of", f"{as_of_year(run):.2f}"))


def percentile_table(run: xr.DataTree, output: str, profile: str | None = None) -> xr.DataArray:
    """The stored percentiles of ``output`` as (quantile, time)."""
    da = run["trajectories"][output]
    if "profile" in da.dims:
        da = da.sel(profile=profile or PROFILES[0])
    return da.transpose("quantile", "time")


def event_times(run: xr.DataTree, event: str, profile: str | None = None) -> np.ndarray:
    """Stored per-draw times of ``event`` (decimal years, +inf = not by the horizon)."""
    da = run["events"][event]
    values = np.asarray(da.values, dtype=float)
    if "profile" in da.dims:
        index = list(da["profile"].values).index(profile or PROFILES[0])
        axis = da.dims.index("profile")
        values = values[(slice(None),) * axis + (index,)]   # a view, not a copy
    return values


@dataclass(frozen=True)
class EventCurve:
    """P(event by date) on a monthly grid from as_of to the horizon, from per-draw times."""

    dates: np.ndarray
    p_by: np.ndarray
    p_not_by_horizon: float
    n: int

    def at(self, date: float) -> float:
        """P(by ``date``) at a grid date (e.g. a year's end)."""
        k = int(np.argmin(np.abs(self.dates - date)))
        if abs(self.dates[k] - date) > 1e-9:
            raise ValueError(f"{date} is not on the curve's grid")
        return float(self.p_by[k])


def _count_slots_py(times, first, per_year, k_max, as_of):
    """For each column of ``times`` (n, m): counts[c, j] = #{t: first + (j-1)/per_year < t <=
    first + j/per_year} (slot 0: t <= first; slot k_max + 1: later, +inf and NaN included),
    #{t <= as_of} and #{t finite}."""
    n, m = times.shape
    counts = np.zeros((m, k_max + 2), dtype=np.int64)
    at_as_of = np.zeros(m, dtype=np.int64)
    finite = np.zeros(m, dtype=np.int64)
    last = k_max + 1
    # Column by column, the two tallies in locals: as array elements bumped on every value they
    # chained each iteration to the last through memory (~40% less time at 1M draws).
    for c in range(m):
        row = counts[c]
        n_as_of = 0
        n_finite = 0
        for i in range(n):
            t = times[i, c]
            slot = last
            if t < math.inf:
                n_finite += 1
                x = (t - first) * per_year
                if x < last:
                    slot = max(int(math.ceil(x)), 0)
            row[slot] += 1
            if t <= as_of:
                n_as_of += 1
        at_as_of[c] = n_as_of
        finite[c] = n_finite
    return counts, at_as_of, finite


_COUNT_SLOTS = None


def _count_slots(times, first, per_year, k_max, as_of):
    """The compiled form of ``_count_slots_py``: one pass per column, no temporaries, and it
    releases the GIL (``simcore run`` draws its charts while another thread writes run.nc)."""
    global _COUNT_SLOTS
    if _COUNT_SLOTS is None:
        import numba
        _COUNT_SLOTS = numba.njit(cache=True, nogil=True)(_count_slots_py)
    return _COUNT_SLOTS(times, float(first), float(per_year), int(k_max), float(as_of))


def event_curves(times: np.ndarray, as_of: float, horizon: float,
                 per_year: int = 12) -> list[EventCurve]:
    """P(time <= d) for each column of ``times`` ((n,) or (n, m)), at d = as_of, every month's
    end after it (calendar months, so every year's end is on the grid: these values equal
    ``events.csv``), and the horizon. The times are counted into monthly slots in one compiled
    pass: fast at millions of draws, no sort. ``(t - first) * 12`` is exact at whole years, so a
    time that falls on a year's end is counted by that year, as in the tables."""
    times = np.asarray(times, dtype=np.float64)
    times = times[:, None] if times.ndim == 1 else times
    n = times.shape[0]
    first = math.floor(as_of)
    k_max = math.ceil((horizon - first) * per_year)
    counts, at_as_of, reached = _count_slots(times, first, per_year, k_max, as_of)
    grid = first + np.arange(k_max + 1) / per_year
    inside = (grid > as_of) & (grid < horizon)
    dates = np.concatenate([[as_of], grid[inside], [horizon]])
    curves = []
    for c in range(times.shape[1]):
        cdf = np.cumsum(counts[c, :k_max + 1]) / n
        p_by = np.concatenate([[at_as_of[c] / n], cdf[inside], [reached[c] / n]])
        curves.append(EventCurve(dates=dates, p_by=p_by,
                                 p_not_by_horizon=1.0 - reached[c] / n, n=n))
    return curves


def event_curve(times: np.ndarray, as_of: float, horizon: float,
                per_year: int = 12) -> EventCurve:
    """``event_curves`` of one event's times (n,)."""
    return event_curves(np.asarray(times).reshape(-1), as_of, horizon, per_year)[0]


def run_event_curves(run: xr.DataTree, event: str) -> dict[str, EventCurve]:
    """P(by date) curves of a stored event, by profile ('all' for events without one)."""
    da = run["events"][event]
    times = grid_times(run)
    if "profile" not in da.dims:
        return {"all": event_curve(da.values, times[0], times[-1])}
    da = da.transpose("sample", "profile")
    curves = event_curves(da.values, times[0], times[-1])
    return dict(zip((str(p) for p in da["profile"].values), curves))


def run_event_curve(run: xr.DataTree, event: str, profile: str | None = None) -> EventCurve:
    curves = run_event_curves(run, event)
    return curves["all"] if "all" in curves else curves[profile or PROFILES[0]]


def binding_by_year(run: xr.DataTree) -> tuple[np.ndarray, list[str], np.ndarray, np.ndarray]:
    """Which requirement of Q7 was met last, among the worlds reaching the milestone by the end
    of each year (as ``binding.csv``). Returns (years, labels, shares (labels, years), reached
    (years,))."""
    events = run["events"]
    times = np.asarray(events["novel_to_movie_possible"].values, dtype=float)
    codes_da = events["novel_to_movie_binding"]
    codes = np.asarray(codes_da.values)
    names = {int(k): v for k, v in json.loads(codes_da.attrs["codes"]).items()}
    order = sorted(names)
    labels = [names[c] for c in order]
    # A lookup table of the few small codes, and the joint (year, label) key built in place:
    # 40% less time than searchsorted and fresh temporaries at 1M draws.
    lookup = np.zeros(order[-1] - order[0] + 1, dtype=np.intp)
    lookup[np.asarray(order) - order[0]] = np.arange(len(order))
    years = np.arange(math.floor(as_of_year(run)), math.floor(horizon_year(run)))
    slot = np.ceil(times - (years[0] + 1.0))
    np.clip(slot, 0, years.size, out=slot)
    key = slot.astype(np.intp)
    key *= len(labels)
    key += lookup[np.subtract(codes, order[0], dtype=np.intp)]
    joint = np.bincount(key, minlength=(years.size + 1) * len(labels)).reshape(-1, len(labels))
    reached_by = np.cumsum(joint[:years.size], axis=0)          # (years, labels)
    reached = reached_by.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        shares = np.where(reached[:, None] > 0, reached_by / reached[:, None], np.nan)
    return years, labels, shares.T, reached


# --------------------------------------------------------------------------------------------
# Axes helpers
# --------------------------------------------------------------------------------------------

def prepare_drawing() -> None:
    """Load matplotlib, its Agg canvas, a font and the compiled event counter ahead of
    drawing (``simcore run`` does this in its drawing process while the run file is being
    finished: ~1 s that would otherwise come after it)."""
    _count_slots(np.full((1, 1), math.inf), 2026.0, 12, 1, 2026.0)
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
    by_position = {round(x, 6): text for x, text in zip(positions, labels)}
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
    for alpha, (lo, hi, k) in zip(BAND_ALPHAS, BANDS):
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
    for order, (handle, label) in enumerate(zip(handles, labels)):
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
    ax.set_xlim(years[0] - 0.3, years[-1] + 0.3)


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


# --------------------------------------------------------------------------------------------
# Fan charts (Q1-Q5)
# --------------------------------------------------------------------------------------------

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
    for a, profile in zip(axes, panels):
        _fan_panel(a, run, output, profile)
    for i, (a, profile) in enumerate(zip(axes, panels)):
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
    from .seed import compare

    spec = FAN_SPECS["film_days"]
    fig, axes = _figure(12.5, 5.9, ncols=len(PROFILES), sharey=True)
    table = compare(run, seed) if seed is not None else None
    start = as_of_year(run) - 0.3
    if table is not None:
        start = min(start, float(table[table.quantity == "film_days"].date.min()) - 0.7)
    for i, (ax, profile) in enumerate(zip(axes, PROFILES)):
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
                                 "usd_per_gpu_second")):
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
    """Q1 fan with the shot length a watchable feature needs (its prior, per world)."""
    return _fan_with_requirement(run, "coherent_shot_seconds",
                                 run["prior"]["required_shot_seconds"].values,
                                 "needed for a feature", "shot_length", "upper left",
                                 bbox_to_anchor=(0.0, 0.94))


def cut_break_chart(run: xr.DataTree):
    """Q4 fan with the per-cut chance a feature tolerates (visible breaks / cuts, per world)."""
    prior = run["prior"]
    tolerated = (np.asarray(prior["tolerated_visible_breaks"].values, dtype=float)
                 / np.asarray(prior["cuts_per_feature"].values, dtype=float))
    return _fan_with_requirement(run, "cut_break_probability", tolerated,
                                 "tolerated by a feature", "consistency", "lower left")


def film_cost_chart(run: xr.DataTree):
    """Cost of a film's footage at list prices, with the budget cap of Q7's 'possible'."""
    return _fan_with_requirement(run, "film_cost_usd", run["prior"]["budget_cap_usd"].values,
                                 "budget cap", "budget", "lower left")


def free_video_chart(run: xr.DataTree):
    return fan_chart(run, "free_video_seconds_per_day", legend="lower right")


# --------------------------------------------------------------------------------------------
# Event curves (Q6, Q7) and the binding requirement
# --------------------------------------------------------------------------------------------

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


def film_events_chart(run: xr.DataTree):
    """Q6: P(a free user's film time has fallen below each threshold by date), one panel per
    profile, with the 'not by the horizon' mass as hatched bars."""
    fig, axes = _figure(12.0, 4.8, ncols=len(PROFILES), sharey=True)
    by_event = {label: run_event_curves(run, f"free_film_within_{label}")
                for label in THRESHOLD_WORDS}
    for ax, profile in zip(axes, PROFILES):
        curves = []
        for (label, words), colour in zip(THRESHOLD_WORDS.items(), THRESHOLD_COLOURS):
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
    years, labels, shares, reached = binding_by_year(run)
    keep = reached >= min_reached
    present = [i for i, label in enumerate(labels) if np.nansum(shares[i, keep]) > 0]
    x = years[keep] + 1.0    # the end of each year
    if x.size:
        layers = ax.stackplot(x, shares[present][:, keep],
                              colors=[REQUIREMENT_COLOURS.get(labels[i], "0.5") for i in present],
                              labels=[REQUIREMENT_WORDS.get(labels[i], labels[i])
                                      for i in present], alpha=0.85, linewidth=0)
        for layer, i in zip(layers, present):
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
               "possible (any budget up to the cap)")]
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
        words = ", ".join(f"{v:.0%} by the end of {int(e) - 1}" for e, v in zip(ends, p))
        ax.plot(ends, p, linestyle="none", marker="D", markersize=5.5, color=SEED_COLOUR,
                zorder=6, gid="seed:milestone", label=f"… in this run: {words}")
        for e, v in zip(ends, p):
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
    for i, (ax, profile) in enumerate(zip(axes, panels)):
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
        possible = event_times(run, "novel_to_movie_possible")
        row["novel_to_movie_median_year"] = float(np.quantile(possible, 0.5,
                                                              method="inverted_cdf"))
        row[f"p_novel_to_movie_by_{p_by_year}"] = float(np.mean(possible <= p_by_year + 1.0))
        row["p_novel_to_movie_not_by_horizon"] = float(np.mean(np.isinf(possible)))
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


# --------------------------------------------------------------------------------------------
# The chart registry, drawing to files
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Chart:
    question: str
    draw: Callable          # (run, seed) -> Figure
    description: str


CHARTS: dict[str, Chart] = {
    "film_days": Chart("Q5, Q9", lambda run, seed: film_days_chart(run, seed),
                       "fan of a free user's film time per profile, Q6 thresholds, seed points"),
    "film_events": Chart("Q6", lambda run, seed: film_events_chart(run),
                         "P(film time below a year ... 10 minutes by date), not-by-horizon mass"),
    "novel_to_movie": Chart("Q7, Q9", lambda run, seed: novel_to_movie_chart(run, seed),
                            "P(novel-to-movie possible / by a free user by date), seed "
                            "2029-2030, binding requirement"),
    "coherent_shot_seconds": Chart("Q1", lambda run, seed: shot_length_chart(run),
                                   "fan of the longest coherent shot, and the length needed"),
    "price_compute": Chart("Q2, Q3", lambda run, seed: price_compute_chart(run),
                           "fans of price and compute per video-second and their ratio"),
    "cut_break_probability": Chart("Q4", lambda run, seed: cut_break_chart(run),
                                   "fan of the chance a cut breaks continuity, and what a "
                                   "feature tolerates"),
    "free_video_seconds_per_day": Chart("Q5", lambda run, seed: free_video_chart(run),
                                        "fan of the video a free user generates per day"),
    "film_cost_usd": Chart("Q2, Q7", lambda run, seed: film_cost_chart(run),
                           "fan of the cost of a film's footage, and the budget cap"),
}
# Drawn by `simcore run` (kept small so a run stays fast); `simcore plot` draws all of CHARTS.
STANDARD_SET = ("film_days", "film_events", "novel_to_movie")
# The run.nc groups the standard set and the seed comparison read (simcore run opens only
# these: /prior would take most of the opening time).
STANDARD_SET_GROUPS = ("trajectories", "trajectories/paths", "events")
FORMATS = ("png", "svg", "pdf")
DEFAULT_SEED = _DEFAULT_SEED = object()   # "the shipped seed forecast, if installed"


class ChartError(SimcoreError):
    """An unknown chart name or file format."""


def chart_names() -> list[str]:
    return list(CHARTS)


def _seed_or_default(seed):
    if seed is _DEFAULT_SEED:
        from .seed import default_seed_forecast
        return default_seed_forecast()
    return seed


def draw(run: xr.DataTree, name: str, seed=_DEFAULT_SEED):
    """One chart of ``CHARTS`` by name (a Figure); ``seed=None`` leaves out the seed forecast."""
    if name not in CHARTS:
        raise KeyError(f"unknown chart {name!r}; valid: {', '.join(CHARTS)}")
    return CHARTS[name].draw(run, _seed_or_default(seed))


def render_charts(run: xr.DataTree, names: Sequence[str] | None = None, fmt: str = "png",
                  dpi: int = DPI, seed=_DEFAULT_SEED) -> dict[str, bytes]:
    """Charts (default: all of ``CHARTS``) as file contents, by file name ``<name>.<fmt>``."""
    check_names(names, fmt)
    seed = _seed_or_default(seed)
    contents = {}
    for name in names or CHARTS:
        fig = CHARTS[name].draw(run, seed)
        buffer = io.BytesIO()
        if fmt == "png":
            write_png(fig, buffer, dpi)
        else:
            fig.savefig(buffer, format=fmt, dpi=dpi)
        contents[f"{name}.{fmt}"] = buffer.getvalue()
    return contents


def draw_charts(run: xr.DataTree, directory: str | Path, names: Sequence[str] | None = None,
                fmt: str = "png", dpi: int = DPI, seed=_DEFAULT_SEED) -> list[Path]:
    """Draw charts (default: all of ``CHARTS``) into ``directory`` as ``<name>.<fmt>``: all of
    them or none (each is drawn first, then they are written together; an existing chart of
    the same name is replaced)."""
    from .publish import write_files

    return write_files(Path(directory), render_charts(run, names, fmt, dpi, seed))


def write_png(fig, target, dpi: int = DPI) -> None:
    """What ``fig.savefig(target, format="png", dpi=dpi)`` writes, in ~35% less CPU time.

    ``savefig`` draws a layout-managed figure twice: once without output, to run the layout,
    and again to render. ``Figure.draw`` runs the layout engine itself, so one draw on an Agg
    canvas is enough (~10%, same pixels). The alpha channel is dropped when the figure is opaque
    (it is, for these charts): a quarter less data to compress, PNGs ~10% smaller. zlib level 1:
    within 3% of the default size, encoded in a third of the time.

    Text is drawn unhinted (~20%): matplotlib 3.11 shapes and rasterises text glyph by glyph,
    running the font's hinting program for each, and text is the largest part of these charts'
    drawing time. At 110 dpi unhinted text reads as well, a touch softer, with more even
    letter spacing."""
    import matplotlib as mpl
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from PIL import Image, PngImagePlugin

    fig.set_dpi(dpi)
    canvas = FigureCanvasAgg(fig)
    with mpl.rc_context({"text.hinting": "no_hinting"}):
        canvas.draw()
    rgba = np.asarray(canvas.buffer_rgba())
    image = Image.frombuffer("RGBA", (rgba.shape[1], rgba.shape[0]), rgba, "raw", "RGBA", 0, 1)
    if rgba[..., 3].min() == 255:
        image = image.convert("RGB")
    info = PngImagePlugin.PngInfo()   # what savefig writes
    info.add_text("Software", f"Matplotlib version{mpl.__version__}, https://matplotlib.org/")
    image.save(target, format="png", compress_level=1, pnginfo=info, dpi=(dpi, dpi))


def check_names(names: Sequence[str] | None, fmt: str = "png") -> None:
    unknown = [n for n in (names or ()) if n not in CHARTS]
    if unknown:
        raise ChartError(f"unknown chart {unknown[0]!r}; valid: {', '.join(CHARTS)}")
    if fmt not in FORMATS:
        raise ChartError(f"unknown format {fmt!r}; valid: {', '.join(FORMATS)}")


def open_run(run_dir: str | Path) -> xr.DataTree:
    """``store.load_run`` with one-line errors for anything that is not a readable run."""
    from .store import RUN_FILE, load_run

    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise RunDirError(f"{run_dir}: no such run directory")
    try:
        run = load_run(run_dir)         # run.nc, a regular file inside run_dir (contained)
    except FileNotFoundError:
        raise RunDirError(f"{run_dir}: not a simcore run (no {RUN_FILE})") from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise RunDirError(f"{run_dir / RUN_FILE}: cannot be read: {reason}") from None
    missing = [g for g in ("trajectories", "events") if g not in run.children]
    if missing:
        raise RunDirError(f"{run_dir / RUN_FILE}: not a simcore run (no group "
                          f"{', '.join(missing)})")
    return run


def plot_run(run_dir: str | Path, names: Sequence[str] | None = None, fmt: str = "png",
             to_dir: str | Path | None = None, seed=DEFAULT_SEED, dpi: int = DPI) -> list[Path]:
    """What ``simcore plot`` does: redraw charts (default: all) from a stored run. A failure
    to write (a full disk: RunIOError, exit 1) leaves no chart behind."""
    check_names(names, fmt)
    run = open_run(run_dir)
    try:
        return draw_charts(run, Path(to_dir) if to_dir is not None else Path(run_dir), names,
                           fmt, dpi=dpi, seed=seed)
    finally:
        run.close()


def draw_standard_set(run: xr.DataTree, directory: str | Path, fmt: str = "png",
                      seed=_DEFAULT_SEED) -> list[Path]:
    """The charts ``simcore run`` writes into every run directory (``STANDARD_SET``), into its
    staging folder (published whole, so the files are written as they are)."""
    written = []
    for name, data in render_charts(run, STANDARD_SET, fmt, seed=seed).items():
        path = Path(directory) / name
        path.write_bytes(data)
        written.append(path)
    return written
