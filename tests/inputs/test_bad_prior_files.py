"""Bad prior files: every case of issue 6 (and more), one line each, exit 2, nothing written."""


import math
from pathlib import Path

import priorfiles as pf
import pytest
from clichecks import assert_rejected, invoke
from runchecks import REQUIRED, valid_text

from simcore.base.errors import PriorError
from simcore.inputs.priors import load_priors

ROOT = Path(__file__).resolve().parents[2]


E = pf.entry

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
    "regime_probability_negative": (valid_text(local_hours_per_day=E("regimes", choices=[
        {"name": "a", "value": 1.0, "p": 1.5}, {"name": "b", "value": 2.0, "p": -0.5}])),
        "drivers.local_hours_per_day.choices.0.p", "less than or equal to 1"),
    "regimes_not_summing_to_one": (valid_text(local_hours_per_day=E("regimes", choices=[
        {"name": "a", "value": 1.0, "p": 0.5}, {"name": "b", "value": 2.0, "p": 0.4}])),
        "drivers.local_hours_per_day.choices", "sum to 0.9, not 1"),
    "regimes_duplicate_names": (valid_text(local_hours_per_day=E("regimes", choices=[
        {"name": "a", "value": 1.0, "p": 0.5}, {"name": "a", "value": 2.0, "p": 0.5}])),
        "drivers.local_hours_per_day.choices", "distinct"),
    "regimes_empty": (valid_text(local_hours_per_day=E("regimes", choices=[])),
                      "drivers.local_hours_per_day.choices", "at least 1 item"),
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
    "negative_hazard_regime": (valid_text(free_relaunch_hazard=E("regimes", choices=[
        {"name": "ahead", "value": -1.0, "p": 0.0}, {"name": "lag", "value": 1.0, "p": 1.0}])),
        "drivers.free_relaunch_hazard", ">= 0"),
    # --- overflow and magnitudes
    "normal_overflowing": (valid_text(npu_feasible_years=E("normal", mean=0.0, sd=1e308)),
                           "drivers.npu_feasible_years", "not finite numbers"),
    "uniform_overflowing": (valid_text(npu_feasible_years=E("uniform", low=-1e308, high=1e308)),
                            "drivers.npu_feasible_years", "not finite numbers"),
    "lognormal_overflowing": (valid_text(individual_budget_usd=E(
        "lognormal", median=1e300, low=1e299, high=1e305)),
        "drivers.individual_budget_usd", "not finite numbers"),
    "magnitude_too_large": (valid_text(individual_budget_usd=1e200),
                            "drivers.individual_budget_usd", "between 1e-100 and 1e+100"),
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


