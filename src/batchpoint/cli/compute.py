"""`batchpoint compute` commands, shaped like `az ml compute`."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from batchpoint.cli.assets import DescriptionOpt, NamedCommands, NameOverrideOpt, TagOpt
from batchpoint.cli.common import FileOpt, NoWaitOpt, OutputOpt, QueryOpt, SetOpt, client, parse_set, split_tags
from batchpoint.cli.output import OutputFormat, emit
from batchpoint.errors import InvalidInput

app = typer.Typer(no_args_is_help=True)

NameOpt = Annotated[str, typer.Option("--name", "-n", help="Name of the compute.")]
MinOpt = Annotated[int | None, typer.Option("--min-instances", help="Instances kept when idle.")]
MaxOpt = Annotated[int | None, typer.Option("--max-instances", help="Most instances a job may use.")]
AddressOpt = Annotated[str | None, typer.Option("--address", help="ray: ray://HOST:PORT, auto or local.")]
ResourcesOpt = Annotated[str | None, typer.Option("--resources", help='ray: resources as JSON, e.g. {"GPU": 1}.')]
SizeOpt = Annotated[
    str | None,
    typer.Option(
        "--size",
        metavar="VM_SIZE",
        help="Azure VM size, e.g. STANDARD_DS3_V2: accepted as in the YAML's size, and ignored (a compute runs "
        "on this machine or its Ray cluster).",
    ),
]
COLUMNS = ("name", "type", "min_instances", "max_instances", "address")
commands = NamedCommands(app, "compute", lambda c: c.computes, COLUMNS)


def _resources(raw: str | None) -> dict[str, Any] | None:
    if raw is None:
        return None
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"not valid JSON: {exc.msg}", field="--resources") from None
    if not isinstance(value, dict):
        raise InvalidInput('expected a JSON object such as {"GPU": 1}', field="--resources")
    return value


@app.command("create")
def create(
    ctx: typer.Context,
    name: NameOverrideOpt = None,
    type_: Annotated[str | None, typer.Option("--type", "-t", help="local, amlcompute (default) or ray.")] = None,
    size: SizeOpt = None,
    min_instances: MinOpt = None,
    max_instances: MaxOpt = None,
    address: AddressOpt = None,
    resources: ResourcesOpt = None,
    tags: TagOpt = None,
    description: DescriptionOpt = None,
    file: FileOpt = None,
    set_: SetOpt = None,
    no_wait: NoWaitOpt = False,
    output: OutputOpt = OutputFormat.json,
    query: QueryOpt = None,
) -> None:
    """Register a compute target that deployments can name (compute: azureml:NAME)."""
    compute = client(ctx).computes.create(
        name,
        type=type_,
        size=size,
        min_instances=min_instances,
        max_instances=max_instances,
        address=address,
        resources=_resources(resources),
        description=description,
        tags=split_tags(tags) or None,
        file=file,
        overrides=parse_set(set_),
    )
    emit(compute, output, query, columns=COLUMNS)


commands.show("Show a compute.")
commands.list("List computes, the built-in 'local' first.")


@app.command("update")
def update(
    ctx: typer.Context,
    name: NameOpt,
    min_instances: MinOpt = None,
    max_instances: MaxOpt = None,
    address: AddressOpt = None,
    resources: ResourcesOpt = None,
    tags: TagOpt = None,
    description: DescriptionOpt = None,
    no_wait: NoWaitOpt = False,
    output: OutputOpt = OutputFormat.json,
    query: QueryOpt = None,
) -> None:
    """Change a compute's settings; tags given are added to its tags."""
    compute = client(ctx).computes.update(
        name,
        min_instances=min_instances,
        max_instances=max_instances,
        address=address,
        resources=_resources(resources),
        tags=split_tags(tags) or None,
        description=description,
    )
    emit(compute, output, query, columns=COLUMNS)


commands.delete("Delete a compute (refused while a batch deployment names it).")
