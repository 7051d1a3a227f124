"""Observation tables for tests: a valid row to start from and a CSV text of rows."""

from __future__ import annotations

import csv
import io

from simcore.inputs.observations import COLUMNS

GOOD = dict(id="a1", date="2026-05", measures="price_per_video_second", profile="",
            value="0.05", low="", high="", unit="USD per video-second", quality="press",
            subject="x", source_title="t", source_url="https://example.org/a",
            source_date="2026-05", note="")


def table(*rows: dict) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS)
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()
