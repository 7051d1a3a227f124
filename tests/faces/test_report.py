"""simcore report: the HTML page checked in a real headless browser (Chromium), the likelihood
terms at their boundaries, the assumptions table, escaping, and one-line exits on bad input."""

from __future__ import annotations

import csv
import io
import json
import math
import re
import shutil
import tomllib
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import priorfiles as pf
import pytest
from browsers import headless_chromium
from clichecks import assert_rejected, invoke
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sharedruns import shared_folder

from simcore.faces.formatting import likelihood, likelihood_label
from simcore.faces.plots import CHARTS

ROOT = Path(__file__).resolve().parents[2]
BASELINE = ROOT / "priors" / "baseline.toml"
DRAWS = 4000


def make_run(prior: Path, out: Path, *extra) -> Path:
    result = invoke("run", prior, "--draws", DRAWS, "--out", out, "-q", *extra)
    assert result.exit_code == 0, (result.output, result.stderr, result.exception)
    return out


def _make_runs_and_report(folder: Path) -> None:
    """A baseline run with its standard charts, a second one (another seed, no charts) to
    compare with, and the report of the first with that comparison."""
    base = make_run(BASELINE, folder / "baseline", "--seed", 11)
    other = make_run(BASELINE, folder / "other-seed", "--seed", 12, "--no-charts")
    out = folder / "out" / "report.html"
    result = invoke("report", base, "--out", out, "--compare", other)
    assert result.exit_code == 0, result.output
    assert str(out) in result.output


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    return shared_folder(tmp_path_factory, "report-test-runs", _make_runs_and_report)


@pytest.fixture(scope="module")
def runs(made):
    return made / "baseline", made / "other-seed"


@pytest.fixture(scope="module")
def report(made):
    return made / "out" / "report.html"


@pytest.fixture
def no_charts(monkeypatch):
    """Reports without drawing charts, for tests about something else (drawing them is most of
    a report's time)."""
    from simcore.faces import report

    monkeypatch.setattr(report, "run_charts", lambda run: ([], []))
    monkeypatch.setattr(report, "tornado_charts", lambda run: [])


# ---------------------------------------------------------------------------------------------
# Likelihood terms


@pytest.mark.parametrize("p, term", [
    (1.0, "virtually certain"), (0.99, "virtually certain"), (0.9849, "very likely"),
    (0.90, "very likely"), (0.8949, "likely"), (0.66, "likely"), (0.6549, "about as likely as not"),
    (0.5, "about as likely as not"), (0.3351, "about as likely as not"), (0.33, "unlikely"),
    (0.11, "unlikely"), (0.1049, "very unlikely"), (0.10, "very unlikely"),
    (0.0151, "very unlikely"), (0.01, "exceptionally unlikely"), (0.0, "exceptionally unlikely"),
])
def test_likelihood_terms_at_their_boundaries(p, term):
    assert likelihood(p).term == term


def test_likelihood_label_reads_as_in_the_report():
    assert likelihood_label(0.7) == "likely (66%+)"
    assert likelihood_label(0.5) == "about as likely as not (33–66%)"
    assert likelihood_label(0.05) == "very unlikely (under 10%)"


@pytest.mark.parametrize("p", [-0.01, 1.01, math.nan, math.inf, "0.5", None])
def test_likelihood_rejects_what_is_not_a_probability(p):
    with pytest.raises(ValueError):
        likelihood(p)


ORDER = ["exceptionally unlikely", "very unlikely", "unlikely", "about as likely as not",
         "likely", "very likely", "virtually certain"]


@given(st.floats(0, 1), st.floats(0, 1))
def test_likelihood_never_says_less_for_a_larger_probability(a, b):
    low, high = sorted((a, b))
    assert ORDER.index(likelihood(low).term) <= ORDER.index(likelihood(high).term)


# ---------------------------------------------------------------------------------------------
# The page in a real browser

@pytest.fixture(scope="module")
def page(report):
    """What the browser saw: images, console log, resources fetched and every marked number."""
    browser = headless_chromium()
    try:
        browser.get(report.as_uri())
        seen = browser.execute_script("""
            return {
              ready: document.readyState,
              images: Array.from(document.images).map(i => ({
                  id: i.closest('figure') ? i.closest('figure').id : '',
                  complete: i.complete, width: i.naturalWidth, src: i.src.slice(0, 22)})),
              fetched: performance.getEntriesByType('resource').map(r => r.name),
              scripts: document.scripts.length,
              numbers: Array.from(document.querySelectorAll('.num')).map(e => ({
                  source: e.dataset.source, row: JSON.parse(e.dataset.row),
                  column: e.dataset.column, kind: e.dataset.kind,
                  scale: parseFloat(e.dataset.scale || '1'), text: e.textContent})),
              title: document.title,
            };""")
        seen["log"] = browser.get_log("browser")
    finally:
        browser.quit()
    return seen


def test_page_loads_with_every_image_and_no_errors(page):
    assert page["ready"] == "complete" and "simcore" in page["title"]
    broken = [i for i in page["images"] if not (i["complete"] and i["width"] > 0)]
    assert not broken, broken
    assert all(i["src"].startswith("data:image/png;base64") for i in page["images"])
    problems = [e for e in page["log"] if e["level"] in ("SEVERE", "WARNING")]
    assert not problems, problems
    assert page["fetched"] == []        # nothing loaded from anywhere: opens offline
    assert page["scripts"] == 0


def test_page_has_every_chart_the_tornado_and_the_comparison(page):
    ids = {i["id"] for i in page["images"]}
    assert {f"chart-{name}" for name in CHARTS} <= ids
    assert {"chart-tornado_film_days", "chart-tornado_novel_to_movie_possible",
            "chart-compare"} <= ids


SUPERSCRIPTS = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹⁻", "0123456789-")
DAYS = {"second": 1 / 86400, "minute": 1 / 1440, "hour": 1 / 24, "day": 1.0, "week": 7.0,
        "month": 365.25 / 12, "year": 365.25}


def parse_number(text: str) -> tuple[float, float]:
    """A number as the page prints it ('5,400', '0.0438', '9.48×10⁻⁷') and half a unit of its
    last printed digit: the page must show the value to within that."""
    match = re.fullmatch(r"([-+]?\d+(?:\.(\d+))?)(?:×10([⁰¹²³⁴⁵⁶⁷⁸⁹⁻]+))?",
                         text.replace(",", "").replace("−", "-"))
    assert match, f"not a number: {text!r}"
    exponent = int(match[3].translate(SUPERSCRIPTS)) if match[3] else 0
    return float(match[1]) * 10.0 ** exponent, 0.5 * 10.0 ** (exponent - len(match[2] or ""))


def check_shown(kind: str, text: str, value: float) -> None:
    """The text on the page stands for ``value`` (in the CSV's unit, scale applied)."""
    text = text.strip()
    if kind in ("duration_days", "duration_seconds"):
        days = value / 86400.0 if kind == "duration_seconds" else value
        if text == "never":
            assert days == math.inf
            return
        number, unit = text.split(" ")
        shown, half = parse_number(number)
        expected = days / DAYS[unit.removesuffix("s")]
    elif kind == "usd":
        assert text.startswith("$"), text
        size = {"k": 1e3, "M": 1e6, "B": 1e9}.get(text[-1], 1.0)
        shown, half = parse_number(text[1:].rstrip("kMB"))
        expected = value / size
    elif kind == "percent":
        shown, half = parse_number(text.removesuffix("%"))
        expected = 100.0 * value
    else:   # probability, number
        shown, half = parse_number(text)
        expected = value
    assert abs(shown - expected) <= half * (1 + 1e-9) + 1e-12, (kind, text, value)


def csv_cell(folder: Path, source: str, row: dict, column: str) -> str:
    table = pd.read_csv(folder / source, dtype=str, keep_default_na=False)
    selected = table
    for key, wanted in row.items():
        if isinstance(wanted, str):
            selected = selected[selected[key] == wanted]
        else:
            selected = selected[pd.to_numeric(selected[key], errors="coerce").sub(wanted)
                                .abs() <= 1e-9 * max(1.0, abs(wanted))]
    assert len(selected) == 1, (source, row, len(selected))
    return selected.iloc[0][column]


def test_headline_numbers_equal_the_runs_csv_files(page, runs):
    base, _ = runs
    numbers = page["numbers"]
    sources = {n["source"] for n in numbers}
    assert {"percentiles.csv", "events.csv", "events_summary.csv", "binding.csv",
            "seed_comparison.csv"} <= sources
    assert len(numbers) >= 100
    for n in numbers:
        cell = csv_cell(base, n["source"], n["row"], n["column"])
        if n["kind"] == "text":
            assert n["text"] == cell, (n, cell)
        else:
            check_shown(n["kind"], n["text"], float(cell) * n["scale"])


def test_number_reader_would_catch_a_wrong_number():
    check_shown("duration_days", "13 hours", 13.2 / 24)
    with pytest.raises(AssertionError):
        check_shown("duration_days", "13 hours", 14 / 24)
    with pytest.raises(AssertionError):
        check_shown("usd", "$9.48×10⁻⁷", 9.5e-7)
    check_shown("percent", "0.83%", 0.00834)
    with pytest.raises(AssertionError):
        check_shown("probability", "0.83", 0.8351)


# ---------------------------------------------------------------------------------------------
# The HTML itself


class Rows(HTMLParser):
    """Assumption rows (<tr data-driver>) with their links, and every <script> element."""

    def __init__(self):
        super().__init__()
        self.rows: dict[str, list[str]] = {}
        self.current: str | None = None
        self.scripts = 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "tr":
            self.current = attrs.get("data-driver")
            if self.current:
                self.rows[self.current] = []
        elif tag == "a" and self.current:
            self.rows[self.current].append(attrs["href"])
        elif tag == "script":
            self.scripts += 1

    def handle_endtag(self, tag):
        if tag == "tr":
            self.current = None


def test_assumptions_table_has_a_row_per_driver_with_its_sources(report, runs):
    base, _ = runs
    manifest = json.loads((base / "manifest.json").read_text())
    prior = tomllib.loads((base / manifest["prior_files"][-1]["copy"]).read_text())
    parsed = Rows()
    parsed.feed(report.read_text())
    assert list(parsed.rows) == list(prior["drivers"])
    for name, entry in prior["drivers"].items():
        assert parsed.rows[name] == [s["url"] for s in entry["sources"]], name


HOSTILE = "<script>alert('rationale')</script>"
HOSTILE_TITLE = '"><img src=x onerror=alert(1)>'


def test_text_from_prior_files_is_escaped(tmp_path, no_charts):
    folder = tmp_path / "priors"
    folder.mkdir()
    hostile = {**pf.entry("lognormal", median=0.8, low=0.4, high=1.6), "rationale": HOSTILE,
               "sources": [{"title": HOSTILE_TITLE, "url": "https://example.org/x?a=1&b=<2>",
                            "date": "2026-11"}]}
    prior = pf.write(folder / "hostile.toml", pf.point_drivers(alg_halving_years=hostile))
    run = tmp_path / "hostile-run"
    result = invoke("run", prior, "--draws", 300, "--out", run, "--no-charts", "-q")
    assert result.exit_code == 0, result.output
    result = invoke("report", run)
    assert result.exit_code == 0, result.output
    html = (run / "report.html").read_text()
    assert HOSTILE not in html and HOSTILE_TITLE not in html
    assert "&lt;script&gt;alert(&#39;rationale&#39;)&lt;/script&gt;" in html
    assert "https://example.org/x?a=1&amp;b=&lt;2&gt;" in html
    parsed = Rows()
    parsed.feed(html)
    assert parsed.scripts == 0
    assert parsed.rows["alg_halving_years"] == ["https://example.org/x?a=1&b=<2>"]


def test_report_is_self_contained(report):
    html = report.read_text()
    # Images are data URIs; links go to sources (https) or within the page (#), nothing else.
    assert re.findall(r"""src=["']""", html)
    assert not re.search(r"""src=["'](?!data:image/png;base64,)""", html)
    assert not re.search(r"""href=["'](?!https?://|#)""", html)
    assert "<link" not in html and "@import" not in html and "url(" not in html


# ---------------------------------------------------------------------------------------------
# Bad input: one line, exit 2, nothing written


def broken_copy(run: Path, tmp_path: Path, name: str) -> Path:
    copy = tmp_path / name
    shutil.copytree(run, copy, ignore=shutil.ignore_patterns("report.html"))
    return copy


BREAKAGES = {
    "no-manifest": (lambda d: (d / "manifest.json").unlink(), "manifest.json"),
    "corrupt-manifest": (lambda d: (d / "manifest.json").write_text("{not json"), "JSON"),
    "missing-csv": (lambda d: (d / "events_summary.csv").unlink(), "events_summary.csv"),
    "garbage-csv": (lambda d: (d / "percentiles.csv").write_bytes(b"\xff\xfe\x00garbage"),
                    "percentiles.csv"),
    "missing-column": (lambda d: (d / "binding.csv").write_text("requirement,year\nx,all\n"),
                       "share"),
    "edited-prior": (lambda d: next((d / "priors").glob("*.toml")).write_text("[meta]\n"),
                     "SHA-256"),
}


@pytest.mark.parametrize("breakage", list(BREAKAGES))
def test_broken_run_is_rejected_in_one_line(runs, tmp_path, breakage):
    base, _ = runs
    damage, words = BREAKAGES[breakage]
    run = broken_copy(base, tmp_path, breakage)
    damage(run)
    out = tmp_path / "out" / "report.html"
    out.parent.mkdir()
    assert_rejected(invoke("report", run, "--out", out), out, words)


def test_not_a_run_directory_and_a_bad_comparison_are_rejected(runs, tmp_path):
    base, _ = runs
    out = tmp_path / "report.html"
    assert_rejected(invoke("report", tmp_path / "nowhere", "--out", out), out, "nowhere")
    assert_rejected(invoke("report", tmp_path, "--out", out), out, "manifest.json")
    assert_rejected(invoke("report", base, "--out", out, "--compare", tmp_path / "nowhere"),
                    out, "nowhere")


def test_report_replaces_an_old_report_whole(runs, tmp_path, no_charts):
    run = broken_copy(runs[0], tmp_path, "run")
    out = run / "report.html"     # the default output: re-reporting a run is routine
    out.write_text("old")
    result = invoke("report", run, "-q")
    assert result.exit_code == 0, result.output
    assert result.output.strip() == str(out)
    assert out.read_text().startswith("<!DOCTYPE html>")
    assert not [p for p in run.iterdir() if p.name.startswith(".")]


def test_report_replaces_another_file_only_when_forced(runs, tmp_path, no_charts):
    base, _ = runs
    out = tmp_path / "notes.toml"
    out.write_text("keep")
    result = invoke("report", base, "--out", out)
    assert result.exit_code == 2 and result.stderr.count("\n") == 1, result.output
    assert str(out) in result.stderr and "--force" in result.stderr
    assert out.read_text() == "keep"
    forced = invoke("report", base, "--out", out, "--force", "--quiet")
    assert forced.exit_code == 0 and forced.output.strip() == str(out), forced.output
    assert out.read_text().startswith("<!DOCTYPE html>")
    assert [p.name for p in tmp_path.iterdir()] == ["notes.toml"]


@pytest.mark.parametrize("own", ["run.nc", "manifest.json", "events.csv", "film_days.png",
                                 "prior copy", "priors/../run.nc", "compared run's table"])
def test_report_never_replaces_a_file_it_reads(runs, tmp_path, own):
    from simcore.base.errors import RunDirError
    from simcore.faces.report import write_report

    run = broken_copy(runs[0], tmp_path, "run")
    others = [broken_copy(runs[1], tmp_path, "other")] if own == "compared run's table" else []
    manifest = json.loads((run / "manifest.json").read_text())
    target = {"prior copy": run / manifest["prior_files"][-1]["copy"],
              "compared run's table": others and others[0] / "percentiles.csv"
              }.get(own) or run / own
    before = target.read_bytes()
    with pytest.raises(RunDirError, match="never replaced"):
        write_report(run, target, compare_with=others, force=True)
    assert target.read_bytes() == before


# ---------------------------------------------------------------------------------------------
# Runs with nothing to rank: sensitivity.csv is header-only


@pytest.mark.parametrize("case", ["1 draw", "40 draws", "every driver fixed"])
def test_report_says_why_there_is_no_sensitivity_ranking(tmp_path, no_charts, case):
    from simcore.analysis.sensitivity.given import MIN_DRAWS

    if case == "every driver fixed":
        prior, draws, why = pf.write(tmp_path / "fixed.toml", pf.point_drivers()), 100, "fixed"
    else:
        draws = int(case.split()[0])
        prior, why = BASELINE, f"needs at least {MIN_DRAWS}"
    assert draws < MIN_DRAWS or case == "every driver fixed"
    run = tmp_path / "run"
    result = invoke("run", prior, "--draws", draws, "--out", run, "--no-charts", "-q")
    assert result.exit_code == 0, result.output
    assert len((run / "sensitivity.csv").read_text().splitlines()) == 1
    result = invoke("report", run, "-q")
    assert result.exit_code == 0, (result.output, result.exception)
    html = (run / "report.html").read_text()
    q8 = html[html.index('<section id="q8"'):html.index('<section id="q9"')]
    assert "No sensitivity ranking to show" in q8 and why in q8, q8


# ---------------------------------------------------------------------------------------------
# Malformed values in a run's tables


TABLES = ["events_summary.csv", "events.csv", "binding.csv", "percentiles.csv",
          "seed_comparison.csv", "sensitivity.csv", "sensitivity_dominant.csv"]


def rewrite_rows(path: Path, cell: str) -> None:
    """The table's header and three rows of ``cell`` in every column."""
    header = path.read_text().splitlines()[0]
    row = ",".join([cell] * len(header.split(",")))
    path.write_text(f"{header}\n{row}\n{row}\n{row}\n")


def cut_mid_line(path: Path) -> None:
    """Cut half-way through the line at the file's middle, as a copy that stopped."""
    text = path.read_text()
    start = text.rindex("\n", 0, len(text) // 2) + 1
    end = text.index("\n", start)
    path.write_text(text[:start + (end - start) // 2])


@pytest.mark.parametrize("damage", ["abc", "nan", "cut"])
@pytest.mark.parametrize("table", TABLES)
def test_malformed_values_are_rejected_in_one_line(runs, tmp_path, table, damage):
    base, _ = runs
    run = broken_copy(base, tmp_path, "broken")
    if damage == "cut":
        cut_mid_line(run / table)
    else:
        rewrite_rows(run / table, damage)
    out = tmp_path / "out" / "report.html"
    out.parent.mkdir()
    assert_rejected(invoke("report", run, "--out", out), out, str(run / table), "row ")
    if table == "percentiles.csv":
        assert_rejected(invoke("report", base, "--out", out, "--compare", run), out, table)


def test_manifest_without_the_prior_path_is_rejected(runs, tmp_path):
    run = broken_copy(runs[0], tmp_path, "broken")
    manifest = json.loads((run / "manifest.json").read_text())
    del manifest["priors_path"]
    (run / "manifest.json").write_text(json.dumps(manifest))
    out = tmp_path / "report.html"
    assert_rejected(invoke("report", run, "--out", out), out, "manifest.json", "priors_path")


_ROWS: dict[Path, list[list[str]]] = {}


def _rows(path: Path) -> list[list[str]]:
    if path not in _ROWS:
        _ROWS[path] = list(csv.reader(io.StringIO(path.read_text())))
    return _ROWS[path]


JUNK = st.sampled_from(["abc", "nan", "", "inf", "-1", "1.5", "1e999", "not by 2046", "all",
                        "censored", "9" * 30, "novel_to_movie_possible"]) | st.text(max_size=6)


@settings(max_examples=10, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])   # restored each time
@given(data=st.data())
def test_any_cell_replaced_by_junk_is_a_report_or_a_one_line_error(runs, tmp_path, no_charts,
                                                                   data):
    base, _ = runs
    run = tmp_path / "run"
    if not run.exists():
        shutil.copytree(base, run, ignore=shutil.ignore_patterns("report.html", "run.nc"))
    table = data.draw(st.sampled_from(TABLES))
    rows = [list(r) for r in _rows(base / table)]
    # Often among the first rows: every table's first rows are ones the report reads.
    row = data.draw(st.integers(1, min(4, len(rows) - 1)) | st.integers(1, len(rows) - 1))
    column = data.draw(st.integers(0, len(rows[0]) - 1))
    rows[row][column] = data.draw(JUNK)
    text = io.StringIO()
    csv.writer(text, lineterminator="\n").writerows(rows)
    (run / table).write_text(text.getvalue())
    out = tmp_path / "out.html"
    try:
        result = invoke("report", run, "--out", out)
        if result.exit_code == 0:
            out.unlink()
        else:
            assert_rejected(result, out, table)
    finally:
        shutil.copy(base / table, run / table)
