"""Run a piece of work in a forked child process while this one goes on.

``simcore run`` spends its last seconds on two independent jobs: the tables (reading event
columns back from run.nc) and the charts (matplotlib, single-threaded). On two cores they can
run side by side. Threads would not help (both hold the GIL most of the time), and a spawned
process would first re-import everything (~2 s); a forked one starts with this process's
modules and data, copy-on-write.

The child only reads files and writes its own; it never runs the parent's clean-up: whatever
happens it leaves through ``os._exit``. A failure comes back to the parent as an exception when
it waits (an OSError keeps its errno, so "disk full" still reads as such).
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import warnings
from collections.abc import Callable

_PR_SET_PDEATHSIG = 1


class ChildFailed(OSError):
    """The child raised something other than an OSError with an errno (which comes back as
    itself) or an interrupt."""


class ChildKilled(ChildFailed):
    """The child was ended by a signal (a crash in native code: SIGSEGV, SIGBUS...)."""

    def __init__(self, signum: int):
        self.signum = signum
        super().__init__(f"a helper process was killed by {signal.Signals(signum).name} "
                         f"({signal.strsignal(signum)})")


class Forked:
    """``work`` in a child process, started by ``go(*arguments)`` (or ``wait()``). The child
    runs ``prepare()`` at once, if given (e.g. imports while the parent finishes the file the
    work reads), and holds ``work(*arguments)`` until told: until then the parent may still
    write what the work will read. The arguments (strings) let a child forked early, before the
    parent knows e.g. where its output goes, be told at ``go``."""

    def __init__(self, work: Callable[..., None], prepare: Callable[[], None] | None = None):
        self._pid = None
        self._read = None
        self._go = None
        self._work = None
        if not hasattr(os, "fork"):      # no fork (Windows): run it here, when told to
            self._work = work
            return
        read, write = os.pipe()
        go_read, go_write = os.pipe()
        parent = os.getpid()
        with warnings.catch_warnings():
            # Python warns that fork() with threads alive may deadlock the child if it needs a
            # lock one of them held. The child takes none of ours: it draws and writes files.
            warnings.simplefilter("ignore", DeprecationWarning)
            pid = os.fork()
        if pid == 0:                      # the child
            os.close(read)
            os.close(go_write)
            _run_child(work, write, prepare, go_read, parent)
        os.close(write)
        os.close(go_read)
        self._pid, self._read, self._go = pid, read, go_write

    def go(self, *arguments: str) -> None:
        """Let the child start ``work(*arguments)`` (once; later calls do nothing)."""
        if self._work is not None:
            work, self._work = self._work, None
            work(*arguments)
        elif self._go is not None:
            unsent = memoryview(b"1" + json.dumps(list(arguments)).encode())
            try:
                while unsent:               # a pipe may take part of a long message
                    unsent = unsent[os.write(self._go, unsent):]
            except BrokenPipeError:
                pass            # the child has already failed (in prepare): wait() says why
            os.close(self._go)
            self._go = None

    def wait(self) -> None:
        """Wait for the child; raise what it raised."""
        self.go()
        if self._pid is None:
            return
        # The file object owns the descriptor from here: cancel() must not close it again
        # when a signal interrupts the read.
        read, self._read = self._read, None
        with os.fdopen(read, "rb") as pipe:
            report = pipe.read()
        _, status = os.waitpid(self._pid, 0)
        self._pid = None
        if status == 0:
            return
        if os.WIFSIGNALED(status):
            raise ChildKilled(os.WTERMSIG(status))
        failure = json.loads(report) if report else {}
        if "errno" in failure:
            raise OSError(failure["errno"], failure["strerror"], failure.get("filename"))
        if failure.get("type") == "KeyboardInterrupt":
            raise KeyboardInterrupt()
        raise ChildFailed(f"a helper process failed: {failure.get('type', 'exit')}: "
                          f"{failure.get('message', os.waitstatus_to_exitcode(status))}")

    def cancel(self) -> None:
        """Stop the child (the parent is failing or interrupted)."""
        self._work = None
        if self._go is not None:
            os.close(self._go)
            self._go = None
        if self._read is not None:
            os.close(self._read)
            self._read = None
        if self._pid is None:
            return
        pid, self._pid = self._pid, None
        try:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass    # reaped already: a signal came between wait()'s waitpid and its bookkeeping


def _run_child(work: Callable[..., None], write: int, prepare: Callable[[], None] | None,
               go: int, parent: int) -> None:
    code = 0
    try:
        # Ctrl-C reaches the whole process group: the parent cleans up, the child just stops.
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        _die_with_parent(parent)
        if prepare is not None:
            prepare()
        with os.fdopen(go, "rb") as pipe:
            if pipe.read(1) != b"1":         # the parent gave up (closed the pipe)
                os._exit(0)
            arguments = json.loads(pipe.read())   # to the end: the parent closes after writing
        work(*arguments)
    except BaseException as exc:           # noqa: BLE001 - everything goes back to the parent
        code = 1
        if isinstance(exc, OSError) and exc.errno is not None:
            failure = {"errno": exc.errno, "strerror": exc.strerror or str(exc),
                       "filename": str(exc.filename) if exc.filename else None}
        else:
            failure = {"type": type(exc).__name__, "message": str(exc)}
        with contextlib.suppress(BaseException):
            os.write(write, json.dumps(failure).encode()[:60_000])
    finally:
        os._exit(code)


def _die_with_parent(parent: int) -> None:
    """Linux: the kernel kills the child when the parent dies, however it dies (SIGKILL, the
    out-of-memory killer): no orphan goes on writing into a folder nobody will publish."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (AttributeError, OSError):
        pass
    if os.getppid() != parent:     # it died before prctl: nothing left to work for
        os._exit(1)
