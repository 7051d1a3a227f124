"""Hardening (issue 6): hostile prior files, numerical extremes, fuzzing, runs never lost.

Contract for any prior file: either a valid run whose outputs are finite or explicitly censored
(no NaN anywhere in a CSV summary; event times finite or "not by"), or exit status 2 with exactly
one line on stderr: never a traceback, never a partial run directory. Almost everything runs
in-process through click's CliRunner; test_signals.py-style subprocess cases are at the end.
"""

from __future__ import annotations

import errno
import io
import itertools
import math
import os
import re
import signal
import subprocess
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import priorfiles as pf
from clichecks import run_simcore, start_simcore, wait_for
from simcore import engine, plotting, runfile, store, tables
from simcore.answer import summary_text
from simcore.cli import main
from simcore.errors import PriorError
from simcore.model import DRIVER_ORDER
from simcore.model import DRIVER_DOMAINS, DRIVER_MAGNITUDE_LIMIT, MODEL_DRIVERS
from simcore.priors import load_priors

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "priors" / "baseline.toml"
REQUIRED = set(MODEL_DRIVERS)
E = pf.entry


def valid_text(**overrides) -> str:
    return pf.render(pf.point_drivers(**overrides))


# ---------------------------------------------------------------------------------------------
# Helpers: run the CLI in-process and check the contract


def invoke(*args) -> "click.testing.Result":  # noqa: F821
    return CliRunner().invoke(main, [str(a) for a in args])


def partial_dirs(folder: Path) -> list[Path]:
    return [p for p in folder.iterdir() if p.name.startswith(".")] if folder.is_dir() else []


def assert_rejected(result, out: Path, *words: str, code: int = 2) -> str:
    """Exit ``code``, exactly one stderr line, no traceback, nothing written."""
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"exception escaped: {result.exception!r}\n{result.output}")
    assert result.exit_code == code, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: "), lines
    assert "Traceback" not in result.output
    for word in words:
        assert word in lines[0], lines[0]
    assert not out.exists(), f"{out} was written"
    assert not partial_dirs(out.parent), partial_dirs(out.parent)
    return lines[0]


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
        if name == "novel_to_movie_binding":
            continue
        assert not np.isnan(times).any(), name
        finite = times[np.isfinite(times)]
        assert np.all((finite >= start) & (finite <= horizon)), name
        assert np.all(times[~np.isfinite(times)] == np.inf), name
    for name, hist in result.histograms.items():
        assert (hist.counts.sum(axis=1) == result.draws).all(), name
    for name, paths in result.paths.items():
        assert not np.isnan(paths).any(), name
    buffer = {file: store.CSV_TABLES[file](result).to_csv(index=False) for file in CORE_TABLES}
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


# ---------------------------------------------------------------------------------------------
# 1. Bad input: every case of the issue (and more), one line each, exit 2, nothing written

def _chain_files(folder: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)


def _without(text: str, line: str) -> str:
    assert line in text
    return text.replace(line, "", 1)


_ONE_SOURCE = ('sources = [{title = "test fixture", url = "https://example.org/fixture", '
               'date = "2026-11"}]\n')

# name -> (content: str | bytes | dict of extra files with "bad.toml" the one run,
#          the 'file: entry.field: ' location expected or None, words expected)
BAD_CASES = {
    # --- the file itself
    "malformed_toml": (valid_text() + "\n[drivers.x\n", None, "malformed TOML"),
    "table_declared_twice": (valid_text() + "\n[drivers.alg_halving_years]\nvalue = 1.0\n",
                             None, "malformed TOML"),
    "empty_file": ("", None, "file is empty"),
    "whitespace_only": ("  \n\t\n", None, "file is empty"),
    "comments_only": ("# just a comment\n", None, "no tables"),
    "not_utf8_latin1": (valid_text().encode() + "# caf\xe9\n".encode("latin-1"), None,
                        "not UTF-8"),
    "utf16": (valid_text().encode("utf-16"), None, "not UTF-8"),
    "nul_byte": (valid_text().encode() + b"\x00\n", None, "malformed TOML"),
    "very_large": (valid_text() + "#" * 1_000_001 + "\n", None, "larger than 1,000,000 bytes"),
    "deeply_nested": ("a = " + "[" * 50_000 + "]" * 50_000 + "\n", None, "nested too deeply"),
    "unknown_top_level_table": (valid_text() + "\n[metadata]\nx = 1\n", "metadata",
                                "unknown top-level table"),
    # --- [meta]
    "meta_typo": (pf.render(pf.point_drivers(), meta={"horizon_yeras": 20}),
                  "meta.horizon_yeras", "did you mean 'horizon_years'"),
    "meta_missing_as_of": (_without(valid_text(), 'as_of = "2026-11"\n'), "meta.as_of",
                           "required field is missing"),
    "as_of_unquoted_date": (valid_text().replace('as_of = "2026-11"', "as_of = 2026-11-01"),
                            "meta.as_of", "must be a quoted string, got a date"),
    "as_of_not_a_date": (pf.render(pf.point_drivers(), meta={"as_of": "2026-13"}),
                         "meta.as_of", "not a real date"),
    "horizon_as_string": (pf.render(pf.point_drivers(), meta={"horizon_years": "20"}),
                          "meta.horizon_years", "must be a number, got a string '20'"),
    "horizon_zero": (pf.render(pf.point_drivers(), meta={"horizon_years": 0}),
                     "meta.horizon_years", "greater than 0"),
    "grid_too_fine": (pf.render(pf.point_drivers(), meta={"time_step_years": 1e-6}),
                      "meta.time_step_years", "1 to 600 grid steps"),
    "step_longer_than_horizon": (pf.render(pf.point_drivers(), meta={"horizon_years": 1,
                                                                      "time_step_years": 4}),
                                 "meta.time_step_years", "grid steps"),
    "horizon_not_whole_steps": (pf.render(pf.point_drivers(), meta={"horizon_years": 20,
                                                                     "time_step_years": 3}),
                                "meta.horizon_years", "not a whole number of time steps"),
    "horizon_under_a_year": (pf.render(pf.point_drivers(), meta={"horizon_years": 0.5,
                                                                  "time_step_years": 0.25}),
                             "meta.horizon_years", "at least 1 year"),
    # --- driver entries: keys and types
    "unknown_family": (valid_text(alg_halving_years=E("gamma", shape=2.0)),
                       "drivers.alg_halving_years.family", "unknown family 'gamma'"),
    "missing_family": (valid_text(alg_halving_years={k: v for k, v in E("fixed", value=1.0)
                                                     .items() if k != "family"}),
                       "drivers.alg_halving_years.family", "required field is missing"),
    "typo_meidan": (valid_text(alg_halving_years=E("lognormal", meidan=1.0, low=0.5, high=2.0)),
                    "drivers.alg_halving_years.meidan", "unknown key"),
    "missing_parameter": (valid_text(alg_halving_years=E("lognormal", median=1.0, high=2.0)),
                          "drivers.alg_halving_years.low", "required field is missing"),
    "number_as_string": (valid_text(alg_halving_years=E("lognormal", median="0.8", low=0.4,
                                                        high=1.6)),
                         "drivers.alg_halving_years.median",
                         "must be a number, got a string '0.8'"),
    "boolean_for_number": (valid_text(alg_halving_years=E("fixed", value=True)),
                           "drivers.alg_halving_years.value", "must be a number, got a boolean"),
    "boolean_for_probability": (valid_text(stall_occurs=E("bernoulli", p=True)),
                                "drivers.stall_occurs.p", "got a boolean"),
    "array_for_number": (valid_text(alg_halving_years=E("fixed", value=[1.0])),
                         "drivers.alg_halving_years.value", "got an array"),
    "number_for_driver_table": (valid_text() + "\n[drivers]\nextra = 5\n",
                                "drivers.extra", "must be a table"),
    "integer_for_string": (valid_text(alg_halving_years={**E("fixed", value=1.0), "unit": 5}),
                           "drivers.alg_halving_years.unit", "must be a quoted string"),
    "missing_sources": (valid_text().replace(
        "value = 2.3\nunit = \"u\"\ndescription = \"d\"\nrationale = \"r\"\n" + _ONE_SOURCE,
        "value = 2.3\nunit = \"u\"\ndescription = \"d\"\nrationale = \"r\"\n", 1),
        "drivers.hw_doubling_years.sources", "required field is missing"),
    "source_url_not_http": (valid_text(alg_halving_years={**E("fixed", value=1.0), "sources": [
        {**pf.SOURCE, "url": "javascript:alert(1)"}]}),
        "drivers.alg_halving_years.sources.0.url", "pattern"),
    "source_date_not_on_the_calendar": (valid_text(alg_halving_years={
        **E("fixed", value=1.0), "sources": [{**pf.SOURCE, "date": "2019-13-45"}]}),
        "drivers.alg_halving_years.sources.0.date", "not a real date"),
    # TOML's own escape: the parser then hands over a string holding NUL.
    "nul_in_unit": (valid_text(alg_halving_years={**E("fixed", value=1.0), "unit": "s@NUL"})
                    .replace("@NUL", "\\u0000"), "drivers.alg_halving_years.unit", "NUL"),
    "nul_in_description": (valid_text(alg_halving_years={**E("fixed", value=1.0),
                                                         "description": "a@NULb"})
                           .replace("@NUL", "\\u0000"),
                           "drivers.alg_halving_years.description", "NUL"),
    "integer_beyond_float": (valid_text(alg_halving_years=E("fixed", value=10**400)),
                             "drivers.alg_halving_years.value", "too large"),
    # --- non-finite numbers
    "inf": (valid_text(alg_halving_years=E("fixed", value=math.inf)),
            "drivers.alg_halving_years.value", "finite"),
    "nan": (valid_text(alg_halving_years=E("lognormal", median=math.nan, low=0.4, high=1.6)),
            "drivers.alg_halving_years.median", "finite"),
    "overflowing_literal": (valid_text().replace("value = 2.3\n", "value = 1e400\n", 1),
                            "drivers.hw_doubling_years.value", "finite"),
    # --- intervals and parameters
    "uniform_low_above_high": (valid_text(hw_slowdown_start_years=E("uniform", low=3.0,
                                                                    high=1.0)),
                               "drivers.hw_slowdown_start_years", "below high"),
    "lognormal_out_of_order": (valid_text(alg_halving_years=E("lognormal", median=5.0, low=1.0,
                                                              high=2.0)),
                               "drivers.alg_halving_years", "low < median < high"),
    "triangular_mode_outside": (valid_text(rental_premium=E("triangular", low=1.0, mode=2.0,
                                                            high=1.5)),
                                "drivers.rental_premium", "low <= mode <= high"),
    "interval_zero": (valid_text(alg_halving_years=E("lognormal", median=0.8, low=0.4, high=1.6,
                                                     interval=0.0)),
                      "drivers.alg_halving_years.interval", "greater than or equal to"),
    "interval_one": (valid_text(alg_halving_years=E("lognormal", median=0.8, low=0.4, high=1.6,
                                                    interval=1.0)),
                     "drivers.alg_halving_years.interval", "less than or equal to"),
    "negative_sd": (valid_text(npu_feasible_years=E("normal", mean=1.0, sd=-1.0)),
                    "drivers.npu_feasible_years.sd", "greater than 0"),
    "normal_two_parametrisations": (valid_text(npu_feasible_years=E("normal", mean=1.0, sd=1.0,
                                                                    low=0.0, high=2.0)),
                                    "drivers.npu_feasible_years", "give either"),
    "lognormal_low_zero": (valid_text(alg_halving_years=E("lognormal", low=0.0, high=1.0)),
                           "drivers.alg_halving_years.low", "greater than 0"),
    "pert_lambda_zero": (valid_text(rental_premium=E("pert", low=1.0, mode=1.2, high=1.5,
                                                     **{"lambda": 0.0})),
                         "drivers.rental_premium.lambda", "greater than 0"),
    "beta_alpha_zero": (valid_text(free_passthrough_elasticity=E("beta", alpha=0.0, beta=2.0)),
                        "drivers.free_passthrough_elasticity.alpha", "greater than 0"),
    # --- probabilities
    "probability_above_one": (valid_text(stall_occurs=E("bernoulli", p=1.5)),
                              "drivers.stall_occurs.p", "less than or equal to 1"),
    "probability_negative": (valid_text(stall_occurs=E("bernoulli", p=-0.1)),
                             "drivers.stall_occurs.p", "greater than or equal to 0"),
    "regime_probability_negative": (valid_text(open_weights_lag=E("regimes", choices=[
        {"name": "a", "value": 1.0, "p": 1.5}, {"name": "b", "value": 2.0, "p": -0.5}])),
        "drivers.open_weights_lag.choices.0.p", "less than or equal to 1"),
    "regimes_not_summing_to_one": (valid_text(open_weights_lag=E("regimes", choices=[
        {"name": "a", "value": 1.0, "p": 0.5}, {"name": "b", "value": 2.0, "p": 0.4}])),
        "drivers.open_weights_lag.choices", "sum to 0.9, not 1"),
    "regimes_duplicate_names": (valid_text(open_weights_lag=E("regimes", choices=[
        {"name": "a", "value": 1.0, "p": 0.5}, {"name": "a", "value": 2.0, "p": 0.5}])),
        "drivers.open_weights_lag.choices", "distinct"),
    "regimes_empty": (valid_text(open_weights_lag=E("regimes", choices=[])),
                      "drivers.open_weights_lag.choices", "at least 1 item"),
    # --- driver names
    "unknown_driver": (valid_text(alg_halving_yeras=E("fixed", value=1.0)),
                       "drivers.alg_halving_yeras", "did you mean 'alg_halving_years'"),
    "missing_driver": (pf.render({k: v for k, v in pf.point_drivers().items()
                                  if k != "price_markup"}),
                       "drivers.price_markup", "required by the model"),
    "control_characters_in_name": (valid_text() + '\n[drivers."evil\\u001b[31m\\nname"]\n'
                                   'value = 1\n', None, "unknown driver"),
    # --- correlations
    "correlation_above_one": (pf.render(pf.point_drivers(
        alg_halving_years=E("uniform", low=0.5, high=1.0),
        agent_doubling_years=E("uniform", low=0.3, high=0.6)),
        correlations=[["alg_halving_years", "agent_doubling_years", 1.5]]),
        "correlations.pairs[0]", "outside [-1, 1]"),
    "correlation_nan": (pf.render(pf.point_drivers(
        alg_halving_years=E("uniform", low=0.5, high=1.0),
        agent_doubling_years=E("uniform", low=0.3, high=0.6)),
        correlations=[["alg_halving_years", "agent_doubling_years", math.nan]]),
        "correlations.pairs[0]", "finite number"),
    "correlation_as_string": (pf.render(pf.point_drivers(
        alg_halving_years=E("uniform", low=0.5, high=1.0),
        agent_doubling_years=E("uniform", low=0.3, high=0.6)),
        correlations=[["alg_halving_years", "agent_doubling_years", "0.5"]]),
        "correlations.pairs[0]", "finite number"),
    "correlation_unknown_driver": (pf.render(pf.point_drivers(
        alg_halving_years=E("uniform", low=0.5, high=1.0)),
        correlations=[["alg_halving_years", "alg_halving_yeras", 0.3]]),
        "correlations.pairs[0]", "unknown driver 'alg_halving_yeras'"),
    "correlation_name_not_string": (pf.render(pf.point_drivers(
        alg_halving_years=E("uniform", low=0.5, high=1.0)),
        correlations=[[1, "alg_halving_years", 0.3]]),
        "correlations.pairs[0]", "must be strings, got an integer"),
    "correlation_with_itself": (pf.render(pf.point_drivers(
        alg_halving_years=E("uniform", low=0.5, high=1.0)),
        correlations=[["alg_halving_years", "alg_halving_years", 0.3]]),
        "correlations.pairs[0]", "with itself"),
    "correlation_pair_twice": (pf.render(pf.point_drivers(
        alg_halving_years=E("uniform", low=0.5, high=1.0),
        agent_doubling_years=E("uniform", low=0.3, high=0.6)),
        correlations=[["alg_halving_years", "agent_doubling_years", 0.3],
                      ["agent_doubling_years", "alg_halving_years", -0.3]]),
        "correlations.pairs[1]", "already given in pairs[0]"),
    "correlation_of_fixed_driver": (pf.render(pf.point_drivers(
        alg_halving_years=E("uniform", low=0.5, high=1.0)),
        correlations=[["alg_halving_years", "agent_doubling_years", 0.3]]),
        "correlations.pairs[0]", "is fixed"),
    "correlation_wrong_shape": (pf.render(pf.point_drivers(
        alg_halving_years=E("uniform", low=0.5, high=1.0)),
        correlations=[["alg_halving_years", 0.3]]),
        "correlations.pairs[0]", "must be [driver, driver, rho]"),
    "correlation_unknown_key": (valid_text() + "\n[correlations]\npair = []\n",
                                "correlations.pair", "unknown key"),
    # --- extends
    "extends_missing": ({"bad.toml": '[meta]\nextends = "nope.toml"\n'}, "meta.extends",
                        "file not found"),
    "extends_cycle": ({"bad.toml": '[meta]\nextends = "b.toml"\n',
                       "b.toml": '[meta]\nextends = "bad.toml"\n'}, "meta.extends",
                      "cycle of extends: bad.toml -> b.toml -> bad.toml"),
    "extends_itself": ({"bad.toml": '[meta]\nextends = "bad.toml"\n'}, "meta.extends", "cycle"),
    "extends_outside_tree": ({"bad.toml": '[meta]\nextends = "../../outside.toml"\n',
                              "../../outside.toml": valid_text()}, "meta.extends",
                             "points outside the priors folder"),
    "extends_absolute_path": ({"bad.toml": '[meta]\nextends = "/etc/passwd"\n'},
                              "meta.extends", "points outside the priors folder"),
    "extends_a_folder": ({"bad.toml": '[meta]\nextends = "sub"\n', "sub/x.toml": "x = 1\n"},
                         "meta.extends", "is a directory"),
    "extends_not_a_string": ({"bad.toml": "[meta]\nextends = 5\n"}, "meta.extends",
                             "must be a relative file path"),
    "scenario_adds_a_driver": ({"base.toml": valid_text(),
                                "bad.toml": '[meta]\nextends = "base.toml"\n'
                                            '[drivers.alg_halving_years_2]\nvalue = 1.0\n'},
                               "drivers.alg_halving_years_2", "unknown driver"),
    # --- driver domains (simcore.model.DRIVER_DOMAINS): the model divides by or logs these
    "zero_doubling_time": (valid_text(alg_halving_years=0.0), "drivers.alg_halving_years",
                           "must be > 0 for every draw (the model divides by it), but the "
                           "fixed value 0 is not"),
    "negative_doubling_time": (valid_text(hw_doubling_years=-1.0), "drivers.hw_doubling_years",
                               "must be > 0"),
    "normal_on_positive_driver": (valid_text(alg_halving_years=E("normal", mean=0.8, sd=0.5)),
                                  "drivers.alg_halving_years", "normal draws range from -3.3"),
    "probability_zero_where_logged": (valid_text(cut_break_probability_today=0.0),
                                      "drivers.cut_break_probability_today", "in (0, 1]"),
    "probability_above_one_where_logged": (valid_text(dialogue_error_probability_today=1.5),
                                           "drivers.dialogue_error_probability_today",
                                           "in (0, 1]"),
    "beta_draws_reach_zero": (valid_text(cut_break_probability_today=E("beta", alpha=0.01,
                                                                       beta=1.0)),
                              "drivers.cut_break_probability_today", "beta draws range from 0"),
    "residual_zero": (valid_text(free_withdrawn_residual=0.0), "drivers.free_withdrawn_residual",
                      "in (0, 1]"),
    "tolerated_breaks_zero": (valid_text(tolerated_visible_breaks=0.0),
                              "drivers.tolerated_visible_breaks", "must be > 0"),
    "more_than_24_hours_a_day": (valid_text(local_hours_per_day=25.0),
                                 "drivers.local_hours_per_day", "in (0, 24]"),
    "elasticity_above_one": (valid_text(free_passthrough_elasticity=1.5),
                             "drivers.free_passthrough_elasticity", "in [0, 1]"),
    "negative_hazard": (valid_text(free_withdrawal_hazard=-0.1), "drivers.free_withdrawal_hazard",
                        ">= 0"),
    "stall_before_as_of": (valid_text(stall_start_years=E("uniform", low=-5.0, high=5.0)),
                           "drivers.stall_start_years", ">= 0"),
    "negative_lag_regime": (valid_text(open_weights_lag=E("regimes", choices=[
        {"name": "ahead", "value": -1.0, "p": 0.0}, {"name": "lag", "value": 1.0, "p": 1.0}])),
        "drivers.open_weights_lag", ">= 0"),
    # --- overflow and magnitudes
    "normal_overflowing": (valid_text(npu_feasible_years=E("normal", mean=0.0, sd=1e308)),
                           "drivers.npu_feasible_years", "not finite numbers"),
    "uniform_overflowing": (valid_text(npu_feasible_years=E("uniform", low=-1e308, high=1e308)),
                            "drivers.npu_feasible_years", "not finite numbers"),
    "lognormal_overflowing": (valid_text(budget_cap_usd=E("lognormal", median=1e300, low=1e299,
                                                          high=1e305)),
                              "drivers.budget_cap_usd", "not finite numbers"),
    "magnitude_too_large": (valid_text(budget_cap_usd=1e200), "drivers.budget_cap_usd",
                            "between 1e-100 and 1e+100"),
    "magnitude_too_small": (valid_text(alg_halving_years=1e-200), "drivers.alg_halving_years",
                            "between 1e-100 and 1e+100"),
    "denormal": (valid_text(alg_halving_years=5e-324), "drivers.alg_halving_years",
                 "between 1e-100 and 1e+100"),
    "unbounded_driver_too_large": (valid_text(npu_feasible_years=1e150),
                                   "drivers.npu_feasible_years", "within -1e+100 to 1e+100"),
}


@pytest.mark.parametrize("case", sorted(BAD_CASES))
def test_bad_prior_file_one_line_exit_2_nothing_written(tmp_path, case):
    content, where, words = BAD_CASES[case]
    folder = tmp_path / "priors" / "cases"
    folder.mkdir(parents=True)
    bad = folder / "bad.toml"
    if isinstance(content, dict):
        _chain_files(folder, content)
    elif isinstance(content, bytes):
        bad.write_bytes(content)
    else:
        bad.write_text(content)
    out = tmp_path / "runs" / "never"
    line = assert_rejected(invoke("run", bad, "--draws", 50, "--out", out), out, words)
    # The file named is the one at fault (for a cycle of extends, the one closing the cycle).
    assert line.startswith(f"error: {folder}/" if isinstance(content, dict)
                           else f"error: {bad}: "), line
    if where:
        assert f": {where}: " in line, line
    # The loader gives the same single line (what `simcore run` prints after "error: ").
    with pytest.raises(PriorError) as info:
        load_priors(bad, required=REQUIRED)
    assert f"error: {info.value}" == line


def test_control_characters_are_escaped_not_printed(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text(BAD_CASES["control_characters_in_name"][0])
    out = tmp_path / "never"
    line = assert_rejected(invoke("run", bad, "--draws", 50, "--out", out), out)
    assert "\x1b" not in line and "\\x1b[31m\\nname" in line


def test_missing_file_and_folder_as_prior_file(tmp_path):
    out = tmp_path / "never"
    assert_rejected(invoke("run", tmp_path / "nope.toml", "--out", out), out, "file not found")
    assert_rejected(invoke("run", tmp_path, "--out", out), out, "is a directory")


def test_huge_file_is_not_read_whole(tmp_path, monkeypatch):
    """The size limit is applied while reading: a 50 MB file is refused after ~1 MB."""
    big = tmp_path / "big.toml"
    with big.open("wb") as handle:
        handle.truncate(50_000_000)
    read_sizes = []
    real_open = Path.open

    def spying_open(self, *args, **kwargs):
        handle = real_open(self, *args, **kwargs)
        if self == big:
            original = handle.read
            handle.read = lambda n=-1: read_sizes.append(n) or original(n)  # type: ignore
        return handle

    monkeypatch.setattr(Path, "open", spying_open)
    with pytest.raises(PriorError, match="larger than"):
        load_priors(big)
    assert read_sizes and all(0 < n <= 1_000_001 for n in read_sizes)


# ---------------------------------------------------------------------------------------------
# 2. Extreme but valid values are accepted, and give finite or explicitly censored outputs

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
        alg_max_gain=E("loguniform", low=1e-10, high=1e10),
        compute_per_video_second_today=E("lognormal", median=1.0, low=1e-10, high=1e10),
        free_user_value_usd=E("lognormal", median=1e3, low=1e-7, high=1e13, interval=0.98),
        budget_cap_usd=E("loguniform", low=1.0, high=1e20)),
    "tiny_and_huge_values": dict(free_gpu_share=1e-90, gaming_pc_h100_equiv=1e90,
                                 budget_cap_usd=1e99, cut_break_probability_today=1e-99,
                                 film_length_seconds=1e-99),
    "zero_lag_and_starts": dict(open_weights_lag=0.0, stall_start_years=0.0,
                                hw_slowdown_start_years=0.0, npu_feasible_years=-5.0),
    "regime_with_zero_probability": dict(open_weights_lag=E("regimes", choices=[
        {"name": "never", "value": 100.0, "p": 0.0}, {"name": "always", "value": 0.5, "p": 1.0}])),
    "normal_far_from_zero": dict(hw_doubling_years=E("normal", mean=2.0, sd=0.2)),
    "everything_extreme_at_once": dict(
        hw_doubling_years=1 / 365, hw_slowdown_factor=1e-6, stall_slowdown_factor=1e-9,
        stall_occurs=1.0, stall_start_years=0.0, alg_halving_years=1e-3,
        consumer_hw_doubling_years=1e-3, open_weights_lag=1e6, alg_max_gain=1e50,
        free_passthrough_elasticity=0.0, free_withdrawn_residual=1e-90),
}


@pytest.mark.parametrize("case", sorted(EXTREME_VALID))
def test_extreme_but_valid_values_are_accepted(tmp_path, case):
    prior = pf.write(tmp_path / "extreme.toml", pf.point_drivers(**EXTREME_VALID[case]))
    result = engine.run_forecast(load_priors(prior, required=REQUIRED), 300, seed=3,
                                 chunk_size=128, n_paths=5)
    assert_clean_result(result)


@pytest.mark.parametrize("case", ["everything_extreme_at_once", "intervals_spanning_20_orders"])
def test_extreme_but_valid_values_through_the_cli(tmp_path, case):
    prior = pf.write(tmp_path / "extreme.toml", pf.point_drivers(**EXTREME_VALID[case]))
    out = tmp_path / "runs" / "extreme"
    run_ok(prior, out)
    assert_clean_run_dir(out)


@pytest.mark.parametrize("meta", [{"horizon_years": 1, "time_step_years": 1, "as_of": "2026-12-31"},
                                  {"horizon_years": 200, "time_step_years": 5},
                                  {"horizon_years": 50, "time_step_years": 50 / 600}])
def test_grid_at_the_limits_is_accepted(tmp_path, meta):
    prior = pf.write(tmp_path / "grid.toml", pf.point_drivers(
        alg_halving_years=E("lognormal", median=0.8, low=0.4, high=1.6)), meta=meta)
    result = engine.run_forecast(load_priors(prior, required=REQUIRED), 300, seed=3, n_paths=5)
    assert_clean_result(result)
    from simcore.answer import headline_indices
    shown = headline_indices(result)        # Q5's rows: each grid time once, in order
    assert shown == sorted(set(shown)) and shown[-1] < result.time_abs.size


def test_shipped_priors_pass_the_domain_checks():
    for path in sorted((ROOT / "priors").rglob("*.toml")):
        load_priors(path, required=REQUIRED)


def test_every_model_driver_has_a_domain():
    assert set(DRIVER_DOMAINS) == REQUIRED
    assert DRIVER_MAGNITUDE_LIMIT ** 2 * 1e3 < np.finfo(float).max


# ---------------------------------------------------------------------------------------------
# 3. Fuzzing: generated prior files, valid (extreme values) and broken

def _pos(low_exp: int = -12, high_exp: int = 12):
    return st.builds(lambda m, e: m * 10.0 ** e, st.floats(1.0, 9.99),
                     st.integers(low_exp, high_exp))


_SPECIAL_POSITIVE = st.sampled_from([1 / 365, 300.0, 1e-10, 1e10, 1.0, 1e-90, 1e90])


@st.composite
def _positive_entry(draw, upper: float = math.inf):
    """An entry every draw of which is > 0 (and <= upper), spanning up to 20 orders."""
    kind = draw(st.sampled_from(["fixed", "lognormal", "loguniform", "uniform", "triangular",
                                 "pert", "normal", "regimes", "beta"]))
    bounded = upper < math.inf
    cap = min(upper, 1e40)
    m = min(draw(st.one_of(_pos(-8, 8), _SPECIAL_POSITIVE)), cap)
    if kind == "fixed" or (kind == "normal" and bounded):
        return E("fixed", value=m)
    if kind == "lognormal":
        # Up to 10 orders of magnitude on each side of a median within 1e+-30: even the extreme
        # draws (8.2 sd) stay inside the model's magnitude limit. A narrower stated interval
        # stretches the tails, so it comes with a narrower span.
        median = min(max(m, 1e-30), 1e30)
        params = {}
        widest = 10.0
        if draw(st.booleans()):
            params["interval"] = draw(st.floats(0.5, 0.99))
            widest = 2.0
        a, b = draw(st.floats(0.01, widest)), draw(st.floats(0.01, widest))
        params.update(low=median / 10 ** a, high=median * 10 ** b)
        if draw(st.booleans()):
            params["median"] = median
        if bounded:
            return E("loguniform", low=min(params["low"], upper / 2), high=upper)
        return E("lognormal", **params)
    if kind == "loguniform":
        span = draw(st.floats(0.001, 20.0))
        # Never below the model's magnitude limit (m may be 1e-90, span up to 20 decades).
        low = max(m / 10 ** span, 10.0 / DRIVER_MAGNITUDE_LIMIT) if bounded else m
        return E("loguniform", low=low, high=m if bounded else m * 10 ** span)
    if kind in ("uniform", "triangular", "pert", "beta"):
        low = m * draw(st.floats(0.001, 0.9))
        high = m
        mode = low + (high - low) * draw(st.floats(0.0, 1.0))
        if kind == "uniform":
            return E("uniform", low=low, high=high)
        if kind == "triangular":
            return E("triangular", low=low, mode=mode, high=high)
        if kind == "pert":
            return E("pert", low=low, mode=mode, high=high, **{"lambda": draw(st.floats(0.5, 20))})
        return E("beta", alpha=draw(st.floats(0.1, 50.0)), beta=draw(st.floats(0.1, 50.0)),
                 low=low, high=high)
    if kind == "normal":
        return E("normal", mean=m, sd=m * draw(st.floats(0.001, 0.12)))
    values = draw(st.lists(st.one_of(_pos(-6, 6), _SPECIAL_POSITIVE), min_size=1, max_size=4))
    return E("regimes", choices=_regime_choices(draw, [min(v, cap) for v in values]))


def _regime_choices(draw, values):
    weights = [draw(st.sampled_from([0.0, 0.1, 0.25, 0.5, 1.0])) for _ in values]
    if sum(weights) == 0:
        weights[0] = 1.0
    total = sum(weights)
    probabilities = [w / total for w in weights]
    probabilities[-1] = 1.0 - math.fsum(probabilities[:-1])
    return [{"name": f"r{i}", "value": v, "p": max(p, 0.0)}
            for i, (v, p) in enumerate(zip(values, probabilities))]


@st.composite
def _unit_entry(draw, zero_ok: bool):
    """An entry in [0, 1] (zero_ok) or (0, 1]."""
    kind = draw(st.sampled_from(["fixed", "uniform", "beta", "loguniform", "bernoulli"]))
    if kind == "fixed":
        values = [1.0, 0.5, 1e-30, 1e-99] + ([0.0] if zero_ok else [])
        return E("fixed", value=draw(st.sampled_from(values)))
    if kind == "uniform":
        low = 0.0 if zero_ok and draw(st.booleans()) else draw(st.floats(1e-9, 0.5))
        return E("uniform", low=low, high=draw(st.floats(0.6, 1.0)))
    if kind == "beta":
        least = 0.05 if zero_ok else 0.5   # smaller alphas draw 0 in the far tail
        return E("beta", alpha=draw(st.floats(least, 50.0)), beta=draw(st.floats(0.05, 50.0)))
    if kind == "bernoulli" and zero_ok:
        return E("bernoulli", p=draw(st.sampled_from([0.0, 1.0, 0.3])))
    return E("loguniform", low=draw(st.sampled_from([1e-20, 1e-5, 0.1])), high=1.0)


@st.composite
def _nonnegative_entry(draw):
    kind = draw(st.sampled_from(["zero", "positive", "uniform", "regimes"]))
    if kind == "zero":
        return E("fixed", value=0.0)
    if kind == "positive":
        return draw(_positive_entry())
    if kind == "uniform":
        return E("uniform", low=0.0, high=draw(_pos(-3, 3)))
    values = [0.0, *draw(st.lists(_pos(-3, 3), min_size=1, max_size=3))]
    return E("regimes", choices=_regime_choices(draw, values))


@st.composite
def _any_entry(draw):
    kind = draw(st.sampled_from(["fixed", "normal", "uniform"]))
    m = draw(st.floats(-1e6, 1e6))
    if kind == "fixed":
        return E("fixed", value=m)
    if kind == "normal":
        return E("normal", mean=m, sd=draw(_pos(-3, 5)))
    return E("uniform", low=m, high=m + draw(_pos(-3, 5)))


def _valid_entry_for(name: str):
    domain = DRIVER_DOMAINS[name]
    if name == "stall_occurs":
        return st.one_of(st.just(E("bernoulli", p=0.0)), st.just(E("bernoulli", p=1.0)),
                         st.floats(0.0, 1.0).map(lambda p: E("bernoulli", p=p)))
    if domain.high == 1.0:
        return _unit_entry(zero_ok=not domain.low_open)
    if domain.high == 24.0:
        return _positive_entry(upper=24.0)
    if domain.low == 0.0 and domain.low_open:
        return _positive_entry()
    if domain.low == 0.0:
        return _nonnegative_entry()
    return _any_entry()


@st.composite
def valid_prior_files(draw):
    """Prior files that must be accepted: extreme but valid values on random drivers."""
    names = draw(st.lists(st.sampled_from(sorted(MODEL_DRIVERS)), min_size=1, max_size=12,
                          unique=True))
    overrides = {name: draw(_valid_entry_for(name)) for name in names}
    horizon = draw(st.sampled_from([1.0, 2.5, 20.0, 60.0, 200.0]))
    steps = draw(st.integers(max(1, math.ceil(horizon / 5.0)), 80))
    meta = {"horizon_years": horizon, "time_step_years": horizon / steps,
            "as_of": draw(st.sampled_from(["2026-11", "2000-12-31", "2100-06"]))}
    drivers = pf.point_drivers(**overrides)
    random = [n for n in names if overrides[n]["family"] != "fixed"]
    pairs = []
    if len(random) >= 2 and draw(st.booleans()):
        for a, b in draw(st.lists(st.tuples(st.sampled_from(random), st.sampled_from(random)),
                                  max_size=3)):
            if a != b and not any({a, b} == {x, y} for x, y, _ in pairs):
                pairs.append((a, b, draw(st.sampled_from([-1.0, -0.5, 0.0, 0.9, 1.0]))))
    return pf.render(drivers, meta, pairs or None)


_WEIRD_LITERALS = ['"1.5"', "true", "nan", "inf", "-inf", "1e400", "-0.0", "0", "[1.0]", "{}",
                   "1979-05-27", '""', "-1", "1e-400", "99999999999999999999999"]


@st.composite
def broken_prior_files(draw) -> bytes:
    """A valid file, then one mutation that may or may not make it invalid."""
    text = draw(valid_prior_files())
    lines = text.splitlines(keepends=True)
    mutation = draw(st.sampled_from(["literal", "typo", "drop_line", "truncate", "bytes",
                                     "duplicate", "family", "swap", "empty", "structure"]))
    if mutation == "literal":
        numeric = [i for i, line in enumerate(lines)
                   if re.match(r"^\w+ = -?[\d.]", line) or line.startswith("p = ")]
        if numeric:
            i = draw(st.sampled_from(numeric))
            key = lines[i].split(" = ")[0]
            lines[i] = f"{key} = {draw(st.sampled_from(_WEIRD_LITERALS))}\n"
    elif mutation == "typo":
        i = draw(st.integers(0, len(lines) - 1))
        lines.insert(i + 1, f"{draw(st.sampled_from(['meidan', 'lowe', 'familly', 'p']))} = 1.0\n")
    elif mutation == "drop_line":
        del lines[draw(st.integers(0, len(lines) - 1))]
    elif mutation == "truncate":
        return text.encode()[:draw(st.integers(0, len(text)))]
    elif mutation == "bytes":
        raw = bytearray(text.encode())
        position = draw(st.integers(0, len(raw)))
        raw[position:position] = draw(st.binary(min_size=1, max_size=4))
        return bytes(raw)
    elif mutation == "duplicate":
        headers = [line for line in lines if line.startswith("[")]
        lines.append(draw(st.sampled_from(headers)))
    elif mutation == "family":
        families = [i for i, line in enumerate(lines) if line.startswith("family = ")]
        i = draw(st.sampled_from(families))
        name = draw(st.sampled_from(["normal", "lognormal", "uniform", "beta", "bernoulli",
                                     "regimes", "fixed", "gamma", "pert", "triangular"]))
        lines[i] = f'family = "{name}"\n'
    elif mutation == "swap":
        text = text.replace("low = ", "tmp = ").replace("high = ", "low = ")
        return text.replace("tmp = ", "high = ").encode()
    elif mutation == "empty":
        return b""
    else:
        extra = draw(st.sampled_from([
            '\n[meta]\nextends = "../../etc/passwd"\n', "\n[correlations]\npairs = 5\n",
            "\n[drivers.alg_halving_years]\nmedian = -1.0\n", "\n[[meta]]\n",
            '\n[correlations]\npairs = [["alg_halving_years", "x", 0.1]]\n']))
        return (text + extra).encode()
    return "".join(lines).encode()


_EXAMPLES = itertools.count()


def check_contract_in_process(tmp_path: Path, content: bytes, must_accept: bool) -> None:
    """Validation and, if valid, the whole computation in-process (no netCDF: fast); a rejected
    file goes through the CLI to check the one-line message and that nothing is written."""
    prior = tmp_path / "fuzz.toml"
    prior.write_bytes(content)
    try:
        priors = load_priors(prior, required=REQUIRED)
    except PriorError as exc:
        assert not must_accept, f"valid file rejected: {exc}\n{content.decode()}"
        out = tmp_path / "runs" / "never"
        line = assert_rejected(invoke("run", prior, "--draws", 20, "--out", out), out)
        assert line == f"error: {exc}"
        return
    result = engine.run_forecast(priors, 97, seed=11, chunk_size=40, n_paths=5)
    assert_clean_result(result)


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(text=valid_prior_files())
def test_fuzz_valid_prior_files_are_accepted_with_clean_outputs(tmp_path, text):
    check_contract_in_process(tmp_path, text.encode(), must_accept=True)


@settings(max_examples=80, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(content=broken_prior_files())
def test_fuzz_broken_prior_files_run_cleanly_or_exit_2_with_one_line(tmp_path, content):
    check_contract_in_process(tmp_path, content, must_accept=False)


@settings(max_examples=4, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(content=st.one_of(valid_prior_files().map(str.encode), broken_prior_files()))
def test_fuzz_end_to_end_through_the_cli(tmp_path, content):
    """The whole CLI, writing the run directory (run.nc included) when the file is valid."""
    number = next(_EXAMPLES)
    prior = tmp_path / f"fuzz-{number}.toml"
    prior.write_bytes(content)
    out = tmp_path / "runs" / f"run-{number}"
    result = invoke("run", prior, "--draws", 150, "--paths", 4, "--out", out, "--no-charts")
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"{result.exception!r}\n{result.output}")
    assert "Traceback" not in result.output
    if result.exit_code == 0:
        assert "nan" not in result.stdout.lower()
        assert_clean_run_dir(out)
    else:
        assert_rejected(result, out)
    assert not partial_dirs(out.parent)


# ---------------------------------------------------------------------------------------------
# 4. Runs are never lost or overwritten; I/O errors are one line and exit 1


@pytest.fixture()
def point_prior(tmp_path) -> Path:
    return pf.write(tmp_path / "point.toml", pf.point_drivers(
        alg_halving_years=E("lognormal", median=0.8, low=0.4, high=1.6)))


def test_existing_run_refused_and_force_replaces_it(tmp_path, point_prior):
    out = tmp_path / "runs" / "r"
    run_ok(point_prior, out, "--seed", 1)
    first = (out / "manifest.json").read_text()
    assert_rejected(invoke("run", point_prior, "--out", out), tmp_path / "runs" / "other",
                    "already exists")
    assert (out / "manifest.json").read_text() == first
    run_ok(point_prior, out, "--seed", 2, "--force")
    assert '"seed": 2' in (out / "manifest.json").read_text()
    assert sorted(p.name for p in out.parent.iterdir()) == ["r"]   # no .replaced leftovers


def test_force_never_deletes_a_folder_that_is_not_a_run(tmp_path, point_prior):
    precious = tmp_path / "home"
    precious.mkdir()
    (precious / "thesis.tex").write_text("years of work")
    result = invoke("run", point_prior, "--draws", 10, "--out", precious, "--force")
    assert result.exit_code == 2 and "not a simcore run" in result.stderr
    assert (precious / "thesis.tex").read_text() == "years of work"
    a_file = tmp_path / "notes.txt"
    a_file.write_text("keep")
    result = invoke("run", point_prior, "--draws", 10, "--out", a_file, "--force")
    assert result.exit_code == 2 and "not a folder" in result.stderr
    assert a_file.read_text() == "keep"
    link = tmp_path / "link"
    link.symlink_to(precious)
    result = invoke("run", point_prior, "--draws", 10, "--out", link, "--force")
    assert result.exit_code == 2 and "symbolic link" in result.stderr
    assert (precious / "thesis.tex").exists()


def test_interrupted_force_replacement_keeps_the_old_run(tmp_path, point_prior, monkeypatch):
    out = tmp_path / "runs" / "r"
    run_ok(point_prior, out, "--seed", 1)
    before = (out / "manifest.json").read_text()

    def interrupt(result):
        raise KeyboardInterrupt

    monkeypatch.setitem(store.CSV_TABLES, "binding.csv", interrupt)
    result = invoke("run", point_prior, "--draws", 50, "--out", out, "--force", "--no-charts")
    assert result.exit_code == 130
    assert result.stderr.strip() == "interrupted: no run directory was written"
    assert (out / "manifest.json").read_text() == before
    assert sorted(p.name for p in out.parent.iterdir()) == ["r"]


@pytest.mark.parametrize("name", ["..", ".hidden", "a b;rm -rf", "x" * 200, "ü-run", "-"])
def test_unsafe_run_names_are_refused(tmp_path, point_prior, name):
    out = tmp_path / "runs" / name
    result = invoke("run", point_prior, "--draws", 10, "--out", out)
    assert result.exit_code == 2 and len(result.stderr.splitlines()) == 1, result.output
    assert "run name" in result.stderr or "already exists" in result.stderr
    assert not partial_dirs(tmp_path / "runs")


def test_out_may_be_any_path_the_user_chose(tmp_path, point_prior, monkeypatch):
    """--out ../../x is a path like any other: the folder above is the user's choice, only the
    run's own name is restricted."""
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    monkeypatch.chdir(deep)
    run_ok(point_prior, Path("../../escaped-run"))
    assert (tmp_path / "escaped-run" / "manifest.json").is_file()


@given(stem=st.text(min_size=0, max_size=300))
@settings(max_examples=200, deadline=None)
def test_default_run_names_are_always_safe(stem):
    try:
        path = Path(f"/x/{stem}.toml")
    except ValueError:
        return
    if path.parent != Path("/x"):
        return   # the stem held a separator: not a file name
    out = store.default_run_dir(path, 7)
    assert out.parent == Path("runs")
    assert re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}", out.name), out.name
    store.check_run_dir(out, force=False)


def test_default_run_dir_from_a_hostile_prior_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    prior = pf.write(tmp_path / "..$(rm -rf ~); ü.toml", pf.point_drivers())
    result = invoke("run", prior, "--draws", 20, "--no-charts", "-q")
    assert result.exit_code == 0, result.output
    written = Path(result.stdout.strip())
    assert written.parent == Path("runs") and written.is_dir()
    assert re.fullmatch(r"\d{8}-\d{6}-rm_-rf-s20261125", written.name), written.name


def test_output_under_a_file_is_one_line_exit_1(tmp_path, point_prior):
    blocker = tmp_path / "file.txt"
    blocker.write_text("x")
    out = blocker / "sub" / "run"
    line = assert_rejected(invoke("run", point_prior, "--draws", 20, "--out", out), out,
                           "cannot create folder", code=1)
    assert str(blocker) in line


@pytest.mark.skipif(not Path("/proc/self").exists(), reason="needs /proc")
def test_output_in_an_unwritable_place_is_one_line_exit_1(point_prior):
    """/proc refuses new folders even to root (where chmod would not stop a write)."""
    out = Path("/proc/simcore-test/run")
    result = invoke("run", point_prior, "--draws", 20, "--out", out)
    assert result.exit_code == 1, result.output
    assert len(result.stderr.splitlines()) == 1 and "cannot create folder" in result.stderr


@pytest.mark.parametrize("where,error,words", [
    ("csv", OSError(errno.ENOSPC, "No space left on device"), "disk full"),
    ("netcdf-draws", OSError(errno.ENOSPC, "No space left on device"), "disk full"),
    ("netcdf-summaries", OSError(errno.ENOSPC, "No space left on device"), "disk full"),
    ("charts", OSError(errno.ENOSPC, "No space left on device"), "disk full"),   # forked child
    ("csv", PermissionError(errno.EACCES, "Permission denied"), "Permission denied"),
    ("csv", OSError(errno.EIO, "Input/output error\nwith a second line"), "Input/output error"),
])
def test_write_errors_are_one_line_exit_1_and_leave_nothing(tmp_path, point_prior, monkeypatch,
                                                            where, error, words):
    def fail(*args, **kwargs):
        raise error

    if where == "csv":
        monkeypatch.setitem(store.CSV_TABLES, "events.csv", fail)
    elif where == "netcdf-draws":     # streamed while the engine runs
        monkeypatch.setattr(runfile.RunFileWriter, "append", fail)
    elif where == "charts":           # drawn by a forked child process
        monkeypatch.setattr(plotting, "draw_standard_set", fail)
    else:                             # percentiles, paths, sensitivity added at the end
        monkeypatch.setattr(xr.Dataset, "to_netcdf", fail)
    out = tmp_path / "runs" / "r"
    line = assert_rejected(invoke("run", point_prior, "--draws", 50, "--out", out), out, words,
                           code=1)
    assert line.startswith(f"error: {out}: cannot write run")


def test_ctrl_c_during_sampling_in_process(tmp_path, point_prior, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(engine, "run_forecast", interrupted)
    out = tmp_path / "runs" / "r"
    result = invoke("run", point_prior, "--out", out)
    assert result.exit_code == 130
    assert result.stderr == "interrupted: no run directory was written\n"
    assert not out.exists() and not partial_dirs(out.parent)


@pytest.mark.skipif(threading.current_thread() is not threading.main_thread(),
                    reason="signal handlers need the main thread")
def test_sigterm_during_sampling_in_process(tmp_path, point_prior, monkeypatch):
    def terminated(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(10)            # the handler interrupts this
        raise AssertionError("SIGTERM was not handled")

    before = signal.getsignal(signal.SIGTERM)
    monkeypatch.setattr(engine, "run_forecast", terminated)
    out = tmp_path / "runs" / "r"
    result = invoke("run", point_prior, "--out", out)
    assert result.exit_code == 143, result.output
    assert result.stderr == "terminated: no run directory was written\n"
    assert not out.exists() and not partial_dirs(out.parent)
    assert signal.getsignal(signal.SIGTERM) == before    # the handler is removed afterwards


def test_interrupt_while_writing_leaves_no_staging_folder(tmp_path, point_prior, monkeypatch):
    def interrupt(result):
        raise KeyboardInterrupt

    monkeypatch.setitem(store.CSV_TABLES, "events_summary.csv", interrupt)
    out = tmp_path / "runs" / "r"
    result = invoke("run", point_prior, "--draws", 50, "--out", out)
    assert result.exit_code == 130
    assert not out.exists() and not partial_dirs(out.parent)


def test_interrupt_after_the_run_was_written_says_so(tmp_path, point_prior, monkeypatch):
    import simcore.answer

    def interrupt(result):
        raise KeyboardInterrupt

    monkeypatch.setattr(simcore.answer, "summary_text", interrupt)
    out = tmp_path / "runs" / "r"
    result = invoke("run", point_prior, "--draws", 50, "--out", out, "--no-charts")
    assert result.exit_code == 130
    assert result.stderr == f"interrupted: the run was already complete in {out}\n"
    assert (out / "manifest.json").is_file()


def test_out_of_memory_is_one_line_exit_1(tmp_path, point_prior, monkeypatch):
    def no_memory(*args, **kwargs):
        raise MemoryError

    monkeypatch.setattr(engine, "run_forecast", no_memory)
    out = tmp_path / "runs" / "r"
    assert_rejected(invoke("run", point_prior, "--draws", 1000, "--out", out), out,
                    "not enough memory", code=1)


def test_more_draws_than_the_disk_holds_are_refused_before_anything_is_written(
        tmp_path, point_prior, monkeypatch):
    free = 10**6
    monkeypatch.setattr(store.shutil, "disk_usage", lambda path: SimpleNamespace(free=free))
    out = tmp_path / "runs" / "r"
    need = 4000 * runfile.bytes_per_draw(load_priors(point_prior, required=REQUIRED),
                                         DRIVER_ORDER)
    assert need > free
    assert_rejected(invoke("run", point_prior, "--draws", 4000, "--out", out), out,
                    "4,000 draws need", "MB", "fewer draws")
    run_ok(point_prior, out)                      # 200 draws fit in a megabyte


@pytest.mark.parametrize("option", ["--draws", "--chunk-size", "--paths"])
def test_sizes_beyond_any_disk_are_refused_as_usage_errors(tmp_path, point_prior, option):
    """Not an overflow deep inside HDF5 or numpy: click names the option."""
    from simcore.limits import MAX_DRAWS
    out = tmp_path / "runs" / "r"
    result = invoke("run", point_prior, option, MAX_DRAWS + 1, "--out", out)
    assert result.exit_code == 2 and option in result.output and "Traceback" not in result.output
    assert not out.exists()


@pytest.mark.parametrize("args", [("run", "--until-mcse", "nan"), ("sensitivity", "-N", 2**21),
                                  ("sensitivity", "--resamples", 10**11),
                                  ("sensitivity", "-m", "morris", "-N", 10**12)])
def test_out_of_range_study_sizes_are_usage_errors_naming_the_option(tmp_path, point_prior,
                                                                      args):
    command, *options = args
    out = tmp_path / "runs" / "r"
    result = invoke(command, point_prior, *options, "--out", out)
    assert result.exit_code == 2 and options[-2] in result.output, result.output
    assert "Traceback" not in result.output and not out.exists()


def test_run_nc_grows_by_bytes_per_draw(tmp_path, point_prior):
    """The disk check's estimate is what the per-draw groups of run.nc take (HDF5 allocates
    whole chunks; a run smaller than a chunk gets chunks of its own size)."""
    import h5py
    draws = 300
    out = tmp_path / "runs" / "r"
    result = invoke("run", point_prior, "--draws", draws, "--paths", 0, "--out", out, "--no-charts")
    assert result.exit_code == 0, result.output
    stored = 0
    with h5py.File(out / "run.nc") as file:
        for group in ("prior", "events"):
            for dataset in file[group].values():
                if dataset.shape[:1] == (draws,):
                    stored += dataset.id.get_storage_size()
    priors = load_priors(point_prior, required=REQUIRED)
    assert stored == draws * runfile.bytes_per_draw(priors, DRIVER_ORDER)



# ---------------------------------------------------------------------------------------------
# 5. Prior copies in the run keep their layout; nothing from input files is executed


def test_a_prior_file_name_that_is_not_utf8_runs_and_verifies(tmp_path, point_prior):
    """Linux file names are bytes: the name reaches run.nc's attributes escaped and the
    manifest exactly, so verify finds the prior copy again."""
    odd = point_prior.with_name(os.fsdecode(b"point\xfe.toml"))
    odd.write_bytes(point_prior.read_bytes())
    out = tmp_path / "runs" / "odd"
    run_ok(odd, out)
    verified = invoke("verify", out)
    assert verified.exit_code == 0 and "bit-identical" in verified.output, verified.output
    reported = invoke("report", out, "--quiet")
    assert reported.exit_code == 0, reported.output
    assert "point\\udcfe.toml" in (out / "report.html").read_text(encoding="utf-8")


def test_prior_copies_keep_the_layout_so_extends_resolves(tmp_path):
    priors = tmp_path / "priors"
    (priors / "scenarios").mkdir(parents=True)
    pf.write(priors / "base.toml", pf.point_drivers())
    (priors / "scenarios" / "slow.toml").write_text(
        '[meta]\nextends = "../base.toml"\n[drivers.alg_halving_years]\nvalue = 1.6\n')
    out = tmp_path / "runs" / "r"
    run_ok(priors / "scenarios" / "slow.toml", out)
    assert (out / "priors" / "base.toml").read_bytes() == (priors / "base.toml").read_bytes()
    copy = out / "priors" / "scenarios" / "slow.toml"
    reloaded = load_priors(copy, required=REQUIRED)
    assert reloaded.drivers["alg_halving_years"].dist.value == 1.6
    import json
    manifest = json.loads((out / "manifest.json").read_text())
    assert [f["copy"] for f in manifest["prior_files"]] == ["priors/base.toml",
                                                            "priors/scenarios/slow.toml"]
    assert all(".." not in f["copy"] for f in manifest["prior_files"])


def test_no_code_execution_primitives_in_the_package():
    """Input files are parsed (tomllib, json, netCDF), never executed or unpickled."""
    forbidden = re.compile(r"(?<![\w.])(eval|exec|compile)\(|\bpickle\b|\bmarshal\b|\byaml\b|"
                           r"allow_pickle|__import__|shell=True|os\.system")
    for path in sorted((ROOT / "simcore").rglob("*.py")):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            assert not forbidden.search(line), f"{path.name}:{number}: {line.strip()}"


# ---------------------------------------------------------------------------------------------
# 6. Subprocess: the real command line, and real signals mid-sampling


@pytest.mark.slow
def test_subprocess_domain_error_and_extreme_valid_file(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text(valid_text(alg_halving_years=0.0))
    done = run_simcore("run", bad, "--draws", 50, "--out", tmp_path / "never")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.splitlines() == [
        f"error: {bad}: drivers.alg_halving_years: must be > 0 for every draw (the model divides "
        "by it), but the fixed value 0 is not"]
    good = pf.write(tmp_path / "good.toml",
                    pf.point_drivers(**EXTREME_VALID["doubling_times_of_days"]))
    done = run_simcore("run", good, "--draws", 200, "--out", tmp_path / "ok")   # charts included
    assert done.returncode == 0, done.stderr
    assert done.stderr == "" and "nan" not in done.stdout.lower()
    assert_clean_run_dir(tmp_path / "ok")


def _start_big_run(out: Path) -> subprocess.Popen:
    return start_simcore("run", BASELINE, "--draws", 3_000_000, "--chunk-size", 20_000,
                         "--out", out, "--no-charts")


@pytest.mark.slow
@pytest.mark.parametrize("signum,code,word", [(signal.SIGINT, 130, "interrupted"),
                                              (signal.SIGTERM, 143, "terminated")])
def test_real_signal_mid_sampling_leaves_no_run_directory(tmp_path, signum, code, word):
    runs = tmp_path / "runs"
    runs.mkdir()
    out = runs / "big"
    process = _start_big_run(out)
    try:
        # Drivers and event times stream into the hidden staging folder's run.nc chunk by
        # chunk: once it holds well over a few chunks, the run is mid-sampling.
        wait_for(lambda: any(f.stat().st_size > 50_000_000
                             for f in runs.glob(".big.partial-*/run.nc")), process)
        assert not out.exists()                  # still sampling: no run directory yet
        process.send_signal(signum)
        stdout, stderr = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == code, stderr
    assert stderr.splitlines() == [f"{word}: no run directory was written"], stderr
    assert "Traceback" not in stderr and stdout == ""
    assert list(runs.iterdir()) == []            # no run directory, no hidden staging folder
