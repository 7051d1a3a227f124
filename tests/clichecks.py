"""Assertions shared by the tests of the commands that read a run directory (report, compare),
and the console script run in a child process (real signals, real file systems)."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from click.testing import CliRunner, Result

from simcore.cli import main


def invoke(*args) -> Result:
    """``simcore ARGS`` in this process, through click's runner (arguments as strings)."""
    return CliRunner().invoke(main, [str(a) for a in args])


def partial_dirs(folder: Path) -> list[Path]:
    """Hidden entries of ``folder`` (staging folders a failed command must not leave)."""
    return [p for p in folder.iterdir() if p.name.startswith(".")] if folder.is_dir() else []


def one_line_error(result: Result, code: int, *words: str) -> str:
    """Exit ``code`` with exactly one line on stderr, ``error: ...`` holding ``words``, and no
    exception escaped (no traceback)."""
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"exception escaped: {result.exception!r}\n{result.output}")
    assert result.exit_code == code, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.output
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


def report_section(run_dir: Path, out: Path, section_id: str) -> str:
    """``simcore report RUN_DIR --out OUT`` (must succeed); the HTML of its section
    ``section_id``."""
    done = invoke("report", run_dir, "--out", out)
    assert done.exit_code == 0, done.output
    page = out.read_text()
    section = page[page.index(f'id="{section_id}"'):]
    return section[:section.index("</section>")]


def assert_rejected(result: Result, out: Path, *words: str, code: int = 2) -> str:
    """Bad input: one line on stderr naming the problem, exit ``code``, nothing written (not
    even a hidden temporary file beside ``out``)."""
    line = one_line_error(result, code, *words)
    assert not out.exists(), f"{out} was written"
    assert not partial_dirs(out.parent), partial_dirs(out.parent)
    return line


# ---------------------------------------------------------------------------------------------
# The console script in a child process

ROOT = Path(__file__).resolve().parents[1]
# What the console script runs; SIGINT restored first: a shell that starts jobs in the
# background makes them ignore SIGINT, and Python keeps an inherited SIG_IGN, so a test run in
# the background would otherwise never see Ctrl-C reach simcore.
_ENTRY = ("import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
          "sys.argv[0] = 'simcore'; from simcore.cli import entry; entry()")


def start_simcore(*args, cwd: Path = ROOT, env: dict | None = None,
                  memory_limit: int | None = None) -> subprocess.Popen:
    """``simcore ARGS`` as the console script runs it, in a child process (text output), its
    address space limited to ``memory_limit`` bytes if given (a reader that never stops
    reading then fails instead of taking the machine's memory)."""
    entry = _ENTRY if memory_limit is None else (
        f"import resource; resource.setrlimit(resource.RLIMIT_AS, ({memory_limit}, "
        f"{memory_limit})); {_ENTRY}")
    return subprocess.Popen([sys.executable, "-c", entry, *map(str, args)], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def run_simcore(*args, cwd: Path = ROOT, env: dict | None = None, timeout: float = 300,
                memory_limit: int | None = None) -> subprocess.CompletedProcess:
    """``simcore ARGS`` run to the end in a child process (killed after ``timeout``)."""
    process = start_simcore(*args, cwd=cwd, env=env, memory_limit=memory_limit)
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        stdout, stderr = process.communicate()
        raise AssertionError(f"simcore {' '.join(map(str, args))} did not end in {timeout} s: "
                             f"{stderr[-2000:]}") from None
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def assert_one_line_exit(done: subprocess.CompletedProcess, code: int, *words: str) -> str:
    """Exit ``code`` with exactly one line on stderr (no traceback) holding ``words``."""
    lines = done.stderr.splitlines()
    assert done.returncode == code and len(lines) == 1, (done.returncode, done.stderr[-3000:])
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


def wait_for(condition, process: subprocess.Popen, seconds: float = 120) -> None:
    """Poll ``condition`` until it holds; fail if ``process`` ends first or it takes longer."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the process never reached that stage"
        time.sleep(0.02)


def hidden_entries(folder: Path) -> list[str]:
    """What a failed or interrupted command must not leave: hidden staging files or folders."""
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".")) \
        if folder.is_dir() else []


def free_port() -> int:
    """A TCP port of 127.0.0.1 nobody listens on (until someone takes it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def interrupted_when(process: subprocess.Popen, condition, seconds: float = 300) -> str:
    """Ctrl-C (SIGINT) to ``process`` once ``condition()`` holds; its stderr once it has
    ended (killed if it does not end within 120 s of the signal)."""
    try:
        wait_for(condition, process, seconds)
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    return stderr
