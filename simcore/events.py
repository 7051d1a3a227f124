"""Event times: when a set of log-space gaps first all reach zero, between grid points.

A requirement is met when its gap (base-2 log of level over need, signed so that <= 0 means met)
is <= 0. The event is the first grid step at whose end every gap is met; inside that step each
gap is interpolated linearly (exact for the piecewise-linear log trends of the model, unless a
kink falls inside the step) and the event time is the latest of the requirements' crossings.
The requirement crossing last is the *binding* one. Events not reached by the horizon get time
``+inf``: "not by the horizon" stays an explicit outcome, never the horizon year.
"""

from __future__ import annotations

import numpy as np

from .model import FILM_TIME_THRESHOLDS_DAYS, PROFILES, REQUIREMENTS, Trajectories

ALREADY_MET = -1  # binding code of an event already reached at as_of


def first_crossing(gaps: list[np.ndarray], t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """First time at which all ``gaps`` (each (n, T)) are <= 0.

    Returns ``(times, binding)``: times (n,) in the units of ``t`` (``inf`` if never),
    binding (n,) the index of the gap met last (``ALREADY_MET`` if met at ``t[0]``; for a
    censored draw, the gap furthest from being met at the horizon).
    """
    combined = gaps[0] if len(gaps) == 1 else np.maximum.reduce(gaps)
    met = combined <= 0.0
    reached = met.any(axis=1)
    k = met.argmax(axis=1)
    n = combined.shape[0]
    times = np.full(n, np.inf)
    binding = np.full(n, ALREADY_MET, dtype=np.int8)

    start = reached & (k == 0)
    times[start] = t[0]

    rows = np.flatnonzero(reached & (k > 0))
    kr = k[rows]
    fractions = np.empty((len(gaps), rows.size))
    for r, gap in enumerate(gaps):
        before, after = gap[rows, kr - 1], gap[rows, kr]
        # before > 0 >= after whenever this gap is the one still unmet before the step.
        with np.errstate(divide="ignore", invalid="ignore"):
            fractions[r] = np.where(before > 0.0, before / (before - after), 0.0)
    if rows.size:
        times[rows] = t[kr - 1] + fractions.max(axis=0) * (t[kr] - t[kr - 1])
        binding[rows] = fractions.argmax(axis=0)

    censored = np.flatnonzero(~reached)
    if censored.size:
        binding[censored] = np.stack([gap[censored, -1] for gap in gaps]).argmax(axis=0)
    return times, binding


def event_names() -> list[str]:
    """Every per-draw event, in report order."""
    names = [f"free_film_within_{label}" for label in FILM_TIME_THRESHOLDS_DAYS]
    return [*names, "novel_to_movie_possible", "novel_to_movie_free_user"]


def compute_events(traj: Trajectories, t_abs: np.ndarray) -> dict[str, np.ndarray]:
    """Event times (decimal years) for one chunk.

    Returns name -> (n, P) for per-profile events (P = len(PROFILES)), (n,) for the rest, and
    ``novel_to_movie_binding`` (n,) int8 (an index into REQUIREMENTS, or ALREADY_MET).
    """
    out: dict[str, np.ndarray] = {}
    for label, days in FILM_TIME_THRESHOLDS_DAYS.items():
        columns = []
        for profile in PROFILES:
            gap = traj.log2[f"film_days/{profile}"] - np.log2(days)
            columns.append(first_crossing([gap], t_abs)[0])
        out[f"free_film_within_{label}"] = np.stack(columns, axis=1)

    requirement_gaps = [traj.requirement_gaps[r] for r in REQUIREMENTS]
    possible, binding = first_crossing(requirement_gaps, t_abs)
    out["novel_to_movie_possible"] = possible
    out["novel_to_movie_binding"] = binding

    free = []
    for profile in PROFILES:
        days_gap = traj.log2[f"film_days/{profile}"] - traj.log2_free_days_threshold
        free.append(first_crossing([*requirement_gaps, days_gap], t_abs)[0])
    out["novel_to_movie_free_user"] = np.stack(free, axis=1)
    return out
