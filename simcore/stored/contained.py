"""Reading the files of a run folder, which may be hostile: regular files inside it, bounded.

Run folders are untrusted input (README, threat model): one may come from someone else, and a
folder can hold anything a file name can point at. Every file simcore reads from one (manifest,
tables, prior copies, charts, run.nc) is opened here, by its path relative to the folder, one
component at a time from the folder's own descriptor, never following a symbolic link
(``O_NOFOLLOW``), so that nothing outside the folder is read: not ``RUN/extra.png ->
~/.ssh/id_rsa``, not ``RUN/priors -> /elsewhere``. Only regular files are opened (a FIFO would
hang the reader, ``/dev/zero`` would never end, a device may act on being opened): the entry is
checked before it is opened and the open descriptor again after (``fstat``), so a file swapped
for another in between is caught. Each read is bounded by a size limit for its kind.

The folder itself is the user's choice, named on the command line: it may be a link.
"""

from __future__ import annotations

import errno
import io
import os
import stat
from pathlib import Path, PurePosixPath

from ..base.errors import RunDirError

_DIRECTORY_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC | os.O_NOFOLLOW
# O_NONBLOCK: opening a FIFO for reading must not wait for a writer (it is refused after).
_FILE_FLAGS = os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW | os.O_NONBLOCK


class UnsafeEntry(RunDirError):
    """An entry of a run folder that simcore will not read (a link, a FIFO, too large...)."""


def _parts(relative: str | Path) -> list[str]:
    parts = PurePosixPath(relative).parts
    if not parts or PurePosixPath(relative).is_absolute() or any(
            p in ("", ".", "..") for p in parts):
        raise UnsafeEntry(f"{relative}: not a path inside the run folder")
    return list(parts)


def _kind(mode: int) -> str:
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def _refused(path: Path, mode: int) -> UnsafeEntry:
    return UnsafeEntry(f"{path}: is {_kind(mode)}; simcore reads only regular files inside a "
                       "run folder")


def _open_folder(folder: Path, parts: list[str]) -> int:
    """A descriptor of the folder holding ``parts[-1]``, reached without following links."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for i, part in enumerate(parts[:-1]):
            mode = os.stat(part, dir_fd=fd, follow_symlinks=False).st_mode
            if stat.S_ISREG(mode):
                raise NotADirectoryError(errno.ENOTDIR, "Not a directory", part)
            if not stat.S_ISDIR(mode):
                raise _refused(folder.joinpath(*parts[:i + 1]), mode)
            inner = os.open(part, _DIRECTORY_FLAGS, dir_fd=fd)
            os.close(fd)
            fd = inner
    except BaseException:
        os.close(fd)
        raise
    return fd


def open_file(folder: str | Path, relative: str | Path) -> tuple[int, os.stat_result]:
    """A read-only descriptor of the regular file ``folder/relative`` and its ``fstat``;
    FileNotFoundError if there is none, :class:`UnsafeEntry` if it is anything else or lies
    behind a link. The caller closes the descriptor."""
    folder = Path(folder)
    parts = _parts(relative)
    path = folder.joinpath(*parts)
    try:
        parent = _open_folder(folder, parts)
    except NotADirectoryError:
        raise FileNotFoundError(errno.ENOENT, "No such file", str(path)) from None
    try:
        mode = os.stat(parts[-1], dir_fd=parent, follow_symlinks=False).st_mode
        if not stat.S_ISREG(mode):
            raise _refused(path, mode)
        try:
            fd = os.open(parts[-1], _FILE_FLAGS, dir_fd=parent)
        except OSError as exc:
            if exc.errno == errno.ELOOP:         # became a link since the check
                raise _refused(path, stat.S_IFLNK) from None
            raise
    finally:
        os.close(parent)
    status = os.fstat(fd)
    if not stat.S_ISREG(status.st_mode):         # swapped since the check
        os.close(fd)
        raise _refused(path, status.st_mode)
    os.set_blocking(fd, True)
    return fd, status


def is_file(folder: str | Path, relative: str | Path) -> bool:
    """Whether ``folder/relative`` is a regular file simcore would read (no link on the way)."""
    try:
        fd, _ = open_file(folder, relative)
    except (OSError, UnsafeEntry):
        return False
    os.close(fd)
    return True


def read_bytes(folder: str | Path, relative: str | Path, limit: int) -> bytes:
    """The content of the regular file ``folder/relative``, at most ``limit`` bytes (larger:
    :class:`UnsafeEntry`). FileNotFoundError if missing; other OSErrors as raised."""
    fd, status = open_file(folder, relative)
    path = Path(folder) / relative
    with os.fdopen(fd, "rb") as handle:
        if status.st_size > limit:
            raise UnsafeEntry(f"{path}: larger than {limit:,} bytes")
        data = handle.read(limit + 1)       # a file growing meanwhile is cut off here
    if len(data) > limit:
        raise UnsafeEntry(f"{path}: larger than {limit:,} bytes")
    return data


class _HeldFile(io.FileIO):
    """A file a library holds for as long as anything it read lazily lives (an xarray variable
    read from run.nc holds h5py's file, which holds this): closed with the last of them,
    quietly, like a file the library had opened by name."""

    def __del__(self) -> None:
        self.close()


def open_binary(folder: str | Path, relative: str | Path) -> io.FileIO:
    """The regular file ``folder/relative`` opened for reading, for a reader that takes a file
    object (HDF5 through h5py: what it opens is what was checked, not whatever the name points
    at by then). No size limit: such readers read parts, never the whole."""
    fd, _ = open_file(folder, relative)
    return _HeldFile(fd, "r")
