"""Batch deployments: create and update them from Azure files, list, delete, and route invocations.

Every operation is one write transaction at its end; the slow, fallible work (resolving
references, snapshotting code, registering inline assets) happens before it, so an error leaves
no half-created deployment.
"""

from __future__ import annotations

import builtins
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import IntegrityError

from batchpoint.common import yamlio
from batchpoint.endpoints import records, script_check
from batchpoint.endpoints.model_deployment import ModelDeploymentBuilder
from batchpoint.endpoints.pipeline import PipelineDeploymentBuilder
from batchpoint.endpoints.schemas import BatchDeployment
from batchpoint.endpoints.specs import (
    DeploymentSpec,
    ModelDeploymentSpec,
    PipelineDeploymentSpec,
    apply_overrides,
    parse_deployment,
)
from batchpoint.errors import Conflict, InvalidInput
from batchpoint.store.tables import BatchDeploymentRow, BatchEndpointRow, now

if TYPE_CHECKING:
    from batchpoint.services import Services

NO_ROUTE = (
    "No valid deployments to route to. Please check that the endpoint has at least one deployment with "
    "positive weight values or use a deployment specific header to route."
)


def _created_meanwhile(name: str, endpoint: str) -> Conflict:
    return Conflict(
        f"deployment '{name}' of batch endpoint '{endpoint}' was created by another call at the same time",
        field="name",
        hint="run the command again: it then updates that deployment",
    )


def editable(deployment: BatchDeployment) -> dict[str, Any]:
    """A stored deployment back in its YAML shape (``settings:`` form), for ``update --set`` without a file."""
    data: dict[str, Any] = {
        "name": deployment.name,
        "endpoint_name": deployment.endpoint_name,
        "type": deployment.type,
        "description": deployment.description,
        "tags": dict(deployment.tags),
    }
    if deployment.type == "pipeline":
        for key in ("component", "job_definition"):
            if getattr(deployment, key) is not None:
                data[key] = getattr(deployment, key)
        data["settings"] = dict(deployment.pipeline_settings)
        return data
    data["model"] = deployment.model
    if deployment.code_configuration is not None:
        cfg = deployment.code_configuration
        data["code_configuration"] = {"code": cfg.code, "scoring_script": cfg.scoring_script}
    if deployment.environment is not None:
        data["environment"] = deployment.environment
    data["compute"] = deployment.compute
    if deployment.settings is not None:
        settings = deployment.settings.model_dump(mode="json")
        data["resources"] = {"instance_count": settings.pop("instance_count"), **deployment.resources}
        data["settings"] = settings
    return data


class BatchDeploymentService:
    """Deployments behind batch endpoints, and which one an invocation goes to."""

    def __init__(self, ctx: Services) -> None:
        self.ctx = ctx

    # -- create --------------------------------------------------------------------------------------
    def create(
        self,
        spec: DeploymentSpec,
        *,
        base_dir: Path | None,
        file: str | None = None,
        set_default: bool = False,
    ) -> BatchDeployment:
        """Validate, pin and snapshot ``spec``, then store it: a new deployment, or the one of that name replaced.

        As ``az ml batch-deployment create`` (a create-or-update in the Azure CLI): a deployment that
        exists is updated from ``spec`` as ``update`` with a file does (code snapshotted again; its
        type cannot change).
        """
        with self.ctx.db.read() as s:
            endpoint = records.endpoint_row(s, spec.endpoint_name, field="endpoint_name", file=file)
            existing = records.find_deployment(s, endpoint, spec.name)
            current = records.to_deployment(existing, endpoint) if existing is not None else None
        if current is not None:
            self._refuse_type_change(current, spec, file)
        built = self._build(spec, base_dir=base_dir, file=file, previous=current)
        try:
            with self.ctx.db.session() as s:
                endpoint = records.endpoint_row(s, spec.endpoint_name, field="endpoint_name", file=file)
                row = records.find_deployment(s, endpoint, spec.name)
                if row is None:
                    row = BatchDeploymentRow(endpoint_id=endpoint.id, name=spec.name)
                    self._fill(row, built)
                    s.add(row)
                else:
                    self._fill(row, built)
                    row.updated_at = now()
                if set_default:
                    endpoint.default_deployment = spec.name
                endpoint.updated_at = now()
                s.flush()
                created = records.to_deployment(row, endpoint)
        except IntegrityError:  # a concurrent create of the same name won
            raise _created_meanwhile(spec.name, spec.endpoint_name) from None
        script_check.warn_if_broken(self.ctx.artifacts, created)
        return created

    def create_from_file(
        self,
        path: Path,
        *,
        endpoint_name: str | None = None,
        name: str | None = None,
        overrides: list[tuple[str, Any]] | None = None,
        set_default: bool = False,
    ) -> BatchDeployment:
        """From an Azure ``deployment.yml``; ``--set`` pairs apply first, then ``name``/``endpoint_name`` win."""
        path = Path(path)
        data = yamlio.load_file(path)
        spec = self._spec(data, name=name, endpoint_name=endpoint_name, overrides=overrides, file=str(path))
        return self.create(spec, base_dir=path.resolve().parent, file=str(path), set_default=set_default)

    # -- update --------------------------------------------------------------------------------------
    def update(
        self,
        name: str | None,
        endpoint_name: str | None,
        *,
        path: Path | None = None,
        overrides: list[tuple[str, Any]] | None = None,
        set_default: bool = False,
    ) -> BatchDeployment:
        """Replace the deployment by a file (code snapshotted again) or change fields with ``overrides``.

        Without a file the overrides apply to the deployment as stored: its code snapshot stays
        unless ``code_configuration.code`` is set to a folder (relative to the current folder).
        """
        data, file, base_dir = self._source(path)
        name = name or (data or {}).get("name")
        endpoint_name = endpoint_name or (data or {}).get("endpoint_name")
        if not name or not endpoint_name:
            raise InvalidInput("give the deployment's name and its endpoint's name (--name, --endpoint-name)")
        current = self.get(name, endpoint_name)
        if data is None:
            data = editable(current)
        spec = self._spec(data, name=name, endpoint_name=endpoint_name, overrides=overrides, file=file)
        self._refuse_type_change(current, spec, file)
        built = self._build(spec, base_dir=base_dir, file=file, previous=current)
        with self.ctx.db.session() as s:
            endpoint = records.endpoint_row(s, endpoint_name, field="endpoint_name")
            row = records.deployment_row(s, endpoint, name)
            self._fill(row, built)
            row.updated_at = now()
            if set_default:
                endpoint.default_deployment = name
                endpoint.updated_at = now()
            s.flush()
            updated = records.to_deployment(row, endpoint)
        script_check.warn_if_broken(self.ctx.artifacts, updated)
        return updated

    # -- read ----------------------------------------------------------------------------------------
    def get(self, name: str, endpoint_name: str) -> BatchDeployment:
        with self.ctx.db.read() as s:
            endpoint = records.endpoint_row(s, endpoint_name, field="endpoint_name")
            return records.to_deployment(records.deployment_row(s, endpoint, name), endpoint)

    def list(self, endpoint_name: str) -> list[BatchDeployment]:
        with self.ctx.db.read() as s:
            endpoint = records.endpoint_row(s, endpoint_name, field="endpoint_name")
            return [records.to_deployment(r, endpoint) for r in records.deployment_rows(s, endpoint)]

    def route(self, endpoint_name: str, deployment_name: str | None = None) -> BatchDeployment:
        """The deployment an invocation goes to: the one named, else the endpoint's default."""
        with self.ctx.db.read() as s:
            endpoint = records.endpoint_row(s, endpoint_name, field="endpoint_name")
            target = deployment_name or endpoint.default_deployment
            if target is None:
                raise Conflict(NO_ROUTE, hint=self._no_route_hint(s, endpoint))
            row = records.deployment_row(s, endpoint, target, field="deployment_name")
            return records.to_deployment(row, endpoint)

    @staticmethod
    def _no_route_hint(s: Any, endpoint: BatchEndpointRow) -> str:
        names = [r.name for r in records.deployment_rows(s, endpoint)]
        if not names:
            return (
                f"endpoint '{endpoint.name}' has no deployments; create one with "
                f"'batchpoint batch-deployment create -f deployment.yml --endpoint-name {endpoint.name} --set-default'"
            )
        return (
            f"endpoint '{endpoint.name}' has no default deployment; name one with --deployment-name/-d "
            f"({', '.join(names)}), or make one the default: 'batchpoint batch-endpoint update -n {endpoint.name} "
            f"--set defaults.deployment_name={names[0]}' (or --set-default on batch-deployment create/update)"
        )

    # -- delete --------------------------------------------------------------------------------------
    def delete(self, name: str, endpoint_name: str) -> None:
        """Delete a deployment; the default one only when it is the endpoint's last deployment."""
        with self.ctx.db.session() as s:
            endpoint = records.endpoint_row(s, endpoint_name, field="endpoint_name")
            row = records.deployment_row(s, endpoint, name)
            if endpoint.default_deployment == name:
                others = [r.name for r in records.deployment_rows(s, endpoint) if r.name != name]
                if others:
                    raise Conflict(
                        f"deployment '{name}' is the default of batch endpoint '{endpoint_name}', which has other "
                        f"deployments ({', '.join(others)})",
                        field="name",
                        hint=f"make another one the default first: 'batchpoint batch-endpoint update -n "
                        f"{endpoint_name} --set defaults.deployment_name={others[0]}'",
                    )
                endpoint.default_deployment = None
            s.delete(row)
            endpoint.updated_at = now()

    # -- helpers -------------------------------------------------------------------------------------
    @staticmethod
    def _refuse_type_change(current: BatchDeployment, spec: DeploymentSpec, file: str | None) -> None:
        if spec.type != current.type:
            raise InvalidInput(
                f"deployment '{current.name}' is a {current.type} deployment and cannot become a {spec.type} "
                "deployment",
                field="type",
                file=file,
                hint="delete it and create it again, or create a new deployment",
            )

    @staticmethod
    def _source(path: Path | None) -> tuple[dict[str, Any] | None, str | None, Path]:
        """(file contents, file name, folder its paths are relative to); no file: paths are relative to cwd."""
        if path is None:
            return None, None, Path.cwd()
        path = Path(path)
        return yamlio.load_file(path), str(path), path.resolve().parent

    @staticmethod
    def _spec(
        data: dict[str, Any],
        *,
        name: str | None,
        endpoint_name: str | None,
        overrides: builtins.list[tuple[str, Any]] | None,
        file: str | None,
    ) -> DeploymentSpec:
        apply_overrides(data, overrides or [])
        if name is not None:
            data["name"] = name
        if endpoint_name is not None:
            data["endpoint_name"] = endpoint_name
        return parse_deployment(data, file=file)

    def _build(
        self,
        spec: DeploymentSpec,
        *,
        base_dir: Path | None,
        file: str | None,
        previous: BatchDeployment | None = None,
    ) -> BatchDeployment:
        match spec:
            case ModelDeploymentSpec():
                return ModelDeploymentBuilder(self.ctx, base_dir=base_dir, file=file).build(spec, previous=previous)
            case PipelineDeploymentSpec():
                return PipelineDeploymentBuilder(self.ctx, base_dir=base_dir, file=file).build(spec)
        raise InvalidInput(f"unknown deployment type {spec.type!r}", field="type", file=file)  # pragma: no cover

    @staticmethod
    def _fill(row: BatchDeploymentRow, built: BatchDeployment) -> None:
        row.type = built.type
        row.description = built.description
        row.tags = dict(built.tags)
        row.model_name = built.model_name
        row.model_version = built.model_version
        row.spec = built.model_dump(mode="json", exclude={"is_default", "created_at", "updated_at"})
