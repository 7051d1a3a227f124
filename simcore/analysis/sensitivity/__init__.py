"""Which assumptions matter (Q8): sensitivity of the headline outputs to the drivers.

* :mod:`.given` -- given-data indices (Spearman, partial rank correlation, PAWN) computed on
  every run from the draws already made: ``sensitivity.csv`` and ``sensitivity_dominant.csv``
  (which driver dominates when) in the run directory, and the ``/sensitivity`` group of
  ``run.nc``.
* :mod:`.variance` -- Sobol (first and total order, bootstrap intervals) and Morris indices with
  SALib on the model evaluated at sampled driver values, with a convergence check (N vs 2N).
* :mod:`.tornado` -- one-at-a-time swings (10th to 90th percentile, the rest at medians) and the
  tornado chart.
* :mod:`.study` -- the ``simcore sensitivity`` command: the above, stored like a run.
* :mod:`.targets` -- what is analysed (headline outputs and years) and how censored event times
  are handled.

Everything returns pandas DataFrames and matplotlib Figures (no pyplot), so a report can use
them directly; docs/model.md ("Sensitivity analysis") explains the methods and assumptions.

Importing this package is cheap: the submodules (numba, SALib) load on first use.
"""

from __future__ import annotations

import importlib

# Worlds used by the given-data analysis of every run: the first M of the run (draws are
# independent, so they are a random subsample). The CLI keeps their trajectories in memory.
GIVEN_DATA_DRAWS = 20_000

_LAZY = {
    "GivenData": "given", "analyse": "given",
    "given_data": "given", "dominant_drivers": "given", "top_drivers": "given", "load": "given",
    "sobol": "variance", "morris": "variance", "VarianceResult": "variance",
    "swings": "tornado", "tornado_chart": "tornado",
    "run_study": "study", "load_study": "study",
}

__all__ = ["GIVEN_DATA_DRAWS", "GivenData", "VarianceResult", "analyse", "dominant_drivers",
           "given_data", "load", "load_study", "morris", "run_study", "sobol", "swings",
           "top_drivers", "tornado_chart"]


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# Hooks for simcore.store: what a run directory gets (simcore verify recomputes them too).

def table_for_run(result):
    """``sensitivity.csv``: the given-data table of a run."""
    from .given import given_data
    return given_data(result)


def dominance_for_run(result):
    """``sensitivity_dominant.csv``: per fan output and year, the driver with the largest
    |Spearman| correlation, and the runner-up."""
    from .given import dominant_drivers, given_data
    return dominant_drivers(given_data(result))


def group_for_run(result):
    """run.nc's ``/sensitivity`` group: the same indices over (target, driver, method)."""
    from .given import analyse
    return analyse(result).dataset()
