"""Which workspace a command uses and why, when that is not the one of the folder it runs in.

A command uses the workspace named by ``--workspace``, else by ``BATCHPOINT_WORKSPACE``, else (unless
``BATCHPOINT_SERVER`` or a saved ``batchpoint login`` names a server) the one found from the current
folder upwards (``client/client.py``). A ``BATCHPOINT_WORKSPACE`` left set (the demo exports it) or a
login saved long ago silently sends the commands of a project with its own ``.batchpoint`` elsewhere;
these notes say so. They are computed only where the environment names a target (the common case
costs nothing) and take a few ``stat`` calls: the CLI's light paths use them too.

Standard library only, as ``workspace/layout.py``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from batchpoint.workspace.layout import locate

ENV_VAR = "BATCHPOINT_WORKSPACE"


def _env(environ: Mapping[str, str] | None) -> str | None:
    value = (os.environ if environ is None else environ).get(ENV_VAR)
    return value or None  # empty: unset, as the --workspace option reads it


def env_note(
    workspace: Path | str | None, *, environ: Mapping[str, str] | None = None, start: Path | None = None
) -> str | None:
    """The note for a command whose workspace ``BATCHPOINT_WORKSPACE`` picks while its folder has another one.

    ``workspace``: the ``--workspace`` value as the command got it (the CLI fills it from the variable);
    a ``--workspace`` naming something else is the user's choice on that very command: no note.
    """
    named = _env(environ)
    if named is None or (workspace is not None and Path(workspace) != Path(named)):
        return None
    here = locate(None, start=start)
    if here is None:
        return None
    shown = _in_use(named)
    if shown == here:
        return None
    return (
        f"note: using the workspace {shown} from {ENV_VAR}, not {here} found in this folder; "
        f"unset {ENV_VAR} to use this one"
    )


def _in_use(named: str) -> Path:
    """The workspace ``BATCHPOINT_WORKSPACE`` names (the path as given, resolved, where there is none)."""
    return locate(named) or Path(named).expanduser().resolve()


def server_note(server: str, *, from_env: bool, start: Path | None = None) -> str | None:
    """The note for a command sent to a server while its folder has a workspace of its own."""
    here = locate(None, start=start)
    if here is None:
        return None
    why = "from BATCHPOINT_SERVER" if from_env else "saved by 'batchpoint login'; 'batchpoint logout' forgets it"
    return (
        f"note: using the server {server} ({why}), not the workspace {here} found in this folder; "
        f"pass --workspace {here.parent} to use this one"
    )


def init_warning(root: Path, *, server: str | None = None, environ: Mapping[str, str] | None = None) -> str | None:
    """What ``init`` says when the commands that follow will not use the workspace it just made at ``root``.

    ``server``: the server commands would go to (``BATCHPOINT_SERVER`` or the saved login), if any.
    """
    named = _env(environ)
    if named is not None:
        shown = _in_use(named)
        if shown == root:
            return None
        return (
            f"{ENV_VAR} is set: commands use the workspace {shown}, not the one created here; "
            f"unset {ENV_VAR} to use {root}"
        )
    if server:
        return (
            f"commands go to the server {server}, not the workspace created here; "
            f"pass --workspace {root.parent} or run 'batchpoint logout' to use {root}"
        )
    return None
