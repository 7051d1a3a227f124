"""Putting results on disk: nothing partial, nothing lost, nothing replaced that was not checked.

Every result is first written under a hidden *staging* name in the folder where it will appear,
made durable (each file and folder fsynced, so a power cut cannot leave a complete-looking run
with truncated files) and then published by one rename:

* A folder (a run, a sensitivity study) with ``renameat2(RENAME_NOREPLACE)``: if anything
  appeared at its name meanwhile (another run, a folder made by hand) the rename fails instead
  of replacing it, and nothing is published. With ``--force`` the entry found there is swapped
  out atomically (``RENAME_EXCHANGE``) and checked *after* the swap, so what is checked is
  exactly what was replaced: anything but a simcore run (or an empty folder) is swapped back at
  once. Where the file system lacks these flags (``EINVAL``, e.g. some network or FUSE file
  systems), simcore processes take a lock on the folder, check, and rename; ``rename(2)`` never
  replaces a non-empty folder, so only an empty one made by hand in that instant can be lost.
* Single files (report, charts, comparison tables) with a rename over the old file, after every
  file of the command has been written, so a full disk leaves the old files and no new ones.

A staging entry is named ``.NAME.partial-PID-HOST-RANDOM``: the process and a tag of the machine
(host name and PID namespace) that writes it. A staging folder also holds a marker file with
the same owner, removed just before it is published. A process killed outright (SIGKILL, the
out-of-memory killer, a power cut) cannot clean up; the next simcore command that writes in the
same folder removes what such a process left (:func:`sweep`) when the owner is on this machine
and no longer running, and says so on stderr. Anything that may still be written (a live
process, another machine, a folder without the marker) is never removed.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import hashlib
import json
import logging
import os
import re
import secrets
import shutil
import socket
import stat
import threading
from collections.abc import Mapping
from pathlib import Path

from ..base import interrupts
from ..base.errors import RunDirError, RunIOError
from ..base.limits import MAX_MANIFEST_BYTES
from . import contained

log = logging.getLogger("simcore")

MARKER = ".simcore-staging"          # inside a staging folder: its owner (JSON)
MANIFEST = "manifest.json"           # what makes a folder a simcore run
_MAX_MARKER_BYTES = 4096
_STAGING = re.compile(r"^\.(?P<name>.+)\.(?P<kind>partial|replaced)-(?P<pid>\d+)"
                      r"(?:-(?P<host>[0-9a-f]{8})-[0-9a-f]{8})?$")

PUBLISHED: list[Path] = []           # what this process published (the CLI's last words)
_UNFINISHED: set[Path] = set()       # staging entries of writes in progress in this process


# ---------------------------------------------------------------------------------------------
# Who writes a staging entry


def _pid_namespace() -> str:
    try:
        return os.readlink("/proc/self/ns/pid")
    except OSError:
        return ""


def _owner() -> dict:
    return {"host": socket.gethostname(), "pid_namespace": _pid_namespace(), "pid": os.getpid()}


def _host_tag(owner: Mapping) -> str:
    """The machine (and PID namespace: containers may share a host name) as 8 hex digits."""
    key = f"{owner.get('host')}\0{owner.get('pid_namespace')}".encode("utf-8",
                                                                       "surrogateescape")
    return hashlib.sha256(key).hexdigest()[:8]


def staging_path(target: Path, kind: str = "partial") -> Path:
    """A hidden sibling of ``target``, unique to this process and call."""
    return target.with_name(f".{target.name}.{kind}-{os.getpid()}-{_host_tag(_owner())}-"
                            f"{secrets.token_hex(4)}")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True        # someone else's process
    return True


def _write_marker(folder: Path) -> None:
    with open(folder / MARKER, "x", encoding="utf-8") as handle:
        json.dump(_owner(), handle)


def _marker_owner(folder: Path) -> dict | None:
    try:
        owner = json.loads(contained.read_bytes(folder, MARKER, _MAX_MARKER_BYTES))
    except (OSError, ValueError, RunDirError):
        return None
    return owner if isinstance(owner, dict) else None


def sweep(folder: Path) -> None:
    """Remove the staging entries in ``folder`` left by simcore processes of this machine that
    no longer run (killed outright: they could not clean up), and say so; report, but leave, the
    ones whose writer cannot be known (an older simcore's, which did not record the machine)."""
    try:
        with os.scandir(folder) as scan:
            entries = list(scan)
    except OSError:
        return
    me = _owner()
    tag = _host_tag(me)
    removed, unknown = [], []
    for entry in entries:
        match = _STAGING.match(entry.name)
        if match is None:
            continue
        pid = int(match["pid"])
        if match["host"] is None:
            if not _alive(pid):
                unknown.append(entry.name)
            continue
        if match["host"] != tag or _alive(pid):
            continue                        # another machine's, or still being written
        path = Path(entry.path)
        try:
            if entry.is_dir(follow_symlinks=False):
                owner = _marker_owner(path)
                if owner is None or _host_tag(owner) != tag or owner.get("pid") != pid:
                    unknown.append(entry.name)   # not provably ours: never removed
                    continue
                shutil.rmtree(path)
            elif entry.is_file(follow_symlinks=False):
                path.unlink()
            else:
                continue
        except FileNotFoundError:
            continue                        # another command removed it first
        except OSError as exc:
            log.warning("%s: cannot remove what an interrupted simcore left (%s)", path,
                        exc.strerror or exc)
            continue
        removed.append(entry.name)
    if removed:
        log.warning("removed what interrupted simcore processes (no longer running) left in "
                    "%s: %s", folder, ", ".join(sorted(removed)))
    if unknown:
        log.warning("not removed from %s, as it may be an unfinished simcore write whose "
                    "writer cannot be told (remove it by hand if no simcore works there): %s",
                    folder, ", ".join(sorted(unknown)))


# ---------------------------------------------------------------------------------------------
# Renames that never replace what they did not check

RENAME_NOREPLACE = 1
RENAME_EXCHANGE = 2
_UNSUPPORTED = {errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EOPNOTSUPP}
try:
    _renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    _renameat2.argtypes = (ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p,
                           ctypes.c_uint)
except (AttributeError, OSError):      # not Linux, or a C library without it (glibc < 2.28)
    _renameat2 = None


def _rename2(folder_fd: int, source: str, target: str, flags: int) -> None:
    if _renameat2 is None:
        raise OSError(errno.ENOSYS, "renameat2 is not available")
    if _renameat2(folder_fd, os.fsencode(source), folder_fd, os.fsencode(target), flags) != 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code), target)


def _renamed_natively(folder_fd: int, source: str, target: str, flags: int) -> bool:
    """renameat2 with ``flags``; False where the system or file system does not support them
    (the caller falls back), other errors raised."""
    try:
        _rename2(folder_fd, source, target, flags)
    except OSError as exc:
        if exc.errno not in _UNSUPPORTED:
            raise
        return False
    return True


@contextlib.contextmanager
def _folder_lock(folder_fd: int):
    """The fallback's lock: simcore processes publishing in one folder take turns."""
    try:
        fcntl.flock(folder_fd, fcntl.LOCK_EX)
    except OSError:
        yield                               # no locks here: the re-check alone must do
        return
    try:
        yield
    finally:
        fcntl.flock(folder_fd, fcntl.LOCK_UN)


def _exists(folder_fd: int, name: str) -> bool:
    try:
        os.stat(name, dir_fd=folder_fd, follow_symlinks=False)
    except FileNotFoundError:
        return False
    return True


def rename_noreplace(folder_fd: int, source: str, target: str) -> None:
    """Rename ``source`` to ``target`` in one folder; FileExistsError if ``target`` exists."""
    if _renamed_natively(folder_fd, source, target, RENAME_NOREPLACE):
        return
    with _folder_lock(folder_fd):
        if _exists(folder_fd, target):
            raise FileExistsError(errno.EEXIST, "File exists", target)
        try:
            os.rename(source, target, src_dir_fd=folder_fd, dst_dir_fd=folder_fd)
        except OSError as exc:       # a non-empty folder made at target since the check
            if exc.errno in (errno.ENOTEMPTY, errno.EEXIST, errno.ENOTDIR, errno.EISDIR):
                raise FileExistsError(errno.EEXIST, "File exists", target) from None
            raise


def exchange(folder_fd: int, a: str, b: str) -> None:
    """Swap the entries ``a`` and ``b`` of one folder, atomically where the file system can
    (FileNotFoundError if either is missing)."""
    if _renamed_natively(folder_fd, a, b, RENAME_EXCHANGE):
        return
    # Named as a staging entry without a marker: if this process dies before the last rename,
    # the next sweep reports it and leaves it alone.
    aside = staging_path(Path(b), "replaced").name
    with _folder_lock(folder_fd):
        os.rename(b, aside, src_dir_fd=folder_fd, dst_dir_fd=folder_fd)
        try:
            os.rename(a, b, src_dir_fd=folder_fd, dst_dir_fd=folder_fd)
        except BaseException:
            os.rename(aside, b, src_dir_fd=folder_fd, dst_dir_fd=folder_fd)
            raise
        os.rename(aside, a, src_dir_fd=folder_fd, dst_dir_fd=folder_fd)


def not_replaceable(path: Path) -> str | None:
    """Why ``--force`` may not replace ``path``, or None: only a simcore run (a folder holding
    a manifest.json that simcore wrote) or an empty folder is ever replaced, never a link."""
    try:
        mode = os.stat(path, follow_symlinks=False).st_mode
    except FileNotFoundError:
        return None
    if stat.S_ISLNK(mode):
        return "is a symbolic link"
    if not stat.S_ISDIR(mode):
        return "exists and is not a folder"
    try:
        with os.scandir(path) as scan:
            if next(scan, None) is None:
                return None
        manifest = json.loads(contained.read_bytes(path, MANIFEST, MAX_MANIFEST_BYTES))
    except FileNotFoundError:
        return "is not a simcore run (no manifest.json)"
    except (OSError, ValueError, RunDirError):
        return "is not a simcore run (its manifest.json is not one simcore wrote)"
    if not (isinstance(manifest, dict) and "simcore_version" in manifest):
        return "is not a simcore run (its manifest.json is not one simcore wrote)"
    return None


# ---------------------------------------------------------------------------------------------
# Durability


def fsync_tree(root: Path) -> None:
    """fsync every file and folder under ``root`` (links are not followed; staging folders
    hold none). Runs on a helper thread: fsyncing gigabytes takes seconds, and the waiting
    main thread stays free to act on Ctrl-C."""
    failure: list[BaseException] = []

    def work() -> None:
        try:
            for _, _, files, folder_fd in os.fwalk(root):
                for name in files:
                    fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC,
                                 dir_fd=folder_fd)
                    try:
                        os.fsync(fd)
                    finally:
                        os.close(fd)
                os.fsync(folder_fd)
        except BaseException as exc:        # noqa: BLE001 - handed to the waiting thread
            failure.append(exc)

    worker = threading.Thread(target=work, name="simcore-fsync", daemon=True)
    worker.start()
    while worker.is_alive():
        worker.join(0.1)
    if failure:
        raise failure[0]


def fsync_soon(path: Path) -> None:
    """Start writing ``path`` back to disk on a helper thread, now, while other work goes on
    (the run's tables and charts): the fsync before publishing then has little left to wait
    for. Errors are left to that fsync, which reports them."""
    def work() -> None:
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except OSError:
            return
        try:
            os.fsync(fd)
        except OSError:
            pass
        finally:
            os.close(fd)

    threading.Thread(target=work, name="simcore-writeback", daemon=True).start()


def _fsync_folder(folder_fd: int) -> None:
    try:
        os.fsync(folder_fd)
    except OSError as exc:
        if exc.errno not in (errno.EINVAL, errno.EROFS):   # folders some systems cannot sync
            raise


# ---------------------------------------------------------------------------------------------
# Publishing


def _reason(exc: OSError) -> str:
    return "disk full" if exc.errno == errno.ENOSPC else (exc.strerror or str(exc))


def _discard(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)
    _UNFINISHED.discard(path)   # only once removed: a second Ctrl-C may cut the removal short


def discard_unfinished() -> None:
    """Remove the staging entries of interrupted writes (the CLI calls this on Ctrl-C/SIGTERM,
    in case a second signal interrupted a write's own clean-up)."""
    for path in list(_UNFINISHED):
        _discard(path)


def _publish_folder(staging: Path, out: Path, force: bool, what: str) -> None:
    """Rename the complete ``staging`` folder to ``out`` (see the module's docstring). The
    entry ``--force`` replaced is left at the staging name, marked as ours, for removal."""
    folder_fd = os.open(out.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        with interrupts.deferred():     # the swap, the check and the swap back are one step
            for _ in range(8):         # an entry that comes and goes meanwhile: try again
                try:
                    rename_noreplace(folder_fd, staging.name, out.name)
                    break
                except FileExistsError:
                    if not force:
                        raise RunDirError(f"{out}: appeared while this {what} was being "
                                          "written (another run, or made by hand); it is left "
                                          "as it is and nothing was written") from None
                try:
                    exchange(folder_fd, staging.name, out.name)
                except FileNotFoundError:
                    continue
                reason = not_replaceable(staging)       # what was at out a moment ago
                if reason is not None:
                    exchange(folder_fd, staging.name, out.name)
                    raise RunDirError(f"{out}: {reason}; --force replaces only simcore runs, "
                                      "so it is left as it is and nothing was written")
                _write_marker(staging)   # the old run: ours to remove from now on
                break
            else:
                raise RunDirError(f"{out}: keeps changing while this {what} is published; "
                                  "nothing was written")
            PUBLISHED.append(out)
            _fsync_folder(folder_fd)
    finally:
        os.close(folder_fd)


def _prepare_folder(folder: Path) -> None:
    """The folder results are published in: made if missing (RunIOError if it cannot be), and
    cleared of what killed simcore processes left there (:func:`sweep`)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        reason = ("exists and is not a folder" if folder.exists() and not folder.is_dir()
                  else exc.strerror or str(exc))
        raise RunIOError(f"{folder}: cannot create folder: {reason}") from None
    sweep(folder)


@contextlib.contextmanager
def staged_folder(out: Path, force: bool = False, what: str = "results"):
    """Yield a hidden staging folder beside ``out``; when the block completes, publish it as
    ``out`` (an existing ``out`` only with ``force``, and only if it is, at that moment, a
    simcore run or an empty folder). On any failure, including Ctrl-C, nothing is published
    and the staging folder is removed. I/O errors become RunIOError (one line, exit 1)."""
    out = Path(out)
    _prepare_folder(out.parent)
    staging = staging_path(out)
    _UNFINISHED.add(staging)
    try:
        staging.mkdir()
        _write_marker(staging)
        yield staging
        fsync_tree(staging)
        (staging / MARKER).unlink()
        _fsync_folder_path(staging)
        _publish_folder(staging, out, force, what)
        if staging.exists():            # the run --force replaced
            shutil.rmtree(staging, ignore_errors=True)
        _UNFINISHED.discard(staging)
    except OSError as exc:
        _discard(staging)
        raise RunIOError(f"{out}: cannot write {what}: {_reason(exc)}") from None
    except BaseException:
        _discard(staging)
        raise


def _fsync_folder_path(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        _fsync_folder(fd)
    finally:
        os.close(fd)


def write_files(folder: Path, contents: Mapping[str, bytes], replace: bool = True
                ) -> list[Path]:
    """Write ``contents`` (file name -> bytes) into ``folder``, each file whole or not at all
    and all of them or none: each is written and fsynced under a staging name, and only when
    all are written are they renamed into place. An existing file is replaced only if
    ``replace`` (else: RunDirError, nothing written). I/O errors are RunIOError."""
    folder = Path(folder)
    _prepare_folder(folder)
    staged: dict[Path, Path] = {}
    target = folder
    try:
        for name, data in contents.items():
            target = folder / name
            partial = staging_path(target)
            _UNFINISHED.add(partial)
            staged[target] = partial
            fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
                         | os.O_CLOEXEC, 0o666)
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
        folder_fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            with interrupts.deferred():     # all of them, or none
                for target, partial in staged.items():
                    if replace:
                        os.replace(partial.name, target.name, src_dir_fd=folder_fd,
                                   dst_dir_fd=folder_fd)
                    else:
                        try:
                            rename_noreplace(folder_fd, partial.name, target.name)
                        except FileExistsError:
                            raise RunDirError(f"{target}: appeared meanwhile; it is left as "
                                              "it is (use --force to replace it)") from None
                    _UNFINISHED.discard(partial)
                    PUBLISHED.append(target)
                _fsync_folder(folder_fd)
        finally:
            os.close(folder_fd)
    except OSError as exc:
        raise RunIOError(f"{target}: cannot write: {_reason(exc)}") from None
    finally:
        for partial in staged.values():
            if partial in _UNFINISHED:
                _discard(partial)
    return list(staged)


def write_bytes_atomic(path: str | Path, data: bytes, replace: bool = True) -> Path:
    """One file, whole or not at all (:func:`write_files`)."""
    path = Path(path)
    return write_files(path.parent, {path.name: data}, replace=replace)[0]
