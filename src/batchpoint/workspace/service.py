"""Finding, creating and opening workspaces."""

from __future__ import annotations

import json
import os
import time
import uuid
from pathlib import Path
from typing import Any

from batchpoint._version import __version__
from batchpoint.config import Settings
from batchpoint.errors import Conflict, WorkspaceNotFound
from batchpoint.store import Database
from batchpoint.store.db import sqlite_url
from batchpoint.workspace.layout import DIRNAME, WorkspaceLayout, locate

FORMAT_VERSION = 1
_HOW_TO = "create one with 'batchpoint init' (or pass --workspace PATH / set BATCHPOINT_WORKSPACE)"


def find_workspace(explicit: Path | str | None = None, *, start: Path | None = None) -> Path:
    """Resolve the workspace root: an explicit path, else walk up from ``start`` (the cwd).

    ``BATCHPOINT_WORKSPACE`` reaches here as ``Settings.workspace`` (``Workspace.open`` passes it).
    """
    root = locate(explicit, start=start)
    if root is not None:
        return root
    if explicit:
        raise WorkspaceNotFound(f"no batchpoint workspace at '{Path(explicit).expanduser().resolve()}'", hint=_HOW_TO)
    here = (start or Path.cwd()).resolve()
    raise WorkspaceNotFound(f"no batchpoint workspace found in '{here}' or any parent folder", hint=_HOW_TO)


def init_workspace(path: Path | str = ".", *, exist_ok: bool = False) -> Path:
    """Create ``PATH/.batchpoint`` with its folders and a migrated metadata database."""
    base = Path(path).expanduser().resolve()
    root = base if base.name == DIRNAME else base / DIRNAME
    layout = WorkspaceLayout(root)
    if layout.info_file.exists():
        if exist_ok:
            return root
        raise Conflict(f"a workspace already exists at '{root}'")
    for folder in layout.folders():
        folder.mkdir(parents=True, exist_ok=True)
    info = {
        "id": uuid.uuid4().hex,
        "format_version": FORMAT_VERSION,
        "created_at": time.time(),
        "created_with": __version__,
    }
    db = Database(sqlite_url(layout.database))
    db.dispose()
    tmp = layout.info_file.with_suffix(".tmp")
    tmp.write_text(json.dumps(info, indent=2))
    os.replace(tmp, layout.info_file)
    return root


class Workspace:
    """An opened workspace: its layout, settings and metadata database."""

    def __init__(self, root: Path, settings: Settings | None = None) -> None:
        self.root = root
        self.settings = settings or Settings()
        self.layout = WorkspaceLayout(root)
        url = self.settings.database_url or sqlite_url(self.layout.database)
        self.db = Database(url)
        self.tracking: Any = None
        """The MLflow tracking store, opened on first use by the runs service (``runs/service.py: Tracking``)."""
        self.tracking_unavailable: str | None = None
        """Why the store cannot be created in this process (mlflow missing): runs are not recorded."""

    @classmethod
    def open(cls, path: Path | str | None = None, settings: Settings | None = None) -> Workspace:
        settings = settings or Settings()
        root = find_workspace(path if path is not None else settings.workspace)
        return cls(root, settings)

    @property
    def info(self) -> dict[str, object]:
        data: dict[str, object] = json.loads(self.layout.info_file.read_text())
        return data

    def close(self) -> None:
        self.db.dispose()
        if self.tracking is not None:
            self.tracking.db.dispose()
