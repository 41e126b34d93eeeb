"""`batchpoint batch-endpoint` commands (create, update, show, list, delete), shaped like `az ml batch-endpoint`."""

from __future__ import annotations

from typing import Annotated

import typer

from batchpoint.cli import job
from batchpoint.cli.assets import NamedCommands
from batchpoint.cli.common import FileOpt, NoWaitOpt, OutputOpt, QueryOpt, SetOpt, client, parse_set
from batchpoint.cli.output import OutputFormat, emit

app = typer.Typer(no_args_is_help=True)

OptionalNameOpt = Annotated[
    str | None, typer.Option("--name", "-n", help="Name of the batch endpoint (overrides the file's).")
]
COLUMNS = ("name", "auth_mode", "scoring_uri", "provisioning_state")
commands = NamedCommands(app, "batch endpoint", lambda c: c.batch_endpoints, COLUMNS)


@app.command("create")
def create(
    ctx: typer.Context,
    file: FileOpt = None,
    name: OptionalNameOpt = None,
    set_: SetOpt = None,
    no_wait: NoWaitOpt = False,
    output: OutputOpt = OutputFormat.json,
    query: QueryOpt = None,
) -> None:
    """Create a batch endpoint from an endpoint.yml file, or from just a name."""
    endpoint = client(ctx).batch_endpoints.create_from_file(file, name=name, overrides=parse_set(set_))
    emit(endpoint, output, query, columns=COLUMNS)


@app.command("update")
def update(
    ctx: typer.Context,
    name: OptionalNameOpt = None,
    file: FileOpt = None,
    set_: SetOpt = None,
    no_wait: NoWaitOpt = False,
    output: OutputOpt = OutputFormat.json,
    query: QueryOpt = None,
) -> None:
    """Change an endpoint, e.g. its default deployment: --set defaults.deployment_name=NAME."""
    endpoint = client(ctx).batch_endpoints.update(name, overrides=parse_set(set_), path=file)
    emit(endpoint, output, query, columns=COLUMNS)


commands.show("Show a batch endpoint with its deployments and default deployment.")
commands.list("List the batch endpoints of the workspace.")
commands.delete("Delete a batch endpoint and all its deployments.", also=" and all its deployments")
job.register_endpoint_jobs(app)
