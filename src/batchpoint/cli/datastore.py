"""`batchpoint datastore list|show`, shaped like `az ml datastore`."""

from __future__ import annotations

from typing import Annotated

import typer

from batchpoint.cli.common import OutputOpt, QueryOpt, client
from batchpoint.cli.output import OutputFormat, emit

app = typer.Typer(no_args_is_help=True)

COLUMNS = ("name", "type", "root", "is_default", "description")


@app.command("show")
def show(
    ctx: typer.Context,
    name: Annotated[str, typer.Option("--name", "-n", help="Name of the datastore.")],
    output: OutputOpt = OutputFormat.json,
    query: QueryOpt = None,
) -> None:
    """Show a datastore: the folder its azureml://datastores/<name>/paths/... URIs point into."""
    emit(client(ctx).datastores.get(name), output, query, columns=COLUMNS)


@app.command("list")
def list_(ctx: typer.Context, output: OutputOpt = OutputFormat.json, query: QueryOpt = None) -> None:
    """List datastores, the default workspaceblobstore first."""
    emit(client(ctx).datastores.list(), output, query, columns=COLUMNS)
