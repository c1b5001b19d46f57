"""`dsr fleet` commands: write a simulated fleet of laptop trees for tests, the demo and benchmarks.

Owns the command-line surface of the simulator only; the work is in `simulation.fleet`. Prints counts and
paths, never planted identifiers.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from dsr.context import err
from dsr.context import out as out_console
from dsr.failures import say
from models.errors import DsrError, InputError
from simulation.fleet import MAX_SIZE_MB, simulate_fleet

app = typer.Typer(help="Simulated fleets of laptops with Claude Cowork / Claude Code histories.", no_args_is_help=True)


@app.callback()
def fleet() -> None:
    """Simulated fleets: write laptop trees with agent histories and planted test subjects."""


@app.command("simulate")
def simulate(
    out: Annotated[Path, typer.Option("--out", help="Directory for the fleet: new, empty, or a previous fleet.")],
    endpoints: Annotated[int, typer.Option("--endpoints", min=1, max=999, help="Number of laptops.")],
    size_mb: Annotated[
        float,
        typer.Option("--size-mb", min=0.0, max=MAX_SIZE_MB, help=f"Approximate MiB per laptop (0 to {MAX_SIZE_MB})."),
    ] = 1.0,
    seed: Annotated[
        int,
        typer.Option("--seed", min=0, max=2**32 - 1, help="Seed (0 to 2**32-1); the same seed gives identical trees."),
    ] = 0,
    agents: Annotated[
        bool,
        typer.Option(
            "--agents/--claude-only",
            help="Also write every other covered agent's store (Codex, Gemini CLI, Cursor, Copilot, Cline, ...).",
        ),
    ] = False,
) -> None:
    """Write N laptop trees, truth.json (every planted location) and a ready dsr.toml."""
    if not math.isfinite(size_mb):
        raise InputError(f"--size-mb must be a number from 0 to {MAX_SIZE_MB}")
    columns = (TextColumn("simulating laptops"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    try:
        with Progress(*columns, console=err, transient=True) as bar:
            task = bar.add_task("fleet", total=endpoints)

            def report(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            result = simulate_fleet(
                out, endpoints=endpoints, size_mb=size_mb, seed=seed, progress=report, agents=agents
            )
    except DsrError as exc:
        say(f"error: {exc}")
        raise typer.Exit(code=1) from None
    console = out_console
    console.print(
        f"wrote {len(result.endpoints)} laptops ({result.bytes_written / (1024 * 1024):.1f} MiB), "
        f"{result.sessions} sessions, {result.locations} planted locations, {result.traps} traps",
        highlight=False,
    )
    console.print(f"truth:  {result.truth_path}", highlight=False)
    console.print(f"config: {result.config_path}  (use: dsr --config {result.config_path} ...)", highlight=False)
