"""A stored run directory read for people (``simcore report``, ``simcore compare``): its
manifest, summary tables and prior copies, each checked on the way in.

Run directories are untrusted input (README, threat model): every file is read as a regular
file inside the folder, never through a link (:mod:`.contained`), size-limited and parsed, never
executed, and anything missing, malformed or edited after the run is a :class:`RunDirError`
naming the file, which the CLI prints on one line (exit 2). Of the charts, only those simcore
drew and listed in the manifest are read. Every cell of a
table is checked once here against its column's kind (:data:`REQUIRED`, :data:`OPTIONAL`), with
the row and column in the error, so the report and the comparison can take values as typed.
The checks on the manifest and on the prior copies (SHA-256 against the manifest, never outside
``priors/``) are ``simcore verify``'s own, so a run the report accepts is one verify could
recompute.
"""

from __future__ import annotations

import csv
import io
import math
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from ..analysis.tables import CENSORED
from ..base.errors import RunDirError, SimcoreError
from ..base.limits import MAX_CHART_BYTES, MAX_CSV_BYTES
from . import contained, tree
from .manifest import MANIFEST, read_manifest, run_priors
from .store import RUN_FILE

MAX_CELL_SHOWN = 40   # characters of a bad cell quoted in an error
INTEGER_PATTERN = r"[+-]?\d{1,18}"    # never past int64


@dataclass(frozen=True)
class Kind:
    """What the cells of a column may hold. ``read`` maps the column's text to its values and a
    mask of the cells not of this kind. Numbers become floats; the text forms (event years,
    binding years, MC errors of event years) stay text, as the report shows them exactly as
    stored."""

    words: str
    read: Callable[[pd.Series], tuple[pd.Series, pd.Series]]
    blank: bool = False     # an empty cell is allowed: NaN, or '' in a text column


def _numbers(cells: pd.Series) -> pd.Series:
    return pd.to_numeric(cells.where(cells.str.strip() != ""), errors="coerce").astype(float)


def _matches(cells: pd.Series, pattern: str) -> pd.Series:
    return cells.str.fullmatch(pattern).fillna(False).astype(bool)


def _numbers_in(low: float = -math.inf, high: float = math.inf, finite: bool = True):
    def read(cells):
        values = _numbers(cells)
        ok = (np.isfinite(values) if finite else values.notna()) & values.between(low, high)
        return values, ~ok
    return read


def _integers(cells):
    ok = _matches(cells, INTEGER_PATTERN)
    return pd.to_numeric(cells.where(ok), errors="coerce"), ~ok


def _text_form(pattern: str, or_number: bool = False):
    def read(cells):
        ok = _matches(cells, pattern)
        if or_number:
            ok |= np.isfinite(_numbers(cells))
        return cells, ~ok
    return read


TEXT = Kind("text", lambda cells: (cells, cells == ""))
NUMBER = Kind("a number", _numbers_in(finite=False))   # +-inf: beyond the histogram's range
FINITE = Kind("a finite number", _numbers_in())
PROBABILITY = Kind("a probability in [0, 1]", _numbers_in(0.0, 1.0))
PERCENTAGE = Kind("a percentage in [0, 100]", _numbers_in(0.0, 100.0))
INTEGER = Kind("an integer", _integers)
EVENT_YEAR = Kind("a year or 'not by YEAR'", _text_form(r"not by [+-]?\d{1,9}", or_number=True))
YEARS_MCSE = Kind(f"a number or {CENSORED!r}", _text_form(re.escape(CENSORED), or_number=True))
BINDING_YEAR = Kind("an integer or 'all'", _text_form(f"{INTEGER_PATTERN}|all"))


def or_empty(kind: Kind) -> Kind:
    return Kind(f"{kind.words} or empty", kind.read, blank=True)


@dataclass(frozen=True)
class Schema:
    """A table of a run directory: its columns (each must be there) and their kinds; the
    columns that identify a row (lookups expect one row per key); and columns added since
    older runs were made, checked when present."""

    columns: dict[str, Kind]
    key: tuple[str, ...] = ()
    newer: dict[str, Kind] = field(default_factory=dict)


# As simcore.analysis.tables (via app.pipeline.CSV_TABLES), analysis.seed and analysis.sensitivity
# write them.
REQUIRED = {
    "events_summary.csv": Schema(
        {"event": TEXT, "profile": TEXT, "p10": EVENT_YEAR, "p50": EVENT_YEAR,
         "p90": EVENT_YEAR, "p50_mcse_years": YEARS_MCSE, "p_not_by_horizon": PROBABILITY,
         "p_not_by_horizon_mcse": FINITE}, key=("event", "profile")),
    "events.csv": Schema({"event": TEXT, "profile": TEXT, "year": INTEGER,
                          "p_by": PROBABILITY}, key=("event", "profile", "year")),
    "binding.csv": Schema({"requirement": TEXT, "year": BINDING_YEAR, "share": PROBABILITY,
                           "share_mcse": FINITE}, key=("requirement", "year")),
    "percentiles.csv": Schema({"output": TEXT, "profile": TEXT, "time": FINITE,
                               "quantile": PROBABILITY, "value": NUMBER},
                              key=("output", "profile", "time", "quantile")),
}
# Written by every current run, absent from runs made before they existed: sections that need
# them say so instead of failing. Header-only is allowed: nothing is ranked below
# sensitivity.given.MIN_DRAWS draws, or when every driver is fixed.
OPTIONAL = {
    "seed_comparison.csv": Schema(
        # No rank for history points, nor outside the stored percentiles.
        {"quantity": TEXT, "profile": TEXT, "year": INTEGER, "seed_text": TEXT, "status": TEXT,
         "percentile_rank": or_empty(PERCENTAGE), "rank_text": or_empty(TEXT)},
        newer={"run_median_text": or_empty(TEXT), "why": or_empty(TEXT)}),
    # Published forecasts of the milestones (issue 17): no run probability for history rows,
    # no probability for a statement.
    "outside_comparison.csv": Schema(
        {"who": TEXT, "event": TEXT, "by_end_of": INTEGER, "claim": TEXT,
         "probability": or_empty(PROBABILITY), "status": TEXT,
         "run_p_by": or_empty(PROBABILITY), "bar": TEXT, "why": TEXT}),
    "sensitivity.csv": Schema(
        # No year for events; no rank for targets that do not vary.
        {"output": TEXT, "profile": TEXT, "year": or_empty(INTEGER), "driver": TEXT,
         "method": TEXT, "index": FINITE, "rank": or_empty(INTEGER)},
        newer={"draws": INTEGER}),
    # Observations the run ranks (issue 16): empty cells where a row has no value, interval,
    # percentile (events) or flag.
    "observations.csv": Schema(
        {"id": TEXT, "measures": TEXT, "profile": TEXT, "date": TEXT, "compared_at": TEXT,
         "quality": TEXT, "value": or_empty(NUMBER), "low": or_empty(NUMBER),
         "high": or_empty(NUMBER), "p10": or_empty(NUMBER), "p50": or_empty(NUMBER),
         "p90": or_empty(NUMBER), "pit": or_empty(PROBABILITY),
         "pit_low": or_empty(PROBABILITY), "pit_high": or_empty(PROBABILITY),
         "p_happened": or_empty(PROBABILITY), "flag": or_empty(TEXT)}),
    "sensitivity_dominant.csv": Schema(
        # No runner-up when a single driver is uncertain.
        {"output": TEXT, "profile": TEXT, "year": INTEGER, "driver": TEXT, "index": FINITE,
         "runner_up": or_empty(TEXT), "runner_up_index": or_empty(FINITE)}),
}


def _where(path: Path, row: int, column: str | None = None) -> str:
    # Numbered as a spreadsheet numbers rows: the header is row 1.
    return f"{path}: row {row + 2}" + (f", column {column!r}" if column else "")


def _shown(cell: str) -> str:
    return repr(cell if len(cell) <= MAX_CELL_SHOWN else cell[:MAX_CELL_SHOWN] + "...")


def _typed(path: Path, text: pd.DataFrame, schema: Schema) -> pd.DataFrame:
    """The table with each column of ``schema`` read as its kind; RunDirError at the first bad
    cell (the first row with one, its first bad column) or repeated key."""
    kinds = {**schema.columns, **{c: k for c, k in schema.newer.items() if c in text}}
    table = text.copy()
    first: tuple[int, str] | None = None
    for column, kind in kinds.items():
        values, bad = kind.read(text[column])
        if kind.blank:
            bad &= text[column] != ""
        bad = bad.to_numpy(dtype=bool)
        if bad.any() and (first is None or int(bad.argmax()) < first[0]):
            first = (int(bad.argmax()), column)
        table[column] = values
    if first is not None:
        row, column = first
        cell = text[column].iloc[row]
        words = kinds[column].words
        raise RunDirError(f"{_where(path, row, column)}: "
                          + (f"empty, not {words}" if cell == ""
                             else f"{_shown(cell)} is not {words}"))
    if schema.key:
        repeated = text.duplicated(list(schema.key)).to_numpy()
        if repeated.any():
            row = int(repeated.argmax())
            key = text[list(schema.key)].iloc[row]
            same = int((text[list(schema.key)] == key).all(axis=1).to_numpy().argmax())
            raise RunDirError(f"{_where(path, row)}: repeats row {same + 2} ("
                              + ", ".join(f"{k} {_shown(v)}" for k, v in key.items()) + ")")
    return table


def _read_csv(run_dir: Path, name: str, schema: Schema, allow_empty: bool = False
              ) -> pd.DataFrame:
    path = run_dir / name
    try:
        text = contained.read_bytes(run_dir, name, MAX_CSV_BYTES).decode("utf-8")
    except FileNotFoundError:
        raise RunDirError(f"{path}: missing; not a complete simcore run") from None
    except UnicodeDecodeError:
        raise RunDirError(f"{path}: not UTF-8 text") from None
    except OSError as exc:
        raise RunDirError(f"{path}: cannot read ({exc.strerror or exc})") from None
    try:
        # All as text, nothing taken for a missing value: each column's kind decides.
        table = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    except pd.errors.EmptyDataError:
        raise RunDirError(f"{path}: empty; not a table") from None
    except (pd.errors.ParserError, ValueError) as exc:
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise RunDirError(f"{path}: not a readable table ({reason})") from None
    missing = [c for c in schema.columns if c not in table.columns]
    if missing:
        raise RunDirError(f"{path}: column {missing[0]!r} is missing")
    if table.empty and not allow_empty:
        raise RunDirError(f"{path}: has no rows")
    _check_widths(path, text)
    return _typed(path, table, schema)


def _check_widths(path: Path, text: str) -> None:
    """Every row as wide as the header: pandas reads the missing cells of a row cut short (a
    truncated file) as empty, and a text column may be empty."""
    try:
        rows = (cells for cells in csv.reader(io.StringIO(text)) if cells)   # blank lines
        width = len(next(rows))
        for row, cells in enumerate(rows):
            if len(cells) != width:
                raise RunDirError(f"{_where(path, row)}: {len(cells)} cell"
                                  f"{'s' if len(cells) != 1 else ''} where the header has "
                                  f"{width} (a line cut short or edited)")
    except csv.Error as exc:
        raise RunDirError(f"{path}: not a readable table ({exc})") from None


def _check_manifest(run_dir: Path, manifest: dict) -> None:
    """What the report needs of the manifest beyond what verify's reading checks."""

    value = manifest.get("priors_path")
    if not isinstance(value, str):
        raise RunDirError(f"{run_dir / MANIFEST}: priors_path: "
                          + ("missing" if value is None else f"must be a path, got {value!r}"))


@dataclass
class StoredRun:
    """What a report or a comparison reads from one run directory."""

    path: Path
    manifest: dict
    tables: dict[str, pd.DataFrame]
    prior_copies: list[Path]
    priors: object = field(repr=False)   # a PriorSet, from the run's own copies
    label: str | None = None    # how tables name the run; its folder's name unless set
    _tree: object = field(default=None, repr=False)

    @property
    def name(self) -> str:
        return self.label or self.path.resolve().name

    def table(self, name: str) -> pd.DataFrame | None:
        return self.tables.get(name)

    @property
    def as_of_year(self) -> float:
        return tree.as_of_year(self)

    @cached_property
    def times(self):
        return np.unique(self.tables["percentiles.csv"]["time"].to_numpy(float))

    @property
    def horizon_year(self) -> float:
        return tree.horizon_year(self)

    @property
    def horizon_words(self) -> str:
        return tree.horizon_words(self)

    def inputs(self) -> list[Path]:
        """Every file of the run directory a report or comparison reads (none may be written
        over by one)."""

        names = dict.fromkeys([MANIFEST, RUN_FILE, *REQUIRED, *OPTIONAL, *self.listed_files()])
        return [self.path / n for n in names] + list(self.prior_copies)

    def listed_files(self) -> list[str]:
        """The files the manifest says simcore wrote into the run folder (plain names)."""
        files = self.manifest.get("files")
        return [f for f in files if isinstance(f, str) and "/" not in f and f not in ("", ".",
                                                                                      "..")] \
            if isinstance(files, list) else []

    def chart_png(self, name: str) -> bytes | None:
        """The run's own ``<name>.png``, if the manifest lists it (simcore drew it) and it is
        there; read contained, at most MAX_CHART_BYTES (RunDirError for anything else)."""
        file = f"{name}.png"
        if file not in self.listed_files():
            return None
        try:
            return contained.read_bytes(self.path, file, MAX_CHART_BYTES)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise RunDirError(f"{self.path / file}: cannot read ({exc.strerror or exc})") from None

    def tree(self):
        """run.nc, opened on first use (only charts missing from the folder need it)."""
        if self._tree is None:
            self._tree = tree.open_run(self.path)
        return self._tree

    def close(self) -> None:
        if self._tree is not None:
            self._tree.close()
            self._tree = None


def read_run(run_dir: str | Path) -> StoredRun:
    """Read and check a run directory; raises RunDirError (one line) on anything wrong."""

    run_dir = Path(run_dir)
    try:
        manifest = read_manifest(run_dir)
        # The assumptions shown are the ones the run used (its own copies), even if priors/
        # changed since; loaded now, so a broken copy fails before anything is drawn.
        priors, copies = run_priors(run_dir, manifest)
    except SimcoreError as exc:   # verify's wording is about checking; the cause is the same
        raise RunDirError(str(exc)) from None
    _check_manifest(run_dir, manifest)
    tables = {name: _read_csv(run_dir, name, schema) for name, schema in REQUIRED.items()}
    for name, schema in OPTIONAL.items():
        if os.path.lexists(run_dir / name):
            tables[name] = _read_csv(run_dir, name, schema, allow_empty=True)
    return StoredRun(run_dir, manifest, tables, copies, priors)
