"""What-if by reweighting (``simcore reweight``, issue 16): the weights are the density ratio,
a reweighted run agrees with a fresh run of the changed priors within its stated Monte Carlo
error, unreachable changes and high k-hat are refused, and the what-if run verifies."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from clichecks import assert_rejected, invoke
from sharedruns import shared_folder

from simcore.app import reweight
from simcore.app.reweight import NeedsFullRun, log_ratios, reweighting_weights
from simcore.inputs.densities import log_density
from simcore.inputs.priors import load_priors
from simcore.inputs.sampling import Copula, sample_drivers
from simcore.inputs.whatif import parse_setting, whatif_priors
from simcore.model import MODEL_DRIVERS, PROFILES
from simcore.run import engine

ROOT = Path(__file__).resolve().parents[2]
BASELINE = ROOT / "priors" / "baseline.toml"
REQUIRED = set(MODEL_DRIVERS)


def _priors():
    return load_priors(BASELINE, required=REQUIRED)


def _target(*settings):
    return whatif_priors(_priors(), [parse_setting(s) for s in settings], required=REQUIRED)


def test_log_ratios_are_the_density_ratio_of_the_changed_driver():
    base = _priors()
    # Not in the copula: the ratio is the marginals' alone.
    target = _target("hw_slowdown_start_years.low=5")
    ratios = log_ratios(base, target, 3000, 7)
    values = sample_drivers(base, 7, 0, 3000, copula=Copula.from_priors(base))
    x = values["hw_slowdown_start_years"]
    expected = (log_density(target.drivers["hw_slowdown_start_years"].dist, x)
                - log_density(base.drivers["hw_slowdown_start_years"].dist, x))
    assert np.array_equal(ratios, expected)
    assert np.isneginf(ratios[x < 5]).all() and np.isfinite(ratios[x >= 5]).all()


def test_log_ratios_do_not_depend_on_the_block_size(monkeypatch):
    base, target = _priors(), _target("alg_halving_years.median=1.2")   # in the copula
    whole = log_ratios(base, target, 5000, 3)
    monkeypatch.setattr(reweight, "_ROWS_PER_BLOCK", 777)
    assert np.array_equal(whole, log_ratios(base, target, 5000, 3))


def _weighted_cdf_check(values, dist, ess):
    for q in (0.2, 0.5, 0.8):
        at = dist.ppf(np.array([q]))[0]
        share = float(np.mean(values <= at))
        assert abs(share - q) < 4.5 * np.sqrt(q * (1 - q) / ess), (q, share)


def test_reweighted_run_agrees_with_a_fresh_run_within_its_mc_error():
    draws = 20_000
    base = _priors()
    # Slower algorithmic progress; the driver is in the copula with four capability paces.
    target = _target("alg_halving_years.median=1.0")
    weights, summary = reweighting_weights(base, target, draws, 5, False,
                                           ["alg_halving_years.median=1.0"])
    assert summary["khat"] < summary["khat_limit"]
    reweighted = engine.run_forecast(base, draws, 5, n_paths=0,
                                     source_draws=weights.source_draws())
    fresh = engine.run_forecast(target, draws, 6, n_paths=0)
    ess = weights.ess
    # The changed driver now follows the changed prior (within the ESS's binomial error) ...
    _weighted_cdf_check(reweighted.drivers["alg_halving_years"],
                        target.drivers["alg_halving_years"].dist, ess)
    # ... and the correlated one keeps following the fresh run's (the copula term).
    ref = np.sort(fresh.drivers["coherent_shot_doubling_years"])
    for q in (0.2, 0.5, 0.8):
        share = float(np.mean(reweighted.drivers["coherent_shot_doubling_years"]
                              <= ref[int(q * draws)]))
        assert abs(share - q) < 4.5 * np.sqrt(q * (1 - q) * (1 / ess + 1 / draws)), (q, share)
    # Event probabilities: film within a day for a free user, by 2030 and 2033.
    event = reweighted.events["free_film_within_1d"]
    for year in (2030.9, 2033.9):
        for p, _ in enumerate(PROFILES):
            a = float(np.mean(event[:, p] <= year))
            b = float(np.mean(fresh.events["free_film_within_1d"][:, p] <= year))
            mean = (a + b) / 2
            error = np.sqrt(max(mean * (1 - mean), 1e-4) * (1 / ess + 1 / draws))
            assert abs(a - b) < 4.5 * error, (year, p, a, b)
    # The change moves things: the base run's probability is outside the what-if's band.
    base_run = engine.run_forecast(base, draws, 5, n_paths=0)
    a = float(np.mean(base_run.events["free_film_within_1d"][:, 0] <= 2030.9))
    b = float(np.mean(fresh.events["free_film_within_1d"][:, 0] <= 2030.9))
    assert abs(a - b) > 4.5 * np.sqrt(b * (1 - b) * 2 / draws)


@pytest.mark.parametrize(("setting", "words"), [
    ("film_length_seconds.value=6000", ("film_length_seconds", "fixed")),
    ("hw_slowdown_start_years.high=30", ("hw_slowdown_start_years", "beyond")),
    ("hw_doubling_years.low=0.3", ("k-hat",)),
])
def test_unreachable_changes_are_refused(setting, words):
    base = _priors()
    target = whatif_priors(base, [parse_setting(setting)], required=REQUIRED)
    with pytest.raises(NeedsFullRun) as refused:
        reweighting_weights(base, target, 4000, 1, False, [setting])
    for word in words:
        assert word in str(refused.value)


# ---------------------------------------------------------------------------------------------
# The command

@pytest.fixture(scope="module")
def base_run(tmp_path_factory) -> Path:
    def make(folder: Path) -> None:
        # In a priors/ folder of its own: what-if scenarios are saved beside it.
        (folder / "priors").mkdir()
        prior = folder / "priors" / "baseline.toml"
        prior.write_bytes(BASELINE.read_bytes())
        done = invoke("run", prior, "-n", "6000", "-s", "4", "--no-charts", "-q",
                      "-o", folder / "base")
        assert done.exit_code == 0, done.output
    return shared_folder(tmp_path_factory, "reweight-base", make) / "base"


def test_reweight_writes_a_run_that_verifies_and_a_scenario_that_loads(base_run, tmp_path):
    out = tmp_path / "whatif"
    scenario = base_run.parent / "priors" / f"whatif-{tmp_path.name}.toml"
    done = invoke("reweight", base_run, "--set", "alg_halving_years.median=1.0",
                  "--set", "agent_doubling_years.median=0.5", "-o", out, "--no-charts",
                  "--save-scenario", scenario)
    assert done.exit_code == 0, done.output
    assert "Reweighted: Pareto k-hat" in done.output and "compared with" in done.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["reweighting"]["changed_drivers"] == ["alg_halving_years",
                                                          "agent_doubling_years"]
    assert manifest["prior_files"][-1]["copy"].startswith("priors/whatif-")
    verified = invoke("verify", out)
    assert verified.exit_code == 0, verified.output
    assert "bit-identical" in verified.output
    # The saved scenario extends the run's prior file and holds the what-if's priors.
    saved = load_priors(scenario, required=REQUIRED)
    target = load_priors(out / manifest["prior_files"][-1]["copy"], required=REQUIRED)
    assert {n: d.dist.model_dump() for n, d in saved.drivers.items()} == {
        n: d.dist.model_dump() for n, d in target.drivers.items()}
    assert saved.drivers["alg_halving_years"].dist.median == 1.0


def test_a_scenario_outside_the_priors_tree_is_refused_before_anything_is_written(base_run,
                                                                                 tmp_path):
    out = tmp_path / "whatif"
    assert_rejected(invoke("reweight", base_run, "--set", "alg_halving_years.median=1.0",
                           "-o", out, "--save-scenario", tmp_path / "x.toml"), out,
                    "--save-scenario", "must be inside")
    assert not (tmp_path / "x.toml").exists()


@pytest.mark.parametrize(("setting", "words"), [
    ("alg_halving_years.median", ("DRIVER.FIELD=NUMBER",)),
    ("no_such_driver.median=2", ("--set", "no_such_driver", "unknown driver")),
    ("alg_halving_years.medain=2", ("--set", "alg_halving_years.medain")),
    ("alg_halving_years.median=abc", ("not a number",)),
    ("alg_halving_years.median=100", ("--set", "median")),
    ("hw_doubling_years.low=0.3", ("k-hat", "--resample")),
])
def test_bad_or_unreachable_settings_write_nothing(base_run, tmp_path, setting, words):
    out = tmp_path / "whatif"
    assert_rejected(invoke("reweight", base_run, "--set", setting, "-o", out, "--no-charts"),
                    out, *words)


def test_ctrl_c_while_reweighting_leaves_no_run_directory(base_run, tmp_path, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(engine, "run_forecast", interrupted)
    out = tmp_path / "whatif"
    result = invoke("reweight", base_run, "--set", "alg_halving_years.median=1.0", "-o", out)
    assert result.exit_code == 130
    assert result.stderr == "interrupted: no run directory was written\n"
    assert not out.exists() and not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_bounded_weights_are_trusted_where_the_khat_fit_misleads():
    # A moved median with the same 90% ends: every ratio within a few times the mean, yet the
    # tail fit gives k-hat far above 0.7 (a cluster near the cut-off plus a few larger ones).
    base = _priors()
    target = _target("compute_per_video_second_floor.median=0.027")
    weights, summary = reweighting_weights(base, target, 20_000, 20261125, False,
                                           ["compute_per_video_second_floor.median=0.027"])
    assert summary["khat"] > summary["khat_limit"]
    assert summary["max_weight_over_mean"] < 10 and weights.ess > 0.9 * 20_000
    assert not summary["resampled_despite_khat"]
    # The changed driver follows the changed prior within the ESS's binomial error.
    values = sample_drivers(base, 20261125, 0, 20_000, copula=Copula.from_priors(base))
    reweighted = values["compute_per_video_second_floor"][weights.source_draws()]
    _weighted_cdf_check(reweighted, target.drivers["compute_per_video_second_floor"].dist,
                        weights.ess)
