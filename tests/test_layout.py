"""The house rules that hold for the whole code base: the layers contract (each package imports
only from the packages below it, no circle), ruff's rule set, and modules of a readable size."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MAX_MODULE_LINES = 800


def _tool(name: str) -> str:
    """A console script of this environment (beside the interpreter running the tests)."""
    return str(Path(sys.executable).with_name(name))


def test_layers_contract_holds():
    done = subprocess.run([_tool("lint-imports"), "--no-logo", "--no-cache"], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "BROKEN" not in done.stdout and "0 broken" in done.stdout, done.stdout[-4000:]


def test_ruff_reports_nothing():
    done = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "."], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]


def test_no_module_is_over_800_lines():
    long = {str(p.relative_to(ROOT)): n for p in sorted((ROOT / "simcore").rglob("*.py"))
            if (n := len(p.read_text().splitlines())) > MAX_MODULE_LINES}
    assert not long, long
