"""The ``batchpoint`` root command: global options, sub-command groups, and error reporting."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from batchpoint._version import __version__
from batchpoint.cli import login as login_cli
from batchpoint.cli import server as server_cli
from batchpoint.cli import workspace
from batchpoint.cli.common import CliState
from batchpoint.cli.lazy import LazyGroup, LazyTyperGroup
from batchpoint.errors import BatchpointError
from batchpoint.nouns import NOUNS

# Each group's module is imported only when the group is used (see cli/lazy.py): a call imports the
# SDK and the services it needs inside its command function, and --version and --help none of them.
# The nouns' groups come from their entries in nouns.py; the rest are the CLI's own.
GROUPS = {
    **{n.cli.name: LazyGroup(n.cli.module, n.cli.help) for n in NOUNS if n.cli is not None},
    "token": LazyGroup("batchpoint.cli.token", "Server tokens: create, list, revoke."),
    "supervisor": LazyGroup("batchpoint.cli.supervisor", "The workspace supervisor: start, stop, status."),
    "status": LazyGroup("batchpoint.cli.status", "Show the target and whether its supervisor runs."),
}


class RootGroup(LazyTyperGroup):
    lazy_groups = GROUPS


app = typer.Typer(
    name="batchpoint",
    help="Self-hosted ML batch inference: Azure ML style batch endpoints, deployments and jobs.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    cls=RootGroup,
    context_settings={"max_content_width": 120},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"batchpoint {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    ctx: typer.Context,
    workspace_path: Annotated[
        Path | None,
        typer.Option(
            "--workspace", "-w", envvar="BATCHPOINT_WORKSPACE", help="Workspace folder (default: search upwards)."
        ),
    ] = None,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    ctx.obj = CliState(workspace_path)


workspace.register(app)
server_cli.register(app)
login_cli.register(app)


def run() -> None:
    """Console-script entry point: user errors print one clear message and exit with their code."""
    try:
        app(standalone_mode=False)
    except BatchpointError as exc:
        typer.secho(f"ERROR: {exc}", err=True, fg=typer.colors.RED)
        sys.exit(exc.exit_code)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        typer.echo("Aborted.", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:  # click usage errors (typer bundles its own click) and anything unexpected
        code = getattr(exc, "exit_code", None)
        show = getattr(exc, "show", None)
        if callable(show) and isinstance(code, int):
            show()
            sys.exit(code)
        raise
