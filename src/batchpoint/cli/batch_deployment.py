"""`batchpoint batch-deployment` commands, shaped like `az ml batch-deployment`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from batchpoint.cli import job, notices
from batchpoint.cli.common import (
    ENDPOINT_FLAGS,
    FILE_FLAGS,
    FileOpt,
    NoWaitOpt,
    OutputOpt,
    QueryOpt,
    SetOpt,
    YesOpt,
    client,
    parse_set,
)
from batchpoint.cli.output import OutputFormat, emit

app = typer.Typer(no_args_is_help=True)

NameOpt = Annotated[str, typer.Option("--name", "-n", help="Name of the deployment.")]
EndpointOpt = Annotated[str, typer.Option(*ENDPOINT_FLAGS, help="Name of the batch endpoint.")]
OptionalNameOpt = Annotated[
    str | None, typer.Option("--name", "-n", help="Name of the deployment (overrides the file's).")
]
OptionalEndpointOpt = Annotated[
    str | None, typer.Option(*ENDPOINT_FLAGS, help="Name of the batch endpoint (overrides the file's).")
]
SetDefaultOpt = Annotated[
    bool, typer.Option("--set-default", help="Make this deployment the endpoint's default deployment.")
]
COLUMNS = ("name", "endpoint_name", "type", "model", "compute", "is_default", "provisioning_state")


@app.command("create")
def create(
    ctx: typer.Context,
    file: Annotated[Path, typer.Option(*FILE_FLAGS, help="deployment.yml (Azure ML CLI v2 format).")],
    endpoint_name: OptionalEndpointOpt = None,
    name: OptionalNameOpt = None,
    set_default: SetDefaultOpt = False,
    set_: SetOpt = None,
    no_wait: NoWaitOpt = False,
    output: OutputOpt = OutputFormat.json,
    query: QueryOpt = None,
) -> None:
    """Create a deployment from a deployment.yml file (model or pipeline deployment)."""
    deployment = client(ctx).batch_deployments.create_from_file(
        file, endpoint_name=endpoint_name, name=name, overrides=parse_set(set_), set_default=set_default
    )
    emit(deployment, output, query, columns=COLUMNS)


@app.command("update")
def update(
    ctx: typer.Context,
    name: OptionalNameOpt = None,
    endpoint_name: OptionalEndpointOpt = None,
    file: FileOpt = None,
    set_default: SetDefaultOpt = False,
    set_: SetOpt = None,
    no_wait: NoWaitOpt = False,
    output: OutputOpt = OutputFormat.json,
    query: QueryOpt = None,
) -> None:
    """Change a deployment: from a file (code snapshotted again) or with --set on the deployment as it is."""
    deployment = client(ctx).batch_deployments.update(
        name, endpoint_name, path=file, overrides=parse_set(set_), set_default=set_default
    )
    emit(deployment, output, query, columns=COLUMNS)


@app.command("show")
def show(
    ctx: typer.Context,
    name: NameOpt,
    endpoint_name: EndpointOpt,
    output: OutputOpt = OutputFormat.json,
    query: QueryOpt = None,
) -> None:
    """Show a deployment: pinned model, code snapshot, compute and settings."""
    emit(client(ctx).batch_deployments.get(name, endpoint_name), output, query, columns=COLUMNS)


@app.command("list")
def list_(
    ctx: typer.Context,
    endpoint_name: EndpointOpt,
    output: OutputOpt = OutputFormat.json,
    query: QueryOpt = None,
) -> None:
    """List the deployments of a batch endpoint."""
    emit(client(ctx).batch_deployments.list(endpoint_name), output, query, columns=COLUMNS)


@app.command("delete")
def delete(
    ctx: typer.Context, name: NameOpt, endpoint_name: EndpointOpt, yes: YesOpt = False, no_wait: NoWaitOpt = False
) -> None:
    """Delete a deployment (the default one only when it is the endpoint's last)."""
    if not yes:
        typer.confirm(f"Delete deployment '{name}' of batch endpoint '{endpoint_name}'?", abort=True)
    client(ctx).batch_deployments.delete(name, endpoint_name)
    notices.note(f"Deleted deployment '{name}' of batch endpoint '{endpoint_name}'.")


job.register_deployment_jobs(app)
