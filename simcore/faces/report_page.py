"""What the report's template renders: numbers with the CSV cell they come from, likelihood
terms, code, tables, charts and the sections of the page."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Num:
    """A number shown on the page, with the CSV cell it comes from."""

    text: str
    source: str
    row: dict
    column: str
    kind: str   # text | probability | percent | duration_days | duration_seconds | usd | number
    scale: float = 1.0   # the text shows value x scale (e.g. per GPU-hour from per GPU-second)


@dataclass(frozen=True)
class Term:
    """A calibrated likelihood term, e.g. 'likely (66%+)'."""

    text: str


@dataclass(frozen=True)
class Code:
    text: str
    title: str = ""


@dataclass
class Table:
    columns: list[str]
    rows: list[list]
    caption: str = ""
    numeric: set[int] = field(default_factory=set)   # right-aligned columns


@dataclass
class Chart:
    name: str
    title: str
    uri: str
    origin: str
    width: int
    height: int


@dataclass
class Section:
    id: str
    question: str
    title: str
    asks: str
    sentences: list[list] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    charts: list[Chart] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
