"""Ctrl-C and SIGTERM as exceptions that are acted on wherever they land.

While a long command runs (:func:`signals_as_interrupts`), SIGINT raises ``KeyboardInterrupt``
and SIGTERM :class:`Terminated` (a subclass), so that both unwind through the same clean-up
(a staging folder removed, a child process stopped) and end in one line, exit status 130 or 143.

A Python signal handler runs in the main thread and raises there, but that exception is not
always seen. C code that checks for signals and then clears the error swallows it: numpy
comparing a ``np.str_`` with a ``str`` does, and SALib's Saltelli design compares group names in
its innermost loop, so most interrupts of ``simcore sensitivity``'s sampling were lost. One
raised inside a finaliser is printed and dropped. So the handler also arms a tracer on the
interrupted frames: if the next line of Python runs without the interrupt having been seen
propagating through a frame, the tracer raises it again, from Python code this time, where
nothing swallows it (within a millisecond, where it took the whole study before). And
the first signal starts a thread that delivers it again every :data:`REDELIVERY` seconds until
the command acknowledges it (the CLI does once its clean-up has begun), for the cases no line
follows soon (a finaliser, a long C loop). A delivery that finds the interrupt already unwinding
(it is the exception being handled) does nothing, so it never cuts a clean-up short; neither
does a second Ctrl-C.

Outside :func:`signals_as_interrupts` (library callers, notebooks) nothing here is active.
"""

from __future__ import annotations

import _thread
import contextlib
import signal
import sys
import threading

REDELIVERY = 0.2   # seconds between deliveries of an interrupt not acted on yet
_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the program is, so that it unwinds as Ctrl-C does."""


def interrupt_for(signum: int) -> KeyboardInterrupt:
    return Terminated() if signum == signal.SIGTERM else KeyboardInterrupt()


class _State:
    def __init__(self) -> None:
        self.signum: int | None = None     # the first signal received
        self.deferring = 0                 # depth of deferred() blocks
        self.done = threading.Event()      # acknowledged: stop delivering
        self.lock = threading.Lock()
        self.tracing: tuple | None = None  # (the trace function replaced,) while installed
        self.armed = False                 # the tracer raises at the next line


_STATE: _State | None = None


def _handler(signum, frame) -> None:
    state = _STATE
    if state is None or state.done.is_set():
        return
    if state.signum is None:
        state.signum = signum
        threading.Thread(target=_redeliver, args=(state,), name="simcore-interrupt",
                         daemon=True).start()
    if state.deferring or isinstance(sys.exception(), KeyboardInterrupt):
        return        # raised at the end of the deferred block / already unwinding
    interrupt = interrupt_for(state.signum)
    _arm_tracer(state, frame)       # last: from here on, any Python call is traced
    raise interrupt


def _arm_tracer(state: _State, frame) -> None:
    """Raise the interrupt again at the next line of Python run in this thread, unless it was
    seen propagating first (the handler's exception may be swallowed by the C code it ran in:
    then no frame sees it go by, and the next line runs as if nothing happened)."""
    def tracer(traced, event, arg):
        if not state.armed:
            return None
        if traced.f_code.co_filename == __file__:
            return tracer               # not inside this module's own hooks
        if event == "exception" and isinstance(arg[1], KeyboardInterrupt):
            state.armed = False         # it propagates: nothing to do
            return None
        if event != "line":
            return tracer
        state.armed = False
        if state.done.is_set() or state.deferring:
            return None
        raise interrupt_for(state.signum)

    if state.tracing is None:
        state.tracing = (sys.gettrace(),)
    state.armed = True
    sys.settrace(tracer)
    while frame is not None:
        frame.f_trace = tracer
        frame.f_trace_lines = True
        frame = frame.f_back


def _disarm_tracer(state: _State) -> None:
    state.armed = False
    if state.tracing is None:
        return
    previous, state.tracing = state.tracing[0], None
    sys.settrace(previous)
    frame = sys._getframe(1)
    while frame is not None:
        frame.f_trace = None
        frame = frame.f_back


def _redeliver(state: _State) -> None:
    while not state.done.wait(REDELIVERY):
        with state.lock:
            if state.done.is_set():
                return
            # As if the signal arrived again: the handler runs in the main thread at its next
            # bytecode (no OS signal, so nothing else in the process sees it).
            _thread.interrupt_main(state.signum)


def raise_pending() -> None:
    """Raise the interrupt received, if any (a safe point of a long loop)."""
    state = _STATE
    if state is not None and state.signum is not None and not state.deferring \
            and not state.done.is_set():
        raise interrupt_for(state.signum)


def acknowledge() -> None:
    """The interrupt is being acted on: stop delivering it."""
    state = _STATE
    if state is not None:
        with state.lock:
            state.done.set()
        _drain()
        if threading.current_thread() is threading.main_thread():
            _disarm_tracer(state)


def _drain() -> None:
    """Nothing: calling a Python function runs the signal handlers pending (3.12 checks at
    every function's start), so an interrupt delivered just before ``acknowledge`` reaches
    this module's handler, not the one restored after it."""


@contextlib.contextmanager
def deferred():
    """A block that interrupts do not cut in two (a rename and the check of what it moved):
    one received meanwhile is raised when the block completes."""
    state = _STATE
    if state is None:
        yield
        return
    state.deferring += 1
    try:
        yield
    finally:
        state.deferring -= 1
    raise_pending()


@contextlib.contextmanager
def signals_as_interrupts():
    """SIGINT and SIGTERM as exceptions while the block runs (main thread only; a SIGINT that
    the parent ignores, as a shell does for background jobs, stays ignored)."""
    global _STATE
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    handled = [s for s in _SIGNALS if signal.getsignal(s) is not signal.SIG_IGN]
    previous_hook = sys.unraisablehook

    def quiet_unraisable(unraisable):
        # An interrupt dropped inside a finaliser is delivered again (above): no "Exception
        # ignored" traceback for it.
        if not isinstance(unraisable.exc_value, KeyboardInterrupt):
            previous_hook(unraisable)

    outer, _STATE = _STATE, _State()
    previous = [signal.signal(s, _handler) for s in handled]
    sys.unraisablehook = quiet_unraisable
    try:
        yield
    finally:
        acknowledge()
        sys.unraisablehook = previous_hook
        for s, handler in zip(handled, previous, strict=False):
            signal.signal(s, handler)
        _STATE = outer


@contextlib.contextmanager
def ignored():
    """SIGINT and SIGTERM ignored while the block runs (the clean-up after an interrupt must
    not be cut short by the next one)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = [signal.signal(s, signal.SIG_IGN) for s in _SIGNALS]
    try:
        yield
    finally:
        for s, handler in zip(_SIGNALS, previous, strict=False):
            signal.signal(s, handler)
