"""Batch endpoints: a stable name, its deployments, and which one serves invocations by default."""

from __future__ import annotations

import builtins
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from batchpoint.common import overrides as ov
from batchpoint.common import yamlio
from batchpoint.endpoints import records
from batchpoint.endpoints.schemas import BatchEndpoint
from batchpoint.endpoints.specs import BatchEndpointSpec, parse_endpoint
from batchpoint.errors import Conflict, InvalidInput, NotFound
from batchpoint.store.tables import BatchDeploymentRow, BatchEndpointRow, now

if TYPE_CHECKING:
    from batchpoint.services import Services


def _created_meanwhile(name: str) -> Conflict:
    return Conflict(
        f"batch endpoint '{name}' was created by another call at the same time",
        field="name",
        hint="run the command again: it then updates that endpoint",
    )


class BatchEndpointService:
    """Creates, changes, lists and deletes batch endpoints (deleting one deletes its deployments)."""

    def __init__(self, ctx: Services) -> None:
        self.ctx = ctx

    # -- create --------------------------------------------------------------------------------------
    def create(self, spec: BatchEndpointSpec, *, file: str | None = None) -> BatchEndpoint:
        """Register a new endpoint, or update the one of that name from ``spec``.

        As ``az ml batch-endpoint create`` (``begin_create_or_update`` in the Azure CLI): running the
        same create again changes description, tags and auth mode; its deployments stay, and so does
        its default deployment unless ``spec`` names one (which must be one of its deployments).
        """
        try:
            with self.ctx.db.session() as s:
                existing = records.find_endpoint(s, spec.name)
                if existing is not None:
                    return self._replace(s, existing, spec, file)
                if spec.defaults.deployment_name:
                    # NOTE: a new endpoint has no deployments yet; Azure sets the default after the first one.
                    raise NotFound(
                        f"deployment '{spec.defaults.deployment_name}' does not exist: a new endpoint has no "
                        "deployments",
                        field="defaults.deployment_name",
                        file=file,
                        hint="create the endpoint first, then its deployment with 'batchpoint batch-deployment "
                        "create --set-default'",
                    )
                row = BatchEndpointRow(
                    name=spec.name,
                    description=spec.description,
                    tags=dict(spec.tags),
                    auth_mode=spec.auth_mode,
                    default_deployment=None,
                )
                s.add(row)
                s.flush()
                return records.to_endpoint(row, [])
        except IntegrityError:  # a concurrent create won the race for the name
            raise _created_meanwhile(spec.name) from None

    def _replace(self, s: Session, row: BatchEndpointRow, spec: BatchEndpointSpec, file: str | None) -> BatchEndpoint:
        """``create`` of an endpoint that exists: its fields from ``spec``, the default kept unless ``spec`` names one."""
        if spec.defaults.deployment_name:
            self._set_default(s, row, spec.defaults.deployment_name, file)
        return self._store(s, row, spec)

    @staticmethod
    def _store(s: Session, row: BatchEndpointRow, spec: BatchEndpointSpec) -> BatchEndpoint:
        """Write the endpoint's own fields from ``spec`` (the default is set by the caller)."""
        row.description = spec.description
        row.tags = dict(spec.tags)
        row.auth_mode = spec.auth_mode
        row.updated_at = now()
        s.flush()
        return records.to_endpoint(row, [d.name for d in records.deployment_rows(s, row)])

    def create_from_file(
        self,
        path: Path | None,
        *,
        name: str | None = None,
        overrides: list[tuple[str, Any]] | None = None,
    ) -> BatchEndpoint:
        """From an Azure ``endpoint.yml``; ``name`` (``-n``) wins over the file; no file needs a name."""
        if path is None and name is None:
            raise InvalidInput("give a YAML file (--file) or a name (--name)", field="name")
        file = str(path) if path is not None else None
        data = yamlio.load_file(path) if path is not None else {}
        ov.apply(data, overrides or [])
        if name is not None:
            data["name"] = name
        return self.create(parse_endpoint(data, file=file), file=file)

    # -- read ----------------------------------------------------------------------------------------
    def get(self, name: str) -> BatchEndpoint:
        with self.ctx.db.read() as s:
            row = records.endpoint_row(s, name)
            return records.to_endpoint(row, [d.name for d in records.deployment_rows(s, row)])

    def list(self) -> list[BatchEndpoint]:
        with self.ctx.db.read() as s:
            rows = sorted(s.scalars(select(BatchEndpointRow)), key=lambda r: r.name)
            names: dict[int, builtins.list[str]] = {}
            for endpoint_id, dep_name in s.execute(select(BatchDeploymentRow.endpoint_id, BatchDeploymentRow.name)):
                names.setdefault(endpoint_id, []).append(dep_name)
            return [records.to_endpoint(r, names.get(r.id, [])) for r in rows]

    # -- update --------------------------------------------------------------------------------------
    def update(
        self,
        name: str | None,
        *,
        overrides: builtins.list[tuple[str, Any]] | None = None,
        path: Path | None = None,
    ) -> BatchEndpoint:
        """Change description, tags or ``defaults.deployment_name`` (which must name one of its deployments).

        With a file, the file is the new definition (its name unless ``name`` is given); without one,
        ``overrides`` apply to the endpoint as it is.
        """
        file = str(path) if path is not None else None
        loaded = yamlio.load_file(path) if path is not None else None
        if name is None and loaded is not None:
            name = str(loaded.get("name") or "") or None
        if name is None:
            raise InvalidInput("give the endpoint's name (--name) or a YAML file with a name (--file)", field="name")
        with self.ctx.db.session() as s:
            row = records.endpoint_row(s, name)
            data = loaded if loaded is not None else self._editable(row)
            ov.apply(data, overrides or [])
            data["name"] = name
            spec = parse_endpoint(data, file=file)
            self._set_default(s, row, spec.defaults.deployment_name, file)
            return self._store(s, row, spec)

    @staticmethod
    def _editable(row: BatchEndpointRow) -> dict[str, Any]:
        return {
            "name": row.name,
            "description": row.description,
            "tags": dict(row.tags or {}),
            "auth_mode": row.auth_mode,
            "defaults": {"deployment_name": row.default_deployment},
        }

    @staticmethod
    def _set_default(s: Session, row: BatchEndpointRow, deployment: str | None, file: str | None) -> None:
        if deployment and records.find_deployment(s, row, deployment) is None:
            existing = [d.name for d in records.deployment_rows(s, row)]
            raise NotFound(
                f"deployment '{deployment}' not found for batch endpoint '{row.name}'",
                field="defaults.deployment_name",
                file=file,
                hint=f"its deployments: {', '.join(existing)}" if existing else "the endpoint has no deployments yet",
            )
        row.default_deployment = deployment or None

    # -- delete --------------------------------------------------------------------------------------
    def delete(self, name: str) -> None:
        """Delete the endpoint and all its deployments in one transaction."""
        with self.ctx.db.session() as s:
            row = records.endpoint_row(s, name)
            for deployment in records.deployment_rows(s, row):
                s.delete(deployment)
            s.delete(row)
