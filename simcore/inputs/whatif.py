"""What-if settings: ``DRIVER.FIELD=VALUE`` changes to a prior set (``simcore reweight
--set``). A set of changes is a scenario file that ``extends`` the base prior file and holds
only the changed fields, with a rationale to fill in: it is loaded through the ordinary
loader (so it is validated like any prior file) and stored with the run, where ``simcore
run`` of it reproduces the what-if with fresh draws.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..base.errors import PriorError
from .priors import PriorSet, load_priors

SET_OPTION = "--set"


@dataclass(frozen=True)
class Setting:
    driver: str
    field: str
    value: float

    @property
    def text(self) -> str:
        return f"{self.driver}.{self.field}={self.value:g}"


def parse_setting(text: str, known_drivers=None) -> Setting:
    """``DRIVER.FIELD=NUMBER`` -> a Setting; a PriorError naming ``--set`` otherwise."""
    where, sep, value_text = text.partition("=")
    driver, dot, field_name = where.strip().partition(".")
    if not (sep and dot and driver and field_name):
        raise PriorError(SET_OPTION, None, None,
                         f"{text!r}: expected DRIVER.FIELD=NUMBER, e.g. hw_doubling_years.median=3")
    if known_drivers is not None and driver not in known_drivers:
        raise PriorError(SET_OPTION, f"drivers.{driver}", None, "unknown driver")
    try:
        value = float(value_text)
    except ValueError:
        raise PriorError(SET_OPTION, f"drivers.{driver}", field_name,
                         f"{value_text.strip()!r} is not a number") from None
    if not math.isfinite(value):
        raise PriorError(SET_OPTION, f"drivers.{driver}", field_name, "must be a finite number")
    return Setting(driver, field_name, value)


def scenario_text(base: PriorSet, settings: list[Setting], extends: str,
                  rationale: str | None = None) -> str:
    """A prior file that ``extends`` the base and changes only ``settings`` (the last setting
    of a field wins), each changed driver with ``rationale`` or a note asking for one."""
    changed: dict[str, dict[str, float]] = {}
    for s in settings:
        changed.setdefault(s.driver, {})[s.field] = s.value
    what = ", ".join(s.text for s in settings)
    lines = [
        "# A what-if written by simcore (--set). Fill in each rationale (why this value, with",
        "# a source) before citing it; `simcore run` of this file gives it with fresh draws.",
        "",
        "[meta]",
        f"title = {json.dumps(f'{base.meta.title} - what if {what}')}",
        f"extends = {json.dumps(extends)}",
    ]
    for driver, fields in changed.items():
        lines += ["", f"[drivers.{driver}]"]
        lines += [f"{name} = {value!r}" for name, value in fields.items()]
        why = rationale or f"What-if: {what}. (Say why, with a source.)"
        lines.append(f"rationale = {json.dumps(why)}")
    return "\n".join(lines) + "\n"


def whatif_name(settings: list[Setting]) -> str:
    digest = hashlib.sha256("\n".join(s.text for s in settings).encode()).hexdigest()[:10]
    return f"whatif-{digest}.toml"


def whatif_priors(base: PriorSet, settings: list[Setting], required=None) -> PriorSet:
    """The base prior set with ``settings`` applied: the chain of the base's files plus the
    what-if file (named :func:`whatif_name`, beside the base's top file). Errors name
    ``--set``, the driver and the field."""
    for s in settings:
        if s.driver not in base.drivers:
            raise PriorError(SET_OPTION, f"drivers.{s.driver}", None, "unknown driver")
    top_copy = Path(base.copy_paths.get(str(base.path), base.path.name))
    name = whatif_name(settings)
    text = scenario_text(base, settings, extends=top_copy.name)
    with tempfile.TemporaryDirectory(prefix="simcore-whatif-") as tmp:
        root = Path(tmp) / "priors"
        temp_of: dict[str, str] = {}
        for file in base.files:
            copy = root / base.copy_paths.get(str(file), Path(file).name)
            copy.parent.mkdir(parents=True, exist_ok=True)
            copy.write_bytes(base.file_bytes[str(file)])
            temp_of[str(copy)] = str(file)
        whatif = root / top_copy.parent / name
        whatif.write_text(text, encoding="utf-8")
        try:
            loaded = load_priors(whatif, required=required)
        except PriorError as err:
            if err.file != str(whatif):
                raise
            raise PriorError(SET_OPTION, err.entry, err.field, err.message) from None
    virtual = base.path.with_name(name)
    temp_of[str(whatif)] = str(virtual)

    def real(path) -> str:
        return temp_of.get(str(path), str(path))

    drivers = {n: dataclasses.replace(d, defined_in=real(d.defined_in))
               for n, d in loaded.drivers.items()}
    return dataclasses.replace(
        loaded, path=virtual, drivers=drivers,
        files=tuple(Path(real(f)) for f in loaded.files),
        file_sha256={real(k): v for k, v in loaded.file_sha256.items()},
        file_bytes={real(k): v for k, v in loaded.file_bytes.items()},
        copy_paths={**base.copy_paths,
                    str(virtual): (top_copy.parent / name).as_posix()})
