"""User-facing errors: one line, naming the file, the entry and the field."""

from __future__ import annotations


def one_line(text: object) -> str:
    """``text`` with control characters (newlines, escape sequences, ...) shown escaped, so a
    message built from user input (file names, TOML keys) stays on one line and cannot drive
    the terminal."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in str(text))


class SimcoreError(Exception):
    """An error caused by the user's input; the CLI prints it on one line and exits 2."""

    exit_code = 2

    def __str__(self) -> str:
        return one_line(super().__str__())


class PriorError(SimcoreError):
    """A problem in a prior file, located by file, entry and field."""

    def __init__(self, file: str, entry: str | None, field: str | None, message: str):
        self.file = str(file)
        self.entry = entry
        self.field = field
        self.message = message
        where = ".".join(part for part in (entry, field) if part)
        location = f"{self.file}: {where}" if where else self.file
        super().__init__(f"{location}: {message}")


class RunDirError(SimcoreError):
    """The output directory cannot be used (exists, unsafe name, ...)."""


class RunIOError(SimcoreError):
    """Disk full, permission denied and similar: not the user's input, so exit 1."""

    exit_code = 1
