"""CSV files as simcore writes them: no cell that a spreadsheet would run as a formula.

A spreadsheet opening a CSV file evaluates a cell that starts with ``=``, ``+``, ``-`` or ``@``
(or a tab or carriage return before one) as a formula, e.g. ``=HYPERLINK(...)`` from a prior
file's rationale. Following OWASP's advice on CSV injection, every *text* cell that starts with
one of them is written with a leading ``'``, which spreadsheets read as "this is text" (and do
not show). Numbers are data: a numeric column's ``-0.5`` and a text column's ``-0.5`` or
``+1.2e-3`` (a cell that is exactly a number) are written as they are.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|[+-]?inf", re.IGNORECASE)


def neutralised(cell: object) -> object:
    """``cell``, prefixed with ``'`` if it is text a spreadsheet would run as a formula."""
    if isinstance(cell, str) and cell.startswith(FORMULA_START) and not _NUMBER.fullmatch(cell):
        return "'" + cell
    return cell


def csv_text(frame: pd.DataFrame) -> str:
    """``frame`` as CSV text (no index), text cells neutralised."""
    safe = frame.copy(deep=False)
    for column in safe.columns:
        values = safe[column]
        if not (pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values)):
            safe[column] = values.map(neutralised)
    return safe.to_csv(index=False)


def write_csv(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write ``frame`` to ``path`` as :func:`csv_text` (UTF-8)."""
    path = Path(path)
    path.write_text(csv_text(frame), encoding="utf-8")
    return path
