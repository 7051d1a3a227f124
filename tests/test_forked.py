"""Work in a forked child: results and failures come back to the parent."""

from __future__ import annotations

import errno
import os

import pytest

from simcore.forked import Forked


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

    with pytest.raises(RuntimeError, match="ValueError: bad chart"):
        Forked(broken).wait()


def test_cancel_stops_the_child_and_wait_then_does_nothing(tmp_path):
    marker = tmp_path / "never"

    def slow():
        import time
        time.sleep(30)
        marker.write_text("late")

    forked = Forked(slow)
    forked.cancel()
    forked.wait()
    assert not marker.exists()
