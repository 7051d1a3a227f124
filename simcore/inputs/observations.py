"""Observations as data: the schema of ``data/observations.csv`` (or a folder of such files),
loading and validation.

Each row names what it measures in the model's own terms (``measures``): a trajectory output of
the spec, a level the spec declares (``LEVEL_SPECS``), an event (``value`` 1 = had happened by
``date``, 0 = had not), a driver, or ``unmodelled`` (kept as evidence, never scored). A value
is ``value`` and/or an interval ``low``-``high`` (either end may be open), in the model's unit
for that measure (the source's own unit and the conversion go in ``note``). Every problem is an
:class:`ObservationError` naming the file, the row (its line number and id) and the column, so
the CLI prints one line and exits 2.

This module sits at the inputs level: it knows the spec and calendar dates, nothing of runs.
"""

from __future__ import annotations

import csv
import io
import math
import re
from dataclasses import dataclass
from pathlib import Path

from ..base.errors import SimcoreError
from ..model import spec
from .priors import decimal_year

COLUMNS = ("id", "date", "measures", "profile", "value", "low", "high", "unit", "quality",
           "subject", "source_title", "source_url", "source_date", "note")
# Quality tiers, best first. The noise each implies is simcore.conditioning's NOISE_SD_LOG2.
QUALITY_TIERS = ("first-party", "independent", "press", "estimate")
UNMODELLED = "unmodelled"
EVENT_UNIT = "happened by date (1) or not (0)"
MAX_FILE_BYTES = 5_000_000
MAX_ROWS = 100_000
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$")
_DATE = re.compile(r"^\d{4}-\d{2}(-\d{2})?$")
_URL = re.compile(r"^https?://\S+$")


class ObservationError(SimcoreError):
    """A problem in an observations file, located by file, row and column."""

    def __init__(self, file: str | Path, row: int | None, ident: str | None,
                 column: str | None, message: str):
        where = [str(file)]
        if row is not None:
            where.append(f"row {row}" + (f" ({ident})" if ident else ""))
        if column:
            where.append(column)
        super().__init__(f"{': '.join(where)}: {message}")


@dataclass(frozen=True)
class Measure:
    """What a ``measures`` name is in the model: its kind, unit and whether it has a profile."""

    name: str
    kind: str              # "output", "level", "event", "driver" or "unmodelled"
    unit: str | None       # the unit rows must use; None: not checked (drivers, unmodelled)
    per_profile: bool
    log_scale: bool        # compared and fitted as base-2 logs (positive values only)


def _measures() -> dict[str, Measure]:
    known = {o.name: Measure(o.name, "output", o.unit, o.per_profile, True)
             for o in spec.OUTPUT_SPECS}
    known.update({level.name: Measure(level.name, "level", level.unit, False, True)
                  for level in spec.LEVEL_SPECS})
    known.update({e.name: Measure(e.name, "event", EVENT_UNIT, spec.per_profile(e), False)
                  for e in spec.EVENT_SPECS})
    known.update({d: Measure(d, "driver", None, False, spec.DRIVER_DOMAINS[d].low_open)
                  for d in spec.DRIVER_ORDER if d not in known})
    known[UNMODELLED] = Measure(UNMODELLED, "unmodelled", None, False, False)
    return known


MEASURES = _measures()


@dataclass(frozen=True)
class Observation:
    id: str
    date: str
    measures: str
    profile: str
    value: float | None
    low: float | None
    high: float | None
    unit: str
    quality: str
    subject: str
    source_title: str
    source_url: str
    source_date: str
    note: str
    file: str = ""

    @property
    def measure(self) -> Measure:
        return MEASURES[self.measures]

    @property
    def year(self) -> float:
        return decimal_year(self.date)

    @property
    def source_year(self) -> float:
        return decimal_year(self.source_date)

    @property
    def modelled(self) -> bool:
        return self.measures != UNMODELLED

    @property
    def series(self) -> str:
        """The kernel series (``output`` or ``output/profile``), level or event it measures."""
        return f"{self.measures}/{self.profile}" if self.profile else self.measures

    @property
    def centre(self) -> float:
        """The point value, or the interval's geometric (log scale) or plain middle."""
        if self.value is not None:
            return self.value
        if self.low is not None and self.high is not None:
            return (math.sqrt(self.low * self.high) if self.measure.log_scale
                    else 0.5 * (self.low + self.high))
        return self.low if self.low is not None else self.high


def _number(text: str, fail) -> float | None:
    text = text.strip()
    if text == "" or text.upper() == "NA":
        return None
    try:
        number = float(text)
    except ValueError:
        fail(f"{text!r} is not a number")
    if not math.isfinite(number):
        fail(f"{text!r} is not a finite number")
    return number


def checked_date(text: str, fail) -> str:
    if not _DATE.match(text):
        fail(f"{text!r} is not a date (YYYY-MM or YYYY-MM-DD)")
    try:
        decimal_year(text)
    except ValueError:
        fail(f"{text!r} is not a real date")
    return text


def _validate_row(file: str, line: int, raw: dict[str, str], seen: dict[str, str]
                  ) -> Observation:
    ident = (raw.get("id") or "").strip()

    def failer(column):
        def fail(message):
            raise ObservationError(file, line, ident or None, column, message)
        return fail

    if not _ID.match(ident):
        failer("id")(f"{ident!r} must start with a letter or digit and hold only letters, "
                     "digits, '.', '_' or '-' (at most 80)")
    if ident in seen:
        failer("id")(f"{ident!r} is also the id of a row of {seen[ident]}")
    fields = {k: (raw.get(k) or "").strip() for k in COLUMNS}
    date = checked_date(fields["date"], failer("date"))
    name = fields["measures"]
    if name not in MEASURES:
        from difflib import get_close_matches
        close = get_close_matches(name, list(MEASURES), n=1)
        failer("measures")(f"{name!r} is not an output, level, event or driver of the model, "
                           f"nor {UNMODELLED!r}" + (f" (did you mean {close[0]!r}?)" if close
                                                    else ""))
    measure = MEASURES[name]
    profile = fields["profile"]
    if measure.per_profile and profile not in spec.PROFILES:
        failer("profile")(f"{name} has a profile: one of {', '.join(spec.PROFILES)}, "
                          f"not {profile!r}")
    if not measure.per_profile and measure.kind != "unmodelled" and profile:
        failer("profile")(f"{name} has no profile; leave it empty, not {profile!r}")
    numbers = {k: _number(fields[k], failer(k)) for k in ("value", "low", "high")}
    value, low, high = numbers["value"], numbers["low"], numbers["high"]
    if measure.kind != "unmodelled":
        if value is None and (low is None or high is None):
            failer("value")("a value, or both low and high, is needed")
        if measure.kind == "event":
            if value not in (0.0, 1.0) or low is not None or high is not None:
                failer("value")("an event's value is 1 (had happened by date) or 0 (had not), "
                                "with no low or high")
        elif measure.log_scale:
            for key, number in numbers.items():
                if number is not None and number <= 0.0:
                    failer(key)(f"{number:g} must be > 0: {name} is compared on a log scale "
                                "(a zero is not a measurement of it; mark the row unmodelled)")
        if low is not None and high is not None and low > high:
            failer("low")(f"{low:g} is above high {high:g}")
        if value is not None and ((low is not None and value < low)
                                  or (high is not None and value > high)):
            failer("value")(f"{value:g} lies outside low-high")
        if measure.unit is not None and fields["unit"] != measure.unit:
            failer("unit")(f"{fields['unit']!r} is not the model's unit of {name}, "
                           f"{measure.unit!r} (convert, and show the arithmetic in note)")
    if fields["quality"] not in QUALITY_TIERS:
        failer("quality")(f"{fields['quality']!r} is not one of {', '.join(QUALITY_TIERS)}")
    if not fields["source_title"]:
        failer("source_title")("is empty: every observation names its source")
    if not _URL.match(fields["source_url"]):
        failer("source_url")(f"{fields['source_url']!r} is not an http(s) URL")
    source_date = checked_date(fields["source_date"], failer("source_date"))
    seen[ident] = file
    return Observation(**{**fields, "date": date, "value": value, "low": low, "high": high,
                          "source_date": source_date}, file=file)


def _read_text(path: Path) -> str:
    """The file's text (UTF-8, a BOM dropped), size-limited; errors as ObservationError."""
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise ObservationError(path, None, None, None, "no such file") from None
    except OSError as exc:
        raise ObservationError(path, None, None, None,
                               f"cannot be read: {exc.strerror or exc}") from None
    if len(raw) > MAX_FILE_BYTES:
        raise ObservationError(path, None, None, None,
                               f"is larger than {MAX_FILE_BYTES:,} bytes")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ObservationError(path, None, None, None,
                               f"is not UTF-8 text (byte {exc.start})") from None


def files_of(path: str | Path) -> list[Path]:
    """The observation files ``path`` names: itself, or every ``*.csv`` of a folder, sorted."""
    path = Path(path)
    if path.is_dir():
        found = sorted(p for p in path.glob("*.csv") if p.is_file())
        if not found:
            raise ObservationError(path, None, None, None, "folder holds no .csv file")
        return found
    return [path]


def parse(text: str, file: str, seen: dict[str, str] | None = None) -> list[Observation]:
    """The rows of one observations file's text (validated)."""
    seen = {} if seen is None else seen
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = reader.fieldnames or []
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        raise ObservationError(file, 1, None, missing[0], "column missing from the header")
    extra = [c for c in header if c not in COLUMNS]
    if extra:
        raise ObservationError(file, 1, None, extra[0] or "(empty)",
                               f"unknown column (the columns are {', '.join(COLUMNS)})")
    rows = []
    try:
        for raw in reader:
            if len(rows) >= MAX_ROWS:
                raise ObservationError(file, reader.line_num, None, None,
                                       f"more than {MAX_ROWS:,} rows")
            if None in raw:
                raise ObservationError(file, reader.line_num, raw.get("id"), None,
                                       "more cells than columns")
            if all(not (v or "").strip() for v in raw.values()):
                continue
            rows.append(_validate_row(file, reader.line_num, raw, seen))
    except csv.Error as exc:
        raise ObservationError(file, reader.line_num, None, None, f"not valid CSV: {exc}") \
            from None
    return rows


@dataclass(frozen=True)
class ObservationSet:
    """Validated rows, and the exact bytes of the files they came from (what a run copies)."""

    rows: tuple[Observation, ...]
    contents: dict[str, bytes]

    def __iter__(self):
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)


def load_observations(path: str | Path) -> ObservationSet:
    """Every row of the observation file, or of every ``*.csv`` of the folder, validated; ids
    are unique across files."""
    seen: dict[str, str] = {}
    rows: list[Observation] = []
    contents: dict[str, bytes] = {}
    for file in files_of(path):
        text = _read_text(file)
        contents[str(file)] = text.encode("utf-8")
        rows += parse(text, str(file), seen)
    return ObservationSet(tuple(rows), contents)


# --------------------------------------------------------------------------------------------
# The noise model: how far an observation may sit from the model's quantity, per quality tier

NOISE_FILE = Path(__file__).resolve().parents[2] / "data" / "observation_noise.toml"


@dataclass(frozen=True)
class NoiseModel:
    """Student-t errors on base-2 logs: ``df`` degrees of freedom, scale per quality tier.
    A row's own interval, read as a 90% interval, adds in quadrature (``scale``)."""

    df: float
    sd_log2: dict[str, float]

    def scale(self, obs: Observation) -> float:
        sd = self.sd_log2[obs.quality]
        if obs.value is not None and obs.low is not None and obs.high is not None \
                and obs.measure.log_scale:
            half_width = 0.5 * (math.log2(obs.high) - math.log2(obs.low)) / 1.645
            sd = math.hypot(sd, half_width)
        return sd


def load_noise_model(path: str | Path = NOISE_FILE) -> NoiseModel:
    """The noise model of ``data/observation_noise.toml`` (validated; ObservationError)."""
    import tomllib

    text = _read_text(Path(path))
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ObservationError(path, None, None, None, f"not valid TOML: {exc}") from None
    df, sds = data.get("df"), data.get("sd_log2")
    if not isinstance(df, (int, float)) or isinstance(df, bool) or not 0 < df <= 1000:
        raise ObservationError(path, None, None, "df", "must be a number in (0, 1000]")
    if not isinstance(sds, dict) or set(sds) != set(QUALITY_TIERS):
        raise ObservationError(path, None, None, "sd_log2",
                               f"must give each tier: {', '.join(QUALITY_TIERS)}")
    for tier, sd in sds.items():
        if not isinstance(sd, (int, float)) or isinstance(sd, bool) or not 0 < sd <= 10:
            raise ObservationError(path, None, None, f"sd_log2.{tier}",
                                   "must be a number in (0, 10]")
    return NoiseModel(float(df), {k: float(v) for k, v in sds.items()})


def on_model_scale(obs: Observation, number: float | None) -> float | None:
    """``number`` (the row's value, low or high) as the model compares it: base-2 log for a
    log-scale measure; None stays None (an open end)."""
    if number is None:
        return None
    return math.log2(number) if obs.measure.log_scale else number
