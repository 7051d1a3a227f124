"""The per-draw groups of ``run.nc`` (``/prior``: every driver, ``/events``: every event time and
the binding requirement), written chunk by chunk while the engine runs.

Streaming them to disk is what bounds a run's memory: at ten million draws the drivers alone
are 3.7 GB in float64, the event times 1.2 GB. The file is HDF5 laid out as netCDF-4 (what
xarray's h5netcdf engine writes and reads), in HDF5 chunks of ``SAMPLE_CHUNK`` rows so that one
column can be read back without the others. The ``sample`` dimension is fixed at the run's
capacity (``--draws``, the maximum for ``--until-mcse``), and cut to the rows written when the
file is closed (chunked datasets can shrink; chunks never written take no space). An unlimited
dimension would avoid that, but h5netcdf then finds its length by scanning every variable of
the group for each variable it opens: ~2 s to open a 1M-draw run instead of ~0.2 s.

The layout (names, dtypes, attributes) is defined here once and used both by the streaming
writer and by :func:`per_draw_datasets`, the in-memory form ``simcore verify`` compares with;
which events there are, their order, their profile dimension and the binding codes come from the
model's spec. ``/prior`` holds the drivers the prior file defines, i.e. what was drawn: an
optional driver the file leaves out takes the spec's default, a definition of the model (it
changes only with the code, recorded by the git commit), and is not stored.
"""

from __future__ import annotations

import contextlib
import errno
import json
import math
import os
import re
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from .. import model
from ..inputs.distributions import _RANGE_U as PROBE_U
from ..model import spec

SAMPLE_CHUNK = 65_536
BINDINGS = tuple(event.binding for event in spec.BINDING_EVENTS)
SAMPLE_DTYPE = np.dtype(np.int64)
EVENT_DTYPE = np.dtype(np.float64)
BINDING_DTYPE = np.dtype(np.int8)
_FLOAT32_MAX_SAFE = 1e38
_FLOAT32_SMALLEST_SAFE = 1e-37
# Draws of a distribution whose range straddles zero lie on a grid of about range * 2**-52:
# a range this wide keeps every non-zero draw far above float32's smallest subnormal.
_MIN_STRADDLING_RANGE = 1e-20


_ERRNO = re.compile(r"\berrno = (\d+)")
# Writers that failed, kept alive and never closed: see RunFileWriter.
_ABANDONED: list = []


def as_os_error(exc: BaseException) -> OSError | None:
    """An HDF5 error that wraps a system call's failure, as the OSError it is (None for any
    other). h5py raises RuntimeError, ValueError or OSError for a write that found the disk
    full, with the errno only in a long message ("... errno = 28, error message = 'No space
    left on device' ..."); classified, it reads as one line like any other I/O error."""
    match = _ERRNO.search(str(exc))
    code = int(match.group(1)) if match else getattr(exc, "errno", None)
    if not code:
        return None
    return OSError(code, os.strerror(code), getattr(exc, "filename", None))


def driver_dtype(dist) -> np.dtype:
    """float32 (7 significant digits, half the file) when no draw of ``dist`` can overflow it
    or turn from non-zero into zero; float64 otherwise. Decided from the distribution's range,
    not from the draws, so that every chunk of a streamed run gets the same type."""
    low, high = dist.draw_range()
    if not (math.isfinite(low) and math.isfinite(high)):
        return np.dtype(np.float64)
    # The values at the probe uniforms must survive (e.g. a normal's mean, which the range
    # rule below does not see when the range straddles zero) ...
    probes = np.asarray(dist.ppf(PROBE_U), dtype=float)
    with np.errstate(over="ignore", under="ignore"):
        single = probes.astype(np.float32)
    if not (np.isfinite(single).all() and np.array_equal(single == 0, probes == 0)):
        return np.dtype(np.float64)
    # ... and so must everything between them.
    if max(abs(low), abs(high)) > _FLOAT32_MAX_SAFE:
        return np.dtype(np.float64)
    away_from_zero = low >= _FLOAT32_SMALLEST_SAFE or high <= -_FLOAT32_SMALLEST_SAFE
    exactly_zero = low == high == 0.0
    straddling = low < 0.0 < high or low == 0.0 or high == 0.0
    if away_from_zero or exactly_zero or (straddling and high - low >= _MIN_STRADDLING_RANGE):
        return np.dtype(np.float32)
    return np.dtype(np.float64)


def stored_drivers(priors, driver_names) -> list[str]:
    """The drivers of ``driver_names`` that /prior stores: those the prior file defines."""
    return [name for name in driver_names if name in priors.drivers]


def bytes_per_draw(priors, driver_names) -> int:
    """What one draw adds to run.nc: its two sample indices, its drivers (each at its stored
    type), its event times and binding codes."""
    drivers = sum(driver_dtype(priors.drivers[name].dist).itemsize
                  for name in stored_drivers(priors, driver_names))
    columns = spec.N_EVENT_COLUMNS * EVENT_DTYPE.itemsize
    return (2 * SAMPLE_DTYPE.itemsize + drivers + columns
            + spec.N_BINDING_COLUMNS * BINDING_DTYPE.itemsize)


def driver_attrs(priors, name: str) -> dict[str, str]:
    entry = priors.drivers[name]
    return {"unit": entry.text.unit, "family": entry.family,
            "description": entry.text.description}


EVENT_ATTRS = {"unit": "decimal year", "censored": "inf = not by horizon"}


def binding_attrs(binding: str) -> dict[str, str]:
    """The code -> condition table of a binding variable (ALREADY_MET, then the conditions)."""
    event = next(e for e in spec.BINDING_EVENTS if e.binding == binding)
    codes = range(spec.ALREADY_MET, len(event.conditions))
    return {"codes": json.dumps({str(code): label
                                 for code, label in zip(codes, spec.binding_labels(event),
                                                         strict=False)})}


def per_draw_datasets(priors, drivers: Mapping[str, np.ndarray],
                      events: Mapping[str, np.ndarray]):
    """(/prior, /events) as in-memory xarray Datasets, exactly as the writer lays them out."""
    import xarray as xr

    n = next(iter(events.values())).shape[0]
    sample = np.arange(n)
    prior = xr.Dataset(
        {name: ("sample", np.asarray(values).astype(driver_dtype(priors.drivers[name].dist)),
                driver_attrs(priors, name)) for name, values in drivers.items()},
        coords={"sample": sample})
    variables = {}
    for name, per_profile in spec.event_layout():
        dims = ("sample", "profile") if per_profile else ("sample",)
        variables[name] = (dims, events[name], EVENT_ATTRS)
    for event in spec.BINDING_EVENTS:
        dims = ("sample", "profile") if spec.per_profile(event) else ("sample",)
        variables[event.binding] = (dims, events[event.binding], binding_attrs(event.binding))
    event_set = xr.Dataset(variables, coords={"sample": sample, "profile": list(model.PROFILES)})
    return prior, event_set


@contextlib.contextmanager
def stored_events(path: Path, result):
    """While the block runs, a streamed ``result`` reads its event times from the finished
    file ``path`` (read-only; its writer is closed by then). In-memory results are left as
    they are."""
    if not result.streamed:
        yield
        return
    import h5py

    with h5py.File(path, "r") as f:
        group = f["events"]
        previous = result.events
        result.events = {**{name: group[name] for name in previous if name not in BINDINGS},
                         **{name: previous[name] for name in BINDINGS}}
        try:
            yield
        finally:
            result.events = previous


class _Rows:
    """The first ``n`` rows of a variable whose storage is longer (read lazily, like it)."""

    def __init__(self, variable, n: int):
        self._variable, self._n = variable, n
        self.shape = (n, *variable.shape[1:])
        self.ndim = len(self.shape)

    def __getitem__(self, key):
        key = key if isinstance(key, tuple) else (key,)
        rows = key[0]
        if isinstance(rows, slice):
            rows = slice(*rows.indices(self._n))
        elif isinstance(rows, (int, np.integer)) and not -self._n <= rows < self._n:
            raise IndexError(f"row {rows} of {self._n}")
        return self._variable[(rows, *key[1:])]

    def __array__(self, dtype=None, copy=None):
        values = self[:]
        return values if dtype is None else values.astype(dtype)


class RunFileWriter:
    """Creates ``run.nc`` with ``/prior`` and ``/events`` groups for up to ``capacity`` draws and
    appends rows.

    Rows must be appended in order (``start`` = rows written so far); ``events()`` gives
    read access to what has been written, for the summaries. Close it before other groups are
    added with xarray (HDF5 does not let one process open a file twice for writing).

    After a failed write the file is abandoned, never closed: closing makes HDF5 flush what it
    holds, which fails again, and on a full disk its error paths can crash the process (the
    run is being discarded anyway). The writer stays referenced, so no finaliser closes it
    either; the console script leaves through ``os._exit``, which runs none.
    """

    def __init__(self, path: Path, priors, driver_names, capacity: int):
        import h5netcdf
        import h5py

        # HDF5 allocates whole chunks: a small run must not get chunks larger than itself.
        rows = min(SAMPLE_CHUNK, max(int(capacity), 1))
        self.path = Path(path)
        self.rows = 0
        self.capacity = int(capacity)
        self.failed = False
        # HDF5 1.10's file format (readable by HDF5 >= 1.10, 2017): datasets of fixed size get
        # a "fixed array" chunk index, whose writes stay O(1) as the file grows (the default
        # v1 B-tree made each chunk slower than the last). No chunk cache: every write covers
        # whole chunks, which then go straight to the file instead of through a copy. Together
        # they halve the time of appending and keep it linear in the draws (benchmarks/README.md,
        # "Writing run.nc" and the table's "HDF5 1.10 format" row).
        self._file = h5netcdf.File(self.path, "w", libver=("v110", "v110"), rdcc_nbytes=0)
        try:
            prior = self._file.create_group("prior")
            prior.dimensions = {"sample": self.capacity}
            self._prior_sample = prior.create_variable("sample", ("sample",), SAMPLE_DTYPE,
                                                       chunks=(rows,))
            self._drivers = {}
            for name in stored_drivers(priors, driver_names):
                variable = prior.create_variable(name, ("sample",),
                                                 driver_dtype(priors.drivers[name].dist),
                                                 chunks=(rows,))
                variable.attrs.update(driver_attrs(priors, name))
                self._drivers[name] = variable
            events = self._file.create_group("events")
            events.dimensions = {"sample": self.capacity, "profile": len(model.PROFILES)}
            self._event_sample = events.create_variable("sample", ("sample",), SAMPLE_DTYPE,
                                                        chunks=(rows,))
            profile = events.create_variable("profile", ("profile",), h5py.string_dtype())
            profile[:] = np.array(model.PROFILES, dtype=object)
            self._events = {}
            for name, per_profile in spec.event_layout():
                self._events[name] = self._per_draw(events, name, per_profile, EVENT_DTYPE,
                                                    rows, EVENT_ATTRS)
            for event in spec.BINDING_EVENTS:
                self._events[event.binding] = self._per_draw(
                    events, event.binding, spec.per_profile(event), BINDING_DTYPE, rows,
                    binding_attrs(event.binding))
            # The HDF5 datasets behind the variables (h5netcdf looks them up on every access).
            self._sample_datasets = (self._prior_sample._h5ds, self._event_sample._h5ds)
            self._datasets = [(name, v._h5ds, v.dtype) for name, v in self._drivers.items()]
            self._event_datasets = [(name, v._h5ds, v.dtype) for name, v in self._events.items()]
        except BaseException:
            self._file.close()
            raise

    @staticmethod
    def _per_draw(group, name: str, per_profile: bool, dtype, rows: int, attrs):
        dims = ("sample", "profile") if per_profile else ("sample",)
        chunks = (rows, len(model.PROFILES)) if per_profile else (rows,)
        variable = group.create_variable(name, dims, dtype, chunks=chunks)
        variable.attrs.update(attrs)
        return variable

    def append(self, start: int, drivers: Mapping[str, np.ndarray],
               events: Mapping[str, np.ndarray]) -> None:
        if start != self.rows:
            raise ValueError(f"rows must be appended in order: {start} after {self.rows}")
        stop = start + next(iter(events.values())).shape[0]
        if stop > self.capacity:
            raise ValueError(f"{stop} rows exceed the file's capacity of {self.capacity}")
        # Straight to the HDF5 datasets, converted by numpy: h5netcdf's own __setitem__ and
        # HDF5's type conversion cost about as much again as the writing itself.
        sample = np.arange(start, stop)
        with self._failing_for_good():
            for dataset in self._sample_datasets:
                dataset[start:stop] = sample
            for name, dataset, dtype in self._datasets:
                dataset[start:stop] = np.asarray(drivers[name], dtype=dtype)
            for name, dataset, dtype in self._event_datasets:
                dataset[start:stop] = np.ascontiguousarray(events[name], dtype=dtype)
        self.rows = stop

    @contextlib.contextmanager
    def _failing_for_good(self):
        """HDF5 errors as OSError where they are one; after any, the file is abandoned."""
        if self.failed:
            raise OSError(errno.EIO, f"{self.path}: an earlier write failed")
        try:
            yield
        except Exception as exc:
            self.failed = True
            _ABANDONED.append(self)
            raise as_os_error(exc) or exc from None

    def events(self) -> dict[str, _Rows]:
        """The event variables' rows written so far, read lazily (slicing one reads only that
        part); valid until the writer is closed."""
        return {name: _Rows(variable, self.rows) for name, variable in self._events.items()}

    def set_attributes(self, attrs: Mapping[str, object]) -> None:
        with self._failing_for_good():
            for key, value in attrs.items():
                self._file.attrs[key] = value

    def close(self) -> None:
        if self.failed or self._file._closed:
            return
        with self._failing_for_good():
            if self.rows < self.capacity:    # a run that stopped early, or was interrupted
                variables = [self._prior_sample, self._event_sample, *self._drivers.values(),
                             *self._events.values()]
                for variable in variables:
                    variable._h5ds.resize(self.rows, axis=0)
            self._file.close()

    def __enter__(self) -> RunFileWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


# A run without per-draw groups (--no-per-draw): run.nc holds its counts instead.
EVENT_SLOTS_GROUP = "event_slots"
BINDING_COUNTS_GROUP = "binding_counts"
PRIOR_SAMPLE_GROUP = "prior_sample"


def event_column_labels() -> list[str]:
    """The event matrix's columns as ``event`` or ``event/profile``, in the kernel's order."""
    labels = []
    for name, per_profile in spec.event_layout():
        labels += [f"{name}/{p}" for p in model.PROFILES] if per_profile else [name]
    return labels


def reduced_datasets(priors, reduced, head_drivers: Mapping[str, np.ndarray]):
    """(/event_slots, /binding_counts, /prior_sample) of a run without per-draw groups: the
    event slots and binding joint counts of :class:`simcore.run.reduced.ReducedDraws`, and
    the drivers of the first draws (the charts' requirement bands read them)."""
    import xarray as xr

    from .reduced import BINDING_PAIRS
    from .summaries import SLOTS_PER_YEAR

    slots = reduced.slots
    event_slots = xr.Dataset(
        {"counts": (("column", "slot"), slots.counts),
         "at_as_of": ("column", slots.at_as_of), "finite": ("column", slots.finite)},
        coords={"column": event_column_labels()},
        attrs={"draws": slots.n, "as_of": slots.as_of, "horizon": slots.horizon,
               "first": slots.first, "slots_per_year": SLOTS_PER_YEAR,
               "slots": "0: t <= first; j: first + (j-1)/slots_per_year < t <= first + "
                        "j/slots_per_year; last: later or not by the horizon"})
    binding_labels = []
    for event in spec.BINDING_EVENTS:
        columns = spec.BINDING_COLUMNS[event.binding]
        binding_labels += ([event.binding] if columns.stop - columns.start == 1 else
                           [f"{event.binding}/{p}" for p in model.PROFILES])
    assert len(binding_labels) == len(BINDING_PAIRS)
    binding = xr.Dataset(
        {"joint": (("binding", "year_slot", "label"), reduced.binding)},
        coords={"binding": binding_labels,
                "year_slot": [*(int(y) for y in reduced.years), -1]},
        attrs={"year_slot": "reached by the end of the year (-1: not by the horizon)",
               **{f"codes_{event.binding}": binding_attrs(event.binding)["codes"]
                  for event in spec.BINDING_EVENTS}})
    n = next(iter(head_drivers.values())).shape[0] if head_drivers else 0
    prior = xr.Dataset(
        {name: ("sample", np.asarray(values).astype(driver_dtype(priors.drivers[name].dist)),
                driver_attrs(priors, name)) for name, values in head_drivers.items()},
        coords={"sample": np.arange(n)},
        attrs={"sample": f"the run's first {n:,} draws"})
    return {f"/{EVENT_SLOTS_GROUP}": event_slots, f"/{BINDING_COUNTS_GROUP}": binding,
            f"/{PRIOR_SAMPLE_GROUP}": prior}


class SummaryFileWriter:
    """run.nc of a run without per-draw groups: created empty, its summary groups appended
    after the engine (the same interface as :class:`RunFileWriter` for the run's writer)."""

    rows = 0
    failed = False

    def __init__(self, path: Path):
        import h5netcdf

        self.path = Path(path)
        self._file = h5netcdf.File(self.path, "w", libver=("v110", "v110"))

    def set_attributes(self, attrs: Mapping[str, object]) -> None:
        for key, value in attrs.items():
            self._file.attrs[key] = value

    def events(self) -> dict:
        return {}

    def close(self) -> None:
        if not self._file._closed:
            self._file.close()
