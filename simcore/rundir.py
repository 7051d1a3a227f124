"""A stored run directory read for people (``simcore report``, ``simcore compare``): its
manifest, summary tables and prior copies, each checked on the way in.

Run directories are untrusted input (README, threat model): every file is size-limited and
parsed, never executed, and anything missing, malformed or edited after the run is a
:class:`RunDirError` naming the file, which the CLI prints on one line (exit 2). The checks on the
manifest and on the prior copies (SHA-256 against the manifest, never outside ``priors/``) are
``simcore verify``'s own, so a run the report accepts is one verify could recompute.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import pandas as pd

from .errors import RunDirError, SimcoreError

MAX_CSV_BYTES = 200_000_000
# The columns each table must have; a missing file or column is an error.
REQUIRED = {
    "events_summary.csv": ("event", "profile", "p10", "p50", "p90", "p50_mcse_years",
                           "p_not_by_horizon", "p_not_by_horizon_mcse"),
    "events.csv": ("event", "profile", "year", "p_by"),
    "binding.csv": ("requirement", "year", "share", "share_mcse"),
    "percentiles.csv": ("output", "profile", "time", "quantile", "value"),
}
# Written by every current run, absent from runs made before they existed: sections that need
# them say so instead of failing.
OPTIONAL = {
    "seed_comparison.csv": ("quantity", "profile", "year", "seed_text", "status",
                            "percentile_rank", "rank_text"),
    "sensitivity.csv": ("output", "profile", "year", "driver", "method", "index", "rank"),
    "sensitivity_dominant.csv": ("output", "profile", "year", "driver", "index", "runner_up",
                                 "runner_up_index"),
}
# Read as text: event years are 'not by 2046' when censored, binding years 'all', and the
# report shows them exactly as stored.
TEXT_COLUMNS = {"events_summary.csv": ("p10", "p50", "p90", "p50_mcse_years"),
                "binding.csv": ("year",)}


def _read_csv(path: Path, columns: tuple[str, ...], allow_empty: bool = False) -> pd.DataFrame:
    try:
        size = path.stat().st_size
        if size > MAX_CSV_BYTES:
            raise RunDirError(f"{path}: larger than {MAX_CSV_BYTES:,} bytes")
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RunDirError(f"{path}: missing; not a complete simcore run") from None
    except UnicodeDecodeError:
        raise RunDirError(f"{path}: not UTF-8 text") from None
    except OSError as exc:
        raise RunDirError(f"{path}: cannot read ({exc.strerror or exc})") from None
    dtype = {c: str for c in TEXT_COLUMNS.get(path.name, ())}
    try:
        table = pd.read_csv(io.StringIO(text), dtype=dtype, keep_default_na=False,
                            na_values={c: [""] for c in columns if c not in dtype})
    except pd.errors.EmptyDataError:
        raise RunDirError(f"{path}: empty; not a table") from None
    except (pd.errors.ParserError, ValueError) as exc:
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise RunDirError(f"{path}: not a readable table ({reason})") from None
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise RunDirError(f"{path}: column {missing[0]!r} is missing")
    if table.empty and not allow_empty:
        raise RunDirError(f"{path}: has no rows")
    return table


@dataclass
class StoredRun:
    """What a report or a comparison reads from one run directory."""

    path: Path
    manifest: dict
    tables: dict[str, pd.DataFrame]
    prior_copies: list[Path]
    label: str | None = None    # how tables name the run; its folder's name unless set
    _tree: object = field(default=None, repr=False)

    @property
    def name(self) -> str:
        return self.label or self.path.resolve().name

    def table(self, name: str) -> pd.DataFrame | None:
        return self.tables.get(name)

    @cached_property
    def priors(self):
        """The run's prior set, loaded from its own copies (as ``simcore verify`` does), so the
        assumptions shown are the ones the run used even if ``priors/`` changed since."""
        from .model import MODEL_DRIVERS
        from .priors import load_priors
        return load_priors(self.prior_copies[-1], required=set(MODEL_DRIVERS))

    @property
    def as_of_year(self) -> float:
        return float(self.times[0])

    @cached_property
    def times(self):
        import numpy as np
        return np.unique(self.tables["percentiles.csv"]["time"].to_numpy(float))

    @property
    def horizon_year(self) -> float:
        return float(self.times[-1])

    @property
    def horizon_words(self) -> str:
        return f"not by {math.floor(self.horizon_year)}"

    def tree(self):
        """run.nc, opened on first use (only charts missing from the folder need it)."""
        if self._tree is None:
            from .plotting import open_run
            self._tree = open_run(self.path)
        return self._tree

    def close(self) -> None:
        if self._tree is not None:
            self._tree.close()
            self._tree = None


def read_run(run_dir: str | Path) -> StoredRun:
    """Read and check a run directory; raises RunDirError (one line) on anything wrong."""
    from .verify import prior_copies, read_manifest

    run_dir = Path(run_dir)
    try:
        manifest = read_manifest(run_dir)
        copies = prior_copies(run_dir, manifest)
    except SimcoreError as exc:   # verify's wording is about checking; the cause is the same
        raise RunDirError(str(exc)) from None
    tables = {name: _read_csv(run_dir / name, columns) for name, columns in REQUIRED.items()}
    for name, columns in OPTIONAL.items():
        if (run_dir / name).exists():
            # Empty when nothing is uncertain (sensitivity) or nothing is ranked (seed).
            tables[name] = _read_csv(run_dir / name, columns, allow_empty=True)
    run = StoredRun(run_dir, manifest, tables, copies)
    run.priors   # noqa: B018 - load now, so a broken prior copy fails before anything is drawn
    return run
