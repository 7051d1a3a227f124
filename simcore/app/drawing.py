"""The drawing process of a run: the seed comparison and the charts, drawn from run.nc.

``simcore run`` forks it as its first step, while this process is still small and has no
threads or open files: the child imports matplotlib, xarray and the compiled event counter on
the core that the parent's own start-up leaves idle, then waits. When run.nc holds everything
the drawing reads (/trajectories, its /paths and /events), the parent tells it the run's
folder and goes on with the sensitivity indices and the tables; the charts are drawn beside
them on the other core.
"""

from __future__ import annotations

from pathlib import Path

from ..base.forked import Forked


def start_drawing(with_charts: bool = True) -> Forked:
    """A forked drawing process, prepared at once; ``go(folder)`` starts it on a run folder
    whose run.nc is complete but for /sensitivity (which it does not read)."""
    return Forked(lambda folder: draw_from_run(Path(folder), with_charts),
                  prepare=lambda: _prepare(with_charts))


# The imports below are made in the forked child on purpose: it loads matplotlib, xarray and the
# compiled event counter on the core the parent's own start-up leaves idle.

def _prepare(with_charts: bool) -> None:
    from ..faces import seed  # noqa: F401 - the seed forecast
    from ..stored import store  # noqa: F401 - reading run.nc
    if with_charts:
        from ..faces.plots import prepare_drawing
        prepare_drawing()


def draw_from_run(folder: Path, with_charts: bool) -> None:
    """``seed_comparison.csv``, ``outside_comparison.csv`` and (``with_charts``)
    ``plots.STANDARD_SET`` into ``folder``, from its run.nc."""
    from ..faces.outside import write_outside_comparison
    from ..faces.plots import OPTIONAL_GROUPS, STANDARD_SET_GROUPS
    from ..faces.seed import write_comparison
    from ..stored.store import load_run
    with load_run(folder, STANDARD_SET_GROUPS, optional=OPTIONAL_GROUPS) as tree:
        write_comparison(tree, folder)          # seed_comparison.csv (Q9)
        write_outside_comparison(tree, folder)  # outside_comparison.csv
        if with_charts:
            from ..faces.plots import draw_standard_set
            draw_standard_set(tree, folder)     # plots.STANDARD_SET
