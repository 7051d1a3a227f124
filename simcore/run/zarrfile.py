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
    """``/prior`` and ``/events`` of the store as xarray Datasets, read lazily (no Dask), laid
    out as run.nc's; a store with a chunk never written (an interrupted or altered run) is
    refused with :class:`PerDrawStoreError`."""
    import xarray as xr

    root = _zarr().open_group(str(path), mode="r")
    for group in ("prior", "events"):
        for name, array in root[group].arrays():
            if array.nchunks_initialized != array.nchunks:
                raise PerDrawStoreError(f"{path}: {group}/{name} has "
                                        f"{array.nchunks - array.nchunks_initialized} of "
                                        f"{array.nchunks} chunks missing")
    groups = {}
    for group in ("prior", "events"):
        dataset = xr.open_zarr(str(path), group=group, consolidated=False, chunks=None,
                               mask_and_scale=False)
        if "profile" in dataset.coords:    # strings as run.nc's (objects), not StringDType
            dataset = dataset.assign_coords(
                profile=np.array(dataset["profile"].values.tolist(), dtype=object))
        groups[f"/{group}"] = dataset
    return groups
