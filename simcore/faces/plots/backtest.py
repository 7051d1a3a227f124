"""The chart of ``simcore backtest``: where the observations after each origin fell in that
origin's forecast (PIT histogram: flat if calibrated, U-shaped if too narrow, a hump if too
wide, lopsided if biased) and how often they fell in its central 50/80/90% bands against the
nominal rate."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

BANDS = (50, 80, 90)


def backtest_chart(scores: pd.DataFrame) -> Figure:
    figure = Figure(figsize=(10, 4.2))
    pit_axes, coverage_axes = figure.subplots(1, 2)
    ranked = scores[scores["pit"].notna()]
    origins = sorted(ranked["origin"].unique())
    edges = np.linspace(0.0, 1.0, 11)
    if origins:
        pit_axes.hist([ranked.loc[ranked["origin"] == o, "pit"].to_numpy(float)
                       for o in origins], bins=edges, stacked=True, label=origins)
        pit_axes.axhline(len(ranked) / (len(edges) - 1), color="k", lw=0.8, ls="--",
                         label="calibrated")
        pit_axes.legend(fontsize=8)
    pit_axes.set_xlabel("PIT of the observation in the origin's forecast")
    pit_axes.set_ylabel("observations")
    pit_axes.set_title("PIT histogram")
    for k, origin in enumerate(origins):
        group = ranked[ranked["origin"] == origin]
        rates = [group[f"in_{b}"].astype(float).mean() for b in BANDS]
        coverage_axes.plot(BANDS, np.array(rates) * 100, marker="o", color=f"C{k}",
                           label=f"{origin} (n={len(group)})")
    coverage_axes.plot(BANDS, BANDS, color="k", lw=0.8, ls="--", label="nominal")
    coverage_axes.set_xlabel("central band (%)")
    coverage_axes.set_ylabel("observations inside (%)")
    coverage_axes.set_ylim(0, 100)
    coverage_axes.set_title("Coverage")
    coverage_axes.legend(fontsize=8)
    figure.tight_layout()
    return figure
