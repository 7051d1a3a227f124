"""Run directories made once per test session, even under pytest-xdist.

A module-scoped fixture runs once per *worker*, and xdist spreads a module's tests over the
workers, so each would make the same runs again. Here the first worker to ask makes the folder
(under a lock, in the temporary folder the workers share) and the others reuse it.
"""

from __future__ import annotations

import fcntl
import os
import shutil
from collections.abc import Callable
from pathlib import Path


def shared_folder(tmp_path_factory, name: str, make: Callable[[Path], None]) -> Path:
    """A folder ``name`` made by ``make(folder)`` exactly once per session (tests only read
    it)."""
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent            # shared by the workers of this session only
    path, done = root / name, root / f"{name}.done"
    with open(root / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if not done.exists():
                shutil.rmtree(path, ignore_errors=True)   # a worker that failed half-way
                path.mkdir()
                make(path)
                done.touch()
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return path


def shared_point_run(tmp_path_factory, name: str, *options: str) -> Path:
    """A run of the point prior with one uncertain driver (priorfiles.write_point_prior), made
    once per session with ``simcore run OPTIONS`` in-process; its folder (tests only read it)."""
    import priorfiles
    from click.testing import CliRunner

    from simcore.cli import main

    def make(folder: Path) -> None:
        prior = priorfiles.write_point_prior(folder / "point.toml")
        result = CliRunner().invoke(main, ["run", str(prior), *options, "--out",
                                           str(folder / "run"), "-q"])
        assert result.exit_code == 0, result.output
    return shared_folder(tmp_path_factory, name, make) / "run"
