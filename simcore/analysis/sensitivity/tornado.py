"""One-at-a-time swings (the numbers of the tornado chart, which ``faces.plots.tornado`` draws).

Every uncertain driver in turn is set to its 10th and its 90th percentile while all the others
sit at their medians (``dist.quantile``), and the model is evaluated at those 1 + 2D points with
``engine.evaluate`` (one call). The free-tier regime clocks stay at their medians (each
withdrawal/relaunch sojourn of median length given its hazard), as in ``engine.evaluate``.

A driver's *swing* is |target at the 90th percentile - target at the 10th| on the target's
analysed scale: decades (log10) for film_days, years for event times (an event not reached by
the horizon is placed at horizon + 1 year and flagged in ``capped``). Drivers are ranked by
swing. Unlike variance-based indices, a swing ignores interactions, the shape of a driver's
distribution beyond the two percentiles, and correlations; it is the picture to show beside them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ...inputs.priors import PriorSet
from ...run import engine
from . import targets as tg

LOW, HIGH = 0.1, 0.9


def tornado_targets(priors: PriorSet) -> list[tg.Target]:
    """The headline targets without the 0/1 'by the end of year' ones."""
    return [t for t in tg.headline_targets(priors.as_of_year, priors.meta.horizon_years,
                                           priors.meta.time_step_years)
            if t.quantity != tg.BY_YEAR]


def swings(priors: PriorSet, targets: list[tg.Target] | None = None, low: float = LOW,
           high: float = HIGH) -> pd.DataFrame:
    """The tornado table: one row per target and uncertain driver, ranked by swing.

    Columns: ``output, profile, year, quantity, driver, low_quantile, high_quantile,
    driver_low, driver_median, driver_high, value_low, value_base, value_high, swing,
    swing_unit, capped, rank``. Values are in the output's own units (days for film_days,
    decimal years for events); ``capped`` lists which of low/base/high are "not by the horizon".
    """
    targets = targets if targets is not None else tornado_targets(priors)
    names = [n for n, d in priors.drivers.items() if not d.dist.is_constant]
    medians = {n: d.dist.quantile(0.5) for n, d in priors.drivers.items()}
    ends = {n: (priors.drivers[n].dist.quantile(low), priors.drivers[n].dist.quantile(high))
            for n in names}
    points = 1 + 2 * len(names)
    drivers = {n: np.full(points, value) for n, value in medians.items()}
    for i, n in enumerate(names):
        drivers[n][1 + 2 * i], drivers[n][2 + 2 * i] = ends[n]
    t_rel = engine.time_grid(priors)
    horizon_year = priors.as_of_year + t_rel[-1]
    events, trajectories = engine.evaluate(drivers, t_rel, priors.as_of_year)
    frames = []
    for target in targets:
        scaled = tg.target_values(target, events, trajectories, horizon_year)  # log10 / capped
        if target.series is not None:
            raw, capped = 10.0 ** scaled, np.zeros(points, dtype=bool)
        else:
            times = events[target.event]
            times = times if target.column is None else times[:, target.column]
            raw, capped = scaled, ~np.isfinite(times)
        lo, hi = scaled[1::2], scaled[2::2]
        swing = np.abs(hi - lo)
        order = np.argsort(-swing, kind="stable")
        rank = np.empty(len(names), dtype=np.int64)
        rank[order] = np.arange(1, len(names) + 1)
        flags = [";".join(w for w, c in (("low", capped[1 + 2 * i]), ("base", capped[0]),
                                         ("high", capped[2 + 2 * i])) if c)
                 for i in range(len(names))]
        frames.append(pd.DataFrame({
            "output": target.output, "profile": target.profile, "year": target.year,
            "quantity": target.quantity, "driver": names, "low_quantile": low,
            "high_quantile": high, "driver_low": [ends[n][0] for n in names],
            "driver_median": [medians[n] for n in names],
            "driver_high": [ends[n][1] for n in names],
            "value_low": raw[1::2], "value_base": raw[0], "value_high": raw[2::2],
            "swing": swing,
            "swing_unit": "decades" if target.series is not None else "years",
            "capped": flags, "rank": rank}))
    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    if not table.empty:
        table["year"] = pd.array(table["year"], dtype="Int64")
    return table
