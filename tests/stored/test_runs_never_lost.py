"""Runs are never lost or overwritten; I/O errors are one line and exit 1, leaving nothing."""


import errno
import os
import re
import signal
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import priorfiles as pf
import pytest
import xarray as xr
from clichecks import assert_rejected, invoke, partial_dirs
from hypothesis import given, settings
from hypothesis import strategies as st
from runchecks import (
    REQUIRED,
    run_ok,
)

from simcore.app import pipeline
from simcore.faces import plots
from simcore.inputs.priors import load_priors
from simcore.model import DRIVER_ORDER
from simcore.run import engine, runfile
from simcore.stored import store

ROOT = Path(__file__).resolve().parents[2]


E = pf.entry

# ---------------------------------------------------------------------------------------------
# 4. Runs are never lost or overwritten; I/O errors are one line and exit 1


def test_existing_run_refused_and_force_replaces_it(tmp_path, point_prior):
    out = tmp_path / "runs" / "r"
    run_ok(point_prior, out, "--seed", 1)
    first = (out / "manifest.json").read_text()
    assert_rejected(invoke("run", point_prior, "--out", out), tmp_path / "runs" / "other",
                    "already exists")
    assert (out / "manifest.json").read_text() == first
    run_ok(point_prior, out, "--seed", 2, "--force")
    assert '"seed": 2' in (out / "manifest.json").read_text()
    assert sorted(p.name for p in out.parent.iterdir()) == ["r"]   # no .replaced leftovers


def test_force_never_deletes_a_folder_that_is_not_a_run(tmp_path, point_prior):
    precious = tmp_path / "home"
    precious.mkdir()
    (precious / "thesis.tex").write_text("years of work")
    result = invoke("run", point_prior, "--draws", 10, "--out", precious, "--force")
    assert result.exit_code == 2 and "not a simcore run" in result.stderr
    assert (precious / "thesis.tex").read_text() == "years of work"
    a_file = tmp_path / "notes.txt"
    a_file.write_text("keep")
    result = invoke("run", point_prior, "--draws", 10, "--out", a_file, "--force")
    assert result.exit_code == 2 and "not a folder" in result.stderr
    assert a_file.read_text() == "keep"
    link = tmp_path / "link"
    link.symlink_to(precious)
    result = invoke("run", point_prior, "--draws", 10, "--out", link, "--force")
    assert result.exit_code == 2 and "symbolic link" in result.stderr
    assert (precious / "thesis.tex").exists()


def test_interrupted_force_replacement_keeps_the_old_run(tmp_path, point_prior, monkeypatch):
    out = tmp_path / "runs" / "r"
    run_ok(point_prior, out, "--seed", 1)
    before = (out / "manifest.json").read_text()

    def interrupt(result):
        raise KeyboardInterrupt

    monkeypatch.setitem(pipeline.CSV_TABLES, "binding.csv", interrupt)
    result = invoke("run", point_prior, "--draws", 50, "--out", out, "--force", "--no-charts")
    assert result.exit_code == 130
    assert result.stderr.strip() == "interrupted: no run directory was written"
    assert (out / "manifest.json").read_text() == before
    assert sorted(p.name for p in out.parent.iterdir()) == ["r"]


@pytest.mark.parametrize("name", ["..", ".hidden", "a b;rm -rf", "x" * 200, "ü-run", "-"])
def test_unsafe_run_names_are_refused(tmp_path, point_prior, name):
    out = tmp_path / "runs" / name
    result = invoke("run", point_prior, "--draws", 10, "--out", out)
    assert result.exit_code == 2 and len(result.stderr.splitlines()) == 1, result.output
    assert "run name" in result.stderr or "already exists" in result.stderr
    assert not partial_dirs(tmp_path / "runs")


def test_out_may_be_any_path_the_user_chose(tmp_path, point_prior, monkeypatch):
    """--out ../../x is a path like any other: the folder above is the user's choice, only the
    run's own name is restricted."""
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    monkeypatch.chdir(deep)
    run_ok(point_prior, Path("../../escaped-run"))
    assert (tmp_path / "escaped-run" / "manifest.json").is_file()


@given(stem=st.text(min_size=0, max_size=300))
@settings(max_examples=200, deadline=None)
def test_default_run_names_are_always_safe(stem):
    try:
        path = Path(f"/x/{stem}.toml")
    except ValueError:
        return
    if path.parent != Path("/x"):
        return   # the stem held a separator: not a file name
    out = store.default_run_dir(path, 7)
    assert out.parent == Path("runs")
    assert re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}", out.name), out.name
    store.check_run_dir(out, force=False)


def test_default_run_dir_from_a_hostile_prior_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    prior = pf.write(tmp_path / "..$(rm -rf ~); ü.toml", pf.point_drivers())
    result = invoke("run", prior, "--draws", 20, "--no-charts", "-q")
    assert result.exit_code == 0, result.output
    written = Path(result.stdout.strip())
    assert written.parent == Path("runs") and written.is_dir()
    assert re.fullmatch(r"\d{8}-\d{6}-rm_-rf-s20261125", written.name), written.name


def test_output_under_a_file_is_one_line_exit_1(tmp_path, point_prior):
    blocker = tmp_path / "file.txt"
    blocker.write_text("x")
    out = blocker / "sub" / "run"
    line = assert_rejected(invoke("run", point_prior, "--draws", 20, "--out", out), out,
                           "cannot create folder", code=1)
    assert str(blocker) in line


@pytest.mark.skipif(not Path("/proc/self").exists(), reason="needs /proc")
def test_output_in_an_unwritable_place_is_one_line_exit_1(point_prior):
    """/proc refuses new folders even to root (where chmod would not stop a write)."""
    out = Path("/proc/simcore-test/run")
    result = invoke("run", point_prior, "--draws", 20, "--out", out)
    assert result.exit_code == 1, result.output
    assert len(result.stderr.splitlines()) == 1 and "cannot create folder" in result.stderr


@pytest.mark.parametrize("where,error,words", [
    ("csv", OSError(errno.ENOSPC, "No space left on device"), "disk full"),
    ("netcdf-draws", OSError(errno.ENOSPC, "No space left on device"), "disk full"),
    ("netcdf-summaries", OSError(errno.ENOSPC, "No space left on device"), "disk full"),
    ("charts", OSError(errno.ENOSPC, "No space left on device"), "disk full"),   # forked child
    ("csv", PermissionError(errno.EACCES, "Permission denied"), "Permission denied"),
    ("csv", OSError(errno.EIO, "Input/output error\nwith a second line"), "Input/output error"),
])
def test_write_errors_are_one_line_exit_1_and_leave_nothing(tmp_path, point_prior, monkeypatch,
                                                            where, error, words):
    def fail(*args, **kwargs):
        raise error

    if where == "csv":
        monkeypatch.setitem(pipeline.CSV_TABLES, "events.csv", fail)
    elif where == "netcdf-draws":     # streamed while the engine runs
        monkeypatch.setattr(runfile.RunFileWriter, "append", fail)
    elif where == "charts":           # drawn by a forked child process
        monkeypatch.setattr(plots, "draw_standard_set", fail)
    else:                             # percentiles, paths, sensitivity added at the end
        monkeypatch.setattr(xr.Dataset, "to_netcdf", fail)
    out = tmp_path / "runs" / "r"
    line = assert_rejected(invoke("run", point_prior, "--draws", 50, "--out", out), out, words,
                           code=1)
    assert line.startswith(f"error: {out}: cannot write run")


def test_ctrl_c_during_sampling_in_process(tmp_path, point_prior, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(engine, "run_forecast", interrupted)
    out = tmp_path / "runs" / "r"
    result = invoke("run", point_prior, "--out", out)
    assert result.exit_code == 130
    assert result.stderr == "interrupted: no run directory was written\n"
    assert not out.exists() and not partial_dirs(out.parent)


@pytest.mark.skipif(threading.current_thread() is not threading.main_thread(),
                    reason="signal handlers need the main thread")
def test_sigterm_during_sampling_in_process(tmp_path, point_prior, monkeypatch):
    def terminated(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(10)            # the handler interrupts this
        raise AssertionError("SIGTERM was not handled")

    before = signal.getsignal(signal.SIGTERM)
    monkeypatch.setattr(engine, "run_forecast", terminated)
    out = tmp_path / "runs" / "r"
    result = invoke("run", point_prior, "--out", out)
    assert result.exit_code == 143, result.output
    assert result.stderr == "terminated: no run directory was written\n"
    assert not out.exists() and not partial_dirs(out.parent)
    assert signal.getsignal(signal.SIGTERM) == before    # the handler is removed afterwards


def test_interrupt_while_writing_leaves_no_staging_folder(tmp_path, point_prior, monkeypatch):
    def interrupt(result):
        raise KeyboardInterrupt

    monkeypatch.setitem(pipeline.CSV_TABLES, "events_summary.csv", interrupt)
    out = tmp_path / "runs" / "r"
    result = invoke("run", point_prior, "--draws", 50, "--out", out)
    assert result.exit_code == 130
    assert not out.exists() and not partial_dirs(out.parent)


def test_interrupt_after_the_run_was_written_says_so(tmp_path, point_prior, monkeypatch):
    import simcore.faces.answer

    def interrupt(result):
        raise KeyboardInterrupt

    monkeypatch.setattr(simcore.faces.answer, "summary_text", interrupt)
    out = tmp_path / "runs" / "r"
    result = invoke("run", point_prior, "--draws", 50, "--out", out, "--no-charts")
    assert result.exit_code == 130
    assert result.stderr == f"interrupted: the run was already complete in {out}\n"
    assert (out / "manifest.json").is_file()


def test_out_of_memory_is_one_line_exit_1(tmp_path, point_prior, monkeypatch):
    def no_memory(*args, **kwargs):
        raise MemoryError

    monkeypatch.setattr(engine, "run_forecast", no_memory)
    out = tmp_path / "runs" / "r"
    assert_rejected(invoke("run", point_prior, "--draws", 1000, "--out", out), out,
                    "not enough memory", code=1)


def test_more_draws_than_the_disk_holds_are_refused_before_anything_is_written(
        tmp_path, point_prior, monkeypatch):
    free = 10**6
    monkeypatch.setattr(store.shutil, "disk_usage", lambda path: SimpleNamespace(free=free))
    out = tmp_path / "runs" / "r"
    need = 4000 * runfile.bytes_per_draw(load_priors(point_prior, required=REQUIRED),
                                         DRIVER_ORDER)
    assert need > free
    assert_rejected(invoke("run", point_prior, "--draws", 4000, "--out", out), out,
                    "4,000 draws need", "MB", "fewer draws")
    run_ok(point_prior, out)                      # 200 draws fit in a megabyte


@pytest.mark.parametrize("option", ["--draws", "--chunk-size", "--paths"])
def test_sizes_beyond_any_disk_are_refused_as_usage_errors(tmp_path, point_prior, option):
    """Not an overflow deep inside HDF5 or numpy: click names the option."""
    from simcore.base.limits import MAX_DRAWS
    out = tmp_path / "runs" / "r"
    result = invoke("run", point_prior, option, MAX_DRAWS + 1, "--out", out)
    assert result.exit_code == 2 and option in result.output and "Traceback" not in result.output
    assert not out.exists()


@pytest.mark.parametrize("args", [("run", "--until-mcse", "nan"), ("sensitivity", "-N", 2**21),
                                  ("sensitivity", "--resamples", 10**11),
                                  ("sensitivity", "-m", "morris", "-N", 10**12)])
def test_out_of_range_study_sizes_are_usage_errors_naming_the_option(tmp_path, point_prior,
                                                                      args):
    command, *options = args
    out = tmp_path / "runs" / "r"
    result = invoke(command, point_prior, *options, "--out", out)
    assert result.exit_code == 2 and options[-2] in result.output, result.output
    assert "Traceback" not in result.output and not out.exists()


def test_run_nc_grows_by_bytes_per_draw(tmp_path, point_prior):
    """The disk check's estimate is what the per-draw groups of run.nc take (HDF5 allocates
    whole chunks; a run smaller than a chunk gets chunks of its own size)."""
    import h5py
    draws = 300
    out = tmp_path / "runs" / "r"
    result = invoke("run", point_prior, "--draws", draws, "--paths", 0, "--out", out, "--no-charts")
    assert result.exit_code == 0, result.output
    stored = 0
    with h5py.File(out / "run.nc") as file:
        for group in ("prior", "events"):
            for dataset in file[group].values():
                if dataset.shape[:1] == (draws,):
                    stored += dataset.id.get_storage_size()
    priors = load_priors(point_prior, required=REQUIRED)
    assert stored == draws * runfile.bytes_per_draw(priors, DRIVER_ORDER)



