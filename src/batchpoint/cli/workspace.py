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
        from batchpoint.workspace import init_workspace  # the database layer: only when it is needed

        root = init_workspace(path, exist_ok=exist_ok)
        typer.echo(f"Workspace ready at {root}")
