"""The ``simcore`` command line. Heavy imports happen inside commands so ``--help`` is instant."""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

import click

DEFAULT_PRIORS = Path("priors/baseline.toml")
DEFAULT_DRAWS = 200_000


def _fail(exc: Exception) -> None:
    message = " ".join(str(exc).split("\n"))   # one line, always
    click.echo(f"error: {message}", err=True)
    sys.exit(getattr(exc, "exit_code", 2))


class _Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the program is, so that it unwinds through the same clean-up as
    Ctrl-C (write_run removes its staging folder on any BaseException)."""


@contextmanager
def _sigterm_as_interrupt():
    in_main = threading.current_thread() is threading.main_thread()

    def raise_terminated(signum, frame):
        raise _Terminated()

    previous = signal.signal(signal.SIGTERM, raise_terminated) if in_main else None
    try:
        yield
    finally:
        if in_main:
            signal.signal(signal.SIGTERM, previous)


def _interrupted(exc: KeyboardInterrupt, done: str) -> None:
    """Clean up after Ctrl-C (exit 130) or SIGTERM (exit 143), saying on one line what is left."""
    terminated = isinstance(exc, _Terminated)
    in_main = threading.current_thread() is threading.main_thread()
    signals = (signal.SIGINT, signal.SIGTERM)
    previous = [signal.getsignal(s) for s in signals] if in_main else []
    if in_main:   # a second Ctrl-C must not cut the clean-up short
        for s in signals:
            signal.signal(s, signal.SIG_IGN)
    try:
        store = sys.modules.get("simcore.store")
        if store is not None:
            store.discard_unfinished()
        click.echo(f"{'terminated' if terminated else 'interrupted'}: {done}", err=True)
    finally:
        for s, handler in zip(signals, previous):
            signal.signal(s, handler)
    sys.exit(143 if terminated else 130)


def _out_of_memory(what: str) -> None:
    click.echo(f"error: not enough memory for {what}", err=True)
    sys.exit(1)


@contextmanager
def _user_command(memory_hint: str, done_when_interrupted: Callable[[], str]):
    """The one-line exits every long command shares: a user's mistake (exit 2, or 1 for I/O),
    running out of memory (1), Ctrl-C (130) or SIGTERM (143) with what is left on disk."""
    from .errors import SimcoreError
    try:
        with _sigterm_as_interrupt():
            yield
    except SimcoreError as exc:
        _fail(exc)
    except MemoryError:
        _out_of_memory(memory_hint)
    except KeyboardInterrupt as exc:
        _interrupted(exc, done_when_interrupted())


@click.group()
@click.version_option(package_name="simcore")
def main() -> None:
    """Monte Carlo forecasts of AI video generation reaching feature films."""


@main.command()
@click.argument("priors", type=click.Path(path_type=Path), default=DEFAULT_PRIORS)
@click.option("--draws", "-n", type=click.IntRange(min=1), default=DEFAULT_DRAWS,
              show_default=True, help="Number of simulated worlds.")
@click.option("--seed", "-s", type=click.IntRange(min=0, max=2**63 - 1), default=20261125,
              show_default=True)
@click.option("--chunk-size", type=click.IntRange(min=1), default=None,
              help="Draws per chunk (memory bound); results are identical for any value.")
@click.option("--paths", type=click.IntRange(min=0), default=None,
              help="Sample paths stored in run.nc [default: 200].")
@click.option("--out", "-o", type=click.Path(path_type=Path), default=None,
              help="Run directory [default: a new one under runs/].")
@click.option("--force", is_flag=True, help="Replace an existing run directory.")
@click.option("--no-charts", is_flag=True, help="Skip the PNG charts.")
@click.option("--quiet", "-q", is_flag=True, help="Print only the run directory.")
def run(priors, draws, seed, chunk_size, paths, out, force, no_charts, quiet):
    """Sample the priors, simulate, and write a run directory."""
    state: dict = {}

    def left_on_disk() -> str:
        written = state.get("written")
        return (f"the run was already complete in {written}" if written
                else "no run directory was written")

    with _user_command(f"{draws:,} draws; use fewer --draws", left_on_disk):
        _run(priors, draws, seed, chunk_size, paths, out, force, no_charts, quiet, state)


def _run(priors, draws, seed, chunk_size, paths, out, force, no_charts, quiet, state):
    import time

    from . import engine, store
    from .answer import summary_text
    from .model import MODEL_DRIVERS
    from .priors import load_priors

    started = time.perf_counter()
    prior_set = load_priors(priors, required=set(MODEL_DRIVERS))
    out = out or store.default_run_dir(priors, seed)
    store.check_run_dir(out, force)
    chunk_size = chunk_size or engine.DEFAULT_CHUNK_SIZE
    stored_paths = engine.DEFAULT_PATHS if paths is None else paths
    # More paths are kept in memory than run.nc stores: the given-data sensitivity (Q8) reads
    # the trajectories of its subsample of worlds from them instead of recomputing them.
    from .sensitivity import GIVEN_DATA_DRAWS
    n_paths = max(stored_paths, GIVEN_DATA_DRAWS)

    show_progress = not quiet and draws >= 4 * chunk_size and sys.stderr.isatty()
    if show_progress:
        from rich.progress import Progress
        with Progress(transient=True) as progress:
            task = progress.add_task("sampling worlds", total=draws)
            result = engine.run_forecast(prior_set, draws, seed, chunk_size, n_paths,
                                         on_chunk=lambda k: progress.advance(task, k))
    else:
        result = engine.run_forecast(prior_set, draws, seed, chunk_size, n_paths)
    result.stored_paths = stored_paths
    result.timings["process_to_engine_end"] = time.perf_counter() - started
    written = state["written"] = store.write_run(result, out, force=force,
                                                 with_charts=not no_charts)
    if quiet:
        click.echo(str(written))
        return
    if result.copula_repair:
        click.echo(f"note: the correlation matrix was not positive definite; repaired to the "
                   f"nearest valid one (largest change {result.copula_repair:.3f})", err=True)
    click.echo(f"simcore: {draws:,} worlds from {priors} (seed {seed}), as of "
               f"{prior_set.meta.as_of}, horizon {prior_set.meta.horizon_years:g} years\n")
    click.echo(summary_text(result))
    click.echo(f"\nrun written to {written}  ({time.perf_counter() - started:.1f} s)")


@main.command()
@click.argument("run_dir", type=click.Path(path_type=Path))
def verify(run_dir):
    """Recompute a run from its manifest and stored prior files; report whether the result is
    bit-identical (exit 0), what differs (exit 1), or why it cannot be checked (exit 2)."""
    with _user_command("recomputing this run",
                       lambda: "nothing was verified (verify never writes)"):
        from .verify import verify_run
        report = verify_run(run_dir)
    click.echo(report.text())
    sys.exit(0 if report.identical else 1)


@main.command()
@click.argument("priors", type=click.Path(path_type=Path), default=DEFAULT_PRIORS)
@click.option("--method", "-m", type=click.Choice(["sobol", "morris"]), default="sobol",
              show_default=True, help="Variance-based (Sobol) or screening (Morris).")
@click.option("-N", "n", type=click.IntRange(min=2), default=None,
              help="Sobol: base samples, a power of 2 [default: 2048]; Morris: trajectories "
                   "[default: 256]. Indices are computed at N and 2N (convergence check).")
@click.option("--seed", "-s", type=click.IntRange(min=0, max=2**32 - 2), default=20261125,
              show_default=True)
@click.option("--output", "outputs", multiple=True,
              help="Analyse only this output (repeatable), e.g. film_days, "
                   "novel_to_movie_possible [default: all headline outputs].")
@click.option("--resamples", type=click.IntRange(min=2), default=100, show_default=True,
              help="Bootstrap resamples for the confidence intervals.")
@click.option("--out", "-o", type=click.Path(path_type=Path), default=None,
              help="Study directory [default: a new one under runs/].")
@click.option("--force", is_flag=True, help="Replace an existing study directory.")
@click.option("--no-charts", is_flag=True, help="Skip the tornado charts.")
@click.option("--quiet", "-q", is_flag=True, help="Print only the study directory.")
def sensitivity(priors, method, n, seed, outputs, resamples, out, force, no_charts, quiet):
    """Sobol or Morris sensitivity of the headline outputs, and a tornado chart (Q8).

    Drivers are treated as independent here (the prior file's correlations are not applied);
    every run's sensitivity.csv keeps them. See docs/model.md, "Sensitivity analysis".
    """
    with _user_command("this study; use a smaller -N", lambda: "no study directory was written"):
        from .sensitivity.study import run_study, summary_text
        written, result, tornado = run_study(priors, method, n, seed, out, force, outputs,
                                             resamples, charts=not no_charts)
    click.echo(str(written) if quiet else summary_text(result, tornado, written))


@main.command()
@click.argument("run_dir", type=click.Path(path_type=Path), required=False)
@click.option("--output", "outputs", multiple=True, metavar="NAME",
              help="A chart to draw (repeatable) [default: all; --list shows the names].")
@click.option("--format", "fmt", default="png", show_default=True, metavar="png|svg|pdf",
              help="File format of the charts.")
@click.option("--to", "to_dir", type=click.Path(path_type=Path), default=None,
              help="Folder for the charts [default: RUN_DIR].")
@click.option("--dpi", type=click.IntRange(min=20, max=600), default=110, show_default=True,
              help="Resolution of PNG charts.")
@click.option("--no-seed", is_flag=True, help="Leave out the seed forecast overlay (Q9).")
@click.option("--list", "list_only", is_flag=True, help="List the chart names and exit.")
@click.option("--quiet", "-q", is_flag=True, help="Print nothing on success.")
def plot(run_dir, outputs, fmt, to_dir, dpi, no_seed, list_only, quiet):
    """Redraw charts from the run stored in RUN_DIR (reads run.nc, never recomputes)."""
    from .errors import SimcoreError
    try:
        from . import plotting
        if list_only:
            for name, chart in plotting.CHARTS.items():
                click.echo(f"{name:28} {chart.question:8} {chart.description}")
            return
        if run_dir is None:
            raise SimcoreError("missing RUN_DIR: the run directory to draw from")
        written = plotting.plot_run(run_dir, outputs or None, fmt, to_dir, dpi=dpi,
                                    seed=None if no_seed else plotting.DEFAULT_SEED)
    except SimcoreError as exc:
        _fail(exc)
    except KeyboardInterrupt:
        click.echo("interrupted: charts already drawn are complete, no partial files", err=True)
        sys.exit(130)
    if not quiet:
        for path in written:
            click.echo(str(path))


if __name__ == "__main__":  # pragma: no cover
    main()
