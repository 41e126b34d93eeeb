"""`batchpoint environment` commands, shaped like `az ml environment`."""

from __future__ import annotations

from typing import Annotated

import typer

from batchpoint.cli.common import FileOpt, OutputOpt, QueryOpt, SetOpt, YesOpt, client, split_tags
from batchpoint.cli.output import OutputFormat, emit
from batchpoint.common.overrides import parse_pairs

app = typer.Typer(no_args_is_help=True)

NameOpt = Annotated[str, typer.Option("--name", "-n", help="Name of the environment.")]
VersionOpt = Annotated[str | None, typer.Option("--version", "-v", help="Version (default: the latest).")]
AllVersionsOpt = Annotated[str | None, typer.Option("--version", "-v", help="Version (default: every version).")]
COLUMNS = ("name", "version", "image", "python_version", "archived", "spec_hash")


@app.command("create")
def create(
    ctx: typer.Context,
    name: Annotated[str | None, typer.Option("--name", "-n", help="Name (overrides the file's).")] = None,
    version: Annotated[str | None, typer.Option("--version", "-v", help="Version (default: next number).")] = None,
    image: Annotated[str | None, typer.Option("--image", "-i", help="Base container image (recorded).")] = None,
    conda_file: Annotated[str | None, typer.Option("--conda-file", help="Conda YAML file.")] = None,
    pip_requirements: Annotated[
        str | None, typer.Option("--pip-requirements", help="requirements.txt file (batchpoint extra).")
    ] = None,
    python_version: Annotated[str | None, typer.Option("--python-version", help="Python version, e.g. 3.11.")] = None,
    tags: Annotated[list[str] | None, typer.Option("--tag", "--tags", help="Tag KEY=VALUE (repeatable).")] = None,
    description: Annotated[str | None, typer.Option("--description", "-d", help="Description.")] = None,
    file: FileOpt = None,
    set_: SetOpt = None,
    output: OutputOpt = OutputFormat.json,
    query: QueryOpt = None,
) -> None:
    """Register an environment version; the conda and requirements files are read and stored now."""
    environment = client(ctx).environments.create(
        name,
        version=version,
        image=image,
        conda_file=conda_file,
        pip_requirements=pip_requirements,
        python_version=python_version,
        description=description,
        tags=split_tags(tags) or None,
        file=file,
        overrides=parse_pairs(set_),
    )
    emit(environment, output, query, columns=COLUMNS)


@app.command("show")
def show(
    ctx: typer.Context,
    name: NameOpt,
    version: VersionOpt = None,
    output: OutputOpt = OutputFormat.json,
    query: QueryOpt = None,
) -> None:
    """Show one version of an environment (the latest by default)."""
    emit(client(ctx).environments.get(name, version), output, query, columns=COLUMNS)


@app.command("list")
def list_(
    ctx: typer.Context,
    name: Annotated[str | None, typer.Option("--name", "-n", help="Only the versions of this environment.")] = None,
    include_archived: Annotated[bool, typer.Option("--include-archived", help="Also list archived ones.")] = False,
    output: OutputOpt = OutputFormat.json,
    query: QueryOpt = None,
) -> None:
    """List environment versions."""
    emit(client(ctx).environments.list(name, include_archived=include_archived), output, query, columns=COLUMNS)


@app.command("archive")
def archive(
    ctx: typer.Context,
    name: NameOpt,
    version: AllVersionsOpt = None,
    output: OutputOpt = OutputFormat.json,
    query: QueryOpt = None,
) -> None:
    """Archive a version (or every version)."""
    emit(client(ctx).environments.archive(name, version), output, query, columns=COLUMNS)


@app.command("restore")
def restore(
    ctx: typer.Context,
    name: NameOpt,
    version: AllVersionsOpt = None,
    output: OutputOpt = OutputFormat.json,
    query: QueryOpt = None,
) -> None:
    """Bring an archived version (or every version) back."""
    emit(client(ctx).environments.restore(name, version), output, query, columns=COLUMNS)


@app.command("delete")
def delete(
    ctx: typer.Context,
    name: NameOpt,
    version: Annotated[str, typer.Option("--version", "-v", help="Version to delete.")],
    yes: YesOpt = False,
) -> None:
    """Delete one environment version (refused while a batch deployment uses it)."""
    if not yes:
        typer.confirm(f"Delete environment '{name}' version '{version}'?", abort=True)
    client(ctx).environments.delete(name, version)
    typer.echo(f"Deleted environment '{name}' version '{version}'.", err=True)


BUILD_COLUMNS = ("name", "version", "python_version", "reused", "build_seconds", "build_log")


@app.command("build")
def build(
    ctx: typer.Context,
    name: NameOpt,
    version: VersionOpt = None,
    force: Annotated[bool, typer.Option("--force", help="Build again even if a cached build exists.")] = False,
    output: OutputOpt = OutputFormat.json,
    query: QueryOpt = None,
) -> None:
    """Build an environment into its cached virtual environment now, rather than at the first job that needs it."""
    typer.echo(f"Building environment '{name}' (the first build can take minutes)...", err=True)
    emit(client(ctx).environments.build(name, version, force=force), output, query, columns=BUILD_COLUMNS)
