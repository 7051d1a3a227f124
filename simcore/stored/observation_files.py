"""Observation files in a run directory: byte-exact copies under ``observations/`` with their
SHA-256 in the manifest (``observation_files``), so that ``simcore verify`` re-scores a run
from what the run holds, and the run's ``observations.csv`` and ``/observed`` group."""

from __future__ import annotations

import hashlib
from pathlib import Path

from ..base.errors import SimcoreError
from ..inputs.observations import load_observations

COPIES = "observations"
TABLE = "observations.csv"
MANIFEST_KEY = "observation_files"


def copy_files(files: dict[str, bytes], folder: Path, copies: str = COPIES) -> list[dict]:
    """Copies of the observation files in ``folder/copies/`` (by file name; a second file of
    the same name gets a numbered prefix); the manifest's entries."""
    entries, used = [], set()
    for number, (path, content) in enumerate(sorted(files.items())):
        name = Path(path).name
        if name in used:
            name = f"{number}-{name}"
        used.add(name)
        copy = folder / copies / name
        copy.parent.mkdir(parents=True, exist_ok=True)
        copy.write_bytes(content)
        entries.append({"path": path, "sha256": hashlib.sha256(content).hexdigest(),
                        "copy": f"{copies}/{name}"})
    return entries


def load_copies(run_dir: Path, entries: list | None, copies: str = COPIES):
    """The observations of the manifest's ``entries`` (a run's scored observations, or its
    conditioning ones under ``copies``), from the run's copies (checked against their
    SHA-256), or None when there are none."""
    if not entries:
        return None
    folder = run_dir / copies
    for entry in entries:
        copy = run_dir / str(entry.get("copy", ""))
        if copy.parent != folder or not copy.is_file():
            raise SimcoreError(f"{run_dir}: observation copy {entry.get('copy')!r} is missing")
        if hashlib.sha256(copy.read_bytes()).hexdigest() != entry.get("sha256"):
            raise SimcoreError(f"{copy}: edited since the run (SHA-256 differs from the "
                               "manifest's)")
    return load_observations(folder)
