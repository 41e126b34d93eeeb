"""The workspace: a ``.batchpoint`` folder holding metadata, artifacts, datastores and job folders.

Its names are loaded when first used: ``batchpoint.workspace.layout`` (paths, finding a workspace)
is standard library only, for the CLI's light paths, and must not pull in the database layer.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from batchpoint.workspace.layout import WorkspaceLayout
    from batchpoint.workspace.service import Workspace, find_workspace, init_workspace

__all__ = ["Workspace", "WorkspaceLayout", "find_workspace", "init_workspace"]
_HOME = {"WorkspaceLayout": "layout", "Workspace": "service", "find_workspace": "service", "init_workspace": "service"}


def __getattr__(name: str) -> Any:
    module = _HOME.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
