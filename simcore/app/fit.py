"""``simcore fit``: the observations up to a date, the trend fitted to them, the prior entries
it implies as TOML and, if asked, its chart written atomically."""

from __future__ import annotations

import io
from pathlib import Path

from ..base.errors import SimcoreError
from ..faces.plots.fit import fit_chart
from ..inputs.fitting import fit_trend, prior_toml
from ..inputs.observations import checked_date, load_noise_model, load_observations
from ..stored.publish import write_bytes_atomic


def fit_command(measure: str, until: str, observations: Path, seed: int,
                chart: Path | None) -> str:
    """The TOML text of the prior entries fitted to ``observations`` of ``measure`` up to
    ``until``; draws the chart into ``chart`` when given."""
    def bad_date(message):
        raise SimcoreError(f"--until: {message}")
    checked_date(until, bad_date)
    result = fit_trend(load_observations(observations), measure, until, load_noise_model(),
                       seed=seed)
    if chart is not None:
        buffer = io.BytesIO()
        fit_chart(result, buffer)
        write_bytes_atomic(chart, buffer.getvalue())
    return prior_toml(result)
