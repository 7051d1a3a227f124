"""Work in a forked child: results and failures come back to the parent."""

from __future__ import annotations

import errno
import os
import time
from pathlib import Path

import pytest

from simcore.base.forked import ChildFailed, Forked


def test_the_child_runs_concurrently_and_its_files_are_there_after_wait(tmp_path):
    marker = tmp_path / "drawn"
    forked = Forked(lambda: marker.write_text(str(os.getpid())))
    forked.wait()
    assert int(marker.read_text()) != os.getpid()      # written by another process


def test_an_os_error_keeps_its_errno():
    def disk_full():
        raise OSError(errno.ENOSPC, "No space left on device")

    forked = Forked(disk_full)
    with pytest.raises(OSError) as caught:
        forked.wait()
    assert caught.value.errno == errno.ENOSPC


def test_other_failures_name_the_exception():
    def broken():
        raise ValueError("bad chart")

    with pytest.raises(ChildFailed, match="ValueError: bad chart"):
        Forked(broken).wait()


def test_cancel_stops_the_child_and_wait_then_does_nothing(tmp_path):
    marker = tmp_path / "never"

    def slow():
        time.sleep(30)
        marker.write_text("late")

    forked = Forked(slow)
    forked.cancel()
    forked.wait()
    assert not marker.exists()


def test_a_prepared_child_works_only_after_go(tmp_path):
    prepared, worked = tmp_path / "prepared", tmp_path / "worked"
    forked = Forked(lambda: worked.write_text("w"), prepare=lambda: prepared.write_text("p"))
    for _ in range(200):                     # the child prepares at once ...
        if prepared.exists():
            break
        time.sleep(0.01)
    assert prepared.exists() and not worked.exists()   # ... but waits for go
    forked.go()
    forked.wait()
    assert worked.exists()


def test_a_prepared_child_that_is_cancelled_never_works(tmp_path):
    worked = tmp_path / "worked"
    forked = Forked(lambda: worked.write_text("w"), prepare=lambda: None)
    forked.cancel()
    assert not worked.exists()


def test_an_unprepared_child_also_waits_for_go(tmp_path):
    # The parent may still be writing the file the work reads (HDF5 locks it) until go().
    worked = tmp_path / "worked"
    forked = Forked(lambda: worked.write_text("w"))
    time.sleep(0.3)
    assert not worked.exists()
    forked.wait()
    assert worked.exists()


def test_a_child_failing_in_prepare_reports_its_own_error_not_a_broken_pipe(tmp_path):
    def broken_prepare():
        raise ImportError("no module named 'matplotlib'")

    forked = Forked(lambda: None, prepare=broken_prepare)
    # Until the child has exited (a zombie, not yet reaped), go() could still write to it.
    status = Path(f"/proc/{forked._pid}/stat")
    for _ in range(500):
        if status.read_text().rsplit(")", 1)[1].split()[0] == "Z":
            break
        time.sleep(0.01)
    else:
        pytest.fail("the child did not exit after its prepare failed")
    with pytest.raises(ChildFailed, match="ImportError: no module named 'matplotlib'"):
        forked.wait()


def test_go_hands_its_arguments_to_the_work_whatever_their_length(tmp_path):
    # A child forked before the parent knows where the output goes is told at go(); a long
    # argument (more than a pipe's buffer) arrives whole.
    target = tmp_path / "out.txt"
    long = "x" * 200_000
    forked = Forked(lambda path, text: Path(path).write_text(text), prepare=lambda: None)
    forked.go(str(target), long)
    forked.wait()
    assert target.read_text() == long


def test_cancel_after_a_signal_interrupted_wait_stops_the_child_without_error(tmp_path):
    """SIGTERM to the main process alone, while it waits for the child: the interrupt
    propagates, and the clean-up that follows neither closes the pipe twice nor fails on the
    child (simcore run then exits 143, not with an I/O error)."""
    import signal

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    marker = tmp_path / "finished"
    forked = Forked(lambda: (time.sleep(5), marker.write_text("late")))
    previous = signal.signal(signal.SIGALRM, interrupt)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.2)
        with pytest.raises(KeyboardInterrupt):
            forked.wait()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    pid = forked._pid
    forked.cancel()
    forked.cancel()
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)                 # killed and reaped
    assert not marker.exists()


def test_cancel_tolerates_a_child_reaped_already(tmp_path):
    forked = Forked(lambda: None)
    forked.go()
    os.waitpid(forked._pid, 0)                       # as if wait() had been cut short here
    forked.cancel()
