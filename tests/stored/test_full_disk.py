"""A full disk (issue 20, case 4), on a real small file system: one line, exit 1, nothing left.

Each test mounts a 20 MB tmpfs and fills it to leave a chosen number of bytes free. The last
steps of a run append groups to run.nc; HDF5 then reported the disk full as RuntimeError (a
78-line traceback) or crashed the process (SIGSEGV, SIGBUS) and left its staging folder behind.
``compare --out`` left the tables written before the chart failed, and ``plot --to`` its first
charts (exit 2, not 1). Mounting needs root: elsewhere these tests are skipped, saying so.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest
from clichecks import assert_one_line_exit, run_simcore
from click.testing import CliRunner
from sharedruns import shared_point_run

from simcore.cli import main

ROOT = Path(__file__).resolve().parents[2]
BASELINE = ROOT / "priors" / "baseline.toml"


@pytest.fixture()
def disk(tmp_path):
    """An empty 20 MB tmpfs, unmounted afterwards."""
    mount_point = tmp_path / f"disk-{uuid.uuid4().hex[:8]}"
    mount_point.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=20m", "tmpfs", str(mount_point)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small file system here (needs root): "
                    f"{done.stderr.strip() or done.returncode}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def free_bytes(folder: Path) -> int:
    stats = os.statvfs(folder)
    return stats.f_bavail * stats.f_frsize


def fill(disk: Path, leave: int) -> None:
    """Empty ``disk``, then fill it until ``leave`` bytes are free."""
    for entry in disk.iterdir():
        shutil.rmtree(entry) if entry.is_dir() and not entry.is_symlink() else entry.unlink()
    with open(disk / "filler", "wb") as filler:
        os.posix_fallocate(filler.fileno(), 0, max(free_bytes(disk) - leave, 1))


def left_on(disk: Path) -> list[str]:
    return sorted(p.name for p in disk.iterdir() if p.name != "filler")


@pytest.mark.slow
def test_a_run_that_fills_the_disk_at_its_last_steps_says_so_in_one_line(disk):
    run = ["run", BASELINE, "--draws", 20_000, "--out", disk / "r", "-q"]
    before = free_bytes(disk)
    assert run_simcore(*run).returncode == 0
    needs = before - free_bytes(disk)          # what the whole run takes on this disk
    # Short of room by less than its last steps (run.nc's summary groups, the manifest).
    for short in (16_000, 48_000, 96_000, 160_000, 256_000, 512_000):
        fill(disk, needs - short)
        done = run_simcore(*run)
        assert_one_line_exit(done, 1, f"{disk / 'r'}: cannot write run: disk full")
        assert left_on(disk) == [], (short, left_on(disk))


@pytest.fixture(scope="module")
def stored_run(tmp_path_factory) -> Path:
    return shared_point_run(tmp_path_factory, "contained-run", "--draws", "2000", "--paths", "5")


@pytest.mark.parametrize("command,leave", [("compare", 24_000), ("plot", 400_000),
                                           ("report", 300_000)])
def test_commands_writing_files_leave_none_on_a_full_disk(disk, stored_run, command, leave):
    out = disk / "out"
    fill(disk, leave)
    args = {"compare": ["compare", stored_run, stored_run, "--out", out],
            "plot": ["plot", stored_run, "--to", out],
            "report": ["report", stored_run, "--out", out / "report.html"]}[command]
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert result.exit_code == 1, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "disk full" in lines[0], lines
    assert left_on(disk) == [] or (left_on(disk) == ["out"] and not list(out.iterdir())), \
        left_on(disk)
