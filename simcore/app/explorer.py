"""The live what-if explorer's logic (``simcore explore``), without any web framework: the
page (simcore.faces.explorer_page) only shows what this module computes, so every rule here
is tested without a browser.

The explorer keeps one base forecast in a warm process: a prior file (a scenario of the
priors tree, or the prior file of a run directory given instead) sampled with a seed. A change
is a set of ``DRIVER.FIELD=VALUE`` settings, exactly the ``simcore reweight --set`` ones. On
each change it gives first a preview by reweighting the base's draws (PSIS, refused where
k-hat says the weights cannot be trusted or the new prior reaches beyond the old one), then
a fresh run of the changed priors (at least 100,000 draws, in memory). Every view says which
of the two it is. "Save as scenario" writes the change as a prior file that ``extends`` the
base (``simcore run`` of it with the same seed and draws gives the fresh view's numbers);
"download report" writes a run directory of the view and its HTML report.

Files are read only inside the priors tree (the folder named ``priors`` that holds the base
file) and written only there (scenarios) and in the runs folder (reports).
"""

from __future__ import annotations

import html
import math
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..analysis.conditioning import khat_text
from ..base.errors import SimcoreError, one_line
from ..inputs.priors import PriorSet, load_priors
from ..inputs.whatif import Setting, parse_setting, scenario_text, whatif_name, whatif_priors
from ..model import MODEL_DRIVERS
from ..model.spec import DRIVER_DOMAINS, Domain
from ..run import engine
from ..run.engine import RunResult
from .reweight import NeedsFullRun, reweighting_weights

FRESH_DRAWS = 100_000           # the floor for a fresh run after each change
DEFAULT_SEED = 20261125         # simcore run's default seed: the CLI reproduces the page
TOP_DRIVERS = 8
# The sensitivity targets the page's charts and answers are about (Q5, Q6, Q7).
HEADLINE_OUTPUTS = ("film_days", "free_film_within_", "novel_to_movie_")
CHART_NAMES = ("film_days", "film_events", "novel_to_movie")   # Q5, Q6, Q7
# Paths kept for the fan charts' sample lines (as simcore run stores by default).
CHART_PATHS = engine.DEFAULT_PATHS
CHART_DPI = 90      # on screen, beside the controls: smaller than a run's 110-dpi files
_SCENARIO_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
# The quality tiers of the cost per finished minute (docs/model.md, 2.3), draft first.
TIERS = ("draft", "festival")
TIER_CHART = "cost_per_finished_minute"
# A distribution's shape numbers (not values of the driver): positive whatever its domain.
SHAPE_FIELDS = {"sd": Domain(0.0, low_open=True, why="a spread"),
                "lambda_": Domain(0.0, low_open=True, why="a PERT shape"),
                "alpha": Domain(0.0, low_open=True, why="a beta shape"),
                "beta": Domain(0.0, low_open=True, why="a beta shape"),
                "p": Domain(0.0, 1.0, why="a probability")}
# Families whose numbers are positive whatever the driver's domain (a lognormal's median).
POSITIVE_FAMILIES = ("lognormal", "loguniform")
# A slider reaches this factor beyond the prior's 1% and 99% quantiles on a positive driver
# (a median several times the prior's extremes is a what-if worth asking, more is a
# different world), and half their distance beyond them on any other; about this many steps
# across.
SLIDER_FACTOR = 3.0
SLIDER_STEPS = 200


@dataclass(frozen=True)
class View:
    """A forecast on screen: its result, what it is (``base``, ``preview`` or ``fresh``) and
    the label that says so."""
    result: RunResult
    kind: str
    label: str
    settings: tuple[Setting, ...] = ()
    seconds: float = 0.0
    reweighting: dict | None = None

    @property
    def answer(self) -> str:
        from ..faces.answer import summary_text
        return summary_text(self.result)


@dataclass(frozen=True)
class Change:
    """What a set of control values means: its settings and changed priors, or the one-line
    error a malformed value gets (``error``)."""
    settings: tuple[Setting, ...] = ()
    target: PriorSet | None = None
    error: str | None = None


@dataclass(frozen=True)
class SliderRange:
    """A control field's slider, from ``start`` to ``end`` in the field's units: on a log
    scale (``log``, positions are log10 of the value) for a field of a positive driver, whose
    priors span decades, else linear. Positions are what the slider moves through; the value
    at a position is rounded so a saved scenario holds numbers a person would write."""
    start: float
    end: float
    step: float             # in positions
    log: bool

    @property
    def positions(self) -> tuple[float, float]:
        if self.log:
            return math.log10(self.start), math.log10(self.end)
        return self.start, self.end

    def position(self, value: float) -> float:
        """Where ``value`` sits on the slider (at an end for a value beyond it)."""
        value = min(max(value, self.start), self.end)
        return math.log10(value) if self.log else value

    def value_at(self, position: float) -> float:
        """The value a slider position stands for: 3 significant digits on a log scale (a
        step there is ~2%), else the linear step's grid without float noise."""
        low, high = self.positions
        position = min(max(position, low), high)
        value = float(f"{10.0 ** position:.3g}") if self.log else float(f"{position:.12g}")
        return min(max(value, self.start), self.end)


def _nice_step(width: float) -> float:
    """The largest 1, 2 or 5 times a power of ten at most ``width / SLIDER_STEPS``."""
    raw = width / SLIDER_STEPS
    power = 10.0 ** math.floor(math.log10(raw))
    return max(m * power for m in (1.0, 2.0, 5.0) if m * power <= raw * (1 + 1e-9))


def slider_range(domain: Domain, value: float, low: float, high: float) -> SliderRange:
    """A slider for a field whose value is ``value`` and whose prior spans ``low``-``high``:
    wide enough to ask what-ifs, always holding ``value``, and never reaching outside
    ``domain`` (a value typed beyond it gets the prior file's message instead)."""
    low, high = min(low, value), max(high, value)
    if domain.low >= 0.0 and low > 0.0:
        start = float(f"{low / SLIDER_FACTOR:.3g}") or low     # no underflow to 0
        end = min(float(f"{high * SLIDER_FACTOR:.3g}"), domain.high)
        return SliderRange(start, end, (math.log10(end) - math.log10(start)) / SLIDER_STEPS,
                           True)
    margin = (high - low) / 2.0 or abs(value) or 1.0
    step = _nice_step(high - low + 2.0 * margin)
    start = math.floor((low - margin) / step) * step
    end = math.ceil((high + margin) / step) * step
    if not domain.contains(start):
        start = domain.low + (step if domain.low_open else 0.0)
    end = min(end, domain.high)
    return SliderRange(float(f"{start:.12g}"), float(f"{end:.12g}"), step, False)


def slider_ranges(driver, fields: dict[str, float]) -> dict[str, SliderRange]:
    """Each field's slider for a driver of a prior set: its values' fields range over the
    driver's domain around the prior's central 98% (and the fields' own values), its shape
    fields around their own value (a probability over 0-1)."""
    domain = DRIVER_DOMAINS.get(driver.name, Domain())
    if driver.family in POSITIVE_FAMILIES:
        domain = Domain(max(domain.low, 0.0), domain.high, low_open=True, why=domain.why)
    values = [driver.dist.quantile(0.01), driver.dist.quantile(0.99), *fields.values()]
    ranges = {}
    for name, value in fields.items():
        if name == "p":
            ranges[name] = slider_range(SHAPE_FIELDS[name], value, 0.0, 1.0)
        elif name in SHAPE_FIELDS:
            ranges[name] = slider_range(SHAPE_FIELDS[name], value, value, value)
        else:
            ranges[name] = slider_range(domain, value, min(values), max(values))
    return ranges


@dataclass(frozen=True)
class Control:
    """A driver the page offers: its family, fields and their base values, in rank order."""
    driver: str
    family: str
    fields: dict[str, float]
    description: str = ""
    interval: float = 0.9       # the mass between a lognormal's low and high
    ranges: dict[str, SliderRange] = field(default_factory=dict)

    @property
    def spread_words(self) -> str:
        """The driver's median and spread as the prior file gives them (lognormal: median and
        the 90% interval ends)."""
        f = self.fields
        if self.family == "lognormal" and {"median", "low", "high"} <= f.keys():
            return (f"median {f['median']:g}, {self.interval:.0%} interval {f['low']:g} – "
                    f"{f['high']:g}")
        return ", ".join(f"{k} {v:g}" for k, v in f.items())


def priors_root(path: Path) -> Path:
    """The priors tree of a prior file: the nearest enclosing folder named ``priors``, else
    the file's own folder."""
    resolved = path.resolve()
    return next((p for p in resolved.parents if p.name == "priors"), resolved.parent)


def scenario_files(root: Path) -> list[Path]:
    """The prior files of the tree a page may offer as a base: top level and scenarios/."""
    return sorted([*root.glob("*.toml"), *(root / "scenarios").glob("*.toml")])


def numeric_fields(dist) -> dict[str, float]:
    """A distribution's numbers a page offers to change (a lognormal's ``interval``, what its
    low and high mean, stays as the file has it)."""
    return {k: float(v) for k, v in dist.model_dump().items()
            if isinstance(v, (int, float)) and not isinstance(v, bool) and k != "interval"}


def rank_drivers(table, priors: PriorSet, n: int = TOP_DRIVERS) -> list[str]:
    """Drivers by their mean |Spearman| index over the headline targets (Q5-Q7) of the run's
    given-data sensitivity (sensitivity.csv), uncertain ones only, best first."""
    headline = table["output"].astype(str).str.startswith(HEADLINE_OUTPUTS)
    rows = table[headline & (table["method"] == "spearman") & table["index"].notna()]
    score = rows.assign(size=rows["index"].abs()).groupby("driver")["size"].mean()
    ranked = [d for d in score.sort_values(ascending=False).index
              if d in priors.drivers and not priors.drivers[d].dist.is_constant]
    return ranked[:n]


def chart_tree(result: RunResult):
    """The parts of run.nc the headline charts read, built in memory from a result (no run
    directory)."""
    import xarray as xr

    from ..run.runfile import per_draw_datasets
    from ..stored.store import root_attributes, trajectory_groups

    paths = min(CHART_PATHS, next(iter(result.paths.values())).shape[0])
    _, events = per_draw_datasets(result.priors, {}, result.events)
    return xr.DataTree.from_dict({
        "/": xr.Dataset(attrs=root_attributes({"as_of": result.priors.meta.as_of})),
        **trajectory_groups(result, {"stored_paths": paths}),
        "/events": events,
    })


def tier_output(tier: str) -> str:
    """The output holding a quality tier's cost per finished minute."""
    if tier not in TIERS:
        raise SimcoreError(f"quality tier {tier!r}: valid tiers are {', '.join(TIERS)}")
    return f"cost_per_finished_minute_{tier}_usd"


def _tier_figure(tree, tier: str):
    from ..faces.plots.charts import fan_chart
    return fan_chart(tree, tier_output(tier), legend="lower left")


def figures(result: RunResult, tier: str = TIERS[0]) -> dict:
    """The headline charts (matplotlib Figures) of a result, by chart name, and the cost per
    finished minute of one quality tier (TIER_CHART)."""
    from ..faces.plots import draw
    tree = chart_tree(result)
    return {**{name: draw(tree, name) for name in CHART_NAMES},
            TIER_CHART: _tier_figure(tree, tier)}


def _pngs(figures_by_name: dict, dpi: int) -> dict[str, bytes]:
    import io

    from ..faces.plots import write_png

    pngs = {}
    for name, figure in figures_by_name.items():
        buffer = io.BytesIO()
        write_png(figure, buffer, dpi)
        pngs[name] = buffer.getvalue()
    return pngs


def chart_pngs(result: RunResult, tier: str = TIERS[0], dpi: int = CHART_DPI) -> dict[str, bytes]:
    """The headline charts as PNG files' bytes (the fast writer simcore run uses)."""
    return _pngs(figures(result, tier), dpi)


def tier_chart_png(result: RunResult, tier: str, dpi: int = CHART_DPI) -> bytes:
    """Only the cost-per-finished-minute chart of ``tier`` (a change of tier redraws it
    alone)."""
    return _pngs({TIER_CHART: _tier_figure(chart_tree(result), tier)}, dpi)[TIER_CHART]


@dataclass
class Explorer:
    """One warm process's base forecast and what a change of it gives."""
    base_path: Path
    draws: int = FRESH_DRAWS
    seed: int = DEFAULT_SEED
    runs_root: Path = Path("runs")
    sensitivity_table: object | None = None     # a run directory's sensitivity.csv
    base: PriorSet = field(init=False)
    root: Path = field(init=False)
    base_view: View = field(init=False)
    controls: list[Control] = field(init=False)
    _engine: threading.Lock = field(init=False, default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.root = priors_root(Path(self.base_path))
        self.select_base(self.base_path)

    @classmethod
    def from_source(cls, source: Path, draws: int | None = None, seed: int | None = None,
                    runs_root: Path = Path("runs")) -> Explorer:
        """A prior file, or a run directory (its prior file where it was read from, its seed,
        its draws unless fewer than FRESH_DRAWS, and its sensitivity.csv ranks the drivers)."""
        source = Path(source)
        if not source.is_dir():
            return cls(source, draws or FRESH_DRAWS, DEFAULT_SEED if seed is None else seed,
                       runs_root)
        from ..analysis.sensitivity.given import load
        from ..stored.manifest import read_manifest
        manifest = read_manifest(source)
        base_path = Path(manifest["priors_path"])
        if not base_path.is_file():
            raise SimcoreError(f"{source}: its prior file {base_path} is not there any more; "
                               "explore the prior file instead")
        try:
            table = load(source)
        except (OSError, ValueError):
            table = None
        return cls(base_path, draws or max(FRESH_DRAWS, int(manifest["draws"])),
                   int(manifest["seed"]) if seed is None else seed, runs_root, table)

    # What the page asks of an explorer besides the changes.
    chart_names = (*CHART_NAMES, TIER_CHART)
    tiers = TIERS
    tier_chart = TIER_CHART

    @staticmethod
    def figures(result: RunResult, tier: str = TIERS[0]) -> dict:
        return figures(result, tier)

    @staticmethod
    def chart_pngs(result: RunResult, tier: str = TIERS[0]) -> dict[str, bytes]:
        return chart_pngs(result, tier)

    @staticmethod
    def tier_chart_png(result: RunResult, tier: str) -> bytes:
        return tier_chart_png(result, tier)

    @staticmethod
    def headline_rows(result: RunResult, profile: str,
                      tier: str = TIERS[0]) -> list[tuple[str, str]]:
        return headline_rows(result, profile, tier)

    def scenario_files(self) -> list[Path]:
        return scenario_files(self.root)

    @property
    def base_name(self) -> str:
        return str(Path(self.base_path).resolve().relative_to(self.root))

    # -- the base ----------------------------------------------------------------------------

    def select_base(self, path: Path) -> View:
        """Make ``path`` (a prior file inside the priors tree) the base and run it."""
        path = Path(path)
        if not path.resolve().is_relative_to(self.root):
            raise SimcoreError(f"{path}: outside the priors tree {self.root}")
        self.base = load_priors(path, required=set(MODEL_DRIVERS))
        self.base_path = path
        self.base_view = self._run(self.base, "base", f"base: {path.name}, run of "
                                   f"{self.draws:,} draws")
        self.controls = self._controls()
        return self.base_view

    def _controls(self) -> list[Control]:
        table = self.sensitivity_table
        if table is None:
            from ..analysis.sensitivity import table_for_run
            table = table_for_run(self.base_view.result)
        self.sensitivity_table = None      # a new base ranks itself from its own draws
        controls = []
        for name in rank_drivers(table, self.base):
            driver = self.base.drivers[name]
            fields = numeric_fields(driver.dist)
            controls.append(Control(name, driver.family, fields, driver.text.description or "",
                                    getattr(driver.dist, "interval", 0.9),
                                    slider_ranges(driver, fields)))
        return controls

    def _run(self, priors: PriorSet, kind: str, label: str, source_draws=None,
             settings: tuple[Setting, ...] = ()) -> View:
        started = time.perf_counter()
        with self._engine:
            result = engine.run_forecast(priors, self.draws, self.seed,
                                         n_paths=_paths_for(kind), source_draws=source_draws)
        return View(result, kind, label, settings, time.perf_counter() - started)

    # -- a change ----------------------------------------------------------------------------

    def change(self, values: dict[str, str]) -> Change:
        """``{"driver.field": text}`` (the controls' contents) -> the settings that differ from
        the base and the changed priors, or the CLI's one-line message for a bad value."""
        try:
            settings = []
            for key, text in values.items():
                setting = parse_setting(f"{key}={text}", self.base.drivers)
                base_value = numeric_fields(self.base.drivers[setting.driver].dist).get(
                    setting.field)
                if base_value is None or setting.value != base_value:
                    settings.append(setting)
            settings = tuple(settings)
            if not settings:
                return Change()
            target = whatif_priors(self.base, list(settings), required=set(MODEL_DRIVERS))
        except SimcoreError as exc:
            return Change(error=one_line(str(exc)))
        return Change(settings, target)

    def preview(self, change: Change) -> View | str:
        """The change by reweighting the base's draws, or why it cannot be (a line)."""
        if change.target is None:
            return self.base_view
        try:
            weights, summary = reweighting_weights(self.base, change.target, self.draws,
                                                   self.seed, resample=False,
                                                   settings=[s.text for s in change.settings])
        except NeedsFullRun as exc:
            return one_line(str(exc))
        view = self._run(self.base, "preview",
                         f"preview: reweighted (k-hat {khat_text(weights.khat)}, "
                         f"ESS {weights.ess:,.0f} of {self.draws:,})",
                         weights.source_draws(), change.settings)
        view.result.priors = change.target
        view.result.reweighting = {**summary, "base_run": f"explorer base {self.base_path}"}
        return View(view.result, view.kind, view.label, view.settings, view.seconds, summary)

    def fresh(self, change: Change) -> View:
        """A fresh run of the changed priors, ``draws`` draws with the base's seed."""
        if change.target is None:
            return self.base_view
        return self._run(change.target, "fresh", f"fresh run of {self.draws:,} draws",
                         settings=change.settings)

    # -- saving ------------------------------------------------------------------------------

    def save_scenario(self, change: Change, name: str, rationale: str = "") -> Path:
        """Write the change as ``<priors tree>/scenarios/NAME.toml``, extending the base file;
        never replaces a file."""
        import os

        from ..stored.publish import write_bytes_atomic

        if not change.settings:
            raise SimcoreError("save as scenario: nothing is changed from the base")
        name = name.strip().removesuffix(".toml") or whatif_name(
            list(change.settings)).removesuffix(".toml")
        if not _SCENARIO_NAME.fullmatch(name):
            raise SimcoreError(f"save as scenario: {name!r} is not a file name (letters, digits, "
                               "- and _, at most 64)")
        folder = self.root / "scenarios"
        path = folder / f"{name}.toml"
        if path.exists() or path.is_symlink():
            raise SimcoreError(f"save as scenario: {path} already exists; choose another name")
        extends = Path(os.path.relpath(Path(self.base_path).resolve(), folder)).as_posix()
        text = scenario_text(self.base, list(change.settings), extends,
                             rationale=rationale.strip() or None)
        folder.mkdir(exist_ok=True)
        write_bytes_atomic(path, text.encode("utf-8"), replace=False)
        return path

    def report(self, view: View) -> Path:
        """A run directory of ``view`` under the runs folder, with its HTML report; the
        report's path."""
        from ..faces.report import write_report
        from .pipeline import write_run

        digest = whatif_name(list(view.settings)).removesuffix(".toml") if view.settings \
            else "base"
        stamp = time.strftime("%Y%m%d-%H%M%S")
        out = Path(self.runs_root) / f"explore-{Path(self.base_path).stem}-{digest}-" \
                                     f"{view.kind}-{stamp}"
        result = view.result
        if view.reweighting is not None:
            result.reweighting = {**view.reweighting,
                                  "base_run": f"explorer base {self.base_path}"}
        write_run(result, out, with_charts=True)
        written, _ = write_report(out)
        return written


def _paths_for(kind: str) -> int:
    # The base ranks its drivers from the given-data sensitivity, which reads the
    # trajectories of its first draws; previews and fresh runs only draw charts.
    if kind == "base":
        from ..analysis.sensitivity import GIVEN_DATA_DRAWS
        return GIVEN_DATA_DRAWS
    return CHART_PATHS


def escaped(text: str) -> str:
    """Prior or answer text as it goes into the page: HTML-escaped, never markup."""
    return html.escape(text, quote=True)


def headline_rows(result: RunResult, profile: str,
                  tier: str = TIERS[0]) -> list[tuple[str, str]]:
    """The headline numbers of one profile and quality tier, as (what, value) rows: Q5's film
    time at the headline years, Q7's median year and P(by the indicator year), when a free
    user of the profile can make a film from a novel, and the tier's median cost per
    finished minute at the headline years."""
    import numpy as np

    from ..analysis.headline import INDICATOR_YEAR, headline_indices
    from ..analysis.tables import format_year
    from ..faces.answer import year_month
    from ..faces.formatting import human_duration, usd_text
    from ..model import PROFILES
    from ..run.summaries import year_ends

    rows = []
    q50 = result.histograms[f"film_days/{profile}"].quantiles([0.5])[0]
    for k in headline_indices(result):
        rows.append((f"Q5 film time, {year_month(result.time_abs[k])} (median)",
                     human_duration(q50[k])))
    possible = result.event("novel_to_movie_possible")
    rows.append(("Q7 novel-to-movie possible (median year)",
                 format_year(possible.quantile(0.5), result)))
    if INDICATOR_YEAR in year_ends(result.priors.as_of_year, result.horizon_year):
        p_by = float(possible.probability_by(np.array([INDICATOR_YEAR]))[0])
        rows.append((f"Q7 P(possible by end of {INDICATOR_YEAR})", f"{p_by:.1%}"))
    free = result.event("novel_to_movie_free_user", PROFILES.index(profile))
    rows.append(("Q7 ... and by a free user of this profile (median year)",
                 format_year(free.quantile(0.5), result)))
    cost = result.histograms[tier_output(tier)].quantiles([0.5])[0]
    for k in headline_indices(result):
        rows.append((f"Cost per finished minute, {tier} tier, {year_month(result.time_abs[k])}"
                     " (median)", usd_text(cost[k])))
    return rows
