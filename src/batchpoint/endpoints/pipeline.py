"""Turning a ``type: pipeline`` spec into a stored deployment.

The component is either a registered pipeline component, pinned here to the version it names
(``@latest`` resolved now), or a local pipeline component YAML. A local one is
checked (``type: pipeline`` with a non-empty ``jobs:`` mapping) and its folder snapshotted, so
that the deployment keeps running the pipeline as it was deployed; it is stored as
``snapshot:<sha>/<path of the YAML inside the folder>``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from batchpoint.common import names, paths, refs, yamlio
from batchpoint.endpoints import snapshot
from batchpoint.endpoints.schemas import BatchDeployment
from batchpoint.endpoints.specs import PipelineDeploymentSpec, PipelineSettingsSpec
from batchpoint.errors import InvalidInput, NotFound

if TYPE_CHECKING:
    from batchpoint.services import Services


class PipelineDeploymentBuilder:
    """Builds one :class:`BatchDeployment` of ``type: pipeline`` from its spec."""

    def __init__(self, ctx: Services, *, base_dir: Path | None, file: str | None) -> None:
        self.ctx = ctx
        self.base_dir = base_dir
        self.file = file

    def build(self, spec: PipelineDeploymentSpec) -> BatchDeployment:
        settings = self._settings(spec.settings)
        component = self._component(spec.component) if spec.component is not None else None
        job_definition = self._job_definition(spec.job_definition) if spec.job_definition is not None else None
        return BatchDeployment(
            name=spec.name,
            endpoint_name=spec.endpoint_name,
            type="pipeline",
            description=spec.description,
            tags=dict(spec.tags),
            component=component,
            job_definition=job_definition,
            pipeline_settings=settings,
        )

    # -- component -----------------------------------------------------------------------------------
    def _component(self, value: str) -> str:
        if snapshot.is_snapshot(value):
            _, manifest = snapshot.existing(self.ctx.artifacts, value, field="component", file=self.file)
            inner = value.split("/", 1)[1] if "/" in value else ""
            if not snapshot.contains(manifest, inner):
                raise InvalidInput(f"'{value}' names no file of its snapshot", field="component", file=self.file)
            return value
        if value.startswith("azureml:"):
            return self._registered_component(value)
        return self._local_component(value)

    def _registered_component(self, value: str) -> str:
        """A registered pipeline component, pinned to its version now (``@latest`` included), as Azure's
        CLI does: registering a newer version later never changes what this deployment runs."""
        try:
            refs.parse(value, "component")
            component = self.ctx.components.resolve(value, field="component", file=self.file)
        except (InvalidInput, NotFound) as exc:
            exc.field, exc.file = "component", self.file
            raise
        if component.type != "pipeline":
            raise InvalidInput(
                f"component '{component.name}' is a {component.type} component; a pipeline deployment runs a "
                "pipeline component (wrap the step in one)",
                field="component",
                file=self.file,
            )
        return component.id

    def _local_component(self, value: str) -> str:
        path = paths.resolve_relative(value, self.base_dir, "component", file=self.file)
        if not path.is_file():
            raise InvalidInput(
                f"pipeline component file '{path}' does not exist; use a local YAML path or "
                "'azureml:NAME@latest' / 'azureml:NAME:VERSION'",
                field="component",
                file=self.file,
            )
        check_pipeline_component(yamlio.load_file(path), file=str(path))
        digest, _ = snapshot.take(
            self.ctx.artifacts, path.parent, exclude=self.ctx.layout.root, field="component", file=self.file
        )
        return f"{snapshot.PREFIX}{digest}/{path.name}"

    # -- job definition ------------------------------------------------------------------------------
    def _job_definition(self, value: str) -> str:
        name = value.removeprefix("azureml:")
        try:
            names.job_name(name, "job_definition")
        except InvalidInput as exc:
            exc.file = self.file
            raise
        return f"azureml:{name}"

    # -- settings ------------------------------------------------------------------------------------
    def _settings(self, settings: PipelineSettingsSpec) -> dict[str, Any]:
        result = settings.model_dump(exclude_none=True)
        if settings.default_compute is not None:
            result["default_compute"] = self.ctx.computes.resolve(
                settings.default_compute, field="settings.default_compute", file=self.file
            ).name
        if settings.default_datastore is not None:
            name = settings.default_datastore.removeprefix("azureml:")
            try:
                result["default_datastore"] = self.ctx.datastores.get(name).name
            except (NotFound, InvalidInput) as exc:
                exc.field, exc.file = "settings.default_datastore", self.file
                raise
        return result


def check_pipeline_component(data: dict[str, Any], *, file: str) -> None:
    """A pipeline deployment runs a *pipeline* component: ``type: pipeline`` and a non-empty ``jobs:``."""
    kind = data.get("type")
    if kind != "pipeline":
        raise InvalidInput(
            f"expected a pipeline component (type: pipeline), found type {kind!r}; a command component "
            "must be wrapped in a pipeline component to be deployed",
            field="type",
            file=file,
        )
    jobs = data.get("jobs")
    if not isinstance(jobs, dict) or not jobs:
        raise InvalidInput("a pipeline component needs a non-empty 'jobs:' mapping of steps", field="jobs", file=file)
