"""``simcore verify RUN_DIR``: recompute a stored run and compare it with what is stored.

The recomputation uses only what the run directory holds: the manifest (seed, draws, chunk size,
number of stored paths) and the copies of the prior files under ``RUN_DIR/priors/`` in their
original relative layout (so a scenario's ``extends`` resolves among the copies). Their SHA-256
is checked against the manifest first, so a run can be redone even if the repository's
``priors/`` changed since, and an edited copy is caught. It runs in memory and writes nothing.

Every group and variable of ``run.nc`` is compared bit for bit at its stored precision (drivers
are float32 in run.nc unless a value needs float64; the recomputed ones are cast the same way),
and every CSV file byte for byte; for what differs the report gives the count of differing
values and the largest absolute difference. Charts are drawn from run.nc and not compared.

Exit status of the command: 0 bit-identical, 1 different, 2 the run directory cannot be checked.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..analysis.scoring import observations_table
from ..analysis.sensitivity import GIVEN_DATA_DRAWS
from ..base import csvfiles
from ..base.limits import MAX_CSV_BYTES
from ..run import engine
from ..stored import contained, observation_files, store
from ..stored.manifest import check_model_version, load_stored_tree, read_manifest, run_priors
from ..stored.store import RUN_FILE, git_commit, package_versions
from . import pipeline
from .run_data import prepare_stored


@dataclass(frozen=True)
class Difference:
    where: str       # e.g. "run.nc /prior/alg_halving_years" or "percentiles.csv"
    detail: str


@dataclass
class VerifyReport:
    run_dir: Path
    seed: int
    draws: int
    compared: list[str] = field(default_factory=list)
    differences: list[Difference] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def identical(self) -> bool:
        return not self.differences

    def text(self) -> str:
        lines = [f"verify {self.run_dir}: recomputed {self.draws:,} worlds (seed {self.seed}) "
                 "from the run's own copies of its prior files (SHA-256 match the manifest)"]
        if self.identical:
            lines.append(f"bit-identical: {', '.join(self.compared)}")
        else:
            lines.append(f"DIFFERENT: {len(self.differences)} of "
                         f"{len(self.differences) + len(self.compared)} items differ")
            lines += [f"  {d.where}: {d.detail}" for d in self.differences]
        lines += [f"note: {note}" for note in self.notes]
        return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# Comparing


def _bits(values: np.ndarray) -> np.ndarray:
    """The array's elements as unsigned integers of the same width (bitwise comparison)."""
    values = np.ascontiguousarray(values)
    return values.view(f"u{values.dtype.itemsize}") if values.dtype.itemsize in (1, 2, 4, 8) \
        else values


def compare_arrays(stored: np.ndarray, fresh: np.ndarray) -> str | None:
    """None if identical at the stored precision, else what differs in words."""
    stored, fresh = np.asarray(stored), np.asarray(fresh)
    if stored.shape != fresh.shape:
        return f"shape {stored.shape} stored, {fresh.shape} recomputed"
    numeric = stored.dtype.kind in "fiub" and fresh.dtype.kind in "fiub"
    if numeric:
        if fresh.dtype != stored.dtype:
            with np.errstate(all="ignore"):
                fresh = fresh.astype(stored.dtype)        # compare at the stored precision
        same = _bits(stored) == _bits(fresh)
    else:
        same = np.asarray(stored.astype(str) == fresh.astype(str))
    if same.all():
        return None
    count = int((~same).sum())
    detail = f"{count:,} of {same.size:,} values differ"
    if numeric:
        a = stored.astype(np.float64)[~same]
        b = fresh.astype(np.float64)[~same]
        with np.errstate(invalid="ignore"):
            gap = np.abs(a - b)
        gap = np.where(a == b, 0.0, gap)                  # e.g. +0.0 vs -0.0
        gap = np.where(np.isnan(gap), np.inf, gap)        # NaN against a number, inf vs -inf
        detail += f", max abs difference {gap.max():.3g}"
    return detail


# Groups a later simcore added to run.nc, derived from what the run holds otherwise: an
# earlier run without them still verifies.
LATER_GROUPS = ("/observations",)


def _compare_trees(stored, fresh, report: VerifyReport) -> None:

    n_variables = 0
    for node in fresh.subtree:
        path = node.path
        if path == "/":
            continue
        try:
            other = stored[path]
        except KeyError:
            if path in LATER_GROUPS:
                report.notes.append(f"{RUN_FILE} {path}: not in this run (written by an "
                                    "earlier simcore); not compared")
                continue
            report.differences.append(Difference(f"{RUN_FILE} {path}", "group missing"))
            continue
        mine = node.to_dataset(inherit=False)
        theirs = other.to_dataset(inherit=False)
        for name in sorted(set(mine.variables) | set(theirs.variables)):
            where = f"{RUN_FILE} {path}/{name}"
            if name not in theirs.variables:
                report.differences.append(Difference(where, "missing from the stored run"))
                continue
            if name not in mine.variables:
                report.differences.append(Difference(where, "not in the recomputed run"))
                continue
            n_variables += 1
            a, b = theirs.variables[name], mine.variables[name]
            if a.dims != b.dims:
                report.differences.append(Difference(where, f"dims {a.dims} stored, "
                                                            f"{b.dims} recomputed"))
                continue
            detail = compare_arrays(a.values, b.values)
            if detail is None and dict(a.attrs) != dict(b.attrs):
                detail = "attributes differ"
            if detail is not None:
                report.differences.append(Difference(where, detail))
    report.compared.append(f"{RUN_FILE} ({n_variables} variables in "
                           f"{sum(1 for node in fresh.subtree) - 1} groups)")


def _compare_csv(name: str, stored_text: str, fresh_text: str) -> str | None:
    if stored_text == fresh_text:
        return None
    import pandas as pd

    try:
        stored = pd.read_csv(io.StringIO(stored_text), dtype=str, keep_default_na=False)
    except Exception:   # pandas raises several types for a damaged CSV
        return "not a readable CSV file"
    fresh = pd.read_csv(io.StringIO(fresh_text), dtype=str, keep_default_na=False)
    if list(stored.columns) != list(fresh.columns):
        return f"columns {list(stored.columns)} stored, {list(fresh.columns)} recomputed"
    if len(stored) != len(fresh):
        return f"{len(stored):,} rows stored, {len(fresh):,} recomputed"
    parts, rows = [], np.zeros(len(stored), dtype=bool)
    for column in stored.columns:
        differ = (stored[column] != fresh[column]).to_numpy()
        if not differ.any():
            continue
        rows |= differ
        a = pd.to_numeric(stored[column][differ], errors="coerce").to_numpy(dtype=float)
        b = pd.to_numeric(fresh[column][differ], errors="coerce").to_numpy(dtype=float)
        if np.isfinite(a).all() and np.isfinite(b).all():
            parts.append(f"{column}: max abs difference {np.abs(a - b).max():.3g}")
        else:
            parts.append(f"{column}: {int(differ.sum()):,} cells differ")
    if not rows.any():
        return "same values, different formatting"
    return f"{int(rows.sum()):,} of {len(stored):,} rows differ ({'; '.join(parts)})"


def _version_notes(manifest: dict[str, Any]) -> list[str]:

    then = manifest.get("packages")
    notes = []
    if isinstance(then, dict):
        now = package_versions()
        changed = [f"{name} {then[name]} -> {now[name]}" for name in now
                   if name in then and then[name] != now[name]]
        if changed:
            notes.append("package versions differ from the run's: " + ", ".join(changed))
    commit = manifest.get("git_commit")
    if isinstance(commit, str) and commit != "unknown":
        current = git_commit()
        if current not in ("unknown", commit):
            notes.append(f"code differs from the run's: git commit {commit[:12]} at run time, "
                         f"{current[:12]} now")
    return notes


# ---------------------------------------------------------------------------------------------


def verify_run(run_dir: str | Path) -> VerifyReport:
    """Recompute the run in ``run_dir`` in memory and compare it with what is stored."""

    run_dir = Path(run_dir)
    manifest = read_manifest(run_dir)
    check_model_version(run_dir, manifest)
    priors, _ = run_priors(run_dir, manifest)
    stored = load_stored_tree(run_dir)
    report = VerifyReport(run_dir=run_dir, seed=manifest["seed"], draws=manifest["draws"])
    for key in ("seed", "draws", "chunk_size", "priors_sha256"):
        value = stored.attrs.get(key)
        value = value.item() if isinstance(value, np.generic) else value
        if key in manifest and value != manifest[key]:
            report.differences.append(Difference(
                f"{store.RUN_FILE} attributes", f"{key} is {value!r}, "
                                                f"the manifest says {manifest[key]!r}"))

    # As `simcore run` does: more paths in memory than run.nc stores (the given-data sensitivity
    # reads its subsample's trajectories from them); the stored ones are the first of them.

    stored_paths = manifest["stored_paths"]
    data = prepare_stored(run_dir, manifest, priors)
    # A run whose events were counted (--no-per-draw, --per-draw zarr) is recomputed so; the
    # per-draw groups of a zarr run come from a second, in-memory run keeping every draw.
    kept = manifest.get("per_draw", "netcdf")

    def recompute(per_draw: bool):
        return engine.run_forecast(data.proposal or priors, manifest["draws"], manifest["seed"],
                                   manifest["chunk_size"],
                                   n_paths=max(stored_paths, GIVEN_DATA_DRAWS),
                                   observe=data.points, source_draws=data.source_draws,
                                   per_draw=per_draw)

    result = recompute(kept == "netcdf")
    every_draw = recompute(True) if kept == "zarr" else None
    result.priors = priors
    result.stored_paths = stored_paths
    fresh = pipeline.build_datatree(result, {"stored_paths": store.stored_path_count(result)},
                                    every_draw)
    _compare_trees(stored, fresh, report)

    listed = manifest.get("files") if isinstance(manifest.get("files"), list) else []
    tables = dict(pipeline.CSV_TABLES)
    if data.points is not None:
        tables[observation_files.TABLE] = observations_table
    for name, make_table in tables.items():
        try:
            stored_text = contained.read_bytes(run_dir, name, MAX_CSV_BYTES).decode("utf-8")
        except FileNotFoundError:
            report.differences.append(Difference(name, "missing"))
            continue
        except (OSError, UnicodeDecodeError, contained.UnsafeEntry) as exc:
            report.differences.append(Difference(name, f"cannot be read ({exc})"))
            continue
        detail = _compare_csv(name, stored_text, csvfiles.csv_text(make_table(result)))
        if detail is None:
            report.compared.append(name)
        else:
            report.differences.append(Difference(name, detail))
    for name in sorted(set(map(str, listed)) - set(tables)):
        if name.endswith(".csv"):
            report.notes.append(f"{name} not compared (simcore verify does not recompute it)")
        elif not os.path.lexists(run_dir / name):
            report.differences.append(Difference(name, "listed in the manifest but missing"))
    charts = sorted(str(name) for name in listed if str(name).endswith(".png"))
    if charts:
        report.notes.append(f"charts not compared ({', '.join(charts)}): they are drawn from "
                            f"{store.RUN_FILE}")
    if not report.identical:
        report.notes += _version_notes(manifest)
    return report


