"""Single files written whole or not at all (reports, comparison tables)."""

from __future__ import annotations

import errno
import os
from pathlib import Path

from .errors import RunIOError


def write_bytes_atomic(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to a hidden temporary sibling and rename it over ``path``: a reader sees
    the old file or the new one, never a partial one, and a failure (or Ctrl-C) leaves no
    temporary behind. I/O errors are RunIOError (one line, exit 1)."""
    path = Path(path)
    partial = path.with_name(f".{path.name}.partial-{os.getpid()}")
    try:
        with open(partial, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(partial, path)
    except OSError as exc:
        reason = "disk full" if exc.errno == errno.ENOSPC else (exc.strerror or str(exc))
        raise RunIOError(f"{path}: cannot write: {reason}") from None
    finally:
        partial.unlink(missing_ok=True)
    return path
