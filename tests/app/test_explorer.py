"""The explorer's logic (simcore.app.explorer, issue 19) without a browser: a change's preview
is the reweighting ``simcore reweight`` makes of a stored run, the fresh view is what a run of
the saved scenario gives, a bad value gets the CLI's line, and files stay in their trees."""

from __future__ import annotations

import shutil
import tomllib
from pathlib import Path

import numpy as np
import pytest
from clichecks import invoke
from hypothesis import given, settings
from hypothesis import strategies as st

from simcore.app.explorer import (
    TIERS,
    Explorer,
    SliderRange,
    chart_tree,
    rank_drivers,
    slider_range,
    tier_output,
)
from simcore.app.reweight import reweighted_run
from simcore.base.errors import SimcoreError
from simcore.faces.answer import summary_text
from simcore.inputs.priors import load_priors
from simcore.model import MODEL_DRIVERS
from simcore.model.spec import DRIVER_DOMAINS, Domain
from simcore.run import engine

ROOT = Path(__file__).resolve().parents[2]
DRAWS, SEED = 20_000, 11
CHANGE = {"alg_halving_years.median": "0.85"}


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> Path:
    """A copy of the repository's priors tree (the explorer writes scenarios into it)."""
    folder = tmp_path_factory.mktemp("explore")
    shutil.copytree(ROOT / "priors", folder / "priors")
    return folder


@pytest.fixture(scope="module")
def explorer(tree) -> Explorer:
    return Explorer(tree / "priors" / "baseline.toml", DRAWS, SEED, runs_root=tree / "runs")


def _same_numbers(a, b) -> None:
    assert summary_text(a) == summary_text(b)
    for name, hist in a.histograms.items():
        assert np.array_equal(hist.counts, b.histograms[name].counts), name


def test_controls_are_the_top_ranked_uncertain_drivers_with_their_prior_fields(explorer):
    from simcore.analysis.sensitivity import table_for_run
    names = [c.driver for c in explorer.controls]
    assert names == rank_drivers(table_for_run(explorer.base_view.result), explorer.base)
    assert 1 <= len(names) <= 8 and len(set(names)) == len(names)
    for control in explorer.controls:
        dist = explorer.base.drivers[control.driver].dist
        assert not dist.is_constant
        for field, value in control.fields.items():
            assert getattr(dist, field) == value
    lognormal = next(c for c in explorer.controls if c.family == "lognormal")
    f = lognormal.fields
    assert list(f) == ["median", "low", "high"]
    assert lognormal.spread_words == (f"median {f['median']:g}, 90% interval "
                                      f"{f['low']:g} – {f['high']:g}")


def test_unchanged_values_are_no_change(explorer):
    values = {f"{c.driver}.{k}": f"{v!r}" for c in explorer.controls for k, v in c.fields.items()}
    change = explorer.change(values)
    assert change.settings == () and change.target is None and change.error is None
    assert explorer.preview(change) is explorer.base_view
    assert explorer.fresh(change) is explorer.base_view


def test_preview_is_the_reweighting_simcore_reweight_makes_of_a_stored_run(explorer, tree,
                                                                            tmp_path):
    change = explorer.change(CHANGE)
    preview = explorer.preview(change)
    assert preview.kind == "preview" and preview.label.startswith("preview: reweighted (k-hat ")
    assert "ESS" in preview.label
    run_dir = tmp_path / "base"
    done = invoke("run", explorer.base_path, "-n", DRAWS, "-s", SEED, "--no-charts", "-q",
                  "--no-observations", "-o", run_dir)
    assert done.exit_code == 0, done.output
    setting = [f"{k}={v}" for k, v in CHANGE.items()]
    stored, _ = reweighted_run(run_dir, setting, tmp_path / "whatif", force=False,
                               resample=False, with_charts=False)
    assert summary_text(preview.result) == summary_text(stored)
    assert f"k-hat {stored.reweighting['khat']:.2f}" in preview.label
    # The preview moved the numbers (the change is not a no-op).
    assert summary_text(preview.result) != explorer.base_view.answer


def test_fresh_view_is_what_a_run_of_the_saved_scenario_gives(explorer, tree):
    change = explorer.change(CHANGE)
    fresh = explorer.fresh(change)
    assert fresh.kind == "fresh" and fresh.label == f"fresh run of {DRAWS:,} draws"
    path = explorer.save_scenario(change, "faster-algorithms", "Because <of> a \"source\".")
    assert path.parent == tree / "priors" / "scenarios"
    saved = tomllib.loads(path.read_text())
    assert saved["meta"]["extends"] == "../baseline.toml"
    assert saved["drivers"] == {"alg_halving_years": {
        "median": 0.85, "rationale": "Because <of> a \"source\"."}}
    loaded = load_priors(path, required=set(MODEL_DRIVERS))
    _same_numbers(fresh.result, engine.run_forecast(loaded, DRAWS, SEED))
    with pytest.raises(Exception, match="already exists"):
        explorer.save_scenario(change, "faster-algorithms")


@pytest.mark.parametrize("name", ["../escape", "a/b", ".hidden", "x" * 65, "bad name"])
def test_a_scenario_name_cannot_leave_the_scenarios_folder(explorer, tree, name):
    change = explorer.change(CHANGE)
    before = sorted(tree.rglob("*"))
    with pytest.raises(Exception, match="not a file name"):
        explorer.save_scenario(change, name)
    assert sorted(tree.rglob("*")) == before


def test_a_bad_value_gets_the_line_the_cli_gives(explorer, tmp_path):
    bad = {"alg_halving_years.median": "fast"}
    change = explorer.change(bad)
    assert change.target is None
    cli = invoke("reweight", tmp_path / "absent", "--set", "alg_halving_years.median=fast")
    assert cli.exit_code == 2
    assert cli.stderr.strip() == f"error: {change.error}"
    # A value the prior file's rules refuse is named by driver and field.
    refused = explorer.change({"alg_halving_years.low": "5"})
    assert refused.error is not None and "alg_halving_years" in refused.error
    assert "\n" not in refused.error
    # The explorer still works after both.
    assert explorer.change(CHANGE).target is not None


def test_a_change_weights_cannot_reach_says_why_instead_of_a_preview(explorer):
    change = explorer.change({"hw_slowdown_start_years.low": "1"})
    assert change.target is not None
    why = explorer.preview(change)
    assert isinstance(why, str) and "reweighting cannot reach it" in why


def test_charts_are_drawn_from_a_result_without_a_run_directory(explorer):
    tree = chart_tree(explorer.base_view.result)
    assert {"trajectories", "events"} <= set(tree.children)
    figures = explorer.figures(explorer.base_view.result)
    assert set(figures) == {"film_days", "film_events", "novel_to_movie",
                            "cost_per_finished_minute"}
    assert all(f.axes for f in figures.values())
    pngs = explorer.chart_pngs(explorer.base_view.result)
    assert set(pngs) == set(figures)
    assert all(png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 10_000
               for png in pngs.values())


def test_the_report_of_a_view_is_written_under_the_runs_folder(explorer, tree):
    view = explorer.preview(explorer.change(CHANGE))
    report = explorer.report(view)
    assert report.name == "report.html" and report.parent.parent == tree / "runs"
    text = report.read_text()
    assert "<html" in text.lower() and "alg_halving_years" in text


def test_headline_rows_follow_the_profile(explorer):
    from simcore.model import PROFILES
    result = explorer.base_view.result
    rows = {p: explorer.headline_rows(result, p) for p in PROFILES}
    assert all(len(r) >= 3 for r in rows.values())
    assert len({tuple(r) for r in rows.values()}) > 1


def test_drivers_are_ranked_by_the_headline_targets_only(explorer):
    import pandas as pd
    names = [n for n, d in explorer.base.drivers.items() if not d.dist.is_constant][:3]
    fixed = next(n for n, d in explorer.base.drivers.items() if d.dist.is_constant)
    rows = [("coherent_shot_seconds", names[0], 0.99), ("film_days", names[1], 0.5),
            ("novel_to_movie_possible", names[2], -0.7), ("film_days", names[0], 0.01),
            ("film_days", fixed, 0.9), ("film_days", names[2], 0.6)]
    table = pd.DataFrame([{"output": o, "driver": d, "method": m, "index": i}
                          for o, d, i in rows for m in ("spearman", "prcc")])
    table.loc[table["method"] == "prcc", "index"] = 0.0
    assert rank_drivers(table, explorer.base) == [names[2], names[1], names[0]]
    assert rank_drivers(table, explorer.base, n=1) == [names[2]]


def test_explore_of_a_missing_or_bad_source_is_one_line_and_serves_nothing(tmp_path):
    from clichecks import one_line_error
    one_line_error(invoke("explore", tmp_path / "absent.toml", "--no-browser"), 2,
                   "absent.toml")
    bad = tmp_path / "priors" / "bad.toml"
    bad.parent.mkdir()
    bad.write_text("[meta]\ntitle = 3\n")
    one_line_error(invoke("explore", bad, "--no-browser"), 2, "bad.toml")


def test_a_run_directory_gives_its_prior_file_seed_and_sensitivity_ranking(tree, tmp_path):
    import pandas as pd

    from simcore.analysis.sensitivity.given import load
    run_dir = tmp_path / "small"
    done = invoke("run", tree / "priors" / "baseline.toml", "-n", 3000, "-s", 9,
                  "--no-charts", "-q", "--no-observations", "-o", run_dir)
    assert done.exit_code == 0, done.output
    from_run = Explorer.from_source(run_dir, draws=3000)
    assert from_run.seed == 9 and from_run.base_path == tree / "priors" / "baseline.toml"
    stored = load(run_dir)
    assert isinstance(stored, pd.DataFrame)
    assert [c.driver for c in from_run.controls] == rank_drivers(stored, from_run.base)
    _same_numbers(from_run.base_view.result,
                  engine.run_forecast(from_run.base, 3000, 9))


# -- sliders ---------------------------------------------------------------------------------

DOMAINS = st.sampled_from(sorted(set(DRIVER_DOMAINS.values()), key=str))


@st.composite
def fields_in_domains(draw):
    """A domain, and a value with a prior's span around it, all inside the domain."""
    domain = draw(DOMAINS)
    low_bound = domain.low if np.isfinite(domain.low) else -1e4
    high_bound = domain.high if np.isfinite(domain.high) else 1e4
    numbers = st.floats(low_bound, high_bound, allow_nan=False, allow_subnormal=False)
    points = sorted(draw(st.lists(numbers.filter(domain.contains), min_size=3, max_size=3)))
    return domain, points[1], points[0], points[2]


def _grid(scale: SliderRange, n: int = 301) -> np.ndarray:
    return np.linspace(*scale.positions, n)


@settings(max_examples=300, deadline=None)
@given(fields_in_domains())
def test_a_slider_holds_its_value_and_never_leaves_the_domain(case):
    domain, value, low, high = case
    scale = slider_range(domain, value, low, high)
    assert scale.start <= value <= scale.end
    assert domain.contains(scale.start) and domain.contains(scale.end)
    lo, hi = scale.positions
    assert lo < hi and 0 < scale.step <= hi - lo
    values = [scale.value_at(x) for x in [lo - 1.0, *_grid(scale), hi + 1.0]]
    assert all(domain.contains(v) and scale.start <= v <= scale.end for v in values)
    assert values == sorted(values)     # moving right never lowers the value
    # The value's own position gives the value back (to the slider's rounding).
    assert scale.value_at(scale.position(value)) == pytest.approx(value, rel=0.005,
                                                                  abs=1e-9)


def test_a_positive_drivers_slider_is_log_scaled_and_spans_its_prior(explorer):
    for control in explorer.controls:
        driver = explorer.base.drivers[control.driver]
        domain = DRIVER_DOMAINS[control.driver]
        assert set(control.ranges) == set(control.fields)
        for name, value in control.ranges.items():
            assert value.start <= control.fields[name] <= value.end
        if control.family == "lognormal":
            for scale in control.ranges.values():
                assert scale.log and scale.start > 0     # a lognormal's numbers are > 0
                assert domain.contains(scale.start) and domain.contains(scale.end)
                # Wider than the prior's central 98% on both sides: what-ifs beyond it.
                assert scale.start < driver.dist.quantile(0.01)
                assert scale.end > driver.dist.quantile(0.99)
                # Equal moves are equal ratios: the middle half of the slider spans the
                # square root of its whole ratio.
                lo, hi = scale.positions
                a, b = (scale.value_at(lo + f * (hi - lo)) for f in (0.25, 0.75))
                assert b / a == pytest.approx((scale.end / scale.start) ** 0.5, rel=0.01)


def test_a_probability_slider_stops_at_its_bounds_and_a_signed_one_is_linear():
    probability = Domain(0.0, 1.0, low_open=True)
    scale = slider_range(probability, 0.9, 0.5, 0.99)
    assert scale.end == 1.0 and scale.value_at(scale.positions[1] + 5) == 1.0
    signed = slider_range(Domain(), -2.0, -5.0, 3.0)
    assert not signed.log and signed.start < -5.0 and signed.end > 3.0
    assert signed.value_at(0.1 + 0.2) == 0.3         # no float noise in a saved scenario


def test_slider_values_at_the_ends_are_taken_or_get_the_cli_line(explorer):
    """Every value a slider gives goes through the prior rules as a typed one does: taken
    as it is, or (a median moved above the high) refused with one line naming the driver;
    between the prior's low and high a median is always taken."""
    taken = 0
    for control in explorer.controls:
        for name, scale in control.ranges.items():
            key = f"{control.driver}.{name}"
            for position in scale.positions:
                value = scale.value_at(position)
                change = explorer.change({key: repr(value)})
                if change.error is not None:
                    assert change.target is None and "\n" not in change.error
                    assert f"drivers.{control.driver}" in change.error
                else:
                    taken += 1
                    dist = change.target.drivers[control.driver].dist
                    assert getattr(dist, name) == value
            if name == "median":
                inside = scale.value_at(scale.position(
                    (control.fields["low"] + control.fields["high"]) / 2))
                assert explorer.change({key: repr(inside)}).error is None
    assert taken > 0


# -- quality tiers ---------------------------------------------------------------------------

def test_the_tier_selects_the_cost_per_minute_chart_and_headline_numbers(explorer):
    from simcore.analysis.headline import headline_indices
    from simcore.faces.formatting import usd_text
    from simcore.model import PROFILES
    result = explorer.base_view.result
    rows = {t: dict(explorer.headline_rows(result, PROFILES[0], t)) for t in TIERS}
    medians = {t: result.histograms[tier_output(t)].quantiles([0.5])[0] for t in TIERS}
    for t in TIERS:
        costs = {k: v for k, v in rows[t].items() if k.startswith("Cost per finished minute")}
        assert len(costs) == len(headline_indices(result))
        assert all(f"{t} tier" in k for k in costs)
        assert list(costs.values()) == [usd_text(medians[t][k])
                                        for k in headline_indices(result)]
    # The festival tier adds labour and a premium to the draft's generation: dearer always.
    assert np.all(medians["festival"] > medians["draft"])
    # Rows other than the cost are the same whichever tier.
    same = [(k, v) for k, v in rows["draft"].items() if not k.startswith("Cost per")]
    assert same == [(k, v) for k, v in rows["festival"].items() if not k.startswith("Cost")]
    pngs = {t: explorer.tier_chart_png(result, t) for t in TIERS}
    assert pngs["draft"] != pngs["festival"]
    assert explorer.chart_pngs(result, "festival")[explorer.tier_chart] == pngs["festival"]
    with pytest.raises(SimcoreError, match="valid tiers are draft, festival"):
        tier_output("premium")
