"""`batchpoint environment` commands, shaped like `az ml environment`."""

from __future__ import annotations

from typing import Annotated

import typer

from batchpoint.cli import notices
from batchpoint.cli.assets import (
    DescriptionOpt,
    NameOverrideOpt,
    NewVersionOpt,
    TagOpt,
    VersionedCommands,
    VersionOpt,
)
from batchpoint.cli.common import FileOpt, NoWaitOpt, OutputOpt, QueryOpt, SetOpt, client, parse_set, split_tags
from batchpoint.cli.output import OutputFormat, emit

app = typer.Typer(no_args_is_help=True)

NameOpt = Annotated[str, typer.Option("--name", "-n", help="Name of the environment.")]
COLUMNS = ("name", "version", "image", "python_version", "archived", "spec_hash")
commands = VersionedCommands(app, "environment", lambda c: c.environments, COLUMNS)


@app.command("create")
def create(
    ctx: typer.Context,
    name: NameOverrideOpt = None,
    version: NewVersionOpt = None,
    image: Annotated[str | None, typer.Option("--image", "-i", help="Base container image (recorded).")] = None,
    conda_file: Annotated[str | None, typer.Option("--conda-file", help="Conda YAML file.")] = None,
    pip_requirements: Annotated[
        str | None, typer.Option("--pip-requirements", help="requirements.txt file (batchpoint extra).")
    ] = None,
    python_version: Annotated[str | None, typer.Option("--python-version", help="Python version, e.g. 3.11.")] = None,
    tags: TagOpt = None,
    description: DescriptionOpt = None,
    file: FileOpt = None,
    set_: SetOpt = None,
    no_wait: NoWaitOpt = False,
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
        overrides=parse_set(set_),
    )
    emit(environment, output, query, columns=COLUMNS)


commands.show("Show one version of an environment (the latest by default).")
commands.list(
    "List the latest version of each environment, or with --name every version of one.",
    archived_help="Also list archived ones.",
)
commands.archive("Archive a version (or every version).")
commands.restore("Bring an archived version (or every version) back.")
commands.delete("Delete one environment version (refused while a batch deployment uses it).")


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
    notices.note(f"Building environment '{name}' (the first build can take minutes)...")
    emit(client(ctx).environments.build(name, version, force=force), output, query, columns=BUILD_COLUMNS)
