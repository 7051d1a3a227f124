"""The model: its specification (``spec``), and two backends of one interface (``interface``):
the numpy reference (``reference``) and the compiled kernel (``kernel``, loaded on first use:
it imports numba).

    simulate(drivers, grid, clock, backend="kernel") -> (Trajectories, events)

To add a driver or an output: declare it in ``spec.py``, write its equation in ``reference.py``
and ``kernel.py``, and describe it in docs/model.md (its tables are generated from the spec:
``python -m simcore.model.doc_tables``). A new event made of existing kinds of conditions is
the spec and the docs only.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from . import reference
from .interface import (
    Grid,
    Trajectories,
    driver_values,
    regime_clock,
    unpack_bindings,
    unpack_events,
)
from .spec import (
    ALREADY_MET,
    ALREADY_MET_LABEL,
    BINDING_LABELS,
    DAYS_PER_YEAR,
    DRIVER_DEFAULTS,
    DRIVER_DOMAINS,
    DRIVER_MAGNITUDE_LIMIT,
    DRIVER_ORDER,
    EVENT_NAMES,
    EVENT_SPECS,
    FILM_TIME_THRESHOLDS_DAYS,
    MAX_REGIME_SWITCHES,
    MODEL_DRIVERS,
    N_BINDING_COLUMNS,
    N_EVENT_COLUMNS,
    OUTPUT_SPECS,
    OUTPUTS,
    PROFILES,
    REQUIREMENTS,
    SECONDS_PER_DAY,
    SECONDS_PER_HOUR,
    SERIES,
    Domain,
    event_layout,
    per_profile,
)

BACKENDS = ("reference", "kernel")

__all__ = [
    "ALREADY_MET", "ALREADY_MET_LABEL", "BACKENDS", "BINDING_LABELS", "DAYS_PER_YEAR",
    "DRIVER_DEFAULTS", "DRIVER_DOMAINS", "DRIVER_MAGNITUDE_LIMIT", "DRIVER_ORDER", "EVENT_NAMES",
    "EVENT_SPECS", "FILM_TIME_THRESHOLDS_DAYS", "MAX_REGIME_SWITCHES", "MODEL_DRIVERS",
    "N_BINDING_COLUMNS", "N_EVENT_COLUMNS", "OUTPUTS", "OUTPUT_SPECS", "PROFILES",
    "REQUIREMENTS", "SECONDS_PER_DAY", "SECONDS_PER_HOUR", "SERIES", "Domain", "Grid",
    "Trajectories", "driver_values", "event_layout", "per_profile", "regime_clock", "simulate",
    "unpack_bindings", "unpack_events",
]


def simulate(drivers: Mapping[str, np.ndarray], grid: Grid, clock: np.ndarray | None = None,
             backend: str = "kernel") -> tuple[Trajectories, dict[str, np.ndarray]]:
    """The model through one of its backends, ``"kernel"`` or ``"reference"``."""
    if backend == "kernel":
        # numba is imported on first use: commands that never simulate do not pay for it.
        from . import kernel
        return kernel.simulate(drivers, grid, clock)
    if backend == "reference":
        return reference.simulate(drivers, grid, clock)
    raise ValueError(f"unknown backend {backend!r}: one of {', '.join(BACKENDS)}")
