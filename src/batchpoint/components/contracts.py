"""What the component service offers its callers (the SDK's operations), embedded or over HTTP.

``components/service.py`` (embedded) and ``client/remote_components.py`` (remote) both satisfy it;
mypy checks it where ``client/client.py`` hands either to the operations objects. There is no
delete: as in Azure ML, a component version is archived, never deleted (pipelines name them by id).
"""

from __future__ import annotations

import builtins
from pathlib import Path
from typing import Any, Protocol

from batchpoint.components.schemas import Component
from batchpoint.components.specs import ComponentSpec


class ComponentContract(Protocol):
    def create(self, spec: ComponentSpec, *, base_dir: Path | None = None, file: str | None = None) -> Component: ...
    def create_from_file(
        self,
        path: Path,
        /,
        *,
        name: str | None = None,
        version: str | None = None,
        set_pairs: builtins.list[tuple[str, Any]] | None = None,
    ) -> Component: ...
    def get(self, name: str, version: str | None = None) -> Component: ...
    def list(self, name: str | None = None, *, include_archived: bool = False) -> builtins.list[Component]: ...
    def archive(self, name: str, version: str | None = None) -> Component: ...
    def restore(self, name: str, version: str | None = None) -> Component: ...
    def resolve(
        self,
        ref: str | dict[str, Any],
        *,
        base_dir: Path | None = None,
        field: str = "component",
        file: str | None = None,
    ) -> Component: ...
