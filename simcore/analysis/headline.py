"""The headline numbers' places: the year whose P(event by its end) is quoted (the terminal
answer, --until-mcse and the variance-based sensitivity all quote the same year) and the grid
times at which film times are quoted."""

from __future__ import annotations

from ..run.engine import RunResult

INDICATOR_YEAR = 2030          # P(event by the end of this year): answer, precision, sensitivity
HEADLINE_OFFSETS_YEARS = (0, 1, 4, 9, 14, 19)


def headline_indices(result: RunResult) -> list[int]:
    """Grid times nearest to HEADLINE_OFFSETS_YEARS after as_of, each once (on a coarse grid,
    e.g. 5-year steps, several offsets share a grid time)."""
    step = result.priors.meta.time_step_years
    return list(dict.fromkeys(int(round(k / step)) for k in HEADLINE_OFFSETS_YEARS
                              if k <= result.priors.meta.horizon_years))
