"""Prior files: TOML in, a validated :class:`PriorSet` out.

A prior file names the run's time grid (``[meta]``), one distribution per driver
(``[drivers.NAME]``) and rank correlations (``[correlations]``). Scenario files ``extends``
another file and override entries. Every problem is raised as a :class:`PriorError` that
names the file, the entry and the field, so the CLI can print one line and exit 2.
"""

from __future__ import annotations

import datetime as dt
import difflib
import hashlib
import math
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import numpy as np
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from ..base.errors import PriorError
from ..model import DRIVER_DEFAULTS, DRIVER_DOMAINS, DRIVER_MAGNITUDE_LIMIT
from .distributions import FAMILY_NAMES, AnyFamily, Family

MAX_FILE_BYTES = 1_000_000
MAX_EXTENDS_DEPTH = 16
# Grid points cost memory in the streamed histograms (~330 kB per thread per grid point): 600
# steps is monthly for 50 years.
MAX_GRID_STEPS = 600
METADATA_KEYS = ("unit", "description", "rationale", "sources")

_family_adapter = TypeAdapter(AnyFamily)


def _calendar_date(text: str) -> dt.date:
    """'2019', '2019-05' or '2019-05-31' (a missing month or day is the first)."""
    parts = [int(p) for p in text.split("-")]
    return dt.date(parts[0], *(parts[1:] + [1] * (3 - len(parts))))


def _real_date(text: str) -> str:
    try:
        _calendar_date(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a real date") from None
    return text


def _without_nul(text: str) -> str:
    if "\x00" in text:
        raise ValueError("must not contain a NUL character (run.nc stores this text as an "
                         "HDF5 string, which ends at one)")
    return text


# A driver's unit and description go into run.nc as attributes of its variable.
StoredText = Annotated[str, Field(min_length=1), AfterValidator(_without_nul)]


class Source(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)
    title: Annotated[str, Field(min_length=1)]
    url: Annotated[str, Field(pattern=r"^https?://\S+$")]
    date: Annotated[str, Field(pattern=r"^\d{4}(-\d{2}(-\d{2})?)?$"),
                    AfterValidator(_real_date)]


class DriverText(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)
    unit: StoredText
    description: StoredText
    rationale: Annotated[str, Field(min_length=1)]
    sources: Annotated[list[Source], Field(min_length=1)]


class Meta(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)
    title: str = ""
    as_of: Annotated[str, Field(pattern=r"^\d{4}-\d{2}(-\d{2})?$"), AfterValidator(_real_date)]
    horizon_years: Annotated[float, Field(gt=0.0, le=200.0, allow_inf_nan=False)]
    time_step_years: Annotated[float, Field(gt=0.0, le=5.0, allow_inf_nan=False)]
    extends: str | None = None


@dataclass(frozen=True)
class Driver:
    name: str
    dist: Family
    text: DriverText
    defined_in: str

    @property
    def family(self) -> str:
        return self.dist.family


@dataclass(frozen=True)
class PriorSet:
    path: Path
    meta: Meta
    drivers: dict[str, Driver]
    correlations: dict[tuple[str, str], float]
    files: tuple[Path, ...]
    file_sha256: dict[str, str] = field(default_factory=dict)
    # The exact bytes that were parsed, and where a copy of each file goes (a relative path)
    # so that every ``extends`` of the copies resolves among the copies: runs store these.
    file_bytes: dict[str, bytes] = field(default_factory=dict, repr=False)
    copy_paths: dict[str, str] = field(default_factory=dict)

    def __repr__(self) -> str:
        return f"PriorSet({str(self.path)!r}, {len(self.drivers)} drivers, as_of={self.meta.as_of})"

    @property
    def as_of_year(self) -> float:
        return decimal_year(self.meta.as_of)

    @property
    def names(self) -> list[str]:
        return list(self.drivers)

    @property
    def sha256(self) -> str:
        """Digest of the whole chain of files, in order: changes if any file of it changes."""
        digest = hashlib.sha256()
        for path in self.files:
            digest.update(self.file_sha256[str(path)].encode())
        return digest.hexdigest()


def decimal_year(as_of: str) -> float:
    """'2026-11' -> 2026.833 (start of the month); '2026-11-15' -> the day's fraction."""
    date = _calendar_date(as_of)
    start = dt.date(date.year, 1, 1)
    length = (dt.date(date.year + 1, 1, 1) - start).days
    return date.year + (date - start).days / length


def known_at(date: str, as_of: str) -> bool:
    """Whether what is dated ``date`` was known at ``as_of``: on or before it, an as_of of a
    month (or a year) covering all of it ('2025-06-12' is known at '2025-06', not at
    '2025-06-10'). Both are ISO dates of year, month or day precision."""
    return date[:len(as_of)] <= as_of


_TOML_TYPE_WORDS = {bool: "a boolean", int: "an integer", float: "a number", str: "a string",
                    list: "an array", dict: "a table", dt.datetime: "a date-time",
                    dt.date: "a date", dt.time: "a time"}
_EXPECTED_WORDS = {"float_type": "a number", "int_type": "an integer", "string_type":
                   "a quoted string", "list_type": "an array", "dict_type": "a table",
                   "model_type": "a table", "model_attributes_type": "a table",
                   "literal_error": None}


def _toml_type(value: Any) -> str:
    return _TOML_TYPE_WORDS.get(type(value), type(value).__name__)


def _first_error(err: ValidationError) -> tuple[str | None, str]:
    """The first pydantic error as (field path, message) in plain words."""
    first = err.errors()[0]
    loc = [str(p) for p in first["loc"] if str(p) not in FAMILY_NAMES]
    message = first["msg"].removeprefix("Value error, ")
    if _EXPECTED_WORDS.get(first["type"]):
        got = _toml_type(first["input"])
        message = f"must be {_EXPECTED_WORDS[first['type']]}, got {got}"
        if isinstance(first["input"], str):
            message += f" {first['input'][:40]!r} (remove the quotes?)"
        elif isinstance(first["input"], (dt.date, dt.time)) and first["type"] == "string_type":
            message += " (quote it, e.g. \"2026-11\")"
        elif (first["type"] == "float_type" and isinstance(first["input"], int)
              and not isinstance(first["input"], bool)):
            message += " too large for a number"
    elif first["type"] == "extra_forbidden":
        message = "unknown key (typo?)"
    elif first["type"] == "missing":
        message = "required field is missing"
    elif first["type"] == "union_tag_invalid":
        message = (f"unknown family {first['ctx']['tag']!r}; "
                   f"known: {', '.join(FAMILY_NAMES)}")
        return "family", message
    elif first["type"] == "union_tag_not_found":
        return "family", "required field is missing"
    elif first["type"] in ("finite_number",):
        message = "must be a finite number"
    return (".".join(loc) if loc else None), message


def _read_toml(path: Path, reason_of_read: str | None = None) -> tuple[dict[str, Any], bytes]:
    """Parse one file; returns its tables and its bytes. ``reason_of_read``: the file whose
    ``extends`` names it (errors in opening it are reported there)."""
    def cannot_open(message: str) -> PriorError:
        if reason_of_read:
            return PriorError(reason_of_read, "meta", "extends", f"{message}: {path}")
        return PriorError(str(path), None, None, message)

    try:
        with path.open("rb") as handle:
            # Read one byte past the limit: never the whole of a huge file (or of /dev/zero).
            raw = handle.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise cannot_open("file not found") from None
    except IsADirectoryError:
        raise cannot_open("is a directory, not a prior file") from None
    except OSError as exc:
        raise cannot_open(f"cannot read ({exc.strerror or exc})") from None
    if len(raw) > MAX_FILE_BYTES:
        raise PriorError(str(path), None, None,
                         f"file is larger than {MAX_FILE_BYTES:,} bytes, the limit for prior files")
    if not raw.strip():
        raise PriorError(str(path), None, None, "file is empty")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PriorError(str(path), None, None,
                         f"not UTF-8 text (bad byte at offset {exc.start})") from None
    try:
        data = tomllib.loads(text.removeprefix("\ufeff"))   # tolerate a byte-order mark
    except tomllib.TOMLDecodeError as exc:
        raise PriorError(str(path), None, None, f"malformed TOML: {exc}") from None
    except RecursionError:
        raise PriorError(str(path), None, None, "malformed TOML: nested too deeply") from None
    if not data:
        raise PriorError(str(path), None, None, "file has no tables (only comments?)")
    return data, raw


def _priors_root(path: Path) -> Path:
    """The folder tree that ``extends`` may not leave: the nearest ancestor called 'priors'."""
    for parent in path.parents:
        if parent.name == "priors":
            return parent
    return path.parent


def _chain(path: Path) -> list[tuple[Path, dict[str, Any], bytes, str]]:
    """The file and its ``extends`` ancestors, root first: (path, tables, bytes, location), the
    location being the path as ``extends`` spells it, normalised without following links."""
    root = _priors_root(path)
    chain: list[tuple[Path, dict[str, Any], bytes, str]] = []
    seen: list[Path] = []
    current, referrer = path, None
    location = os.path.abspath(path)
    while True:
        resolved = current.resolve()
        if resolved in seen:
            cycle = " -> ".join(p.name for p in [*seen, resolved])
            raise PriorError(str(referrer), "meta", "extends", f"cycle of extends: {cycle}")
        if len(seen) >= MAX_EXTENDS_DEPTH:
            raise PriorError(str(referrer), "meta", "extends",
                             f"more than {MAX_EXTENDS_DEPTH} levels of extends")
        seen.append(resolved)
        data, raw = _read_toml(current, str(referrer) if referrer else None)
        chain.append((current, data, raw, location))
        unknown = set(data) - {"meta", "drivers", "correlations"}
        if unknown:
            raise PriorError(str(current), sorted(unknown)[0], None,
                             "unknown top-level table; expected meta, drivers, correlations")
        meta = data.get("meta", {})
        if not isinstance(meta, dict):
            raise PriorError(str(current), "meta", None, "must be a table")
        unknown = set(meta) - set(Meta.model_fields)
        if unknown:
            key = sorted(unknown)[0]
            raise PriorError(str(current), "meta", key,
                             f"unknown key (typo?){_did_you_mean(key, Meta.model_fields)}")
        parent = meta.get("extends")
        if parent is None:
            break
        if not isinstance(parent, str) or not parent:
            raise PriorError(str(current), "meta", "extends", "must be a relative file path")
        target = (current.parent / parent).resolve()
        if not target.is_relative_to(root.resolve()):
            raise PriorError(str(current), "meta", "extends",
                             f"{parent!r} points outside the priors folder {root}")
        referrer, current = current, target
        location = os.path.normpath(os.path.join(os.path.dirname(location), parent))
    chain.reverse()
    return chain


def _merge_entry(parent: dict[str, Any] | None, override: dict[str, Any]) -> dict[str, Any]:
    if parent is None:
        return dict(override)
    if "family" in override:
        # A new family replaces the whole distribution; the text is kept unless restated.
        kept = {k: v for k, v in parent.items() if k in METADATA_KEYS}
        return {**kept, **override}
    return {**parent, **override}


def _validate_driver(file: str, name: str, entry: dict[str, Any]) -> Driver:
    where = f"drivers.{name}"
    dist_fields = {k: v for k, v in entry.items() if k not in METADATA_KEYS}
    text_fields = {k: v for k, v in entry.items() if k in METADATA_KEYS}
    try:
        dist = _family_adapter.validate_python(dist_fields)
    except ValidationError as err:
        field_path, message = _first_error(err)
        raise PriorError(file, where, field_path, message) from None
    try:
        text = DriverText.model_validate(text_fields)
    except ValidationError as err:
        field_path, message = _first_error(err)
        raise PriorError(file, where, field_path, message) from None
    return Driver(name=name, dist=dist, text=text, defined_in=file)


def _did_you_mean(name: str, known) -> str:
    close = difflib.get_close_matches(name, list(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _validate_correlations(file: str, block: Any, drivers: dict[str, Driver],
                           merged: dict[tuple[str, str], float]) -> None:
    if not isinstance(block, dict):
        raise PriorError(file, "correlations", None, "must be a table with a 'pairs' list")
    unknown = set(block) - {"pairs"}
    if unknown:
        raise PriorError(file, "correlations", sorted(unknown)[0], "unknown key (typo?)")
    pairs = block.get("pairs", [])
    if not isinstance(pairs, list):
        raise PriorError(file, "correlations", "pairs", "must be a list of [a, b, rho]")
    seen: dict[tuple[str, str], int] = {}
    for i, pair in enumerate(pairs):
        where = f"pairs[{i}]"
        if not (isinstance(pair, list) and len(pair) == 3):
            raise PriorError(file, "correlations", where, "must be [driver, driver, rho]")
        a, b, rho = pair
        for name in (a, b):
            if not isinstance(name, str) or name not in drivers:
                if not isinstance(name, str):
                    raise PriorError(file, "correlations", where,
                                     f"driver names must be strings, got {_toml_type(name)}")
                raise PriorError(file, "correlations", where,
                                 f"unknown driver {name!r}{_did_you_mean(str(name), drivers)}")
            if drivers[name].dist.is_constant:
                raise PriorError(file, "correlations", where,
                                 f"{name!r} is fixed; a constant cannot be correlated")
        if a == b:
            raise PriorError(file, "correlations", where, "a driver cannot be paired with itself")
        if isinstance(rho, bool) or not isinstance(rho, (int, float)) or not math.isfinite(rho):
            raise PriorError(file, "correlations", where, "rho must be a finite number")
        if not -1.0 <= rho <= 1.0:
            raise PriorError(file, "correlations", where, f"rho {rho} is outside [-1, 1]")
        key = tuple(sorted((a, b)))
        if key in seen:
            raise PriorError(file, "correlations", where,
                             f"the pair {a!r}, {b!r} is already given in pairs[{seen[key]}]")
        seen[key] = i
        merged[key] = float(rho)


def _describe_draws(dist: Family, low: float, high: float) -> str:
    if dist.is_constant:
        return f"the fixed value {low:g} is not"
    return f"{dist.family} draws range from {low:.3g} to {high:.3g}"


def _check_draws(driver: Driver) -> None:
    """Every value the sampler can draw for this driver is finite, and for a model driver lies
    in its domain (simcore.model.spec: DRIVER_SPECS) and within DRIVER_MAGNITUDE_LIMIT."""
    where = f"drivers.{driver.name}"
    low, high = driver.dist.draw_range()
    if not (math.isfinite(low) and math.isfinite(high)):
        raise PriorError(driver.defined_in, where, None,
                         f"{driver.family} with these parameters draws values that are not finite "
                         "numbers (overflow); narrow the distribution")
    domain = DRIVER_DOMAINS.get(driver.name)
    if domain is None:
        return
    if not (domain.contains(low) and domain.contains(high)):
        raise PriorError(driver.defined_in, where, None,
                         f"must be {domain} for every draw ({domain.why}), but "
                         f"{_describe_draws(driver.dist, low, high)}")
    limit = DRIVER_MAGNITUDE_LIMIT
    if max(abs(low), abs(high)) > limit or (domain.low_open and low < 1.0 / limit):
        raise PriorError(driver.defined_in, where, None,
                         f"{_describe_draws(driver.dist, low, high).removesuffix(' is not')}; "
                         "every draw must be "
                         + (f"between {1.0 / limit:g} and {limit:g}" if domain.low_open
                            else f"within -{limit:g} to {limit:g}")
                         + " (beyond, the model's arithmetic overflows)")


def time_grid(priors: PriorSet) -> np.ndarray:
    """Years since as_of: 0, step, 2*step, ... up to the horizon (included)."""
    steps = int(round(priors.meta.horizon_years / priors.meta.time_step_years))
    return np.linspace(0.0, steps * priors.meta.time_step_years, steps + 1)


def load_priors(path: str | Path, required: set[str] | None = None) -> PriorSet:
    """Load, merge and validate a prior file and the files it extends.

    ``required``: driver names the model reads. Any other name is an error (with a hint), and so
    is a required name that the merged file does not define, unless the model's spec gives it a
    default (an optional driver: left out, every draw takes the default).
    """
    path = Path(path)
    chain = _chain(path)
    raw_entries: dict[str, dict[str, Any]] = {}
    drivers: dict[str, Driver] = {}
    correlations: dict[tuple[str, str], float] = {}
    meta_fields: dict[str, Any] = {}
    hashes: dict[str, str] = {}
    contents: dict[str, bytes] = {}
    for depth, (file_path, data, raw, _) in enumerate(chain):
        file = str(file_path)
        hashes[file] = hashlib.sha256(raw).hexdigest()
        contents[file] = raw
        meta_fields.update(data.get("meta", {}))
        entries = data.get("drivers", {})
        if not isinstance(entries, dict):
            raise PriorError(file, "drivers", None, "must be a table of driver tables")
        for name, entry in entries.items():
            if not isinstance(entry, dict):
                raise PriorError(file, f"drivers.{name}", None, "must be a table")
            if required is not None and name not in required:
                raise PriorError(file, f"drivers.{name}", None,
                                 f"unknown driver{_did_you_mean(name, required)}")
            if depth > 0 and name not in raw_entries:
                raise PriorError(file, f"drivers.{name}", None,
                                 f"not defined in {chain[depth - 1][0].name}; a scenario can only "
                                 "override drivers of the file it extends")
            raw_entries[name] = _merge_entry(raw_entries.get(name), entry)
            drivers[name] = _validate_driver(file, name, raw_entries[name])
        if "correlations" in data:
            _validate_correlations(file, data["correlations"], drivers, correlations)
    top = str(chain[-1][0])
    meta_fields.pop("extends", None)
    try:
        meta = Meta.model_validate(meta_fields)
    except ValidationError as err:
        field_path, message = _first_error(err)
        raise PriorError(top, "meta", field_path, message) from None
    steps = round(meta.horizon_years / meta.time_step_years)
    if not 1 <= steps <= MAX_GRID_STEPS:
        raise PriorError(top, "meta", "time_step_years",
                         f"horizon_years / time_step_years must give 1 to {MAX_GRID_STEPS} grid "
                         f"steps, got {meta.horizon_years:g} / {meta.time_step_years:g}")
    if abs(steps * meta.time_step_years - meta.horizon_years) > 1e-9 * meta.horizon_years:
        raise PriorError(top, "meta", "horizon_years",
                         f"{meta.horizon_years:g} is not a whole number of time steps of "
                         f"{meta.time_step_years:g} years")
    if meta.horizon_years < 1.0:
        # Events are summarised per calendar year ending inside the horizon: need at least one.
        raise PriorError(top, "meta", "horizon_years",
                         f"must be at least 1 year, got {meta.horizon_years:g}")
    for driver in drivers.values():
        _check_draws(driver)
    if required is not None:
        missing = sorted(required - set(drivers) - set(DRIVER_DEFAULTS))
        if missing:
            raise PriorError(top, f"drivers.{missing[0]}", None,
                             f"required by the model but not defined ({len(missing)} missing)")
    # Correlations naming a driver that a later scenario made fixed are rejected here too.
    for (a, b) in correlations:
        for name in (a, b):
            if drivers[name].dist.is_constant:
                raise PriorError(top, "correlations", f"{a}~{b}",
                                 f"{name!r} is fixed; a constant cannot be correlated")
    common = os.path.commonpath([os.path.dirname(loc) for *_, loc in chain])
    copy_paths = {str(p): Path(os.path.relpath(loc, common)).as_posix() for p, *_, loc in chain}
    return PriorSet(path=path, meta=meta, drivers=drivers, correlations=correlations,
                    files=tuple(p for p, *_ in chain), file_sha256=hashes, file_bytes=contents,
                    copy_paths=copy_paths)
