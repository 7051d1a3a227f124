"""Publishing results (issue 20): nothing lost, nothing partial, leftovers of killed processes.

* Case 1: the final rename never replaces what it did not check. A folder made at ``--out``
  while a run works survives it; of N runs to one ``--out`` exactly one publishes and the others
  refuse in one line; ``--force`` replaces only what is a run when the new one is published.
  Tested with the real ``renameat2`` and with the fallback for file systems without it.
* Every file and folder is fsynced before the rename (a power cut cannot leave a complete-looking
  run with truncated files), and the folder above after it.
* Case 5: what a killed process left (its staging folder) is removed by the next command that
  writes in the same folder, and said; never what may still be written.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import socket
import subprocess
import threading
from pathlib import Path

import priorfiles as pf
import pytest
from clichecks import assert_one_line_exit, hidden_entries, run_simcore, start_simcore, wait_for
from click.testing import CliRunner
from sharedruns import shared_point_run

from simcore.app import pipeline
from simcore.base.errors import RunDirError
from simcore.cli import main
from simcore.inputs.priors import load_priors
from simcore.run import engine
from simcore.stored import store


@pytest.fixture()
def point_prior(tmp_path) -> Path:
    return pf.write_point_prior(tmp_path / "point.toml")


def staging_run_file(folder: Path, name: str, size: int = 0):
    """A condition: the staging folder of run ``name`` holds a run.nc of more than ``size``."""
    return lambda: any(f.stat().st_size > size for f in folder.glob(f".{name}.partial-*/run.nc"))


def finish(process: subprocess.Popen) -> subprocess.CompletedProcess:
    try:
        stdout, stderr = process.communicate(timeout=300)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


# ---------------------------------------------------------------------------------------------
# Case 1, real processes


@pytest.mark.slow
def test_a_folder_made_at_out_while_a_run_works_survives_it(tmp_path, point_prior):
    runs = tmp_path / "runs"
    runs.mkdir()
    out = runs / "c1c"
    process = start_simcore("run", point_prior, "--draws", 300_000, "--no-charts", "--out", out,
                            "-q")
    wait_for(staging_run_file(runs, "c1c"), process)
    out.mkdir()
    (out / "precious.txt").write_text("thesis")
    done = finish(process)
    assert_one_line_exit(done, 2, str(out), "appeared while")
    assert done.stdout == ""
    assert [p.name for p in out.iterdir()] == ["precious.txt"]
    assert (out / "precious.txt").read_text() == "thesis"
    assert hidden_entries(runs) == []


@pytest.mark.slow
def test_concurrent_runs_to_one_out_end_with_one_run_and_one_line_refusals(tmp_path,
                                                                          point_prior):
    runs = tmp_path / "runs"
    runs.mkdir()
    out = runs / "same"
    seeds = [11, 12, 13, 14]
    processes = [start_simcore("run", point_prior, "--draws", 20_000, "--seed", seed,
                               "--no-charts", "--out", out, "-q") for seed in seeds]
    results = [finish(p) for p in processes]
    winners = [seed for seed, done in zip(seeds, results, strict=False) if done.returncode == 0]
    assert len(winners) == 1, [(d.returncode, d.stderr) for d in results]
    for seed, done in zip(seeds, results, strict=False):
        if seed in winners:
            assert done.stdout.strip() == str(out) and done.stderr == ""
        else:
            line = assert_one_line_exit(done, 2, str(out))
            assert "appeared while" in line or "already exists" in line, line
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["seed"] == winners[0]
    assert sorted(p.name for p in runs.iterdir()) == ["same"]


@pytest.mark.slow
def test_force_replaces_only_what_is_a_run_when_the_new_one_is_published(tmp_path,
                                                                       point_prior):
    runs = tmp_path / "runs"
    out = runs / "r"
    assert run_simcore("run", point_prior, "--draws", 200, "--no-charts", "--out", out,
                       "-q").returncode == 0
    process = start_simcore("run", point_prior, "--draws", 300_000, "--no-charts", "--out", out,
                            "--force", "-q")
    wait_for(staging_run_file(runs, "r"), process)
    shutil.rmtree(out)                # the run checked at the start is gone; a thesis is there
    out.mkdir()
    (out / "thesis.tex").write_text("years of work")
    done = finish(process)
    assert_one_line_exit(done, 2, str(out), "not a simcore run")
    assert [p.name for p in out.iterdir()] == ["thesis.tex"]
    assert hidden_entries(runs) == []


# ---------------------------------------------------------------------------------------------
# Case 1 in-process: the renames themselves, with renameat2 and with the fallback


@pytest.fixture(params=["renameat2", "fallback"])
def renames(request, monkeypatch):
    """Publish with the kernel's renameat2, or as on a file system that refuses its flags."""
    from simcore.stored import publish

    if request.param == "fallback":
        def unsupported(*args):
            raise OSError(errno.EINVAL, "Invalid argument")
        monkeypatch.setattr(publish, "_rename2", unsupported)
    elif publish._renameat2 is None:
        pytest.skip("the C library has no renameat2")
    return request.param


def fake_run(folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / "manifest.json").write_text(json.dumps({"simcore_version": "0.1.0"}))
    (folder / "run.nc").write_bytes(b"old")
    return folder


def test_what_appears_at_out_meanwhile_is_never_replaced(tmp_path, renames):
    out = tmp_path / "r"
    with pytest.raises(RunDirError, match="appeared while"), \
            store.staged_directory(out) as staging:
        (staging / "new.txt").write_text("new")
        out.mkdir()
        (out / "precious.txt").write_text("thesis")
    assert [p.name for p in out.iterdir()] == ["precious.txt"]
    assert hidden_entries(tmp_path) == []


@pytest.mark.parametrize("swapped_in", ["folder", "link", "file"])
def test_force_puts_back_what_is_no_longer_a_run(tmp_path, renames, swapped_in):
    out = fake_run(tmp_path / "r")
    elsewhere = tmp_path / "home"
    elsewhere.mkdir()
    (elsewhere / "thesis.tex").write_text("years of work")
    with pytest.raises(RunDirError, match="left as it is"), \
            store.staged_directory(out, force=True) as staging:
        (staging / "new.txt").write_text("new")
        shutil.rmtree(out)
        if swapped_in == "folder":
            shutil.copytree(elsewhere, out)
        elif swapped_in == "link":
            out.symlink_to(elsewhere)
        else:
            out.write_text("a file")
    if swapped_in == "folder":
        assert (out / "thesis.tex").read_text() == "years of work" and not out.is_symlink()
    elif swapped_in == "link":
        assert out.is_symlink() and out.resolve() == elsewhere.resolve()
    else:
        assert out.read_text() == "a file"
    assert (elsewhere / "thesis.tex").read_text() == "years of work"
    assert hidden_entries(tmp_path) == []


def test_force_replaces_a_run_whole(tmp_path, renames):
    out = fake_run(tmp_path / "r")
    with store.staged_directory(out, force=True) as staging:
        (staging / "manifest.json").write_text(json.dumps({"simcore_version": "new"}))
    assert [p.name for p in out.iterdir()] == ["manifest.json"]
    assert json.loads((out / "manifest.json").read_text()) == {"simcore_version": "new"}
    assert hidden_entries(tmp_path) == []


def test_writers_racing_for_one_out_publish_exactly_one(tmp_path, renames):
    out = tmp_path / "r"
    writers = 6
    ready = threading.Barrier(writers, timeout=60)
    outcomes: dict[int, str] = {}

    def write(k: int) -> None:
        staged = False
        try:
            with store.staged_directory(out) as staging:
                (staging / "writer.txt").write_text(str(k))
                ready.wait()          # everyone publishes at once
                staged = True
            outcomes[k] = "published"
        except (RunDirError, OSError, threading.BrokenBarrierError) as exc:
            outcomes[k] = f"{type(exc).__name__}: {exc}"
            if not staged:            # failed before the race: nobody waits for it (once
                ready.abort()         # past the barrier, aborting it breaks a late waker)

    threads = [threading.Thread(target=write, args=(k,)) for k in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    published = [k for k, outcome in outcomes.items() if outcome == "published"]
    assert len(published) == 1, outcomes
    assert all("appeared while" in o for k, o in outcomes.items() if k not in published), \
        outcomes
    assert (out / "writer.txt").read_text() == str(published[0])
    assert hidden_entries(tmp_path) == []


# ---------------------------------------------------------------------------------------------
# Durability


def test_every_file_and_folder_is_fsynced_before_the_rename(tmp_path, point_prior, monkeypatch):
    from simcore.stored import publish

    events: list[tuple[str, str]] = []
    real_fsync, real_rename = os.fsync, publish.rename_noreplace

    def fsync(fd):
        events.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))
        real_fsync(fd)

    def rename(folder_fd, source, target):
        events.append(("rename", source))
        real_rename(folder_fd, source, target)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(publish, "rename_noreplace", rename)
    out = tmp_path / "runs" / "r"
    result = engine.run_forecast(load_priors(point_prior), 300, seed=1, n_paths=5)
    pipeline.write_run(result, out, with_charts=False)
    renamed = [i for i, (kind, _) in enumerate(events) if kind == "rename"]
    assert len(renamed) == 1
    staging = out.parent / events[renamed[0]][1]
    synced_before = {path for kind, path in events[:renamed[0]] if kind == "fsync"}
    expected = {str(staging)} | {str(staging / p.relative_to(out)) for p in out.rglob("*")}
    assert expected <= synced_before, sorted(expected - synced_before)
    assert ("fsync", str(out.parent)) in events[renamed[0]:]


# ---------------------------------------------------------------------------------------------
# Case 5: what killed processes left


def dead_pid() -> int:
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def host_tag() -> str:
    """This machine's tag in staging names (``.NAME.partial-PID-HOST-RANDOM``)."""
    from simcore.stored import publish
    return publish.staging_path(Path("x")).name.split("-")[2]


def marker(folder: Path, pid: int, host: str | None = None) -> None:
    folder.mkdir()
    (folder / ".simcore-staging").write_text(json.dumps({
        "host": host or socket.gethostname(), "pid_namespace": os.readlink("/proc/self/ns/pid"),
        "pid": pid}))


@pytest.mark.slow
def test_what_a_killed_run_left_is_removed_by_the_next_run_and_said(tmp_path, point_prior):
    runs = tmp_path / "runs"
    runs.mkdir()
    process = start_simcore("run", point_prior, "--draws", 2_000_000, "--no-charts", "--out",
                            runs / "big", "-q")
    wait_for(staging_run_file(runs, "big", 1_000_000), process)
    process.send_signal(signal.SIGKILL)          # or the out-of-memory killer: no clean-up
    process.communicate()
    left = [p.name for p in runs.iterdir()]
    assert len(left) == 1 and left[0].startswith(".big.partial-"), left
    done = run_simcore("run", point_prior, "--draws", 200, "--no-charts", "--out",
                       runs / "next", "-q")
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines() == [done.stderr.strip()] and done.stderr.startswith(
        "note: removed") and left[0] in done.stderr, done.stderr
    assert sorted(p.name for p in runs.iterdir()) == ["next"]


def test_staging_that_may_still_be_written_is_never_removed(tmp_path, point_prior):
    runs = tmp_path / "runs"
    runs.mkdir()
    dead, tag = dead_pid(), host_tag()
    keep = {
        "alive": runs / f".a.partial-{os.getpid()}-{tag}-0000000a",      # this very process
        "other machine": runs / f".b.partial-{dead}-{'0' * 8}-0000000b",
        "no marker": runs / f".c.partial-{dead}-{tag}-0000000c",          # e.g. a user's folder
        "older simcore": runs / f".d.partial-{dead}",
        "marker of another machine": runs / f".e.partial-{dead}-{tag}-0000000e",
    }
    marker(keep["alive"], os.getpid())
    marker(keep["other machine"], dead)
    keep["no marker"].mkdir()
    (keep["no marker"] / "thesis.tex").write_text("years of work")
    keep["older simcore"].mkdir()
    marker(keep["marker of another machine"], dead, host="elsewhere")
    gone = [runs / f".f.partial-{dead}-{tag}-0000000f",
            runs / f".g.png.partial-{dead}-{tag}-00000001"]
    marker(gone[0], dead)
    (gone[0] / "run.nc").write_bytes(b"x" * 1000)
    gone[1].write_bytes(b"half a chart")
    result = CliRunner().invoke(main, ["run", str(point_prior), "--draws", "200", "--no-charts",
                                       "--out", str(runs / "r"), "-q"])
    assert result.exit_code == 0, result.output
    assert all(path.exists() for path in keep.values())
    assert (keep["no marker"] / "thesis.tex").read_text() == "years of work"
    assert not any(path.exists() for path in gone)
    notes = result.stderr.splitlines()
    assert len(notes) == 2 and all(line.startswith("note: ") for line in notes), notes
    removed = next(line for line in notes if line.startswith("note: removed"))
    left = next(line for line in notes if line.startswith("note: not removed"))
    assert all(path.name in removed for path in gone)
    for what in ("no marker", "older simcore", "marker of another machine"):
        assert keep[what].name in left
    assert keep["alive"].name not in result.stderr
    assert keep["other machine"].name not in result.stderr


@pytest.fixture(scope="module")
def stored_run(tmp_path_factory) -> Path:
    return shared_point_run(tmp_path_factory, "contained-run", "--draws", "2000", "--paths", "5")


@pytest.mark.parametrize("command", ["report", "plot", "compare"])
def test_every_command_that_writes_removes_what_killed_ones_left(tmp_path, stored_run,
                                                                 command):
    run = tmp_path / "run"
    shutil.copytree(stored_run, run)
    out = {"report": run, "plot": tmp_path / "charts", "compare": tmp_path / "cmp"}[command]
    out.mkdir(exist_ok=True)
    leftover = out / f".compare.csv.partial-{dead_pid()}-{host_tag()}-00000000"
    leftover.write_bytes(b"half")
    args = {"report": ["report", run, "-q"], "plot": ["plot", run, "--to", out, "-q",
                                                      "--output", "film_days"],
            "compare": ["compare", run, run, "--out", out]}[command]
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    assert not leftover.exists()
    assert leftover.name in result.stderr and result.stderr.startswith("note: removed")
