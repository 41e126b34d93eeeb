"""``client.components``: register, find, archive and restore command and pipeline components."""

from __future__ import annotations

import builtins
import copy
from pathlib import Path
from typing import TYPE_CHECKING, Any

from batchpoint.components.schemas import Component
from batchpoint.components.specs import ComponentSpec, parse_component
from batchpoint.registry.specs import merge_fields

if TYPE_CHECKING:
    from batchpoint.contracts import ServiceHub


class ComponentOperations:
    """Components of one workspace (``az ml component``); versions are archived, never deleted."""

    def __init__(self, services: ServiceHub) -> None:
        self._services = services

    def create(
        self,
        source: str | Path | dict[str, Any] | ComponentSpec,
        *,
        name: str | None = None,
        version: str | int | None = None,
        overrides: builtins.list[tuple[str, Any]] | None = None,
        base_dir: str | Path | None = None,
    ) -> Component:
        """Register a component from a YAML file, a mapping (paths relative to ``base_dir``, default the
        current folder) or a spec; ``overrides`` (``--set`` pairs), then ``name`` and ``version``, win."""
        service = self._services.components
        given_version = None if version is None else str(version)
        if isinstance(source, str | Path):
            return service.create_from_file(Path(source), name=name, version=given_version, set_pairs=overrides)
        data = copy.deepcopy(source) if isinstance(source, dict) else source.model_dump(mode="json", exclude_none=True)
        merge_fields(data, {"name": name, "version": given_version}, overrides, path_fields=())
        folder = Path(base_dir) if base_dir is not None else Path.cwd()
        return service.create(parse_component(data), base_dir=folder.resolve())

    def get(self, name: str, version: str | None = None) -> Component:
        """One version; ``version=None`` is the latest version that is not archived."""
        return self._services.components.get(name, version)

    def resolve(self, ref: str | dict[str, Any], *, base_dir: str | Path | None = None) -> Component:
        """``azureml:NAME:VERSION``, ``azureml:NAME@latest``, a local YAML path or an inline mapping
        (the last two stored as anonymous versions, once per distinct definition)."""
        folder = Path(base_dir).resolve() if base_dir is not None else None
        return self._services.components.resolve(ref, base_dir=folder)

    def list(self, name: str | None = None, *, include_archived: bool = False) -> builtins.list[Component]:
        """The versions of ``name``, or without a name the latest version of each component."""
        return self._services.components.list(name, include_archived=include_archived)

    def archive(self, name: str, version: str | None = None) -> Component:
        return self._services.components.archive(name, version)

    def restore(self, name: str, version: str | None = None) -> Component:
        return self._services.components.restore(name, version)
