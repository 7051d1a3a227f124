"""Where numba keeps simcore's compiled code, and what to do when there is nowhere.

The model's kernels are compiled with ``cache=True``: numba stores them beside the sources
(``simcore/__pycache__``) or else in the user's cache folder (``~/.cache/numba``), and the next
process loads them instead of compiling (up to a minute). With neither writable (a read-only
install and a read-only or missing home, as in some containers) numba refuses to define a cached
function at all: "cannot cache function ...: no locator available", at import. simcore then
compiles for this process only, into a private temporary folder removed at exit, and says so
in one line (:data:`NOTE`).

:func:`ensure` runs when the package is imported, before any compiled function is defined. It
reads the package's sources to find the folders holding cached compiled functions, and costs
one file created and removed in each one's ``__pycache__`` (or in the user's cache folder) when
that is writable, without importing numba; otherwise numba's own cache locators decide.
"""

from __future__ import annotations

import atexit
import os
import re
import shutil
import tempfile
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parents[1]   # the simcore package
_CACHED = re.compile(rb"\bcache\s*=\s*True\b")

NOTE: str | None = None       # why this process compiles uncached, if it does
_PRIVATE: str | None = None   # the temporary cache folder made for this process


def _cached_sources() -> list[Path]:
    """One source file of each package folder that defines cached compiled functions: numba
    caches beside each, so each folder's ``__pycache__`` must be writable. Found by reading the
    package tree (a few milliseconds), so modules may move between subpackages freely."""
    sources = []
    for folder, subfolders, files in os.walk(_PACKAGE):
        subfolders[:] = sorted(name for name in subfolders
                               if (Path(folder) / name / "__init__.py").is_file())
        for name in sorted(files):
            if name.endswith(".py"):
                path = Path(folder) / name
                try:
                    if _CACHED.search(path.read_bytes()):
                        sources.append(path)
                        break
                except OSError:
                    continue
    return sources


def _writable(folder: Path) -> bool:
    """What numba's in-tree locator checks: the folder can be made and written in."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=folder).close()
    except OSError:
        return False
    return True


def _user_cache() -> Path | None:
    """numba's user-wide cache folder on Linux (appdirs' user_cache_dir for "numba")."""
    try:
        return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "numba"
    except RuntimeError:          # no home to be found
        return None


def _numba_can_cache(source: Path) -> bool:
    try:
        from numba.core.caching import _CacheImpl
        locators = _CacheImpl._locator_classes
    except (ImportError, AttributeError):     # another numba: take the safe way
        return False

    def probe():
        pass

    return any(locator.from_function(probe, str(source)) is not None for locator in locators)


def ensure() -> None:
    """Make sure numba can cache simcore's functions, or give it a private folder."""
    global NOTE, _PRIVATE
    if os.environ.get("NUMBA_CACHE_DIR") or NOTE is not None:
        return
    sources = _cached_sources()
    if all(_writable(source.parent / "__pycache__") for source in sources):
        return
    user_cache = _user_cache()
    if user_cache is not None and _writable(user_cache):
        return            # numba's user-wide locator will do (checked without importing it)
    if all(_numba_can_cache(source) for source in sources):
        return
    try:
        _PRIVATE = tempfile.mkdtemp(prefix="simcore-numba-")
    except OSError:
        return          # nowhere at all: numba will say so
    os.environ["NUMBA_CACHE_DIR"] = _PRIVATE
    from numba.core import config
    config.reload_config()
    atexit.register(cleanup)
    NOTE = (f"numba cannot keep compiled code beside simcore ({_PACKAGE}) nor in the user's "
            "cache folder (both read-only): the model is compiled again for every run (up to a "
            "minute); set NUMBA_CACHE_DIR to a writable folder to keep it")


def cleanup() -> None:
    """Remove the private cache folder (the console script calls this before ``os._exit``)."""
    if _PRIVATE is not None:
        shutil.rmtree(_PRIVATE, ignore_errors=True)
