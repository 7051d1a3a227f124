"""Assertions shared by the tests of the commands that read a run directory (report, compare)."""

from __future__ import annotations

from pathlib import Path


def assert_rejected(result, out: Path, *words: str) -> None:
    """Bad input: one line on stderr naming the problem, exit 2, nothing written (not even a
    hidden temporary file beside ``out``)."""
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        repr(result.exception))
    assert result.exit_code == 2, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for word in words:
        assert word in lines[0], lines[0]
    assert not out.exists()
    if out.parent.exists():
        assert not [p for p in out.parent.iterdir() if p.name.startswith(".")]
