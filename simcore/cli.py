"""The ``simcore`` command line. Heavy imports happen inside commands so ``--help`` is instant."""

from __future__ import annotations

import sys
from pathlib import Path

import click

DEFAULT_PRIORS = Path("priors/baseline.toml")
DEFAULT_DRAWS = 200_000


def _fail(exc: Exception) -> None:
    click.echo(f"error: {exc}", err=True)
    sys.exit(getattr(exc, "exit_code", 2))


@click.group()
@click.version_option(package_name="simcore")
def main() -> None:
    """Monte Carlo forecasts of AI video generation reaching feature films."""


@main.command()
@click.argument("priors", type=click.Path(path_type=Path), default=DEFAULT_PRIORS)
@click.option("--draws", "-n", type=click.IntRange(min=1), default=DEFAULT_DRAWS,
              show_default=True, help="Number of simulated worlds.")
@click.option("--seed", "-s", type=click.IntRange(min=0), default=20261125, show_default=True)
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
    from .errors import SimcoreError
    try:
        _run(priors, draws, seed, chunk_size, paths, out, force, no_charts, quiet)
    except SimcoreError as exc:
        _fail(exc)
    except KeyboardInterrupt:
        click.echo("interrupted: no run directory was written", err=True)
        sys.exit(130)


def _run(priors, draws, seed, chunk_size, paths, out, force, no_charts, quiet):
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
    n_paths = engine.DEFAULT_PATHS if paths is None else paths

    show_progress = not quiet and draws >= 4 * chunk_size and sys.stderr.isatty()
    if show_progress:
        from rich.progress import Progress
        with Progress(transient=True) as progress:
            task = progress.add_task("sampling worlds", total=draws)
            result = engine.run_forecast(prior_set, draws, seed, chunk_size, n_paths,
                                         on_chunk=lambda k: progress.advance(task, k))
    else:
        result = engine.run_forecast(prior_set, draws, seed, chunk_size, n_paths)
    result.timings["process_to_engine_end"] = time.perf_counter() - started
    written = store.write_run(result, out, force=force, with_charts=not no_charts)
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


if __name__ == "__main__":  # pragma: no cover
    main()
