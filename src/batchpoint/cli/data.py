"""`batchpoint data` commands, shaped like `az ml data`."""

from __future__ import annotations

from typing import Annotated

import typer

from batchpoint.cli.assets import DescriptionOpt, NameOverrideOpt, NewVersionOpt, TagOpt, VersionedCommands
from batchpoint.cli.common import FileOpt, NoWaitOpt, OutputOpt, QueryOpt, SetOpt, client, parse_set, split_tags
from batchpoint.cli.output import OutputFormat, emit

app = typer.Typer(no_args_is_help=True)

COLUMNS = ("name", "version", "type", "path", "archived")
commands = VersionedCommands(app, "data asset", lambda c: c.data, COLUMNS)


@app.command("create")
def create(
    ctx: typer.Context,
    name: NameOverrideOpt = None,
    path: Annotated[
        str | None, typer.Option("--path", "-p", help="Local file or folder, or azureml://datastores/... URI.")
    ] = None,
    type_: Annotated[str | None, typer.Option("--type", "-t", help="uri_folder (default), uri_file, mltable.")] = None,
    version: NewVersionOpt = None,
    tags: TagOpt = None,
    description: DescriptionOpt = None,
    file: FileOpt = None,
    set_: SetOpt = None,
    no_wait: NoWaitOpt = False,
    output: OutputOpt = OutputFormat.json,
    query: QueryOpt = None,
) -> None:
    """Register a data asset version: a named pointer to a file or folder (nothing is copied)."""
    data = client(ctx).data.create(
        name,
        path,
        type=type_,
        version=version,
        description=description,
        tags=split_tags(tags) or None,
        file=file,
        overrides=parse_set(set_),
    )
    emit(data, output, query, columns=COLUMNS)


commands.show("Show one version of a data asset (the latest by default).")
commands.list(
    "List the latest version of each data asset, or with --name every version of one.",
    archived_help="Also list archived ones.",
)
commands.archive("Archive a version (or every version).")
commands.restore("Bring an archived version (or every version) back.")
commands.delete("Delete one data asset version (the data itself is left alone).")
