"""What the report's template renders: numbers with the CSV cell they come from, likelihood
terms, code, tables, charts and the sections of the page."""

from __future__ import annotations

import base64
import io
import warnings
from dataclasses import dataclass, field

from ..base.limits import MAX_CHART_PIXELS


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


# ---------------------------------------------------------------------------------------------
# Charts embedded in the page

def png_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) of a well-formed PNG of a chart's size, None for anything else (a corrupt
    chart is redrawn rather than shown broken; a few bytes may declare billions of pixels, so
    the size is checked before anything is decoded)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)   # refused below
            image = Image.open(io.BytesIO(data))
        with image:
            if image.format != "PNG" or image.width * image.height > MAX_CHART_PIXELS:
                return None
            image.load()
            return image.size
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, ValueError,
            SyntaxError):
        return None


def data_uri(data: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


def png_chart(name: str, title: str, data: bytes, origin: str) -> Chart | None:
    """A chart for the page from PNG bytes; None unless they are a well-formed PNG."""
    size = png_size(data)
    return Chart(name, title, data_uri(data), origin, *size) if size else None
