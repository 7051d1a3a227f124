"""The run directory: written atomically, reloadable without recomputing.

Everything is first written into a hidden sibling folder, which is published only when complete
(:mod:`.publish`: fsynced, then renamed without replacing anything it did not check); on any
failure (including Ctrl-C) the hidden folder is removed. A reader never sees a half-written run.
run.nc's summary groups are appended by a short-lived forked process (:func:`append_groups`):
the HDF5 library is not safe to use after a failed write (on a full disk its own error paths
can crash the process), and a crash there must not take the run's clean-up with it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import warnings
from importlib import metadata
from pathlib import Path

import numpy as np
import xarray as xr

from .. import __version__, model
from ..base.errors import RunDirError
from ..base.forked import ChildKilled, Forked
from ..model import DRIVER_ORDER
from ..run import runfile, zarrfile
from ..run.engine import RunResult
from ..run.summaries import BINS_PER_OCTAVE, QUANTILES, RELATIVE_ERROR_BOUND
from . import contained, publish

RUN_FILE = "run.nc"
PACKAGES = ("simcore", "numpy", "scipy", "pandas", "xarray", "arviz", "h5netcdf", "h5py",
            "matplotlib", "pydantic", "click")
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_UNSAFE_CHARACTERS = re.compile(r"[^A-Za-z0-9._-]+")
PRIOR_COPIES = "priors"   # folder of a run holding the prior files, in their relative layout


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
    # The name is derived from the prior file's name, which may hold anything: keep it safe.
    stem = _UNSAFE_CHARACTERS.sub("_", Path(priors_path).stem).strip("._")[:64] or "priors"
    return runs_root / f"{stamp}-{stem}-s{seed}"


def check_run_dir(out: Path, force: bool) -> Path:
    """Refuse unsafe names and existing runs (unless ``force``); returns ``out``.

    The folder above the run is the user's choice (any path); the run's own name is restricted
    to a safe set, so it can never be '..', empty, hidden, or hold a separator. With ``force``,
    only a run directory (one holding manifest.json) or an empty folder is replaced.
    """
    if not _SAFE_NAME.match(out.name) or out.name in (".", ".."):
        raise RunDirError(f"{out}: run name {out.name!r} must start with a letter or digit and "
                          "hold only letters, digits, '.', '_' or '-' (at most 128)")
    if out.is_symlink():
        raise RunDirError(f"{out}: is a symbolic link; choose another --out")
    if out.exists():
        if not force:
            raise RunDirError(f"{out}: already exists; choose another --out or pass --force")
        # Checked again when the new run is published: what is replaced is what was checked.
        reason = publish.not_replaceable(out)
        if reason is not None:
            raise RunDirError(f"{out}: {reason}; --force replaces only run directories")
    return out


def stored_path_count(result: RunResult) -> int:
    available = next(iter(result.paths.values())).shape[0]
    return available if result.stored_paths is None else min(result.stored_paths, available)


def run_provenance(result: RunResult) -> dict:
    p = result.priors
    return {
        "simcore_version": __version__,
        "model_version": model.spec.MODEL_VERSION,
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "seed": result.seed,
        "draws": result.draws,
        "chunk_size": result.chunk_size,
        "priors_path": str(p.path),
        "priors_sha256": p.sha256,
        "prior_files": [{"path": str(f), "sha256": p.file_sha256[str(f)],
                         "copy": f"{PRIOR_COPIES}/{_copy_path(p, f)}"} for f in p.files],
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
        **({"until_mcse": result.stopping} if result.stopping else {}),
        **({"conditioning": result.conditioning} if result.conditioning else {}),
        **({"reweighting": result.reweighting} if result.reweighting else {}),
        **({"engine": result.engine} if result.engine else {}),
        **(_counted_provenance(result) if result.reduced is not None else {}),
    }


def _counted_provenance(result: RunResult) -> dict:
    """A run whose event summaries were counted: where its per-draw groups went, if anywhere."""
    from ..run.summaries import SLOTS_PER_YEAR
    kept = ("per-draw groups in per_draw.zarr" if result.per_draw_store
            else "no per-draw groups (--no-per-draw)")
    return {"per_draw": result.per_draw_store or "none",
            "event_method": (f"event times counted in slots of 1/{SLOTS_PER_YEAR} year; "
                             f"probabilities exact, quantiles within 1/{SLOTS_PER_YEAR} year "
                             f"of the order statistic; {kept}")}


def _copy_path(priors, file) -> str:
    """Where the copy of a prior file goes, relative to the run's priors/ folder."""
    return priors.copy_paths.get(str(file), Path(file).name)


def trajectory_groups(result: RunResult, provenance: dict) -> dict[str, xr.Dataset]:
    """/trajectories (percentiles over time) and /trajectories/paths (the stored paths)."""
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
    return {"/trajectories": percentiles, "/trajectories/paths": path_ds}


def root_attributes(provenance: dict) -> dict:
    return {k: (json.dumps(v) if isinstance(v, (dict, list))
                else _storable_text(v) if isinstance(v, str) else v)
            for k, v in provenance.items()}


def _storable_text(text: str) -> str:
    """``text`` as HDF5 can store it: a file name that is not valid UTF-8 reaches Python with
    its stray bytes as lone surrogates, which no UTF-8 string may hold; they are kept as
    backslash escapes (the manifest's JSON keeps the name exactly)."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


class RunWriter:
    """A run directory being written (inside ``new_run``): ``sink`` takes the per-draw groups of
    run.nc while the engine runs; ``simcore.app.pipeline.finish_run`` adds the summaries, tables,
    charts and manifest."""

    def __init__(self, staging: Path, priors, capacity: int, per_draw: str = "netcdf",
                 chunk_size: int | None = None):
        self.staging = staging
        self.sink = (runfile.RunFileWriter(staging / RUN_FILE, priors, DRIVER_ORDER, capacity)
                     if per_draw == "netcdf" else runfile.SummaryFileWriter(staging / RUN_FILE))
        # --per-draw zarr: the store the chunks write their rows into, wherever computed.
        self.per_draw_store = None
        if per_draw == "zarr":
            self.per_draw_store = staging / zarrfile.STORE_NAME
            zarrfile.create(self.per_draw_store, priors, capacity, chunk_size or capacity)

def append_groups(path: Path, groups: dict[str, xr.Dataset]) -> None:
    """Append ``groups`` (path -> dataset) to the netCDF file ``path``, in a forked process: a
    failed HDF5 write leaves the library unsafe to use (closing the file after a write failed
    for lack of space can crash), so the process that writes may die; this one then says why
    in one line (OSError: disk full, ...) and never touches the file again."""
    parent = os.getpid()

    def write(target: str) -> None:
        if os.getpid() != parent:
            # h5py objects freed after a failed write fail again in their finalisers, each
            # printing a traceback: the child's stderr is not the user's. Its failure comes
            # back to this process as one exception.
            os.dup2(os.open(os.devnull, os.O_WRONLY), 2)
        try:
            for group, dataset in groups.items():
                dataset.to_netcdf(target, mode="a", group=group, engine="h5netcdf")
        except Exception as exc:       # h5py raises RuntimeError, ValueError... with an errno
            raise runfile.as_os_error(exc) or exc from None

    child = Forked(write)
    try:
        child.go(str(path))
        child.wait()
    except ChildKilled as exc:
        # HDF5 crashes (SIGSEGV, SIGBUS) in its error paths when a write finds the disk full.
        need = sum(dataset.nbytes for dataset in groups.values())
        if exc.signum in (signal.SIGSEGV, signal.SIGBUS) and shutil.disk_usage(
                path.parent).free < need + _HDF5_SLACK:
            raise OSError(errno.ENOSPC, "No space left on device", str(path)) from None
        raise
    finally:
        child.cancel()


# Room a netCDF group takes besides its variables' bytes (headers, attributes, chunk indices).
_HDF5_SLACK = 1_000_000


@contextlib.contextmanager
def new_run(out: Path, priors, capacity: int, force: bool = False, per_draw: str = "netcdf",
            chunk_size: int | None = None):
    """Yield a :class:`RunWriter` for a new run directory ``out`` of at most ``capacity`` draws,
    written atomically: it appears only if the block completes (and calls ``finish``).
    ``per_draw``: where the per-draw groups go: ``netcdf`` (run.nc), ``zarr`` (per_draw.zarr,
    in zarr chunks of ``chunk_size`` rows) or ``none``."""
    with staged_directory(out, force, what="run") as staging:
        # Measured where the file goes, once its folder could be made there.
        if per_draw != "none":
            _check_room(Path(out), staging, priors, capacity)
        writer = RunWriter(staging, priors, capacity, per_draw, chunk_size)
        try:
            yield writer
        finally:
            writer.sink.close()


def _check_room(out: Path, staging: Path, priors, capacity: int) -> None:
    """Refuse, before any draw is made, a run whose per-draw file cannot fit on its disk: it
    would otherwise fail with the disk full, minutes into the run."""
    need = capacity * runfile.bytes_per_draw(priors, DRIVER_ORDER)
    free = shutil.disk_usage(staging).free
    if need > free:
        raise RunDirError(f"{out}: {capacity:,} draws need {_size(need)} for {RUN_FILE}, "
                          f"{_size(free)} are free there; use fewer draws")


def _size(n: int) -> str:
    return f"{n / 1e9:,.1f} GB" if n >= 1e9 else f"{n / 1e6:,.1f} MB"


@contextlib.contextmanager
def staged_directory(out: Path, force: bool = False, what: str = "results"):
    """Write a results folder atomically, as ``write_run`` does: yields a hidden sibling
    folder, published as ``out`` when the block completes (:func:`publish.staged_folder`:
    an existing ``out`` is replaced only with ``force``, only if it is a run when the new one
    is complete) and removed on any failure."""
    out = check_run_dir(Path(out), force)
    with publish.staged_folder(out, force, what) as staging:
        yield staging


def copy_prior_files(priors, folder: Path) -> list[dict]:
    """Copies of a prior set's files under ``folder / PRIOR_COPIES``, in their relative layout
    (as write_run makes them); returns the manifest's ``prior_files`` entries."""
    entries = []
    for f in priors.files:
        relative = f"{PRIOR_COPIES}/{_copy_path(priors, f)}"
        copy = folder / relative
        copy.parent.mkdir(parents=True, exist_ok=True)
        content = priors.file_bytes.get(str(f))
        copy.write_bytes(Path(f).read_bytes() if content is None else content)
        entries.append({"path": str(f), "sha256": priors.file_sha256[str(f)], "copy": relative})
    return entries


def load_run(run_dir: str | Path, groups: tuple[str, ...] | None = None,
             optional: tuple[str, ...] = ()) -> xr.DataTree:
    """The stored run as a DataTree (groups prior, trajectories, events, sensitivity;
    provenance in attrs), or only the root and ``groups`` (e.g. ``"trajectories/paths"``):
    opening /prior's 47 variables is most of the time open_datatree takes. Groups also in
    ``optional`` are left out when the run has none.

    run.nc is read as a regular file inside ``run_dir``, never through a link
    (:mod:`.contained`; FileNotFoundError if missing, RunDirError if it is anything else)."""
    handles = []

    def opened():
        handles.append(contained.open_binary(run_dir, RUN_FILE))
        return handles[-1]

    closers = []
    try:
        # The file is input: what h5netcdf says of a layout simcore never writes (dimensions
        # without scales...) is not the user's to act on; what is wrong fails, in one line.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if groups is None:
                tree = xr.open_datatree(opened(), engine="h5netcdf")
                # One closer for the whole tree, which closes the file object last.
                for node in tree.subtree:
                    if node._close is not None:
                        closers.append(node._close)
                        node.set_close(None)
            else:
                parts = {"/": xr.open_dataset(opened(), engine="h5netcdf")}
                for g in groups:
                    try:
                        parts[f"/{g}"] = xr.open_dataset(opened(), group=g, engine="h5netcdf")
                    except OSError:
                        if g not in optional:
                            raise
                        handles.pop().close()
                closers += [part.close for part in parts.values()]
                tree = xr.DataTree.from_dict(parts)
    except BaseException:
        for close in [*closers, *(handle.close for handle in handles)]:
            close()
        raise

    def close() -> None:
        for closer in closers:
            closer()
        for handle in handles:
            handle.close()

    tree.set_close(close)
    try:
        _check_declared_sizes(tree, Path(run_dir) / RUN_FILE, os.fstat(handles[0].fileno()))
        _attach_per_draw_store(tree, Path(run_dir), groups)
    except BaseException:
        tree.close()
        raise
    return tree


def _attach_per_draw_store(tree: xr.DataTree, run_dir: Path,
                           groups: tuple[str, ...] | None) -> None:
    """A run whose per-draw groups are in per_draw.zarr (``--per-draw zarr``): its /prior and
    /events (those asked for) joined to the tree, so that every reader finds them where a
    run.nc run has them."""
    store = run_dir / zarrfile.STORE_NAME
    if not os.path.lexists(store):
        return
    wanted = [g for g in ("prior", "events") if groups is None or g in groups]
    if not wanted:
        return
    if store.is_symlink() or not store.is_dir():
        raise RunDirError(f"{store}: not a folder inside the run directory")
    opened = zarrfile.open_groups(store)
    for group in wanted:
        tree[group] = xr.DataTree(opened[f"/{group}"])


def _check_declared_sizes(tree: xr.DataTree, path: Path, status: os.stat_result) -> None:
    """A variable whose data cannot be in the file (an HDF5 dataset may declare any size and
    store nothing: chunks never written read as fill values) is refused before anything reads
    it: run.nc is read in parts, each at most what the file holds."""
    limit = 2 * status.st_size + _HDF5_SLACK
    for node in tree.subtree:
        for name, variable in node.to_dataset(inherit=False).variables.items():
            if variable.nbytes > limit:
                raise RunDirError(f"{path}: {node.path.rstrip('/')}/{name} declares "
                                  f"{variable.nbytes:,} bytes, more than the file holds; not "
                                  "a run.nc that simcore wrote")
