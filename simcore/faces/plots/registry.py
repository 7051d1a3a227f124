"""The chart registry (``CHARTS``, the names ``simcore plot --output`` takes), the standard set
``simcore run`` draws, and drawing charts to files."""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ...base.errors import SimcoreError
from ...stored.publish import write_files
from ...stored.tree import open_run
from ..seed import default_seed_forecast
from .axes import DPI
from .charts import (
    cost_per_minute_chart,
    cut_break_chart,
    film_cost_chart,
    film_days_chart,
    film_events_chart,
    free_video_chart,
    novel_to_movie_chart,
    price_compute_chart,
    shot_length_chart,
)

if TYPE_CHECKING:
    import xarray as xr

# --------------------------------------------------------------------------------------------
# The chart registry, drawing to files
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Chart:
    question: str
    draw: Callable          # (run, seed) -> Figure
    description: str


CHARTS: dict[str, Chart] = {
    "film_days": Chart("Q5, Q9", lambda run, seed: film_days_chart(run, seed),
                       "fan of a free user's film time per profile, Q6 thresholds, seed points"),
    "film_events": Chart("Q6", lambda run, seed: film_events_chart(run),
                         "P(film time below a year ... 10 minutes by date), not-by-horizon mass"),
    "novel_to_movie": Chart("Q7, Q9", lambda run, seed: novel_to_movie_chart(run, seed),
                            "P(novel-to-movie possible / by a free user by date), seed "
                            "2029-2030, binding requirement"),
    "coherent_shot_seconds": Chart("Q1", lambda run, seed: shot_length_chart(run),
                                   "fan of the longest coherent shot, and the long take needed"),
    "price_compute": Chart("Q2, Q3", lambda run, seed: price_compute_chart(run),
                           "fans of price and compute per video-second and their ratio"),
    "cut_break_probability": Chart("Q4", lambda run, seed: cut_break_chart(run),
                                   "fan of the chance a cut breaks continuity, and what a "
                                   "feature tolerates"),
    "free_video_seconds_per_day": Chart("Q5", lambda run, seed: free_video_chart(run),
                                        "fan of the video a free user generates per day"),
    "film_cost_usd": Chart("Q2, Q7", lambda run, seed: film_cost_chart(run),
                           "fan of the cost of a film's footage, and one person's budget"),
    "cost_per_finished_minute": Chart(
        "Q2, Q7", lambda run, seed: cost_per_minute_chart(run),
        "fans of the cost per finished minute, draft and festival tiers"),
}
# Drawn by `simcore run` (kept small so a run stays fast); `simcore plot` draws all of CHARTS.
STANDARD_SET = ("film_days", "film_events", "novel_to_movie")
# The run.nc groups the standard set and the seed comparison read (simcore run opens only
# these: /prior would take most of the opening time).
STANDARD_SET_GROUPS = ("trajectories", "trajectories/paths", "events", "event_slots",
                       "binding_counts", "observations")
# Of these, a run may lack: /observations (a run ranking no observation, or an older run);
# /events or, in a run without per-draw groups (--no-per-draw), the counts standing for it.
OPTIONAL_GROUPS = ("observations", "events", "event_slots", "binding_counts")
FORMATS = ("png", "svg", "pdf")
DEFAULT_SEED = _DEFAULT_SEED = object()   # "the shipped seed forecast, if installed"


class ChartError(SimcoreError):
    """An unknown chart name or file format."""


def chart_names() -> list[str]:
    return list(CHARTS)


def _seed_or_default(seed):
    if seed is _DEFAULT_SEED:
        return default_seed_forecast()
    return seed


def draw(run: xr.DataTree, name: str, seed=_DEFAULT_SEED):
    """One chart of ``CHARTS`` by name (a Figure); ``seed=None`` leaves out the seed forecast."""
    if name not in CHARTS:
        raise KeyError(f"unknown chart {name!r}; valid: {', '.join(CHARTS)}")
    return CHARTS[name].draw(run, _seed_or_default(seed))


def render_charts(run: xr.DataTree, names: Sequence[str] | None = None, fmt: str = "png",
                  dpi: int = DPI, seed=_DEFAULT_SEED) -> dict[str, bytes]:
    """Charts (default: all of ``CHARTS``) as file contents, by file name ``<name>.<fmt>``."""
    check_names(names, fmt)
    seed = _seed_or_default(seed)
    contents = {}
    for name in names or CHARTS:
        fig = CHARTS[name].draw(run, seed)
        buffer = io.BytesIO()
        if fmt == "png":
            write_png(fig, buffer, dpi)
        else:
            fig.savefig(buffer, format=fmt, dpi=dpi)
        contents[f"{name}.{fmt}"] = buffer.getvalue()
    return contents


def draw_charts(run: xr.DataTree, directory: str | Path, names: Sequence[str] | None = None,
                fmt: str = "png", dpi: int = DPI, seed=_DEFAULT_SEED) -> list[Path]:
    """Draw charts (default: all of ``CHARTS``) into ``directory`` as ``<name>.<fmt>``: all of
    them or none (each is drawn first, then they are written together; an existing chart of
    the same name is replaced)."""

    return write_files(Path(directory), render_charts(run, names, fmt, dpi, seed))


def write_png(fig, target, dpi: int = DPI) -> None:
    """What ``fig.savefig(target, format="png", dpi=dpi)`` writes, in less CPU time
    (figures: benchmarks/README.md, "Figures that were in code comments").

    ``savefig`` draws a layout-managed figure twice: once without output, to run the layout,
    and again to render. ``Figure.draw`` runs the layout engine itself, so one draw on an Agg
    canvas is enough (same pixels). The alpha channel is dropped when the figure is opaque
    (it is, for these charts): a quarter less data to compress, smaller PNGs. zlib level 1:
    about the default size, encoded much faster.

    Text is drawn unhinted: matplotlib 3.11 shapes and rasterises text glyph by glyph,
    running the font's hinting program for each, and text is the largest part of these charts'
    drawing time. At 110 dpi unhinted text reads as well, a touch softer, with more even
    letter spacing."""
    import matplotlib as mpl
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from PIL import Image, PngImagePlugin

    fig.set_dpi(dpi)
    canvas = FigureCanvasAgg(fig)
    with mpl.rc_context({"text.hinting": "no_hinting"}):
        canvas.draw()
    rgba = np.asarray(canvas.buffer_rgba())
    image = Image.frombuffer("RGBA", (rgba.shape[1], rgba.shape[0]), rgba, "raw", "RGBA", 0, 1)
    if rgba[..., 3].min() == 255:
        image = image.convert("RGB")
    info = PngImagePlugin.PngInfo()   # what savefig writes
    info.add_text("Software", f"Matplotlib version{mpl.__version__}, https://matplotlib.org/")
    image.save(target, format="png", compress_level=1, pnginfo=info, dpi=(dpi, dpi))


def check_names(names: Sequence[str] | None, fmt: str = "png") -> None:
    unknown = [n for n in (names or ()) if n not in CHARTS]
    if unknown:
        raise ChartError(f"unknown chart {unknown[0]!r}; valid: {', '.join(CHARTS)}")
    if fmt not in FORMATS:
        raise ChartError(f"unknown format {fmt!r}; valid: {', '.join(FORMATS)}")


def plot_run(run_dir: str | Path, names: Sequence[str] | None = None, fmt: str = "png",
             to_dir: str | Path | None = None, seed=DEFAULT_SEED, dpi: int = DPI) -> list[Path]:
    """What ``simcore plot`` does: redraw charts (default: all) from a stored run. A failure
    to write (a full disk: RunIOError, exit 1) leaves no chart behind."""
    check_names(names, fmt)
    run = open_run(run_dir)
    try:
        return draw_charts(run, Path(to_dir) if to_dir is not None else Path(run_dir), names,
                           fmt, dpi=dpi, seed=seed)
    finally:
        run.close()


def draw_standard_set(run: xr.DataTree, directory: str | Path, fmt: str = "png",
                      seed=_DEFAULT_SEED) -> list[Path]:
    """The charts ``simcore run`` writes into every run directory (``STANDARD_SET``), into its
    staging folder (published whole, so the files are written as they are)."""
    written = []
    for name, data in render_charts(run, STANDARD_SET, fmt, seed=seed).items():
        path = Path(directory) / name
        path.write_bytes(data)
        written.append(path)
    return written
