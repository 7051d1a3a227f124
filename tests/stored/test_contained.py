"""Reading a hostile run folder (issue 20, case 2, and the linked ``priors/`` of case 7).

Every file simcore reads from a run folder is a regular file inside it, bounded by a size for
its kind: no link out of the folder (a shared report must not carry a file that was never the
run's), no FIFO (a reader would hang), no /dev/zero (a reader would never stop). The report
embeds only the charts the run's manifest lists. The commands run as real processes, their
address space limited, with a time limit: a reader that never stops fails instead of taking the
machine's memory, one that hangs is killed.
"""

from __future__ import annotations

import base64
import os
import shutil
from pathlib import Path

import h5py
import pytest
from clichecks import run_simcore
from click.testing import CliRunner
from sharedruns import shared_point_run

from simcore.cli import main

MEMORY_LIMIT = 6_000_000_000
# A report takes ~5 s (a minute on a loaded machine); a reader that hangs is killed at this.
TIMEOUT = 240.0


@pytest.fixture(scope="module")
def stored_run(tmp_path_factory) -> Path:
    return shared_point_run(tmp_path_factory, "contained-run", "--draws", "2000", "--paths", "5")


@pytest.fixture()
def run(tmp_path, stored_run) -> Path:
    copy = tmp_path / "run"
    shutil.copytree(stored_run, copy)
    return copy


@pytest.fixture()
def secret(tmp_path) -> Path:
    """A readable PNG outside the run, which a shared report must never carry."""
    from PIL import Image

    path = tmp_path / "outside" / "secret.png"
    path.parent.mkdir()
    Image.new("RGB", (40, 30), (200, 30, 30)).save(path)
    return path


def bounded_simcore(*args):
    """``simcore ARGS`` in a child process: one that never stops reading fails on its memory
    limit, one that hangs is killed (the test then fails)."""
    return run_simcore(*args, timeout=TIMEOUT, memory_limit=MEMORY_LIMIT)


# ---------------------------------------------------------------------------------------------
# Files the run never listed are never read


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["link to /dev/zero", "FIFO", "link to a PNG outside"])
def test_report_embeds_only_the_charts_the_manifest_lists(run, secret, kind):
    extra = run / "extra.png"
    if kind == "link to /dev/zero":
        extra.symlink_to("/dev/zero")
    elif kind == "FIFO":
        os.mkfifo(extra)
    else:
        extra.symlink_to(secret)
    done = bounded_simcore("report", run, "-q")
    assert done.returncode == 0 and done.stderr == "", done.stderr[-2000:]
    page = (run / "report.html").read_text()
    assert base64.b64encode(secret.read_bytes()).decode()[:200] not in page
    assert "extra" not in page


# ---------------------------------------------------------------------------------------------
# Files the run lists, replaced: refused in one line


def _link_outside(path: Path, outside: Path) -> None:
    outside.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(path, outside)
    path.symlink_to(outside)


MUTATIONS = {
    "chart linked out": (lambda run, tmp: _link_outside(run / "film_days.png",
                                                        tmp / "o" / "film_days.png"),
                         "report", "film_days.png", "symbolic link"),
    "table a FIFO": (lambda run, tmp: (os.unlink(run / "events.csv"),
                                      os.mkfifo(run / "events.csv")),
                     "report", "events.csv", "FIFO"),
    "table linked to /dev/zero": (lambda run, tmp: (os.unlink(run / "percentiles.csv"),
                                                   (run / "percentiles.csv").symlink_to(
                                                       "/dev/zero")),
                                  "report", "percentiles.csv", "symbolic link"),
    "manifest linked out": (lambda run, tmp: _link_outside(run / "manifest.json",
                                                           tmp / "o" / "manifest.json"),
                            "verify", "manifest.json", "symbolic link"),
    "priors linked out, verify": (lambda run, tmp: _link_outside(run / "priors", tmp / "o"),
                                  "verify", "priors", "symbolic link"),
    "priors linked out, report": (lambda run, tmp: _link_outside(run / "priors", tmp / "o"),
                                  "report", "priors", "symbolic link"),
    "priors linked out, compare": (lambda run, tmp: _link_outside(run / "priors", tmp / "o"),
                                   "compare", "priors", "symbolic link"),
    "run.nc linked out": (lambda run, tmp: _link_outside(run / "run.nc", tmp / "o" / "run.nc"),
                          "plot", "run.nc", "symbolic link"),
    "run.nc declaring more than it holds": (lambda run, tmp: _sparse_variable(run / "run.nc"),
                                            "verify", "run.nc", "more than the file holds"),
}


def _sparse_variable(path: Path) -> None:
    """A dataset of a trillion values that stores none (chunks never written)."""
    with h5py.File(path, "a") as f:
        f["events"].create_dataset("hoard", shape=(10**12,), dtype="f8", chunks=(65536,))


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(MUTATIONS))
def test_a_file_of_the_run_that_is_not_a_regular_file_inside_it_is_refused(run, tmp_path,
                                                                          case):
    mutate, command, name, words = MUTATIONS[case]
    mutate(run, tmp_path)
    args = {"report": ["report", run, "--out", tmp_path / "report.html"],
            "verify": ["verify", run], "compare": ["compare", run, run],
            "plot": ["plot", run, "--to", tmp_path / "charts"]}[command]
    done = bounded_simcore(*args)
    lines = done.stderr.splitlines()
    assert done.returncode == 2 and len(lines) == 1, (done.returncode, done.stderr[-2000:])
    assert lines[0].startswith("error: ") and name in lines[0] and words in lines[0], lines[0]
    assert not (tmp_path / "report.html").exists() and not (tmp_path / "charts").exists()


# ---------------------------------------------------------------------------------------------
# The reader itself


def test_contained_reads_refuse_every_way_out(tmp_path):
    from simcore.stored import contained

    folder = tmp_path / "run"
    (folder / "sub").mkdir(parents=True)
    (folder / "ok.txt").write_text("fine")
    (folder / "sub" / "ok.txt").write_text("nested")
    outside = tmp_path / "outside.txt"
    outside.write_text("secret")
    (folder / "link.txt").symlink_to(outside)
    (folder / "linked").symlink_to(folder / "sub")
    os.mkfifo(folder / "fifo")
    (folder / "big.txt").write_bytes(b"x" * 101)
    assert contained.read_bytes(folder, "ok.txt", 100) == b"fine"
    assert contained.read_bytes(folder, "sub/ok.txt", 100) == b"nested"
    for relative, words in (("link.txt", "symbolic link"), ("linked/ok.txt", "symbolic link"),
                            ("fifo", "FIFO"), ("sub", "folder"), ("big.txt", "larger than"),
                            ("../outside.txt", "not a path inside"),
                            (str(outside), "not a path inside")):
        with pytest.raises(contained.UnsafeEntry, match=words):
            contained.read_bytes(folder, relative, 100)
    with pytest.raises(FileNotFoundError):
        contained.read_bytes(folder, "missing.txt", 100)
    with pytest.raises(FileNotFoundError):
        contained.read_bytes(folder, "ok.txt/below", 100)
    assert contained.is_file(folder, "ok.txt")
    assert not contained.is_file(folder, "link.txt") and not contained.is_file(folder, "fifo")


def _png_declaring(width: int, height: int) -> bytes:
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data)))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b""))
            + chunk(b"IEND", b""))


def test_a_chart_declaring_billions_of_pixels_is_drawn_again_not_decoded(run, tmp_path):
    (run / "film_days.png").write_bytes(_png_declaring(100_000, 100_000))
    out = tmp_path / "report.html"
    result = CliRunner().invoke(main, ["report", str(run), "--out", str(out), "-q"])
    assert result.exit_code == 0 and result.stderr == "", result.output
    assert "film_days.png in the run folder is not a readable PNG" in out.read_text()
