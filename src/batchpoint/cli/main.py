"""The ``batchpoint`` root command: global options, sub-command groups, and error reporting."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from batchpoint._version import __version__
from batchpoint.cli import batch_deployment, batch_endpoint, compute, data, environment, job, model, workspace
from batchpoint.cli import login as login_cli
from batchpoint.cli import server as server_cli
from batchpoint.cli import token as token_cli
from batchpoint.cli.common import CliState
from batchpoint.errors import BatchpointError

app = typer.Typer(
    name="batchpoint",
    help="Self-hosted ML batch inference: Azure ML style batch endpoints, deployments and jobs.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
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
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True)] = False,
) -> None:
    ctx.obj = CliState(workspace_path)


workspace.register(app)
app.add_typer(model.app, name="model", help="Register and manage models.")
app.add_typer(environment.app, name="environment", help="Register and manage environments.")
app.add_typer(data.app, name="data", help="Register and manage data assets.")
app.add_typer(compute.app, name="compute", help="Register and manage compute targets.")
app.add_typer(batch_endpoint.app, name="batch-endpoint", help="Batch endpoints: create, invoke, list jobs.")
app.add_typer(batch_deployment.app, name="batch-deployment", help="Deployments behind batch endpoints.")
job.register_invoke(batch_endpoint.app, batch_deployment.app)
app.add_typer(job.app, name="job", help="Batch jobs: show, stream, logs, cancel, resume, download.")
server_cli.register(app)
login_cli.register(app)
app.add_typer(token_cli.app, name="token", help="Server tokens: create, list, revoke.")


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
