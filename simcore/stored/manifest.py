"""Reading a run directory's provenance: its manifest, its byte-exact copies of the prior files
(checked against their SHA-256) and the prior set they load as, and run.nc loaded whole."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from ..base.errors import SimcoreError
from ..base.limits import MAX_DRAWS, MAX_MANIFEST_BYTES, MAX_SEED
from ..inputs.priors import MAX_FILE_BYTES, load_priors
from ..model import MODEL_DRIVERS
from ..model.spec import MODEL_VERSION
from . import contained
from .store import PRIOR_COPIES, RUN_FILE, load_run

MANIFEST = "manifest.json"


class UnverifiableRun(SimcoreError):
    """The run directory cannot be checked: no or a broken manifest, run.nc or prior copies."""


class OtherModelVersion(UnverifiableRun):
    """The run was made by another version of the model (its manifest's ``model_version``):
    this code cannot recompute it. Exit 1, as for a run that differs."""

    exit_code = 1


def read_manifest(run_dir: Path) -> dict[str, Any]:
    if not run_dir.is_dir():
        raise UnverifiableRun(f"{run_dir}: not a folder" if run_dir.exists()
                              else f"{run_dir}: no such run directory")
    path = run_dir / MANIFEST
    try:
        raw = contained.read_bytes(run_dir, MANIFEST, MAX_MANIFEST_BYTES)
    except FileNotFoundError:
        raise UnverifiableRun(f"{run_dir}: no {MANIFEST}; not a simcore run directory") from None
    except contained.UnsafeEntry as exc:
        raise UnverifiableRun(str(exc)) from None
    except OSError as exc:
        raise UnverifiableRun(f"{path}: cannot read ({exc.strerror or exc})") from None
    try:
        manifest = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise UnverifiableRun(f"{path}: not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise UnverifiableRun(f"{path}: not valid JSON ({exc.msg}, line {exc.lineno})") from None
    except RecursionError:
        raise UnverifiableRun(f"{path}: not valid JSON (nested too deeply)") from None
    if not isinstance(manifest, dict):
        raise UnverifiableRun(f"{path}: must hold a JSON object")
    for key, minimum, maximum in (("seed", 0, MAX_SEED), ("draws", 1, MAX_DRAWS),
                                  ("chunk_size", 1, MAX_DRAWS), ("stored_paths", 0, MAX_DRAWS)):
        value = manifest.get(key)
        if (isinstance(value, bool) or not isinstance(value, int)
                or not minimum <= value <= maximum):
            raise UnverifiableRun(f"{path}: {key}: must be an integer from {minimum} to "
                                  f"{maximum:,}, got {value!r}")
    files = manifest.get("prior_files")
    if not (isinstance(files, list) and files and all(
            isinstance(f, dict) and isinstance(f.get("path"), str)
            and isinstance(f.get("sha256"), str) for f in files)):
        raise UnverifiableRun(f"{path}: prior_files: must be a list of {{path, sha256, copy}}")
    return manifest


def check_model_version(run_dir: Path, manifest: dict[str, Any]) -> None:
    """Runs made before the manifest recorded it were made by model version 1."""
    made_by = manifest.get("model_version", 1)
    if made_by != MODEL_VERSION:
        raise OtherModelVersion(
            f"{run_dir}: made by simcore model version {made_by!r}, this is model version "
            f"{MODEL_VERSION}: its drivers, outputs and events differ, so it cannot be "
            "recomputed here (verify it with the simcore that made it, or run it again)")


def prior_copies(run_dir: Path, manifest: dict[str, Any]) -> list[Path]:
    """The run's copies of its prior files, in chain order, each checked against its SHA-256."""
    entries = manifest["prior_files"]
    copies = []
    for i, entry in enumerate(entries):
        relative = entry.get("copy")
        if relative is None:
            # Runs written before copies kept their layout stored them as priors/<i>-<name>.
            if len(entries) > 1:
                raise UnverifiableRun(
                    f"{run_dir}: written by an older simcore that did not keep the layout of "
                    "extended prior files; it cannot be recomputed from the run alone")
            relative = f"{PRIOR_COPIES}/{i}-{Path(entry['path']).name}"
        if not isinstance(relative, str):
            raise UnverifiableRun(f"{run_dir / MANIFEST}: prior_files[{i}].copy: must be a path")
        copy = run_dir / relative
        # The manifest is input too: never follow it out of the run's priors/ folder (no
        # '..', no link on the way: contained).
        parts = Path(relative).parts
        if len(parts) < 2 or parts[0] != PRIOR_COPIES or ".." in parts or Path(
                relative).is_absolute():
            raise UnverifiableRun(f"{run_dir / MANIFEST}: prior_files[{i}].copy {relative!r} "
                                  f"is outside the run's {PRIOR_COPIES}/ folder")
        try:
            content = contained.read_bytes(run_dir, relative, MAX_FILE_BYTES)
        except FileNotFoundError:
            raise UnverifiableRun(f"{copy}: missing (the run's copy of {entry['path']})") from None
        except contained.UnsafeEntry as exc:
            raise UnverifiableRun(str(exc)) from None
        except OSError as exc:
            raise UnverifiableRun(f"{copy}: cannot read ({exc.strerror or exc})") from None
        if hashlib.sha256(content).hexdigest() != entry["sha256"]:
            raise UnverifiableRun(f"{copy}: SHA-256 differs from the manifest: the run's copy of "
                                  f"{entry['path']} was changed after the run")
        copies.append(copy)
    return copies


def run_priors(run_dir: Path, manifest: dict[str, Any]):
    """The run's prior set, loaded from its own copies (checked by :func:`prior_copies`), whose
    chain of ``extends`` must be the manifest's ``prior_files``."""
    copies = prior_copies(run_dir, manifest)
    priors = load_priors(copies[-1], required=set(MODEL_DRIVERS))
    chain = [priors.file_sha256[str(f)] for f in priors.files]
    if chain != [entry["sha256"] for entry in manifest["prior_files"]]:
        raise UnverifiableRun(f"{copies[-1]}: its chain of extends is not the manifest's "
                              "prior_files")
    return priors, copies


def load_stored_tree(run_dir: Path):
    path = run_dir / RUN_FILE
    try:
        tree = load_run(run_dir)
    except FileNotFoundError:
        raise UnverifiableRun(f"{path}: missing") from None
    except SimcoreError as exc:      # not a regular file inside the run, a hostile layout
        raise UnverifiableRun(str(exc)) from None
    except Exception as exc:   # h5py/netCDF raise many types for a damaged file
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise UnverifiableRun(f"{path}: cannot be read ({first})") from None
    try:
        tree.load()
    except SimcoreError as exc:     # it names what failed (e.g. an array of per_draw.zarr)
        tree.close()
        raise UnverifiableRun(str(exc)) from None
    except Exception as exc:
        tree.close()
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise UnverifiableRun(f"{path}: cannot be read ({first})") from None
    return tree
