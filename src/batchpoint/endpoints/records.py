"""Rows of the endpoint tables to the typed objects the SDK returns, and the lookups both services share."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from batchpoint.common.timefmt import to_datetime
from batchpoint.endpoints.schemas import BatchDeployment, BatchEndpoint
from batchpoint.errors import NotFound
from batchpoint.store.tables import BatchDeploymentRow, BatchEndpointRow


def scoring_uri(name: str) -> str:
    """Where jobs of the endpoint are created; a server replaces this with its own URL."""
    return f"batchpoint://endpoints/batch/{name}/jobs"


def find_endpoint(s: Session, name: str) -> BatchEndpointRow | None:
    return s.scalars(select(BatchEndpointRow).where(BatchEndpointRow.name == name)).first()


def endpoint_row(s: Session, name: str, *, field: str = "name", file: str | None = None) -> BatchEndpointRow:
    row = find_endpoint(s, name)
    if row is None:
        raise NotFound(
            f"batch endpoint '{name}' does not exist",
            field=field,
            file=file,
            hint="see 'batchpoint batch-endpoint list', or create it with 'batchpoint batch-endpoint create'",
        )
    return row


def deployment_rows(s: Session, endpoint: BatchEndpointRow) -> list[BatchDeploymentRow]:
    query = select(BatchDeploymentRow).where(BatchDeploymentRow.endpoint_id == endpoint.id)
    return sorted(s.scalars(query), key=lambda r: r.name)


def find_deployment(s: Session, endpoint: BatchEndpointRow, name: str) -> BatchDeploymentRow | None:
    query = select(BatchDeploymentRow).where(
        BatchDeploymentRow.endpoint_id == endpoint.id, BatchDeploymentRow.name == name
    )
    return s.scalars(query).first()


def deployment_row(s: Session, endpoint: BatchEndpointRow, name: str, *, field: str = "name") -> BatchDeploymentRow:
    row = find_deployment(s, endpoint, name)
    if row is None:
        raise NotFound(
            f"deployment '{name}' not found for batch endpoint '{endpoint.name}'",
            field=field,
            hint=f"see 'batchpoint batch-deployment list --endpoint-name {endpoint.name}'",
        )
    return row


def to_endpoint(row: BatchEndpointRow, deployments: list[str]) -> BatchEndpoint:
    return BatchEndpoint(
        name=row.name,
        description=row.description,
        tags=dict(row.tags or {}),
        auth_mode=row.auth_mode,
        defaults={"deployment_name": row.default_deployment},
        deployments=sorted(deployments),
        scoring_uri=scoring_uri(row.name),
        created_at=to_datetime(row.created_at),
        updated_at=to_datetime(row.updated_at),
    )


def to_deployment(row: BatchDeploymentRow, endpoint: BatchEndpointRow) -> BatchDeployment:
    """The stored spec, with what the rows know better: default flag and timestamps."""
    deployment = BatchDeployment.model_validate(row.spec)
    return deployment.model_copy(
        update={
            "is_default": endpoint.default_deployment == row.name,
            "created_at": to_datetime(row.created_at),
            "updated_at": to_datetime(row.updated_at),
        }
    )
