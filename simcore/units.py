"""Human units for durations (given in days) and dollars, for charts and printed answers."""

from __future__ import annotations

import math

# Human units for durations, in days: (size, singular, plural)
_DURATION_UNITS = (
    (1 / 86400, "second", "seconds"), (1 / 1440, "minute", "minutes"), (1 / 24, "hour", "hours"),
    (1.0, "day", "days"), (7.0, "week", "weeks"), (365.25 / 12, "month", "months"),
    (365.25, "year", "years"),
)


def human_duration(days: float) -> str:
    """'90 minutes', '3 days', '2.5 years': the largest unit in which the value is >= 1."""
    if not math.isfinite(days) or days <= 0:
        return "never" if days == math.inf else "0"
    size, one, many = _DURATION_UNITS[0]
    for candidate in _DURATION_UNITS:
        if days >= candidate[0] * 0.999:
            size, one, many = candidate
    value = days / size
    text = f"{value:.0f}" if value >= 10 or abs(value - round(value)) < 0.05 else f"{value:.1f}"
    return f"{text} {one if text == '1' else many}"


def human_dollars(value: float) -> str:
    if value >= 1e9:
        return f"${value / 1e9:g}B"
    if value >= 1e6:
        return f"${value / 1e6:g}M"
    if value >= 1e3:
        return f"${value / 1e3:g}k"
    if value >= 1:
        return f"${value:g}"
    return f"${value:.2g}"


_SUPERSCRIPT = str.maketrans("0123456789-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻")


def significant(x: float, digits: int = 3) -> str:
    """``digits`` significant digits, positional from 0.001 to a million ('0.0438', '5,400'),
    else as '9.48×10⁻⁷' (never Python's '9.48e-07', which readers do not read)."""
    if not math.isfinite(x):
        return "∞" if x > 0 else ("−∞" if x < 0 else "—")
    if x == 0:
        return "0"
    rounded = float(f"{x:.{digits}g}")
    if 1e-3 <= abs(rounded) < 1e6:
        exponent = math.floor(math.log10(abs(rounded)))
        decimals = max(digits - 1 - exponent, 0)
        return f"{rounded:,.{decimals}f}"
    mantissa, exponent = f"{x:.{digits - 1}e}".split("e")
    return f"{mantissa}×10{str(int(exponent)).translate(_SUPERSCRIPT)}"
