"""Prior files: merging, scenarios, and one-line errors naming file, entry and field."""

from pathlib import Path

import priorfiles as pf
import pytest

from simcore.base.errors import PriorError
from simcore.inputs.priors import decimal_year, load_priors
from simcore.model import DRIVER_DEFAULTS, MODEL_DRIVERS

ROOT = Path(__file__).resolve().parents[2]
REQUIRED = set(MODEL_DRIVERS)


@pytest.mark.parametrize("path", sorted((ROOT / "priors").rglob("*.toml")),
                         ids=lambda p: p.name)
def test_shipped_prior_files_load_and_cite_sources(path):
    priors = load_priors(path, required=REQUIRED)
    assert REQUIRED - set(DRIVER_DEFAULTS) <= set(priors.drivers) <= REQUIRED
    for driver in priors.drivers.values():
        assert driver.text.sources and driver.text.rationale.strip()
        assert all(s.url.startswith("http") for s in driver.text.sources)


def test_scenario_overrides_only_what_it_names(tmp_path):
    base = pf.write(tmp_path / "base.toml", pf.point_drivers(
        alg_halving_years=pf.entry("lognormal", median=0.8, low=0.4, high=1.6)))
    (tmp_path / "scen.toml").write_text(
        '[meta]\nextends = "base.toml"\ntitle = "s"\n\n'
        '[drivers.alg_halving_years]\nmedian = 1.0\n\n'
        '[drivers.free_allowance_today]\nfamily = "lognormal"\n'
        'median = 10.0\nlow = 5.0\nhigh = 20.0\n'
        '[[drivers.free_allowance_today.sources]]\n'
        'title = "t"\nurl = "https://x.org"\ndate = "2026"\n')
    priors = load_priors(tmp_path / "scen.toml", required=REQUIRED)
    alg = priors.drivers["alg_halving_years"].dist
    assert (alg.median, alg.low, alg.high) == (1.0, 0.4, 1.6)
    assert priors.drivers["free_allowance_today"].dist.median == 10.0
    assert priors.drivers["free_allowance_today"].text.unit == "u"   # kept from the parent
    assert priors.meta.as_of == "2026-11" and priors.meta.title == "s"
    assert len(priors.files) == 2 and priors.sha256 != load_priors(base).sha256


def test_decimal_year():
    assert decimal_year("2026-01") == 2026.0
    assert decimal_year("2026-07-02") == pytest.approx(2026.5, abs=0.002)


def broken(tmp_path, text: str) -> Path:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    return path


def valid_text(**overrides) -> str:
    return pf.render(pf.point_drivers(**overrides))


BAD_CASES = {
    "malformed_toml": (lambda: valid_text() + "\n[drivers.x\n", None, "malformed TOML"),
    "unknown_family": (lambda: valid_text(alg_halving_years=pf.entry("gamma", shape=2.0)),
                       "drivers.alg_halving_years.family", "unknown family 'gamma'"),
    "negative_scale": (lambda: valid_text(alg_halving_years=pf.entry("normal", mean=1.0, sd=-1.0)),
                       "drivers.alg_halving_years.sd", "greater than 0"),
    "low_above_high": (lambda: valid_text(alg_halving_years=pf.entry("uniform", low=3.0, high=1.0)),
                       "drivers.alg_halving_years", "below high"),
    "lognormal_out_of_order": (
        lambda: valid_text(alg_halving_years=pf.entry("lognormal", median=5.0, low=1.0, high=2.0)),
        "drivers.alg_halving_years", "low < median < high"),
    "probability_above_one": (lambda: valid_text(stall_occurs=pf.entry("bernoulli", p=1.5)),
                              "drivers.stall_occurs.p", "less than or equal to 1"),
    "regimes_not_summing": (
        lambda: valid_text(local_hours_per_day=pf.entry("regimes", choices=[
            {"name": "a", "value": 1.0, "p": 0.5}, {"name": "b", "value": 2.0, "p": 0.4}])),
        "drivers.local_hours_per_day.choices", "sum to 0.9"),
    "typo_key": (lambda: valid_text(alg_halving_years=pf.entry("lognormal", meidan=1.0, low=0.5,
                                                                high=2.0)),
                 "drivers.alg_halving_years.meidan", "unknown key"),
    "unknown_driver": (lambda: valid_text(alg_halving_yeras=pf.entry("fixed", value=1.0)),
                       "drivers.alg_halving_yeras", "did you mean 'alg_halving_years'"),
    "missing_source": (lambda: valid_text().replace(
        '[drivers.hw_doubling_years]\nfamily = "fixed"\nvalue = 2.3\nunit = "u"\ndescription = "d"'
        '\nrationale = "r"\nsources = [{title = "test fixture", url = "https://example.org/fixture",'
        ' date = "2026-11"}]', '[drivers.hw_doubling_years]\nfamily = "fixed"\nvalue = 2.3\n'
        'unit = "u"\ndescription = "d"\nrationale = "r"'),
        "drivers.hw_doubling_years.sources", "required field is missing"),
    "non_finite": (lambda: valid_text().replace("value = 2.3\n", "value = inf\n", 1),
                   "drivers.hw_doubling_years.value", "finite"),
    "correlation_unknown_driver": (
        lambda: pf.render(pf.point_drivers(
            alg_halving_years=pf.entry("uniform", low=0.5, high=1.0)),
            correlations=[["alg_halving_years", "nosuch_driver", 0.3]]),
        "correlations.pairs[0]", "unknown driver 'nosuch_driver'"),
    "correlation_out_of_range": (
        lambda: pf.render(pf.point_drivers(
            alg_halving_years=pf.entry("uniform", low=0.5, high=1.0),
            agent_doubling_years=pf.entry("uniform", low=0.3, high=0.6)),
            correlations=[["alg_halving_years", "agent_doubling_years", 1.5]]),
        "correlations.pairs[0]", "outside [-1, 1]"),
    "missing_driver": (lambda: pf.render({k: v for k, v in pf.point_drivers().items()
                                          if k != "price_markup"}),
                       "drivers.price_markup", "required by the model"),
    "bad_as_of": (lambda: pf.render(pf.point_drivers(), meta={"as_of": "2026-13"}),
                  "meta.as_of", "not a real date"),
    "empty": (lambda: "   \n", None, "file is empty"),
}


@pytest.mark.parametrize("case", sorted(BAD_CASES))
def test_bad_input_names_file_entry_and_field(tmp_path, case):
    make, where, words = BAD_CASES[case]
    path = broken(tmp_path, make())
    with pytest.raises(PriorError) as info:
        load_priors(path, required=REQUIRED)
    message = str(info.value)
    assert message.startswith(str(path)), message
    if where:
        assert f": {where}: " in message, message
    assert words in message, message
    assert "\n" not in message


def test_scenario_cannot_add_unknown_driver(tmp_path):
    pf.write(tmp_path / "base.toml", pf.point_drivers())
    (tmp_path / "s.toml").write_text(
        '[meta]\nextends = "base.toml"\n[drivers.new_thing]\nvalue = 1\n')
    with pytest.raises(PriorError, match=r"s\.toml: drivers\.new_thing: unknown driver"):
        load_priors(tmp_path / "s.toml", required=REQUIRED)


def test_extends_cycle_is_reported(tmp_path):
    (tmp_path / "a.toml").write_text('[meta]\nextends = "b.toml"\n')
    (tmp_path / "b.toml").write_text('[meta]\nextends = "a.toml"\n')
    with pytest.raises(PriorError, match=r"meta\.extends: cycle of extends: "
                                         r"a\.toml -> b\.toml -> a\.toml"):
        load_priors(tmp_path / "a.toml")


def test_extends_missing_file_and_outside_tree(tmp_path):
    (tmp_path / "priors").mkdir()
    (tmp_path / "priors" / "a.toml").write_text('[meta]\nextends = "nope.toml"\n')
    with pytest.raises(PriorError, match=r"a\.toml: meta\.extends: file not found"):
        load_priors(tmp_path / "priors" / "a.toml")
    pf.write(tmp_path / "outside.toml", pf.point_drivers())
    (tmp_path / "priors" / "b.toml").write_text('[meta]\nextends = "../outside.toml"\n')
    with pytest.raises(PriorError, match=r"meta\.extends: .* points outside the priors folder"):
        load_priors(tmp_path / "priors" / "b.toml")


def test_not_utf8(tmp_path):
    path = tmp_path / "latin1.toml"
    path.write_bytes(valid_text().encode() + "# caf\xe9\n".encode("latin-1"))
    with pytest.raises(PriorError, match="not UTF-8"):
        load_priors(path)
