"""Reading a small TOML data file (the seed forecast, outside forecasts) with the one-line
errors every command gives: the file, then what went wrong."""

from __future__ import annotations

import tomllib
from pathlib import Path

from .errors import SimcoreError


def read_toml(path: Path, error: type[SimcoreError], what: str) -> dict:
    """The file's tables; ``error`` naming ``path`` if it cannot be read (``what`` says which
    file it should have been) or is not TOML."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise error(f"{path}: cannot read {what}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise error(f"{path}: malformed TOML: {exc}") from None
