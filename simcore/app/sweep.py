"""``simcore sweep``: a grid of prior settings, or a folder of scenario files, each cell a run
with the same seed (shared random numbers, so differences between cells are the settings', not
sampling noise), and a table and heat maps of headline numbers per cell: what must be true for
a milestone to come by a date.

A cell of a grid is the prior file with the what-if settings ``DRIVER.FIELD=V`` applied as
``simcore reweight --set`` applies them: a scenario file extending it
(:mod:`simcore.inputs.whatif`). A cell of a folder is one of its ``*.toml`` files, in name
order. Every cell is validated before any is run, so a bad value or file writes nothing. Each
cell's draws are kept in memory while its numbers are read (about 490 bytes per draw), then
dropped: memory is one cell's, whatever the grid.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import math
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .. import __version__
from ..analysis.headline import INDICATOR_YEAR
from ..base.csvfiles import write_csv
from ..base.errors import PriorError, SimcoreError
from ..base.interrupts import raise_pending
from ..inputs.priors import PriorSet, load_priors
from ..inputs.whatif import SET_OPTION, Setting, parse_setting, whatif_priors
from ..model import MODEL_DRIVERS, PROFILES
from ..run import engine
from ..run.engine import RunResult
from ..stored import store
from ..stored.publish import MARKER

FREE_PROFILE = "no_hardware"     # a free user: no hardware of their own
VARY_OPTION = "--vary"
SCENARIO_COLUMN = "scenario"     # a folder sweep's cells: the scenario file's name
SCENARIO_COPIES = "scenarios"    # a folder sweep's copies: scenarios/<name>/priors/...


def _median_year(result: RunResult, event: str, profile: str | None = None) -> float:
    index = None if profile is None else PROFILES.index(profile)
    return result.event(event, index).quantile(0.5)


def _p_by(result: RunResult, event: str, profile: str | None = None) -> float:
    index = None if profile is None else PROFILES.index(profile)
    years = np.array([INDICATOR_YEAR])
    if not result.time_abs[0] <= INDICATOR_YEAR + 1 <= result.horizon_year:
        return math.nan
    return float(result.event(event, index).probability_by(years)[0])


# name -> (title, how it is read off a run); the same numbers as the run's events_summary.csv
# (p50) and events.csv (p_by) give for these events.
NUMBERS = {
    "q7_median_year": ("Q7: median year a film from a novel's text becomes possible",
                       lambda r: _median_year(r, "novel_to_movie_possible")),
    "p_q7_by_2030": (f"Q7: P(possible by the end of {INDICATOR_YEAR})",
                     lambda r: _p_by(r, "novel_to_movie_possible")),
    "p_free_film_1d_by_2030": (f"P(a free user's film takes at most a day by the end of "
                               f"{INDICATOR_YEAR})",
                               lambda r: _p_by(r, "free_film_within_1d", FREE_PROFILE)),
}


@dataclass(frozen=True)
class Vary:
    driver: str
    field: str
    values: tuple[float, ...]

    @property
    def label(self) -> str:
        return f"{self.driver}.{self.field}"


@contextmanager
def _named_vary():
    """The what-if settings' errors (simcore.inputs.whatif names ``--set``) as --vary's."""
    try:
        yield
    except PriorError as err:
        if err.file != SET_OPTION:
            raise
        raise PriorError(VARY_OPTION, err.entry, err.field, err.message) from None


def parse_vary(option: str) -> Vary:
    """``DRIVER.FIELD=V1,V2,...``; a one-line error (exit 2) for anything else."""
    target, equals, values = option.partition("=")
    items = [v.strip() for v in values.split(",")] if equals else []
    if not items or "" in items:
        raise SimcoreError(f"{VARY_OPTION} {option}: expected DRIVER.FIELD=V1,V2,... (e.g. "
                           "alg_halving_years.median=0.6,0.8,1.2)")
    with _named_vary():
        settings = [parse_setting(f"{target}={item}") for item in items]
    return Vary(settings[0].driver, settings[0].field, tuple(s.value for s in settings))


def cell_priors(priors_path: Path, varies: list[Vary]
                ) -> tuple[PriorSet, list[tuple[tuple, PriorSet]]]:
    """The prior file's priors, and every cell's settings (one value per Vary) and validated
    priors in grid order: the prior file with the cell's what-if settings
    (simcore.inputs.whatif) applied."""
    labels = [v.label for v in varies]
    twice = [label for label in labels if labels.count(label) > 1]
    if twice:
        raise SimcoreError(f"{VARY_OPTION} {twice[0]}: varied twice; give all its values in "
                           "one --vary")
    required = set(MODEL_DRIVERS)
    base = load_priors(priors_path, required=required)
    cells = []
    for values in itertools.product(*(v.values for v in varies)):
        settings = [Setting(v.driver, v.field, value)
                    for v, value in zip(varies, values, strict=True)]
        with _named_vary():
            cells.append((values, whatif_priors(base, settings, required=required)))
    return base, cells


def folder_cells(folder: Path) -> list[tuple[tuple, PriorSet]]:
    """Every ``*.toml`` file of ``folder``, in name order: its name (without .toml) and its
    validated priors; a bad file is a PriorError naming it (exit 2)."""
    files = sorted(path for path in Path(folder).glob("*.toml") if path.is_file())
    if not files:
        raise SimcoreError(f"{folder}: no scenario files (*.toml) to sweep over")
    return [((path.stem,), load_priors(path, required=set(MODEL_DRIVERS))) for path in files]


def run_cells(cells: list[tuple[tuple, PriorSet]], labels: list[str], draws: int, seed: int,
              chunk_size: int, chunks=None) -> pd.DataFrame:
    """The table: one row per cell, its settings (a value per label: a varied field, or the
    scenario's name) and its headline numbers."""
    rows = []
    for values, priors in cells:
        result = engine.run_forecast(priors, draws, seed, chunk_size, n_paths=0, chunks=chunks)
        row = dict(zip(labels, values, strict=True))
        row.update({name: how(result) for name, (_, how) in NUMBERS.items()})
        rows.append(row)
        raise_pending()
    return pd.DataFrame(rows)


def write_sweep(table: pd.DataFrame, labels: list[str], priors: PriorSet | dict[str, PriorSet],
                out: Path, force: bool, charts: bool, settings: dict) -> Path:
    """sweep.csv, a heat map per headline number (one or two labels: varied fields, or the
    scenario), the prior files and the manifest, published atomically. ``priors``: the prior
    file of a grid, or a folder's scenarios by name."""
    with store.staged_directory(out, force, what="sweep") as staging:
        write_csv(table, staging / "sweep.csv")
        if charts and len(labels) <= 2:
            import matplotlib.pyplot as plt

            from ..faces.plots.sweep import sweep_heatmap
            for name, (title, _) in NUMBERS.items():
                figure = sweep_heatmap(table, labels, name, title)
                figure.savefig(staging / f"sweep_{name}.png", dpi=110)
                plt.close(figure)
                raise_pending()
        manifest = {
            "kind": "sweep", "simcore_version": __version__,
            "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            **settings,
            "numbers": {name: title for name, (title, _) in NUMBERS.items()},
            **(_prior_entries(priors, staging) if isinstance(priors, PriorSet) else {
                "scenarios": {name: _prior_entries(scenario, staging / SCENARIO_COPIES / name)
                              for name, scenario in priors.items()}}),
            "packages": store.package_versions(), "git_commit": store.git_commit(),
        }
        manifest["files"] = sorted(p.name for p in staging.iterdir()
                                   if p.name != MARKER) + ["manifest.json"]
        (staging / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return out


def _prior_entries(priors: PriorSet, folder: Path) -> dict:
    """A prior set's manifest entries, its files copied under ``folder``."""
    return {"priors_path": str(priors.path), "priors_sha256": priors.sha256,
            "prior_files": store.copy_prior_files(priors, folder)}


def default_sweep_dir(priors_path: Path, seed: int) -> Path:
    run_dir = store.default_run_dir(priors_path, seed)
    return run_dir.with_name(run_dir.name + "-sweep")
