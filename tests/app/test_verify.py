"""`simcore verify RUN_DIR`: recompute a run from its own manifest and prior copies."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import priorfiles as pf
import pytest
from clichecks import invoke, one_line_error

from simcore import model
from simcore.app.verify import compare_arrays
from simcore.run import engine
from simcore.stored import store

ROOT = Path(__file__).resolve().parents[2]
E = pf.entry


@pytest.fixture(scope="module")
def stored_run(tmp_path_factory) -> Path:
    """A scenario run (extends a base file, correlations, a driver too large for float32); the
    original prior files are deleted afterwards: verify must need only the run directory."""
    root = tmp_path_factory.mktemp("verify")
    priors = root / "priors"
    (priors / "scenarios").mkdir(parents=True)
    pf.write(priors / "base.toml", pf.point_drivers(
        alg_halving_years=E("lognormal", median=0.8, low=0.4, high=1.6),
        agent_doubling_years=E("uniform", low=0.3, high=0.6),
        individual_budget_usd=E("loguniform", low=1e30, high=1e60),
        local_hours_per_day=E("regimes", choices=[{"name": "a", "value": 4.0, "p": 0.4},
                                                  {"name": "b", "value": 8.0, "p": 0.6}])),
        correlations=[["alg_halving_years", "agent_doubling_years", 0.4]])
    (priors / "scenarios" / "slow.toml").write_text(
        '[meta]\nextends = "../base.toml"\ntitle = "slow"\n\n'
        "[drivers.alg_halving_years]\nmedian = 1.6\nlow = 0.8\nhigh = 3.2\n")
    out = root / "runs" / "r"
    result = invoke("run", priors / "scenarios" / "slow.toml", "--draws", 3000, "--seed", 5,
                    "--chunk-size", 700, "--paths", 7, "--out", out, "--no-charts")
    assert result.exit_code == 0, result.output
    shutil.rmtree(priors)
    return out


@pytest.fixture()
def run_copy(stored_run, tmp_path) -> Path:
    copy = tmp_path / "copy-of-run"
    shutil.copytree(stored_run, copy)
    return copy


def quiet_one_line_error(result, code: int, *words: str) -> str:
    """``one_line_error``, and nothing on stdout: verify prints no report it could not make."""
    line = one_line_error(result, code, *words)
    assert result.stdout == ""
    return line


def test_identical_run_is_reported_bit_identical(stored_run):
    before = {p: p.stat().st_mtime_ns for p in stored_run.rglob("*")}
    result = invoke("verify", stored_run)
    assert result.exit_code == 0, result.output
    assert "bit-identical: run.nc (" in result.stdout
    for name in ("percentiles.csv", "events.csv", "events_summary.csv", "binding.csv"):
        assert name in result.stdout
    assert "DIFFERENT" not in result.stdout
    # verify writes nothing, neither in the run nor next to it
    assert {p: p.stat().st_mtime_ns for p in stored_run.rglob("*")} == before
    assert sorted(p.name for p in stored_run.parent.iterdir()) == ["r"]


def test_prior_copies_keep_layout_and_drivers_keep_precision(stored_run):
    manifest = json.loads((stored_run / "manifest.json").read_text())
    assert [f["copy"] for f in manifest["prior_files"]] == ["priors/base.toml",
                                                            "priors/scenarios/slow.toml"]
    tree = store.load_run(stored_run)
    assert tree["prior"]["alg_halving_years"].dtype == np.float32
    # 1e30..1e60 does not fit float32: stored as float64 rather than as inf
    assert tree["prior"]["individual_budget_usd"].dtype == np.float64
    assert np.isfinite(tree["prior"]["individual_budget_usd"].values).all()


def test_moved_run_still_verifies(run_copy):
    result = invoke("verify", run_copy)
    assert result.exit_code == 0, result.output


def test_edited_csv_is_located_with_its_largest_difference(run_copy):
    path = run_copy / "percentiles.csv"
    lines = path.read_text().splitlines()
    head, _, value = lines[10].rpartition(",")
    lines[10] = f"{head},{float(value) + 0.5!r}"
    path.write_text("\n".join(lines) + "\n")
    result = invoke("verify", run_copy)
    assert result.exit_code == 1, result.output
    assert "DIFFERENT" in result.stdout
    assert "percentiles.csv: 1 of " in result.stdout
    assert "value: max abs difference 0.5" in result.stdout
    assert "events.csv" not in result.stdout.split("DIFFERENT")[1]


def test_edited_run_nc_value_is_located_at_stored_precision(run_copy):
    with h5py.File(run_copy / "run.nc", "r+") as handle:
        data = handle["prior/alg_halving_years"]
        data[3] = np.float32(data[3]) + np.float32(0.25)
    result = invoke("verify", run_copy)
    assert result.exit_code == 1, result.output
    assert "run.nc /prior/alg_halving_years: 1 of 3,000 values differ, max abs difference 0.25" \
        in result.stdout


def test_deleted_csv_is_reported_missing(run_copy):
    (run_copy / "binding.csv").unlink()
    result = invoke("verify", run_copy)
    assert result.exit_code == 1
    assert "binding.csv: missing" in result.stdout


def test_changed_seed_in_manifest_differs_everywhere(run_copy):
    path = run_copy / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["seed"] = 6
    path.write_text(json.dumps(manifest))
    result = invoke("verify", run_copy)
    assert result.exit_code == 1
    assert "seed is 5, the manifest says 6" in result.stdout
    assert "run.nc /prior/alg_halving_years: 3,000 of 3,000 values differ" in result.stdout


def test_edited_prior_copy_is_refused(run_copy):
    with (run_copy / "priors" / "base.toml").open("a") as handle:
        handle.write("# edited after the run\n")
    quiet_one_line_error(invoke("verify", run_copy), 2,
                         "priors/base.toml: SHA-256 differs from the manifest")


def test_missing_prior_copy_is_refused(run_copy):
    (run_copy / "priors" / "scenarios" / "slow.toml").unlink()
    quiet_one_line_error(invoke("verify", run_copy), 2, "slow.toml: missing")


@pytest.mark.parametrize("damage,words", [
    (lambda run: (run / "manifest.json").unlink(), "no manifest.json"),
    (lambda run: (run / "manifest.json").write_text("{not json"), "not valid JSON"),
    (lambda run: (run / "manifest.json").write_text("[1, 2]"), "must hold a JSON object"),
    (lambda run: (run / "manifest.json").write_bytes(b"\xff\xfe"), "not UTF-8"),
    (lambda run: (run / "run.nc").unlink(), "run.nc: missing"),
    (lambda run: (run / "run.nc").write_bytes(b"not a netCDF file"), "run.nc: cannot be read"),
])
def test_damaged_run_directory_is_one_line_exit_2(run_copy, damage, words):
    damage(run_copy)
    quiet_one_line_error(invoke("verify", run_copy), 2, words)


@pytest.mark.parametrize("key,value,words", [
    ("seed", "5", "seed: must be an integer"),
    ("draws", 0, "draws: must be an integer from 1 to"),
    ("draws", 10**30, "draws: must be an integer from 1 to 1,000,000,000,000"),
    ("seed", 2**70, "seed: must be an integer from 0 to"),
    ("stored_paths", -1, "stored_paths: must be an integer from 0 to"),
    ("chunk_size", True, "chunk_size: must be an integer"),
    ("prior_files", [], "prior_files: must be a list"),
])
def test_bad_manifest_fields_are_one_line_exit_2(run_copy, key, value, words):
    path = run_copy / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest[key] = value
    path.write_text(json.dumps(manifest))
    quiet_one_line_error(invoke("verify", run_copy), 2, words)


def test_manifest_cannot_point_outside_the_run(run_copy):
    path = run_copy / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["prior_files"][0]["copy"] = "../../../../etc/passwd"
    path.write_text(json.dumps(manifest))
    quiet_one_line_error(invoke("verify", run_copy), 2, "is outside the run's priors/ folder")


def test_old_flat_layout_of_a_chain_cannot_be_recomputed(run_copy):
    path = run_copy / "manifest.json"
    manifest = json.loads(path.read_text())
    for entry in manifest["prior_files"]:
        del entry["copy"]
    path.write_text(json.dumps(manifest))
    quiet_one_line_error(invoke("verify", run_copy), 2, "older simcore")


@pytest.mark.parametrize("version", [None, 1, 99, "two"])
def test_a_run_of_another_model_version_is_one_line_exit_1(run_copy, version):
    """A run made by an older model (no model_version: version 1) or another one is not
    recomputed with this model's equations: one line saying so, exit 1 as for a mismatch."""
    path = run_copy / "manifest.json"
    manifest = json.loads(path.read_text())
    assert manifest["model_version"] == model.spec.MODEL_VERSION
    if version is None:
        del manifest["model_version"]
    else:
        manifest["model_version"] = version
    path.write_text(json.dumps(manifest))
    quiet_one_line_error(invoke("verify", run_copy), 1, "made by simcore model version",
                         f"this is model version {model.spec.MODEL_VERSION}")


def test_not_a_run_directory(tmp_path):
    quiet_one_line_error(invoke("verify", tmp_path / "nope"), 2, "no such run directory")
    (tmp_path / "file").write_text("x")
    quiet_one_line_error(invoke("verify", tmp_path / "file"), 2, "not a folder")
    quiet_one_line_error(invoke("verify", tmp_path), 2, "no manifest.json")


def test_interrupted_verify_exits_130(stored_run, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(engine, "run_forecast", interrupted)
    result = invoke("verify", stored_run)
    assert result.exit_code == 130
    assert result.stderr == "interrupted: nothing was verified (verify never writes)\n"


@pytest.mark.slow
def test_verify_as_a_command(stored_run, tmp_path):
    done = subprocess.run([sys.executable, "-m", "simcore", "verify", str(stored_run)],
                          capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert "bit-identical" in done.stdout and done.stderr == ""
    done = subprocess.run([sys.executable, "-m", "simcore", "verify", str(tmp_path)],
                          capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.splitlines() == [f"error: {tmp_path}: no manifest.json; not a simcore "
                                        "run directory"]


def test_compare_arrays_is_bitwise_at_the_stored_precision():
    a = np.array([1.0, np.inf, np.nan, 0.0], dtype=np.float32)
    assert compare_arrays(a, a.astype(np.float64)) is None       # recomputed float64, stored f32
    assert compare_arrays(a, np.array([1.0, np.inf, np.nan, -0.0])) == (
        "1 of 4 values differ, max abs difference 0")            # -0.0 is not bit-identical
    assert compare_arrays(a, np.array([1.0, 5.0, np.nan, 0.0])) == (
        "1 of 4 values differ, max abs difference inf")
    assert compare_arrays(np.arange(3), np.arange(4)) == "shape (3,) stored, (4,) recomputed"
    assert compare_arrays(np.array(["a", "b"]), np.array(["a", "c"])) == "1 of 2 values differ"
    x = np.float64(1.0) + np.float64(2.0) ** -30                 # equal once rounded to float32
    assert compare_arrays(np.array([1.0], dtype=np.float32), np.array([x])) is None
