"""Ctrl-C and SIGTERM (issue 20, case 3): every long command stops within a moment, with exit
status 130 or 143, one line on stderr, and nothing partial left.

The two ways an interrupt used to be lost are reproduced in-process, with real signals at the
moment they were lost: inside SALib's Saltelli design (numpy swallows the KeyboardInterrupt a
handler raises while it compares a ``np.str_``) and while the main thread waited for bootstrap
analyses running on a thread pool. Then every command, as a real process, gets SIGINT and
SIGTERM in the middle of its work.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest
from clichecks import hidden_entries, start_simcore, wait_for
from click.testing import CliRunner
from sharedruns import shared_point_run

from simcore.cli import main

ROOT = Path(__file__).resolve().parents[2]
BASELINE = ROOT / "priors" / "baseline.toml"
# Generous for a loaded 2-core machine; the lost interrupts took tens of seconds (the
# whole study), and measured latencies are in benchmarks/README.md.
PROMPT = 3.0

in_main_thread = pytest.mark.skipif(threading.current_thread() is not threading.main_thread(),
                                    reason="signal handlers need the main thread")


@pytest.fixture(autouse=True)
def console_script_signal_handlers():
    """These tests signal this very process: they start from the handlers a console script
    starts with, whatever an earlier test of the same worker or the launching shell left
    (a background job inherits SIGINT ignored, and an ignored SIGINT stays ignored)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    saved = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    yield
    for signum, handler in saved.items():
        if handler is not None:
            signal.signal(signum, handler)


def signal_later(signum: int, delay: float, sent: dict) -> None:
    def fire():
        sent["at"] = time.monotonic()
        os.kill(os.getpid(), signum)
    threading.Timer(delay, fire).start()


def study_interrupted(tmp_path: Path, n: int, sent: dict) -> tuple[object, Path, float]:
    """``simcore sensitivity`` in-process, interrupted by what a test patched into it: the
    result, the study folder it would write, and the seconds from the signal to the end."""
    out = tmp_path / "study"
    result = CliRunner().invoke(main, ["sensitivity", str(BASELINE), "-N", str(n),
                                       "--resamples", "2", "--no-charts", "--out", str(out)])
    return result, out, time.monotonic() - sent["at"]


def assert_stopped(tmp_path: Path, study: tuple, code: int, word: str) -> None:
    result, out, seconds = study
    assert result.exit_code == code, result.output
    assert result.stderr == f"{word}: no study directory was written\n"
    assert seconds < PROMPT
    assert not out.exists() and hidden_entries(tmp_path) == []


@in_main_thread
def test_ctrl_c_swallowed_inside_salibs_design_is_acted_on(tmp_path, monkeypatch):
    from SALib.sample import sobol as sobol_sample

    design, sent = sobol_sample.sample, {}

    def design_interrupted(*args, **kwargs):
        signal_later(signal.SIGINT, 0.3, sent)     # the design takes seconds at this N
        return design(*args, **kwargs)

    monkeypatch.setattr(sobol_sample, "sample", design_interrupted)
    assert_stopped(tmp_path, study_interrupted(tmp_path, 1024, sent), 130, "interrupted")


@in_main_thread
def test_sigterm_does_not_wait_for_the_analyses_running(tmp_path, monkeypatch):
    from SALib.analyze import sobol as sobol_analyze

    analyze, sent, first = sobol_analyze.analyze, {}, threading.Lock()

    def slow_analysis(*args, **kwargs):
        if first.acquire(blocking=False):   # once the pool is busy and the main thread waits
            signal_later(signal.SIGTERM, 0.5, sent)
        time.sleep(6)        # a bootstrap at a large N takes seconds
        return analyze(*args, **kwargs)

    monkeypatch.setattr(sobol_analyze, "analyze", slow_analysis)
    assert_stopped(tmp_path, study_interrupted(tmp_path, 16, sent), 143, "terminated")


# ---------------------------------------------------------------------------------------------
# Every command, as a real process


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@pytest.fixture(scope="module")
def stored_run(tmp_path_factory) -> Path:
    return shared_point_run(tmp_path_factory, "interrupts-run", "--draws", "60000", "--paths",
                            "20")


# command -> (arguments, what the line says is left, the folder it would write in)
COMMANDS = {
    "run": (lambda run, tmp: ["run", BASELINE, "--draws", 3_000_000, "--out", tmp / "runs" / "r"],
            "no run directory was written", lambda run, tmp: tmp / "runs"),
    "sensitivity": (lambda run, tmp: ["sensitivity", BASELINE, "-N", 4096, "--out",
                                      tmp / "runs" / "s"],
                    "no study directory was written", lambda run, tmp: tmp / "runs"),
    "report": (lambda run, tmp: ["report", run, "--out", tmp / "out" / "report.html"],
               "no report was written", lambda run, tmp: tmp / "out"),
    "plot": (lambda run, tmp: ["plot", run, "--to", tmp / "out"], "no chart was written",
             lambda run, tmp: tmp / "out"),
    "compare": (lambda run, tmp: ["compare", run, run, run, run, "--out", tmp / "out"],
                "no comparison files were written", lambda run, tmp: tmp / "out"),
    "verify": (lambda run, tmp: ["verify", run], "nothing was verified (verify never writes)",
               lambda run, tmp: tmp / "out"),
}


def interrupted_after(process, cpu: float, signum: int) -> tuple[str, float]:
    """Send ``signum`` once ``process`` has used ``cpu`` seconds of CPU (a measure of its
    progress that a loaded machine does not distort): its stderr and the seconds it took
    from the signal to its end."""
    try:
        wait_for(lambda: cpu_seconds(process.pid) >= cpu, process, seconds=240)
        process.send_signal(signum)
        sent = time.monotonic()
        _, stderr = process.communicate(timeout=60)
        return stderr, time.monotonic() - sent
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()


@pytest.mark.slow
@pytest.mark.parametrize("signum,code,word", [(signal.SIGINT, 130, "interrupted"),
                                              (signal.SIGTERM, 143, "terminated")])
@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_long_command_stops_at_once_with_one_line(tmp_path, stored_run, command, signum,
                                                        code, word):
    arguments, left, folder = COMMANDS[command]
    run = tmp_path / "run"
    os.symlink(stored_run, run)           # the run folder the user named may be a link
    before = sorted(p.name for p in stored_run.iterdir())
    process = start_simcore(*arguments(run, tmp_path))
    # Past the start-up (imports, a second or so of CPU): in the middle of the work.
    stderr, seconds = interrupted_after(process, 2.0, signum)
    assert process.returncode == code, stderr
    assert stderr.splitlines() == [f"{word}: {left}"], stderr
    assert seconds < PROMPT, seconds
    out = folder(run, tmp_path)
    assert not out.exists() or list(out.iterdir()) == [], list(out.iterdir())
    assert sorted(p.name for p in stored_run.iterdir()) == before


# CPU seconds into a study of the baseline at -N 1024, measured with its stages timed: start-up
# to ~3.5, SALib's design to ~8, the model runs to ~10, then the bootstrap analyses on a thread
# pool (~35 s more). The study lost most Ctrl-Cs in the design (numpy swallowed them),
# and on SIGTERM during the analyses waited for the ones running (seconds each at a large N).
STUDY_STAGES = {"design, early": 5.0, "design, middle": 6.0, "design, late": 7.0,
                "model runs": 9.0, "analyses": 13.0}


@pytest.mark.slow
@pytest.mark.parametrize("stage", STUDY_STAGES)
def test_a_study_stops_at_once_wherever_ctrl_c_lands(tmp_path, stage):
    runs = tmp_path / "runs"
    process = start_simcore("sensitivity", BASELINE, "-N", 1024, "--no-charts", "--out",
                            runs / "s")
    stderr, seconds = interrupted_after(process, STUDY_STAGES[stage], signal.SIGINT)
    assert process.returncode == 130, stderr
    assert stderr.splitlines() == ["interrupted: no study directory was written"], stderr
    assert seconds < PROMPT, seconds
    assert not runs.exists() or list(runs.iterdir()) == [], list(runs.iterdir())
