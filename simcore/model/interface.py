"""The one interface of the model's two backends:

    simulate(drivers, grid, clock) -> (Trajectories, events)

``reference.simulate`` (numpy, whole matrices: the readable statement of the equations) and
``kernel.simulate`` (compiled, one draw at a time: what runs use) take and return the same
things, and tests check that they agree over the whole domain of every driver.

* ``drivers``: driver name -> (n,) values (a scalar or shorter array broadcasts). A driver the
  spec gives a default may be left out (:func:`driver_values`).
* ``grid``: the time grid, :class:`Grid`.
* ``clock``: (n, MAX_REGIME_SWITCHES) uniforms in (0, 1) for the free-tier regime chain
  (section 2.4 of docs/model.md); ``None`` means 0.5 everywhere (each sojourn its median).

Returned trajectories are **base-2 logarithms** (``Trajectories``), the model's own arithmetic:
every trend is linear in log2, values of 2^±2000 (extreme but valid drivers) stay finite where
the values themselves would overflow, and −inf (a path that is unavailable) is exact. Events are
decimal years per draw, laid out as in the spec: (n,) or (n, P) times, ``inf`` = not by the
horizon, and int8 binding codes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from . import spec


@dataclass(frozen=True)
class Grid:
    """Grid times ``t`` in years since ``as_of_year`` (a decimal year), first time 0."""

    t: np.ndarray
    as_of_year: float

    @property
    def years(self) -> np.ndarray:
        """The grid in decimal years (what event times are reported in)."""
        return self.as_of_year + self.t


@dataclass
class Trajectories:
    """Base-2 logs on the grid: every series of the spec (``output`` or ``output/profile``)
    and every requirement's gap (lg need − lg level; <= 0 means met), each (n, T)."""

    log2: dict[str, np.ndarray]
    gaps: dict[str, np.ndarray]


def driver_values(drivers: Mapping[str, np.ndarray], n: int | None = None
                  ) -> dict[str, np.ndarray]:
    """Every model driver as an (n,) float array: the given values, broadcast, and the spec's
    default for an optional driver left out. A required driver left out is an error."""
    missing = [name for name in spec.DRIVER_ORDER
               if name not in drivers and name not in spec.DRIVER_DEFAULTS]
    if missing:
        raise KeyError(f"model drivers without a value: {', '.join(missing)}")
    if n is None:
        n = max((np.size(drivers[name]) for name in spec.DRIVER_ORDER if name in drivers),
                default=1)
    return {name: np.broadcast_to(np.asarray(drivers[name], dtype=float)
                                  if name in drivers else spec.DRIVER_DEFAULTS[name], (n,))
            for name in spec.DRIVER_ORDER}


def regime_clock(clock: np.ndarray | None, n: int) -> np.ndarray:
    """The regime uniforms (n, MAX_REGIME_SWITCHES); 0.5 everywhere by default."""
    if clock is None:
        return np.full((n, spec.MAX_REGIME_SWITCHES), 0.5)
    return np.asarray(clock, dtype=float).reshape(n, spec.MAX_REGIME_SWITCHES)


def unpack_events(event_matrix: np.ndarray, binding: np.ndarray) -> dict[str, np.ndarray]:
    """The kernel's per-draw event columns -> named arrays: (N, P) for a per-profile event,
    (N,) otherwise, and each binding variable's codes (:func:`unpack_bindings`). Views."""
    events = {event.name: _columns(event_matrix, spec.EVENT_COLUMNS[event.name], event)
              for event in spec.EVENT_SPECS}
    return {**events, **unpack_bindings(binding)}


def unpack_bindings(binding: np.ndarray) -> dict[str, np.ndarray]:
    """The kernel's binding-code columns -> each binding variable's codes, (N,) or (N, P)."""
    return {event.binding: _columns(binding, spec.BINDING_COLUMNS[event.binding], event)
            for event in spec.BINDING_EVENTS}


def _columns(matrix: np.ndarray, columns: slice, event: spec.Event) -> np.ndarray:
    return matrix[:, columns] if spec.per_profile(event) else matrix[:, columns.start]
