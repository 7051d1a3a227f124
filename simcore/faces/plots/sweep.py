"""The heat map of a sweep: one headline number over a grid of one or two varied prior fields
(``simcore sweep``), each cell labelled with its value."""

from __future__ import annotations

import numpy as np
import pandas as pd


def sweep_heatmap(table: pd.DataFrame, varied: list[str], number: str, title: str):
    """A figure of ``table[number]`` with the first of ``varied`` down the rows and the second
    (if any) across the columns, in the order the values were given."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = list(dict.fromkeys(table[varied[0]]))
    columns = list(dict.fromkeys(table[varied[1]])) if len(varied) > 1 else [None]
    grid = np.full((len(rows), len(columns)), np.nan)
    for _, cell in table.iterrows():
        column = columns.index(cell[varied[1]]) if len(varied) > 1 else 0
        grid[rows.index(cell[varied[0]]), column] = cell[number]
    figure, axes = plt.subplots(figsize=(max(6.0, 1.6 + 1.3 * len(columns)),
                                         1.4 + 0.6 * len(rows)))
    image = axes.imshow(np.ma.masked_invalid(grid), cmap="viridis", aspect="auto")
    figure.colorbar(image, ax=axes)
    middle = np.nanmean([np.nanmin(grid), np.nanmax(grid)]) if np.isfinite(grid).any() else 0
    for (i, j), value in np.ndenumerate(grid):
        # Dark text on the bright (high) end of viridis, light on the dark end.
        axes.text(j, i, "n/a" if np.isnan(value) else f"{value:.4g}", ha="center",
                  va="center", color="black" if value > middle else "white", fontsize=9)
    axes.set_yticks(range(len(rows)), [f"{v:g}" if isinstance(v, float) else str(v)
                                       for v in rows])
    axes.set_ylabel(varied[0])
    if len(varied) > 1:
        axes.set_xticks(range(len(columns)), [f"{v:g}" if isinstance(v, float) else str(v)
                                              for v in columns])
        axes.set_xlabel(varied[1])
    else:
        axes.set_xticks([])
    axes.set_title(title, fontsize=10)
    figure.tight_layout()
    return figure
