"""The run directory: written atomically, reloadable without recomputing.

Everything is first written into a hidden sibling folder, which is renamed into place only
when complete; on any failure (including Ctrl-C) the hidden folder is removed. A reader never
sees a half-written run.
"""

from __future__ import annotations

import datetime as dt
import errno
import json
import os
import platform
import re
import shutil
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from importlib import metadata
from pathlib import Path

import numpy as np
import xarray as xr

from . import __version__, model, tables
from .engine import RunResult
from .errors import RunDirError, RunIOError
from .events import ALREADY_MET, event_names
from .summaries import BINS_PER_OCTAVE, QUANTILES, RELATIVE_ERROR_BOUND

RUN_FILE = "run.nc"
PACKAGES = ("simcore", "numpy", "scipy", "pandas", "xarray", "arviz", "h5netcdf", "h5py",
            "matplotlib", "pydantic", "click")
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


def package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def git_commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                             timeout=5, cwd=Path(__file__).resolve().parent)
        return out.stdout.strip() if out.returncode == 0 else "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def default_run_dir(priors_path: Path, seed: int, runs_root: Path = Path("runs")) -> Path:
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    return runs_root / f"{stamp}-{priors_path.stem}-s{seed}"


def check_run_dir(out: Path, force: bool) -> Path:
    """Refuse unsafe names and existing runs (unless ``force``); returns the resolved path."""
    if not _SAFE_NAME.match(out.name) or out.name in (".", ".."):
        raise RunDirError(f"{out}: run name {out.name!r} must be letters, digits, '.', '_' or '-'")
    if out.exists() and not force:
        raise RunDirError(f"{out}: already exists; choose another --out or pass --force")
    return out


def stored_path_count(result: RunResult) -> int:
    available = next(iter(result.paths.values())).shape[0]
    return available if result.stored_paths is None else min(result.stored_paths, available)


def _provenance(result: RunResult) -> dict:
    p = result.priors
    return {
        "simcore_version": __version__,
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "seed": result.seed,
        "draws": result.draws,
        "chunk_size": result.chunk_size,
        "priors_path": str(p.path),
        "priors_sha256": p.sha256,
        "prior_files": [{"path": str(f), "sha256": p.file_sha256[str(f)]} for f in p.files],
        "as_of": p.meta.as_of,
        "horizon_years": p.meta.horizon_years,
        "time_step_years": p.meta.time_step_years,
        "copula_repair_max_change": result.copula_repair,
        "percentile_method": (f"log2 histogram, {BINS_PER_OCTAVE} bins per doubling, "
                              f"relative error <= {RELATIVE_ERROR_BOUND:.4%}"),
        "stored_paths": stored_path_count(result),
        "packages": package_versions(),
        "git_commit": git_commit(),
        "timings_seconds": {k: round(v, 4) for k, v in result.timings.items()},
    }


def build_datatree(result: RunResult, provenance: dict) -> xr.DataTree:
    p = result.priors
    sample = np.arange(result.draws)
    # Drivers are stored as float32 (7 significant digits, plenty for analysis) to halve the
    # file; the run itself computes in float64 and `verify` compares at the stored precision.
    prior = xr.Dataset(
        {name: ("sample", values.astype(np.float32), {"unit": p.drivers[name].text.unit,
                                   "family": p.drivers[name].family,
                                   "description": p.drivers[name].text.description})
         for name, values in result.drivers.items()},
        coords={"sample": sample})
    coords = {"time": result.time_abs, "quantile": np.asarray(QUANTILES),
              "profile": list(model.PROFILES), "path": np.arange(provenance["stored_paths"])}
    pct, paths = {}, {}
    n_paths = provenance["stored_paths"]
    for output, (by_profile, unit) in model.OUTPUTS.items():
        if by_profile:
            q = np.stack([result.histograms[f"{output}/{pr}"].quantiles(QUANTILES)
                          for pr in model.PROFILES])
            s = np.stack([result.paths[f"{output}/{pr}"][:n_paths] for pr in model.PROFILES])
            pct[output] = (("profile", "quantile", "time"), q, {"unit": unit})
            paths[output] = (("profile", "path", "time"), s, {"unit": unit})
        else:
            pct[output] = (("quantile", "time"), result.histograms[output].quantiles(QUANTILES),
                           {"unit": unit})
            paths[output] = (("path", "time"), result.paths[output][:n_paths], {"unit": unit})
    percentiles = xr.Dataset(pct, coords={k: coords[k] for k in ("time", "quantile", "profile")})
    path_ds = xr.Dataset(paths, coords={k: coords[k] for k in ("time", "path", "profile")})
    ev = {}
    for name in event_names():
        values = result.events[name]
        dims = ("sample", "profile") if values.ndim == 2 else ("sample",)
        ev[name] = (dims, values, {"unit": "decimal year", "censored": "inf = not by horizon"})
    ev["novel_to_movie_binding"] = (
        ("sample",), result.events["novel_to_movie_binding"],
        {"codes": json.dumps({str(ALREADY_MET): "already_met",
                              **{str(i): r for i, r in enumerate(model.REQUIREMENTS)}})})
    events = xr.Dataset(ev, coords={"sample": sample, "profile": list(model.PROFILES)})
    attrs = {k: (json.dumps(v) if isinstance(v, (dict, list)) else v)
             for k, v in provenance.items()}
    return xr.DataTree.from_dict({
        "/": xr.Dataset(attrs=attrs),
        "/prior": prior,
        "/trajectories": percentiles,
        "/trajectories/paths": path_ds,
        "/events": events,
    })


def write_run(result: RunResult, out: Path, force: bool = False,
              with_charts: bool = True) -> Path:
    """Write every output of a run into ``out`` atomically; return ``out``."""
    out = check_run_dir(Path(out), force)
    parent = out.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RunIOError(f"{parent}: cannot create folder: {exc.strerror}") from None
    staging = parent / f".{out.name}.partial-{os.getpid()}"
    started = time.perf_counter()
    try:
        staging.mkdir()
        provenance = _provenance(result)
        tree = build_datatree(result, provenance)
        # run.nc is written by a second thread (h5py releases the GIL while writing) while this
        # one builds the tables and the chart.
        with ThreadPoolExecutor(max_workers=1) as writer:
            netcdf = writer.submit(tree.to_netcdf, staging / RUN_FILE, engine="h5netcdf")
            try:
                tables.percentiles(result).to_csv(staging / "percentiles.csv", index=False)
                tables.events_by_year(result).to_csv(staging / "events.csv", index=False)
                tables.events_summary(result).to_csv(staging / "events_summary.csv", index=False)
                tables.binding_shares(result).to_csv(staging / "binding.csv", index=False)
                prior_copy = staging / "priors"
                prior_copy.mkdir()
                for i, f in enumerate(result.priors.files):
                    shutil.copyfile(f, prior_copy / f"{i}-{Path(f).name}")
                if with_charts:
                    from .plotting import fan_chart
                    figure = fan_chart(tree, "film_days",
                                       title="Days for a free user to generate a 90-minute film")
                    figure.savefig(staging / "film_days.png", dpi=110)
            finally:
                netcdf.result()
        provenance["timings_seconds"]["writing"] = round(time.perf_counter() - started, 4)
        manifest = {**provenance, "files": sorted(p.name for p in staging.iterdir())}
        (staging / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
        if out.exists():  # only reachable with force
            shutil.rmtree(out)
        staging.rename(out)
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        reason = "disk full" if exc.errno == errno.ENOSPC else (exc.strerror or str(exc))
        raise RunIOError(f"{out}: cannot write run: {reason}") from None
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return out


def load_run(run_dir: str | Path) -> xr.DataTree:
    """The stored run as a DataTree (groups prior, trajectories, events; provenance in attrs)."""
    return xr.open_datatree(Path(run_dir) / RUN_FILE, engine="h5netcdf")
