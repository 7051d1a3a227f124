"""The per-draw groups of a run in a zarr store, ``per_draw.zarr`` (``--per-draw zarr``), written
chunk by chunk by whoever computes the chunk: the run's own process, or a Dask worker.

run.nc is one HDF5 file with one writer, so a cluster run that keeps its draws would send every
draw to the client to be written. A zarr store is a folder of chunk files: the arrays are
created once (by the client), and each task writes its rows, whole zarr chunks of the run's
chunk size, so no two writers ever touch the same file. A worker that dies mid-write leaves a
chunk its recomputation writes again with the same bytes. The layout is run.nc's (the same
groups ``prior`` and ``events``, variables, dtypes and attributes, :mod:`.runfile`), so a reader
gets the same datasets from either (:func:`open_groups`); the run directory must then be on a
file system every worker sees.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .. import model
from ..base.errors import SimcoreError
from ..model import spec
from . import runfile

STORE_NAME = "per_draw.zarr"


class PerDrawStoreError(SimcoreError):
    """A writer cannot reach or write the store (e.g. a worker on a machine that does not see
    the run directory): exit 1. Not an OSError, which the cluster code reads as a lost
    scheduler."""

    exit_code = 1


def _zarr():
    try:
        import zarr
    except ImportError:
        raise PerDrawStoreError("--per-draw zarr (and reading its per_draw.zarr) needs zarr: "
                                "pip install 'simcore[cluster]'") from None
    return zarr


def create(path: Path, priors, draws: int, chunk_size: int) -> None:
    """The empty arrays of a run of ``draws`` draws, in zarr chunks of ``chunk_size`` rows."""
    zarr = _zarr()

    root = zarr.open_group(str(path), mode="w")
    rows = max(min(chunk_size, draws), 1)
    profiles = len(model.PROFILES)

    def array(group, name, dtype, per_profile, attrs):
        shape, chunks = ((draws, profiles), (rows, profiles)) if per_profile else \
            ((draws,), (rows,))
        group.create_array(name, shape=shape, chunks=chunks, dtype=dtype, attributes=attrs,
                           dimension_names=["sample", "profile"][:len(shape)])

    prior = root.create_group("prior")
    array(prior, "sample", runfile.SAMPLE_DTYPE, False, {})
    for name in runfile.stored_drivers(priors, model.DRIVER_ORDER):
        array(prior, name, runfile.driver_dtype(priors.drivers[name].dist), False,
              runfile.driver_attrs(priors, name))
    events = root.create_group("events")
    array(events, "sample", runfile.SAMPLE_DTYPE, False, {})
    labels = events.create_array("profile", shape=(profiles,), dtype=str,
                                 dimension_names=["profile"])
    labels[:] = np.array(model.PROFILES)
    for name, per_profile in spec.event_layout():
        array(events, name, runfile.EVENT_DTYPE, per_profile, runfile.EVENT_ATTRS)
    for event in spec.BINDING_EVENTS:
        array(events, event.binding, runfile.BINDING_DTYPE, spec.per_profile(event),
              runfile.binding_attrs(event.binding))


def write_chunk(path: Path, priors, start: int, drivers: np.ndarray, events: np.ndarray,
                binding: np.ndarray) -> None:
    """Rows ``start..`` of every array from a chunk's matrices in the kernel's layout."""
    zarr = _zarr()

    try:
        root = zarr.open_group(str(path), mode="r+")
        stop = start + events.shape[0]
        sample = np.arange(start, stop, dtype=runfile.SAMPLE_DTYPE)
        root["prior/sample"][start:stop] = sample
        root["events/sample"][start:stop] = sample
        for j, name in enumerate(model.DRIVER_ORDER):
            if name in priors.drivers:
                target = root[f"prior/{name}"]
                target[start:stop] = drivers[:, j].astype(target.dtype)
        for name, values in model.unpack_events(events, binding).items():
            root[f"events/{name}"][start:stop] = np.ascontiguousarray(values)
    except (OSError, KeyError, ValueError) as exc:
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise PerDrawStoreError(f"cannot write the per-draw store {path}: {reason} (with "
                                f"--per-draw zarr the run directory must be on a file "
                                f"system every worker sees)") from None


def open_groups(path: Path) -> dict[str, object]:
    """``/prior`` and ``/events`` of the store as xarray Datasets laid out as run.nc's, read
    lazily (no Dask). The store is input: metadata that cannot be read, a chunk never written
    (an interrupted or altered run) or, later, a chunk that cannot be decoded is a
    :class:`PerDrawStoreError` naming the store and the array, never a traceback."""
    import xarray as xr

    _check_plain_files(path)
    try:
        root = _zarr().open_group(str(path), mode="r")
        groups = {}
        for group in ("prior", "events"):
            arrays = dict(sorted(root[group].arrays()))
            variables, coords = {}, {}
            for name, array in arrays.items():
                where = f"{path}/{group}/{name}"
                if array.nchunks_initialized != array.nchunks:
                    raise PerDrawStoreError(f"{where}: {array.nchunks - array.nchunks_initialized}"
                                            f" of {array.nchunks} chunks missing")
                dims = tuple(array.metadata.dimension_names or ())
                if len(dims) != array.ndim:
                    raise PerDrawStoreError(f"{where}: no dimension names")
                if name in dims:        # a coordinate (sample, profile): small, read now
                    values = _StoreArray(array, where).read_all()
                    if name == "profile":       # strings as run.nc's (objects)
                        values = np.array(values.tolist(), dtype=object)
                    coords[name] = xr.Variable(dims, values, dict(array.attrs))
                else:
                    variables[name] = xr.Variable(
                        dims, indexing.LazilyIndexedArray(_StoreArray(array, where)),
                        dict(array.attrs))
            groups[f"/{group}"] = xr.Dataset(variables, coords=coords)
    except PerDrawStoreError:
        raise
    except Exception as exc:    # zarr and its codecs raise many types for a damaged store
        raise PerDrawStoreError(f"{path}: cannot be read: {_reason(exc)}") from None
    return groups


def _check_plain_files(path: Path) -> None:
    """Every entry of the store is a folder or a regular file, never a link (zarr would follow
    one out of the run directory) nor a FIFO or device."""
    import os
    import stat

    pending = [str(path)]
    while pending:
        with os.scandir(pending.pop()) as entries:
            for entry in entries:
                mode = entry.stat(follow_symlinks=False).st_mode
                if stat.S_ISDIR(mode):
                    pending.append(entry.path)
                elif not stat.S_ISREG(mode):
                    raise PerDrawStoreError(f"{entry.path}: not a regular file inside the "
                                            f"store (a link, FIFO or device); refused")


def _reason(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


try:
    from xarray.backends import BackendArray
    from xarray.core import indexing
except ImportError:     # pragma: no cover - xarray is a dependency
    BackendArray = object


class _StoreArray(BackendArray):
    """One zarr array, read on demand; a chunk that cannot be read or decoded raises
    :class:`PerDrawStoreError` (one line) wherever the read happens."""

    def __init__(self, array, where: str):
        self.array, self.where = array, where
        self.shape, self.dtype = tuple(array.shape), np.dtype(array.dtype.to_native_dtype()
                                                              if hasattr(array.dtype,
                                                                         "to_native_dtype")
                                                              else array.dtype)

    def __getitem__(self, key):
        return indexing.explicit_indexing_adapter(key, self.shape,
                                                  indexing.IndexingSupport.BASIC, self._read)

    def read_all(self) -> np.ndarray:
        return self._read(Ellipsis)

    def _read(self, key):
        try:
            return np.asarray(self.array[key])
        except Exception as exc:
            raise PerDrawStoreError(f"{self.where}: cannot be read: {_reason(exc)}") from None
