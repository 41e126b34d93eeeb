"""`batchpoint model` commands, shaped like `az ml model`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from batchpoint.cli.assets import DescriptionOpt, NewVersionOpt, TagOpt, VersionedCommands, VersionOpt
from batchpoint.cli.common import FileOpt, NoWaitOpt, OutputOpt, QueryOpt, SetOpt, client, parse_set, split_tags
from batchpoint.cli.output import OutputFormat, emit
from batchpoint.errors import InvalidInput

app = typer.Typer(no_args_is_help=True)

NameOpt = Annotated[str, typer.Option("--name", "-n", help="Name of the model.")]
OptionalNameOpt = Annotated[str | None, typer.Option("--name", "-n", help="Name of the model (overrides the file's).")]
COLUMNS = ("name", "version", "type", "path", "archived", "description")
commands = VersionedCommands(app, "model", lambda c: c.models, COLUMNS)


@app.command("create")
def create(
    ctx: typer.Context,
    name: OptionalNameOpt = None,
    path: Annotated[str | None, typer.Option("--path", "-p", help="File or folder to register.")] = None,
    version: NewVersionOpt = None,
    type_: Annotated[str | None, typer.Option("--type", help="custom_model or mlflow_model (default: detect).")] = None,
    tags: TagOpt = None,
    description: DescriptionOpt = None,
    stage: Annotated[str | None, typer.Option("--stage", help="Stage label, e.g. Development.")] = None,
    file: FileOpt = None,
    set_: SetOpt = None,
    no_wait: NoWaitOpt = False,
    output: OutputOpt = OutputFormat.json,
    query: QueryOpt = None,
) -> None:
    """Register a model version: its files are copied into the workspace and never change."""
    model = client(ctx).models.create(
        name,
        path,
        version=version,
        type=type_,
        description=description,
        tags=split_tags(tags) or None,
        stage=stage,
        file=file,
        overrides=parse_set(set_),
    )
    emit(model, output, query, columns=COLUMNS)


@app.command("show")
def show(
    ctx: typer.Context,
    name: NameOpt,
    version: VersionOpt = None,
    label: Annotated[str | None, typer.Option("--label", "-l", help="Only 'latest' is supported.")] = None,
    output: OutputOpt = OutputFormat.json,
    query: QueryOpt = None,
) -> None:
    """Show one version of a model (the latest by default, or with --label latest)."""
    if label is not None and label != "latest":
        raise InvalidInput(f"unknown label '{label}'; only 'latest' is supported", field="--label")
    if label is not None and version is not None:
        raise InvalidInput("give --version or --label, not both", field="--label")
    emit(client(ctx).models.get(name, version), output, query, columns=COLUMNS)


commands.list(
    "List the latest version of each model, or with --name every version of one (archived ones only with "
    "--include-archived).",
    archived_help="Also list archived versions.",
)


@app.command("download")
def download(
    ctx: typer.Context,
    name: NameOpt,
    version: VersionOpt = None,
    download_path: Annotated[
        Path, typer.Option("--download-path", help="Folder to download into (a NAME sub-folder is made).")
    ] = Path("."),
    output: OutputOpt = OutputFormat.json,
    query: QueryOpt = None,
) -> None:
    """Copy a model's registered files to DOWNLOAD_PATH/NAME/."""
    target = client(ctx).models.download(name, version, download_path / name)
    emit({"name": name, "path": str(target.resolve())}, output, query)


commands.archive("Archive a version (or every version): hidden from lists and @latest, still usable by version.")
commands.restore("Bring an archived version (or every version) back.")
commands.delete("Delete one model version (refused while a batch deployment uses it).")
