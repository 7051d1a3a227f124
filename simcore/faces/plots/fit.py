"""The chart of ``simcore fit``: the observations of a trend (a marker per quality tier), the
fitted line with its bootstrap band, and the prior entries it implies drawn forward."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from ...inputs.fitting import TrendFit, lognormal_sample, measure_unit
from ...inputs.priors import decimal_year

_MARKERS = {"first-party": "o", "independent": "s", "press": "^", "estimate": "x"}


def fit_chart(fit: TrendFit, path) -> None:
    """Data (a marker per quality tier), the fitted line with the bootstrap's central 90%,
    and the implied prior's fan (median and 90% of level x pace) over the following 3 years."""
    end = decimal_year(fit.until)
    figure = Figure(figsize=(8, 5))
    axes = figure.subplots()
    for tier, marker in _MARKERS.items():
        rows = [o for o in fit.rows if o.quality == tier]
        if rows:
            axes.scatter([o.year for o in rows], [o.centre for o in rows], marker=marker,
                         label=tier)
    years = np.linspace(min(o.year for o in fit.rows), end, 50)
    lines = np.exp2(fit.level_draws[:, None] + fit.slope_draws[:, None] * (years - end))
    axes.plot(years, np.exp2(fit.level_log2 + fit.slope * (years - end)), color="k",
              label="fit")
    axes.fill_between(years, *np.quantile(lines, [0.05, 0.95], axis=0), color="k", alpha=0.15,
                      label="fit, 90% (bootstrap)")
    ahead = np.linspace(end, end + 3.0, 30)
    entries = fit.entries()
    rng = np.random.default_rng(0)
    level = lognormal_sample(rng, *entries[fit.trend.level_driver])
    pace = lognormal_sample(rng, *entries[fit.trend.pace_driver])
    fan = np.log2(level)[:, None] + fit.trend.sign * (ahead - end)[None, :] / pace[:, None]
    axes.fill_between(ahead, *np.exp2(np.quantile(fan, [0.05, 0.95], axis=0)), color="C1",
                      alpha=0.25, label="implied prior, 90%")
    axes.plot(ahead, np.exp2(np.median(fan, axis=0)), color="C1")
    axes.set_yscale("log")
    axes.set_xlabel("year")
    axes.set_ylabel(f"{fit.measure} ({measure_unit(fit.measure)})")
    axes.set_title(f"simcore fit {fit.measure} --until {fit.until}")
    axes.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
