"""``client.environments``: register and find Python environments."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from batchpoint.client.operations.versioned import VersionedOperations
from batchpoint.registry.schemas import Environment
from batchpoint.registry.specs import EnvironmentSpec, spec_from_fields

if TYPE_CHECKING:
    from batchpoint.environments.builder import EnvironmentBuild


class EnvironmentOperations(VersionedOperations[Environment]):
    """Environments of one workspace."""

    _attribute = "environments"

    def create(
        self,
        name: str | None = None,
        *,
        version: str | int | None = None,
        image: str | None = None,
        conda_file: str | Path | None = None,
        pip_requirements: str | Path | None = None,
        python_version: str | None = None,
        description: str | None = None,
        tags: dict[str, str] | None = None,
        file: str | Path | None = None,
        overrides: list[tuple[str, Any]] | None = None,
    ) -> Environment:
        """Register an environment from arguments, or from an environment YAML (``file``) they override."""
        fields = {
            "name": name,
            "version": version,
            "image": image,
            "conda_file": None if conda_file is None else str(conda_file),
            "pip_requirements": None if pip_requirements is None else str(pip_requirements),
            "python_version": python_version,
            "description": description,
            "tags": tags,
        }
        service = self._services.environments
        if file is not None:
            return service.create_from_file(Path(file), overrides=overrides, **fields)
        return service.create(spec_from_fields(EnvironmentSpec, fields, overrides))

    def build(self, name: str, version: str | None = None, *, force: bool = False) -> EnvironmentBuild:
        """Build the environment into its own virtual environment (once; later calls and jobs reuse it)."""
        return self._services.environments.build(name, version, force=force)
