"""How long each long command takes to stop after Ctrl-C or SIGTERM.

Every command runs in a fresh process; once it has used ``--cpu`` seconds of CPU (past the
start-up, in the middle of its work; ``sensitivity+4``: 4 s more, in SALib's design) it gets
SIGINT or SIGTERM (alternately), and the time from the signal to the process's exit is
measured, with its exit status (130/143 expected) and stderr (one line expected). Reported: the
median and the largest latency per command.

    python benchmarks/bench_interrupts.py [--repeats 4] [--cpu 2.0]
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "priors" / "baseline.toml"


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def interrupted(args: list, signum: int, cpu: float) -> tuple[float, int, str]:
    process = subprocess.Popen([sys.executable, "-m", "simcore", *map(str, args)], cwd=ROOT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    while cpu_seconds(process.pid) < cpu:
        if process.poll() is not None:
            raise SystemExit(f"{args[0]} ended before it was interrupted: {process.stderr.read()}")
        time.sleep(0.01)
    process.send_signal(signum)
    sent = time.perf_counter()
    _, stderr = process.communicate()
    return time.perf_counter() - sent, process.returncode, stderr.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=4)
    parser.add_argument("--cpu", type=float, default=2.0)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        run = tmp / "stored"
        subprocess.run([sys.executable, "-m", "simcore", "run", BASELINE, "--draws", "100000",
                        "--out", run, "-q"], cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
        commands = {
            "run": lambda k: ["run", BASELINE, "--draws", 3_000_000, "--out", tmp / f"r{k}"],
            "sensitivity": lambda k: ["sensitivity", BASELINE, "-N", 4096, "--out",
                                      tmp / f"s{k}"],
            # Later, in SALib's Saltelli design, where numpy swallowed most interrupts.
            "sensitivity+4": lambda k: ["sensitivity", BASELINE, "-N", 4096, "--out",
                                        tmp / f"d{k}"],
            "report": lambda k: ["report", run, "--out", tmp / f"report{k}.html"],
            "plot": lambda k: ["plot", run, "--to", tmp / f"charts{k}"],
            "compare": lambda k: ["compare", run, run, run, run, run, run, "--out",
                                  tmp / f"cmp{k}"],
            "verify": lambda k: ["verify", run],
        }
        print(f"{'command':14} {'median':>8} {'largest':>8}  exits")
        for name, args in commands.items():
            latencies, outcomes = [], set()
            cpu = options.cpu + (4.0 if name.endswith("+4") else 0.0)
            for k in range(options.repeats):
                signum = signal.SIGINT if k % 2 == 0 else signal.SIGTERM
                latency, code, stderr = interrupted(args(k), signum, cpu)
                latencies.append(latency)
                outcomes.add(f"{code} ({len(stderr.splitlines())} line)")
            print(f"{name:14} {statistics.median(latencies):7.2f}s {max(latencies):7.2f}s  "
                  f"{', '.join(sorted(outcomes))}")


if __name__ == "__main__":
    main()
