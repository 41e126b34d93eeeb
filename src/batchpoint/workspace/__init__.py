"""The workspace: a ``.batchpoint`` folder holding metadata, artifacts, datastores and job folders."""

from batchpoint.workspace.layout import WorkspaceLayout
from batchpoint.workspace.service import Workspace, find_workspace, init_workspace

__all__ = ["Workspace", "WorkspaceLayout", "find_workspace", "init_workspace"]
