"""`batchpoint data` commands, shaped like `az ml data`."""

from __future__ import annotations

from typing import Annotated

import typer

from batchpoint.cli.common import FileOpt, OutputOpt, QueryOpt, SetOpt, YesOpt, client, split_tags
from batchpoint.cli.output import OutputFormat, emit
from batchpoint.common.overrides import parse_pairs

app = typer.Typer(no_args_is_help=True)

NameOpt = Annotated[str, typer.Option("--name", "-n", help="Name of the data asset.")]
VersionOpt = Annotated[str | None, typer.Option("--version", "-v", help="Version (default: the latest).")]
AllVersionsOpt = Annotated[str | None, typer.Option("--version", "-v", help="Version (default: every version).")]
COLUMNS = ("name", "version", "type", "path", "archived")


@app.command("create")
def create(
    ctx: typer.Context,
    name: Annotated[str | None, typer.Option("--name", "-n", help="Name (overrides the file's).")] = None,
    path: Annotated[
        str | None, typer.Option("--path", "-p", help="Local file or folder, or azureml://datastores/... URI.")
    ] = None,
    type_: Annotated[str | None, typer.Option("--type", "-t", help="uri_folder (default), uri_file, mltable.")] = None,
    version: Annotated[str | None, typer.Option("--version", "-v", help="Version (default: next number).")] = None,
    tags: Annotated[list[str] | None, typer.Option("--tag", "--tags", help="Tag KEY=VALUE (repeatable).")] = None,
    description: Annotated[str | None, typer.Option("--description", "-d", help="Description.")] = None,
    file: FileOpt = None,
    set_: SetOpt = None,
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
        overrides=parse_pairs(set_),
    )
    emit(data, output, query, columns=COLUMNS)


@app.command("show")
def show(
    ctx: typer.Context,
    name: NameOpt,
    version: VersionOpt = None,
    output: OutputOpt = OutputFormat.json,
    query: QueryOpt = None,
) -> None:
    """Show one version of a data asset (the latest by default)."""
    emit(client(ctx).data.get(name, version), output, query, columns=COLUMNS)


@app.command("list")
def list_(
    ctx: typer.Context,
    name: Annotated[str | None, typer.Option("--name", "-n", help="Only the versions of this data asset.")] = None,
    include_archived: Annotated[bool, typer.Option("--include-archived", help="Also list archived ones.")] = False,
    output: OutputOpt = OutputFormat.json,
    query: QueryOpt = None,
) -> None:
    """List data asset versions."""
    emit(client(ctx).data.list(name, include_archived=include_archived), output, query, columns=COLUMNS)


@app.command("archive")
def archive(
    ctx: typer.Context,
    name: NameOpt,
    version: AllVersionsOpt = None,
    output: OutputOpt = OutputFormat.json,
    query: QueryOpt = None,
) -> None:
    """Archive a version (or every version)."""
    emit(client(ctx).data.archive(name, version), output, query, columns=COLUMNS)


@app.command("restore")
def restore(
    ctx: typer.Context,
    name: NameOpt,
    version: AllVersionsOpt = None,
    output: OutputOpt = OutputFormat.json,
    query: QueryOpt = None,
) -> None:
    """Bring an archived version (or every version) back."""
    emit(client(ctx).data.restore(name, version), output, query, columns=COLUMNS)


@app.command("delete")
def delete(
    ctx: typer.Context,
    name: NameOpt,
    version: Annotated[str, typer.Option("--version", "-v", help="Version to delete.")],
    yes: YesOpt = False,
) -> None:
    """Delete one data asset version (the data itself is left alone)."""
    if not yes:
        typer.confirm(f"Delete data asset '{name}' version '{version}'?", abort=True)
    client(ctx).data.delete(name, version)
    typer.echo(f"Deleted data asset '{name}' version '{version}'.", err=True)
