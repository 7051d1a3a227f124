"""Bit-for-bit comparison of two run (or study) directories: every HDF5 dataset and attribute,
every CSV byte, the manifest but for its time stamps."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np

VOLATILE = {"created", "timings_seconds"}    # when and how fast, not what


def hdf5_contents(path: Path, ignored=frozenset()) -> dict[str, tuple]:
    """Every group's and dataset's attributes, and every dataset's dtype, shape and raw
    bytes, by HDF5 path (the root's time stamps left out). Object references (the dimension
    scales netCDF attaches) are compared by the name of what they point to."""
    contents = {}
    with h5py.File(path, "r") as f:
        def plain(value):
            if isinstance(value, h5py.Reference):
                return f[value].name
            if isinstance(value, np.void | tuple):
                return tuple(plain(v) for v in value)
            if isinstance(value, np.ndarray) and (value.dtype == object or value.dtype.names):
                return [plain(v) for v in value.tolist()]
            if isinstance(value, list):
                return [plain(v) for v in value]
            return np.asarray(value).tobytes() if isinstance(value, np.ndarray | np.generic) \
                else value

        def attributes(node) -> dict:
            return {k: plain(v) for k, v in node.attrs.items()
                    if not (node.name == "/" and k in VOLATILE | ignored)}

        contents["/"] = ("group", attributes(f))

        def visit(name: str, node) -> None:
            if isinstance(node, h5py.Dataset):
                data = np.asarray(node[()])
                raw = data.tobytes() if data.dtype != object else repr(data.tolist())
                contents[name] = (str(node.dtype), node.shape, raw, attributes(node))
            else:
                contents[name] = ("group", attributes(node))
        f.visititems(visit)
    return contents


def _manifest(folder: Path, ignored=frozenset()) -> dict:
    manifest = json.loads((folder / "manifest.json").read_text())
    return {k: v for k, v in manifest.items() if k not in VOLATILE | ignored}


def assert_same_files(a: Path, b: Path, ignored=frozenset()) -> None:
    """Same file names; every CSV byte for byte; the manifests equal but for time stamps (and
    the ``ignored`` keys)."""
    assert sorted(p.name for p in a.iterdir()) == sorted(p.name for p in b.iterdir())
    tables = sorted(p.name for p in a.glob("*.csv"))
    assert tables
    for table in tables:
        assert (a / table).read_bytes() == (b / table).read_bytes(), table
    assert _manifest(a, ignored) == _manifest(b, ignored)


def folder_bytes(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (e.g. a zarr store), by relative path."""
    return {str(p.relative_to(folder)): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}
