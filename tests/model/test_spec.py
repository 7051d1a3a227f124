"""The model's spec: what derives from it (the kernel's event layout, the docs' tables, the
compiled code's cache), and optional drivers with a default."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import priorfiles as pf
import pytest
import xarray as xr
from click.testing import CliRunner

from simcore import model
from simcore.cli import main
from simcore.inputs.priors import load_priors
from simcore.model import doc_tables, kernel, spec
from simcore.run import engine, runfile

ROOT = Path(__file__).resolve().parents[2]


def test_the_docs_tables_are_the_specs():
    text = (ROOT / "docs" / "model.md").read_text(encoding="utf-8")
    assert doc_tables.render(text) == text, (
        "docs/model.md's generated tables differ from simcore/model/spec.py: run "
        "python -m simcore.model.doc_tables")


def test_a_rendered_table_names_every_declared_thing():
    tables = doc_tables.outputs_table() + doc_tables.events_table()
    for name in [*spec.OUTPUTS, *spec.EVENT_NAMES, *spec.BINDING_COLUMNS]:
        assert f"`{name}`" in tables, name
    assert all(r in doc_tables.requirement_gaps() for r in spec.REQUIREMENTS)


def test_event_columns_are_unpacked_to_their_events():
    """Column c of the kernel's event matrix holding the value c: every event gets its own
    declared columns, together they cover every column once, per-profile events get one
    column per profile."""
    n = 3
    matrix = np.tile(np.arange(spec.N_EVENT_COLUMNS, dtype=float), (n, 1))
    binding = np.tile(np.arange(spec.N_BINDING_COLUMNS, dtype=np.int8), (n, 1))
    events = model.unpack_events(matrix, binding)
    assert list(events) == [*spec.EVENT_NAMES, *spec.BINDING_COLUMNS]
    seen = []
    for event in spec.EVENT_SPECS:
        values = events[event.name]
        assert values.shape == ((n, len(spec.PROFILES)) if spec.per_profile(event) else (n,))
        seen += list(np.atleast_2d(values.T)[:, 0].astype(int))
    assert sorted(seen) == list(range(spec.N_EVENT_COLUMNS))
    assert np.shares_memory(events[spec.EVENT_NAMES[0]], matrix)


def test_binding_codes_name_the_conditions_in_order():
    for event in spec.BINDING_EVENTS:
        codes = {int(k): v for k, v in
                 json.loads(runfile.binding_attrs(event.binding)["codes"]).items()}
        assert codes[spec.ALREADY_MET] == spec.ALREADY_MET_LABEL
        assert [codes[i] for i in range(len(event.conditions))] == list(event.conditions)
    assert (spec.ALREADY_MET_LABEL, *spec.FULLY_AUTOMATIC) == spec.BINDING_LABELS


# --- numba's cache follows the spec -----------------------------------------------------------

def python(*args: str, cwd: Path, **env: str) -> str:
    done = subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, **env}, timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_compiled_code_is_rebuilt_when_the_spec_changes_and_only_then(tmp_path):
    """numba's cache is keyed by the source file of the compiled functions, not by the globals
    they froze from another module (the spec). refresh_stale_cache rebuilds them when the
    frozen key differs from the spec's, and leaves a good cache alone."""
    (tmp_path / "layout.py").write_text("KEY = 1\n")
    (tmp_path / "user.py").write_text(textwrap.dedent("""
        from numba import njit
        from simcore.model.kernel import refresh_stale_cache
        import layout
        KEY = layout.KEY

        @njit(cache=True)
        def compiled_key():
            return KEY

        @njit(cache=True)
        def rows():
            return KEY * 10

        refreshed = refresh_stale_cache(compiled_key, KEY, (compiled_key, rows))
        print(rows(), refreshed, sum(rows.stats.cache_hits.values()))
    """))
    assert python("user.py", cwd=tmp_path) == "10 False 0"      # compiled, cached
    (tmp_path / "layout.py").write_text("KEY = 2\n")             # the spec alone changes
    assert python("user.py", cwd=tmp_path) == "20 True 0"       # rebuilt, not the stale 10
    assert python("user.py", cwd=tmp_path) == "20 False 1"      # and cached again


def test_the_spec_key_is_the_same_in_every_process():
    """It must not depend on string hashing (a set's order), or every process would rebuild
    the kernel."""
    code = "from simcore.model import kernel; print(kernel.SPEC_KEY)"
    seed = "1" if os.environ.get("PYTHONHASHSEED") != "1" else "2"   # not this process's
    assert python("-c", code, cwd=ROOT, PYTHONHASHSEED=seed) == str(kernel.SPEC_KEY)


# --- optional drivers -------------------------------------------------------------------------

OPTIONAL = "free_withdrawal_hazard"   # made optional here, with 0 (never withdrawn) as default


@pytest.fixture()
def optional_driver(monkeypatch):
    monkeypatch.setitem(spec.DRIVER_DEFAULTS, OPTIONAL, 0.0)
    return OPTIONAL


def test_without_a_default_a_driver_left_out_is_refused(tmp_path):
    drivers = pf.point_drivers()
    del drivers[OPTIONAL]
    path = pf.write(tmp_path / "p.toml", drivers)
    with pytest.raises(Exception, match=f"{OPTIONAL}.*required by the model"):
        load_priors(path, required=set(model.MODEL_DRIVERS))


@pytest.mark.parametrize("backend", model.BACKENDS)
def test_a_driver_left_out_takes_its_default(optional_driver, backend):
    values = {name: np.array([v, v]) for name, v in pf.POINT_VALUES.items()}
    grid = model.Grid(np.linspace(0.0, 20.0, 81), 2026.0)
    clock = np.full((2, spec.MAX_REGIME_SWITCHES), 0.9)     # early withdrawals if any
    left_out = {k: v for k, v in values.items() if k != optional_driver}
    at_default = {**values, optional_driver: np.zeros(2)}
    a_traj, a_events = model.simulate(left_out, grid, clock, backend=backend)
    b_traj, b_events = model.simulate(at_default, grid, clock, backend=backend)
    c_traj, _ = model.simulate(values, grid, clock, backend=backend)
    for name in a_traj.log2:
        np.testing.assert_array_equal(a_traj.log2[name], b_traj.log2[name])
    for name in a_events:
        np.testing.assert_array_equal(a_events[name], b_events[name])
    assert any(not np.array_equal(a_traj.log2[s], c_traj.log2[s]) for s in a_traj.log2)


def test_a_run_leaving_out_an_optional_driver_is_the_run_at_its_default(optional_driver,
                                                                        tmp_path):
    """Same events and percentiles as a file fixing it at the default; not stored in /prior
    (it was not drawn); the run verifies."""
    drivers = pf.point_drivers(alg_halving_years=pf.entry("lognormal", median=0.8, low=0.4,
                                                          high=1.6))
    fixed = pf.write(tmp_path / "fixed.toml", {**drivers, optional_driver: pf.entry(
        "fixed", value=0.0)})
    del drivers[optional_driver]
    left_out = pf.write(tmp_path / "left_out.toml", drivers)
    required = set(model.MODEL_DRIVERS)
    a = engine.run_forecast(load_priors(left_out, required=required), 2000, seed=3, n_paths=5)
    b = engine.run_forecast(load_priors(fixed, required=required), 2000, seed=3, n_paths=5)
    assert optional_driver not in a.drivers and optional_driver in b.drivers
    for name in a.events:
        np.testing.assert_array_equal(a.events[name], b.events[name])
    for name in a.histograms:
        np.testing.assert_array_equal(a.histograms[name].counts, b.histograms[name].counts)

    out = tmp_path / "run"
    runner = CliRunner()
    result = runner.invoke(main, ["run", str(left_out), "--draws", "500", "--seed", "2",
                                  "--out", str(out), "--no-charts"])
    assert result.exit_code == 0, result.output
    stored = xr.open_dataset(out / "run.nc", group="prior")
    assert optional_driver not in stored.data_vars
    assert set(stored.data_vars) == set(load_priors(left_out, required=required).drivers)
    stored.close()
    result = runner.invoke(main, ["verify", str(out)])
    assert result.exit_code == 0, result.output
    assert "bit-identical" in result.output
