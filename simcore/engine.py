"""Run the model over chunks of draws and stream them into summaries.

Memory is bounded by the chunk size for trajectories (only histograms and a few stored paths
survive a chunk); per-draw drivers and event times are kept whole because sensitivity analysis
and event tables need them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from . import model
from .priors import PriorSet
from .sampling import Copula, noise, sample_drivers
from .summaries import EventTimes, LogHistogram

DEFAULT_CHUNK_SIZE = 65_536
DEFAULT_PATHS = 200


@dataclass
class RunResult:
    priors: PriorSet
    seed: int
    draws: int
    chunk_size: int
    time_abs: np.ndarray                                # (T,) decimal years
    drivers: dict[str, np.ndarray]                      # name -> (N,)
    events: dict[str, np.ndarray]                       # name -> (N,) or (N, P)
    histograms: dict[str, LogHistogram]                 # series -> counts per grid time
    paths: dict[str, np.ndarray]                        # series -> (paths, T) values
    copula_repair: float = 0.0
    stored_paths: int | None = None   # paths written to run.nc (default: all of ``paths``)
    timings: dict[str, float] = field(default_factory=dict)
    _event_times: dict[tuple[str, int | None], EventTimes] = field(default_factory=dict,
                                                                  repr=False)

    def event(self, name: str, profile: int | None = None) -> EventTimes:
        """Summaries of an event's times (profile: index into PROFILES for per-profile events)."""
        key = (name, profile)
        if key not in self._event_times:
            times = self.events[name]
            self._event_times[key] = EventTimes(times if profile is None else times[:, profile])
        return self._event_times[key]

    @property
    def horizon_year(self) -> float:
        return float(self.time_abs[-1])


def time_grid(priors: PriorSet) -> np.ndarray:
    """Years since as_of: 0, step, 2*step, ... up to the horizon (included)."""
    steps = int(round(priors.meta.horizon_years / priors.meta.time_step_years))
    return np.linspace(0.0, steps * priors.meta.time_step_years, steps + 1)


def run_forecast(priors: PriorSet, draws: int, seed: int, chunk_size: int = DEFAULT_CHUNK_SIZE,
                 n_paths: int = DEFAULT_PATHS,
                 on_chunk: Callable[[int], None] | None = None) -> RunResult:
    """Sample ``draws`` worlds in chunks; identical results for any ``chunk_size``."""
    from numba import get_num_threads

    from . import kernel

    started = time.perf_counter()
    t_rel = time_grid(priors)
    t_abs = priors.as_of_year + t_rel
    copula = Copula.from_priors(priors)
    n_paths = min(n_paths, draws)
    blocks = get_num_threads()
    counts = np.zeros((blocks, kernel.N_SERIES, t_rel.size * LogHistogram.n_bins), dtype=np.int32)
    paths = np.empty((n_paths, kernel.N_SERIES, t_rel.size))
    # One matrix for every driver of every draw, columns in the kernel's order: chunks are
    # written in place and handed to the kernel without copying.
    driver_matrix = np.empty((draws, len(kernel.DRIVER_ORDER)), order="F")
    event_matrix = np.empty((draws, kernel.N_EVENTS))
    binding = np.empty(draws, dtype=np.int8)
    timings = {"sampling": 0.0, "model": 0.0}

    for start in range(0, draws, chunk_size):
        stop = min(start + chunk_size, draws)
        tick = time.perf_counter()
        matrix = driver_matrix[start:stop]
        sample_drivers(priors, seed, start, stop, copula, out=matrix, order=kernel.DRIVER_ORDER)
        clock = noise(seed, "free_regime_clock", model.MAX_REGIME_SWITCHES, start, stop)
        tock = time.perf_counter()
        chunk_paths = paths[start:min(stop, n_paths)] if start < n_paths else paths[:0]
        kernel.simulate_chunk(matrix, t_rel, t_abs, clock, counts, event_matrix[start:stop],
                              binding[start:stop], chunk_paths, chunk_paths.shape[0])
        timings["sampling"] += tock - tick
        timings["model"] += time.perf_counter() - tock
        if on_chunk is not None:
            on_chunk(stop - start)

    tick = time.perf_counter()
    total_counts = counts.sum(axis=0, dtype=np.int64)
    histograms = {name: LogHistogram.from_counts(total_counts[s].reshape(t_rel.size, -1))
                  for s, name in enumerate(kernel.SERIES)}
    events = unpack_events(event_matrix, binding)
    timings["summaries"] = time.perf_counter() - tick
    timings["total_engine"] = time.perf_counter() - started
    drivers = {name: driver_matrix[:, j] for j, name in enumerate(kernel.DRIVER_ORDER)}
    return RunResult(priors=priors, seed=seed, draws=draws, chunk_size=chunk_size,
                     time_abs=t_abs, drivers=drivers, events=events, histograms=histograms,
                     paths={name: paths[:, s] for s, name in enumerate(kernel.SERIES)},
                     copula_repair=copula.repair if copula else 0.0, timings=timings)


def evaluate(drivers: dict[str, np.ndarray], t_rel: np.ndarray, as_of_year: float,
             clock: np.ndarray | None = None) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """The model at given driver values, without sampling: (events, trajectories).

    ``drivers``: every model driver -> (n,) array; ``clock``: the free-tier regime uniforms
    (n, MAX_REGIME_SWITCHES), by default 0.5 everywhere. Trajectories are returned for every
    draw as series -> (n, T) values (not logs); meant for tests, tornado swings and what-ifs
    over a modest number of points.
    """
    from . import kernel

    n = next(iter(drivers.values())).size
    matrix = np.column_stack([np.broadcast_to(drivers[name], (n,)).astype(float)
                              for name in kernel.DRIVER_ORDER])
    if clock is None:
        clock = np.full((n, model.MAX_REGIME_SWITCHES), 0.5)
    counts = np.zeros((1, kernel.N_SERIES, t_rel.size * LogHistogram.n_bins), dtype=np.int32)
    paths = np.empty((n, kernel.N_SERIES, t_rel.size))
    event_matrix = np.empty((n, kernel.N_EVENTS))
    binding = np.empty(n, dtype=np.int8)
    kernel.simulate_chunk(matrix, t_rel, as_of_year + t_rel, clock, counts, event_matrix, binding,
                          paths, n)
    return (unpack_events(event_matrix, binding),
            {name: paths[:, s] for s, name in enumerate(kernel.SERIES)})


def unpack_events(event_matrix: np.ndarray, binding: np.ndarray) -> dict[str, np.ndarray]:
    """Kernel event columns -> named arrays: (N, P) per profile, (N,) otherwise."""
    from .kernel import N_FILM_EVENTS

    n_profiles = len(model.PROFILES)
    events = {}
    for h, label in enumerate(model.FILM_TIME_THRESHOLDS_DAYS):
        events[f"free_film_within_{label}"] = event_matrix[:, h * n_profiles:(h + 1) * n_profiles]
    events["novel_to_movie_possible"] = event_matrix[:, N_FILM_EVENTS]
    events["novel_to_movie_free_user"] = event_matrix[:, N_FILM_EVENTS + 1:]
    events["novel_to_movie_binding"] = binding
    return events
