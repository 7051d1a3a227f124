"""Reading a stored run's DataTree (run.nc): its time grid, as-of and horizon years, percentile
tables and per-draw event times. :class:`~simcore.stored.rundir.StoredRun` takes its horizon
from here too: one ``horizon_year`` for every reader of a run."""

from __future__ import annotations

import json
import math
import weakref
from pathlib import Path

import numpy as np
import xarray as xr

from ..analysis.events import (
    EventCurve,
    binding_by_year,
    binding_shares,
    event_curve,
    event_curves,
    slot_curve,
)
from ..base.errors import RunDirError
from ..model import PROFILES
from ..run.runfile import (
    BINDING_COUNTS_GROUP,
    EVENT_SLOTS_GROUP,
    PRIOR_SAMPLE_GROUP,
)
from ..run.summaries import EventSlots, EventTimes, year_ends
from .store import RUN_FILE, load_run

_GRID_CACHE: dict[int, tuple[weakref.ref, np.ndarray]] = {}


def _remembered(cache: dict, run: xr.DataTree, make):
    """``make(run)``, computed once per run and kept while the run lives."""
    key = id(run)
    hit = cache.get(key)
    if hit is not None and hit[0]() is run:
        return hit[1]
    value = make(run)
    cache[key] = (weakref.ref(run, lambda _, k=key: cache.pop(k, None)), value)
    return value


def grid_times(run) -> np.ndarray:
    """The run's time grid (decimal years, read-only): a DataTree's (remembered per run while it
    lives) or a :class:`~simcore.stored.rundir.StoredRun`'s (from its percentile table)."""
    if not isinstance(run, xr.DataTree):
        return run.times
    return _remembered(_GRID_CACHE, run, _read_grid)


def _read_grid(run: xr.DataTree) -> np.ndarray:
    times = np.array(run["trajectories"]["time"].values, dtype=float)
    times.flags.writeable = False
    return times


def as_of_year(run) -> float:
    return float(grid_times(run)[0])


def horizon_year(run) -> float:
    return float(grid_times(run)[-1])


def horizon_words(run) -> str:
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


def has_per_draw(run: xr.DataTree) -> bool:
    """Whether the run kept its per-draw groups (not a ``--no-per-draw`` run)."""
    return "events" in run.children


_SLOTS_CACHE: dict[int, tuple[weakref.ref, EventSlots]] = {}


def event_slots(run: xr.DataTree) -> EventSlots:
    """The event slots of a run without per-draw groups (remembered per run while it lives)."""
    return _remembered(_SLOTS_CACHE, run, _read_slots)


def _read_slots(run: xr.DataTree) -> EventSlots:
    group = run[EVENT_SLOTS_GROUP]
    attrs = group.attrs
    slots = EventSlots(float(attrs["as_of"]), float(attrs["horizon"]), group.sizes["column"])
    slots.counts[:] = np.asarray(group["counts"].values, dtype=np.int64)
    slots.at_as_of[:] = np.asarray(group["at_as_of"].values, dtype=np.int64)
    slots.finite[:] = np.asarray(group["finite"].values, dtype=np.int64)
    slots.n = int(attrs["draws"])
    return slots


def _slot_columns(run: xr.DataTree, event: str) -> dict[str, int]:
    """profile ('all' for an event without one) -> the event's column in the slots."""
    labels = list(run[EVENT_SLOTS_GROUP]["column"].values)
    if event in labels:
        return {"all": labels.index(event)}
    columns = {p: labels.index(f"{event}/{p}") for p in PROFILES if f"{event}/{p}" in labels}
    if not columns:
        raise KeyError(event)
    return columns


def event_distribution(run: xr.DataTree, event: str, profile: str | None = None
                       ) -> EventTimes:
    """Quantiles and P(by each year's end) of a stored event (``profile``'s times for a
    per-profile event): from its per-draw times, or from its slots in a run without them."""
    if has_per_draw(run):
        return EventTimes(event_times(run, event, profile))
    columns = _slot_columns(run, event)
    column = columns.get("all", columns.get(profile or PROFILES[0]))
    return event_slots(run).column(column)


def prior_values(run: xr.DataTree, driver: str) -> np.ndarray:
    """A driver's stored draws: every draw's, or the first draws' in a run without per-draw
    groups (enough for the 5-95% bands the charts draw)."""
    group = run["prior"] if "prior" in run.children else run[PRIOR_SAMPLE_GROUP]
    return np.asarray(group[driver].values)


def event_times(run: xr.DataTree, event: str, profile: str | None = None) -> np.ndarray:
    """Stored per-draw times of ``event`` (decimal years, +inf = not by the horizon)."""
    if not has_per_draw(run):
        raise RunDirError("the run kept no per-draw event times (made with --no-per-draw)")
    da = run["events"][event]
    values = np.asarray(da.values, dtype=float)
    if "profile" in da.dims:
        index = list(da["profile"].values).index(profile or PROFILES[0])
        axis = da.dims.index("profile")
        values = values[(slice(None),) * axis + (index,)]   # a view, not a copy
    return values



def run_event_curves(run: xr.DataTree, event: str) -> dict[str, EventCurve]:
    """P(by date) curves of a stored event, by profile ('all' for events without one)."""
    if not has_per_draw(run):
        slots = event_slots(run)
        return {p: slot_curve(slots, c) for p, c in _slot_columns(run, event).items()}
    da = run["events"][event]
    times = grid_times(run)
    if "profile" not in da.dims:
        return {"all": event_curve(da.values, times[0], times[-1])}
    da = da.transpose("sample", "profile")
    curves = event_curves(da.values, times[0], times[-1])
    return dict(zip((str(p) for p in da["profile"].values), curves, strict=False))


def run_event_curve(run: xr.DataTree, event: str, profile: str | None = None) -> EventCurve:
    curves = run_event_curves(run, event)
    return curves["all"] if "all" in curves else curves[profile or PROFILES[0]]



def open_run(run_dir: str | Path) -> xr.DataTree:
    """``store.load_run`` with one-line errors for anything that is not a readable run."""
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
    if EVENT_SLOTS_GROUP in run.children:     # a run without per-draw groups
        missing = [g for g in missing if g != "events"]
    if missing:
        raise RunDirError(f"{run_dir / RUN_FILE}: not a simcore run (no group "
                          f"{', '.join(missing)})")
    return run


def run_binding_by_year(run: xr.DataTree) -> tuple[np.ndarray, list[str], np.ndarray, np.ndarray]:
    """``analysis.events.binding_by_year`` of a stored run, its labels from the codes stored
    with /events. Returns (years, labels, shares (labels, years), reached (years,))."""
    years = year_ends(as_of_year(run), horizon_year(run))
    if not has_per_draw(run):
        group = run[BINDING_COUNTS_GROUP]
        names = {int(k): v for k, v in
                 json.loads(group.attrs["codes_novel_to_movie_binding"]).items()}
        joint = np.asarray(group["joint"].sel(binding="novel_to_movie_binding").values,
                           dtype=np.int64)[:, :len(names)]
        shares, reached = binding_shares(joint, years)
        return years, [names[c] for c in sorted(names)], shares, reached
    events = run["events"]
    codes_da = events["novel_to_movie_binding"]
    names = {int(k): v for k, v in json.loads(codes_da.attrs["codes"]).items()}
    order = sorted(names)
    # A lookup table of the few small codes: label indices without a search.
    lookup = np.zeros(order[-1] - order[0] + 1, dtype=np.int64)
    lookup[np.asarray(order) - order[0]] = np.arange(len(order))
    label_index = lookup[np.subtract(np.asarray(codes_da.values), order[0], dtype=np.intp)]
    shares, reached = binding_by_year(events["novel_to_movie_possible"].values, label_index,
                                      len(order), years)
    return years, [names[c] for c in order], shares, reached
