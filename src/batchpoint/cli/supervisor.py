"""``batchpoint supervisor start|stop|status``: the workspace's background supervisor (docs/supervisor.md).

These act on a local workspace (``--workspace``, ``BATCHPOINT_WORKSPACE`` or the one found from the
current folder), also when a server login is saved: a server runs its own supervisor.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from batchpoint.cli.common import CliState, OutputOpt, QueryOpt
from batchpoint.cli.output import OutputFormat

app = typer.Typer(no_args_is_help=True, add_completion=False)


def _root(ctx: typer.Context) -> Path:
    from batchpoint.supervisor.files import find_root

    state: CliState = ctx.find_root().obj
    return find_root(state.workspace)


@app.command("start")
def start(
    ctx: typer.Context,
    timeout: Annotated[float, typer.Option("--timeout", help="Seconds to wait until it is ready.", min=1)] = 30.0,
) -> None:
    """Start the supervisor in the background and wait until it is ready; a running one is left alone."""
    from batchpoint.supervisor import control

    root = _root(ctx)
    outcome = control.start(root, timeout=timeout)
    typer.echo(f"{outcome.message[0].upper()}{outcome.message[1:]} for the workspace {root}.")


@app.command("stop")
def stop(
    ctx: typer.Context,
    timeout: Annotated[
        float, typer.Option("--timeout", help="Seconds to wait after SIGTERM before SIGKILL.", min=1)
    ] = 10.0,
) -> None:
    """Stop the supervisor (SIGTERM, then SIGKILL past --timeout); nothing running is fine too."""
    from batchpoint.supervisor import control

    root = _root(ctx)
    outcome = control.stop(root, timeout=timeout)
    typer.echo(f"{outcome.message[0].upper()}{outcome.message[1:]} for the workspace {root}.")


@app.command("status")
def status(ctx: typer.Context, output: OutputOpt = OutputFormat.table, query: QueryOpt = None) -> None:
    """Whether the supervisor runs: pid, uptime, heartbeat age, duties (exit 0 in every known state)."""
    from batchpoint.cli.status import show, workspace_report

    show(workspace_report(_root(ctx)), output, query)
