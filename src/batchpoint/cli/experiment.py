"""`batchpoint experiment list|show`: the workspace's MLflow experiments (each job is a run of one)."""

from __future__ import annotations

from typing import Annotated

import typer

from batchpoint.cli.common import OutputOpt, QueryOpt, client
from batchpoint.cli.output import OutputFormat, emit

app = typer.Typer(no_args_is_help=True)

COLUMNS = ("name", "experiment_id", "run_count", "artifact_location")


@app.command("show")
def show(
    ctx: typer.Context,
    name: Annotated[str, typer.Option("--name", "-n", help="Name of the experiment.")],
    output: OutputOpt = OutputFormat.json,
    query: QueryOpt = None,
) -> None:
    """Show an experiment: its id, artifact location and number of runs."""
    emit(client(ctx).experiments.get(name), output, query, columns=COLUMNS)


@app.command("list")
def list_(ctx: typer.Context, output: OutputOpt = OutputFormat.json, query: QueryOpt = None) -> None:
    """List experiments, oldest first ('batchpoint job list --experiment-name E' lists an experiment's jobs)."""
    emit(client(ctx).experiments.list(), output, query, columns=COLUMNS)
