"""``batchpoint init``: create a workspace."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    @app.command("init")
    def init(
        path: Annotated[Path, typer.Argument(help="Folder to create the workspace in.")] = Path("."),
        exist_ok: Annotated[bool, typer.Option("--exist-ok", help="Succeed if a workspace is already there.")] = False,
    ) -> None:
        """Create a workspace (a .batchpoint folder) in PATH."""
        from batchpoint.cli import notices
        from batchpoint.workspace import init_workspace  # the database layer: only when it is needed
        from batchpoint.workspace.origin import init_warning

        root = init_workspace(path, exist_ok=exist_ok)
        typer.echo(f"Workspace ready at {root}")
        warning = init_warning(root, server=_server())
        if warning is not None:
            notices.warn(warning)


def _server() -> str | None:
    """The server the next commands would talk to (``BATCHPOINT_SERVER``, else a saved login), if any."""
    from batchpoint.client import userconfig
    from batchpoint.config import Settings
    from batchpoint.errors import BatchpointError

    try:
        return Settings().server or userconfig.load().server
    except (BatchpointError, ValueError, OSError):
        return None  # the next command reports a malformed setting or an unreadable config file
