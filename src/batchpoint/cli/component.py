"""`batchpoint component` commands, shaped like `az ml component`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from batchpoint.cli.assets import NameOverrideOpt, NewVersionOpt, VersionedCommands, VersionOpt
from batchpoint.cli.common import FileOpt, NoWaitOpt, OutputOpt, QueryOpt, SetOpt, client, parse_set
from batchpoint.cli.output import OutputFormat, emit
from batchpoint.errors import InvalidInput

if TYPE_CHECKING:
    from batchpoint.client import Client

app = typer.Typer(no_args_is_help=True)

NameOpt = Annotated[str, typer.Option("--name", "-n", help="Name of the component.")]
LabelOpt = Annotated[str | None, typer.Option("--label", "-l", help="Label of the version: latest.")]
COLUMNS = ("name", "version", "type", "display_name", "environment", "is_deterministic", "archived")


def _operations(c: Client) -> Any:
    """``client.components``: the shared show/list/archive/restore commands (no delete: versions are archived)."""
    return c.components


commands = VersionedCommands(app, "component", _operations, COLUMNS)


@app.command("create")
def create(
    ctx: typer.Context,
    file: FileOpt = None,
    name: NameOverrideOpt = None,
    version: NewVersionOpt = None,
    set_: SetOpt = None,
    no_wait: NoWaitOpt = False,
    output: OutputOpt = OutputFormat.json,
    query: QueryOpt = None,
) -> None:
    """Register a component version from its YAML: the code folder is snapshotted and the environment pinned now."""
    if file is None:
        raise InvalidInput("give the component YAML with --file/-f", field="--file")
    component = client(ctx).components.create(file, name=name, version=version, overrides=parse_set(set_))
    emit(component, output, query, columns=COLUMNS)


@app.command("show")
def show(
    ctx: typer.Context,
    name: NameOpt,
    version: VersionOpt = None,
    label: LabelOpt = None,
    output: OutputOpt = OutputFormat.json,
    query: QueryOpt = None,
) -> None:
    """Show one version of a component (the latest by default, or with --label latest)."""
    if version is not None and label is not None:
        raise InvalidInput("give --version or --label, not both", field="--label")
    if label is not None and label != "latest":
        raise InvalidInput(f"unknown label '{label}'; only 'latest' is supported", field="--label")
    emit(client(ctx).components.get(name, version), output, query, columns=COLUMNS)


commands.list(
    "List the latest version of each component, or with --name every version of one.",
    archived_help="Also list archived ones.",
)
commands.archive("Archive a version (or every version): hidden from listings and @latest, still usable by id.")
commands.restore("Bring an archived version (or every version) back.")
