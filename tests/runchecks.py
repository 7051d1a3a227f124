"""Checks of a whole run shared by the tests of bad, extreme and fuzzed inputs: the summary
tables are finite or explicitly censored, the run directory is complete."""


import io
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import priorfiles as pf
from clichecks import invoke, partial_dirs

from simcore.analysis import tables
from simcore.app import pipeline
from simcore.faces.answer import summary_text
from simcore.model import DRIVER_DOMAINS, MODEL_DRIVERS
from simcore.model.spec import BINDING_COLUMNS
from simcore.run import engine
from simcore.stored import store

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "priors" / "baseline.toml"
REQUIRED = set(MODEL_DRIVERS)


E = pf.entry


def valid_text(**overrides) -> str:
    return pf.render(pf.point_drivers(**overrides))



# ---------------------------------------------------------------------------------------------
# Helpers: run the CLI in-process and check the contract


def run_ok(prior: Path, out: Path, *extra) -> "click.testing.Result":  # noqa: F821
    result = invoke("run", prior, "--draws", 200, "--paths", 5, "--out", out, "--no-charts",
                    *extra)
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"exception escaped: {result.exception!r}\n{result.output}")
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output and "nan" not in result.output.lower()
    assert not partial_dirs(out.parent)
    return result


NOT_BY = re.compile(r"^not by \d{4}$")
# The summary tables of every run (other CSV files, e.g. sensitivity's, have their own tests).
CORE_TABLES = ("percentiles.csv", "events.csv", "events_summary.csv", "binding.csv")


def assert_clean_csvs(out: Path) -> None:
    """No NaN or empty cell in the summary CSVs, no 'nan' in any CSV; event quantiles finite
    years or 'not by YYYY'."""
    for path in sorted(out.glob("*.csv")):
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
        for column in table.columns:
            cells = table[column]
            if path.name in CORE_TABLES:
                assert not (cells == "").any(), (path.name, column)
            assert not cells.str.lower().isin(["nan", "-nan", "none", "null"]).any(), (
                path.name, column)
    summary = pd.read_csv(out / "events_summary.csv", dtype=str, keep_default_na=False)
    for value in summary[["p10", "p50", "p90"]].to_numpy().ravel():
        assert NOT_BY.match(value) or math.isfinite(float(value)), value
    for value in summary.p50_mcse_years:
        assert value == tables.CENSORED or float(value) >= 0.0, value
    events = pd.read_csv(out / "events.csv")
    assert events.p_by.between(0.0, 1.0).all()
    binding = pd.read_csv(out / "binding.csv")
    assert binding.share.between(0.0, 1.0).all()


def assert_clean_run_dir(out: Path) -> None:
    assert_clean_csvs(out)
    tree = store.load_run(out)
    for group in ("prior", "events", "trajectories"):
        for name, variable in tree[group].to_dataset().data_vars.items():
            assert not np.isnan(variable.values.astype(float)).any(), (group, name)
    for name, variable in tree["prior"].to_dataset().data_vars.items():
        assert np.isfinite(variable.values).all(), name


def assert_clean_result(result: engine.RunResult) -> None:
    """The in-memory equivalent of assert_clean_run_dir (no netCDF writing: fast for fuzzing)."""
    horizon = result.horizon_year
    start = float(result.time_abs[0])
    for name, values in result.drivers.items():
        assert np.isfinite(values).all(), name
        domain = DRIVER_DOMAINS[name]
        assert all(domain.contains(v) for v in (values.min(), values.max())), name
    for name, times in result.events.items():
        if name in BINDING_COLUMNS:
            continue
        assert not np.isnan(times).any(), name
        finite = times[np.isfinite(times)]
        assert np.all((finite >= start) & (finite <= horizon)), name
        assert np.all(times[~np.isfinite(times)] == np.inf), name
    for name, hist in result.histograms.items():
        assert (hist.counts.sum(axis=1) == result.draws).all(), name
    for name, paths in result.paths.items():
        assert not np.isnan(paths).any(), name
    buffer = {file: pipeline.CSV_TABLES[file](result).to_csv(index=False) for file in CORE_TABLES}
    # Same checks as on disk, on the CSV text.
    for file, text in buffer.items():
        table = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
        for column in table.columns:
            assert not (table[column] == "").any(), (file, column)
            assert not table[column].str.lower().isin(["nan", "-nan"]).any(), (file, column)
    summary = pd.read_csv(io.StringIO(buffer["events_summary.csv"]), dtype=str,
                          keep_default_na=False)
    for value in summary[["p10", "p50", "p90"]].to_numpy().ravel():
        assert NOT_BY.match(value) or start - 0.005 <= float(value) <= horizon + 0.005, value
    text = summary_text(result)
    assert "nan" not in text.lower(), text


# Extreme but valid values: each must give a clean run (tests/app/test_extreme_values.py).
EXTREME_VALID = {
    "doubling_times_of_days": dict(hw_doubling_years=1 / 365, alg_halving_years=2 / 365,
                                   consumer_hw_doubling_years=3 / 365,
                                   coherent_shot_doubling_years=1 / 365,
                                   cut_break_halving_years=1 / 365, agent_doubling_years=1 / 365,
                                   dialogue_error_halving_years=1 / 365,
                                   overgeneration_halving_years=1 / 365),
    "doubling_times_of_centuries": dict(hw_doubling_years=300.0, alg_halving_years=500.0,
                                        consumer_hw_doubling_years=200.0,
                                        coherent_shot_doubling_years=400.0,
                                        cut_break_halving_years=1000.0,
                                        agent_doubling_years=300.0,
                                        dialogue_error_halving_years=300.0),
    "probabilities_0_and_1": dict(stall_occurs=E("bernoulli", p=1.0),
                                  cut_break_probability_today=1.0,
                                  dialogue_error_probability_today=1.0,
                                  free_passthrough_elasticity=0.0, free_withdrawal_hazard=0.0,
                                  free_withdrawn_residual=1.0),
    "stall_never": dict(stall_occurs=E("bernoulli", p=0.0)),
    "elasticity_one_hazards_high": dict(free_passthrough_elasticity=1.0,
                                        free_withdrawal_hazard=50.0, free_relaunch_hazard=50.0),
    "intervals_spanning_20_orders": dict(
        compute_per_video_second_floor=E("loguniform", low=1e-10, high=1e10),
        compute_per_video_second_today=E("lognormal", median=1.0, low=1e-10, high=1e10),
        free_user_value_usd_per_month=E("lognormal", median=1e3, low=1e-7, high=1e13,
                                        interval=0.98),
        individual_budget_usd=E("loguniform", low=1.0, high=1e20)),
    "tiny_and_huge_values": dict(free_daily_use_cap_seconds=1e-90, gaming_pc_h100_equiv=1e90,
                                 individual_budget_usd=1e99, cut_break_probability_today=1e-99,
                                 film_length_seconds=1e-99),
    "zero_recalls_and_starts": dict(judge_recall_today=0.0, human_review_recall=0.0,
                                    stall_start_years=0.0,
                                    hw_slowdown_start_years=0.0, npu_feasible_years=-5.0),
    "regime_with_zero_probability": dict(local_hours_per_day=E("regimes", choices=[
        {"name": "never", "value": 24.0, "p": 0.0}, {"name": "always", "value": 0.5, "p": 1.0}])),
    "perfect_recalls_certain_errors": dict(judge_recall_today=1.0, human_review_recall=1.0,
                                           cut_break_probability_today=1.0,
                                           cut_break_probability_floor=1.0,
                                           max_takes_per_unit=1e90),
    "normal_far_from_zero": dict(hw_doubling_years=E("normal", mean=2.0, sd=0.2)),
    "everything_extreme_at_once": dict(
        hw_doubling_years=1 / 365, hw_slowdown_factor=1e-6, stall_slowdown_factor=1e-9,
        stall_occurs=1.0, stall_start_years=0.0, alg_halving_years=1e-3,
        consumer_hw_doubling_years=1e-3, compute_per_video_second_floor=1e-90,
        judge_miss_halving_years=1e-3, energy_efficiency_doubling_years=1e-3,
        free_passthrough_elasticity=0.0, free_withdrawn_residual=1e-90),
}
