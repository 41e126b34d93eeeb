"""SQLAlchemy tables: the single place where batchpoint's metadata schema is defined.

Times are stored as UTC epoch seconds (floats): portable between SQLite and PostgreSQL and cheap
to compare in the engine's hot path. Free-form parts of a spec sit in JSON columns.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def now() -> float:
    return time.time()


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


class AssetMixin:
    """Columns every versioned asset has."""

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(255), index=True)
    version: Mapped[str] = mapped_column(String(64))
    description: Mapped[str | None] = mapped_column(Text)
    tags: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    properties: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    archived: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[float] = mapped_column(Float, default=now)
    created_by: Mapped[str | None] = mapped_column(String(255))


class ModelRow(AssetMixin, Base):
    __tablename__ = "models"
    __table_args__ = (UniqueConstraint("name", "version", name="uq_models_name_version"),)

    type: Mapped[str] = mapped_column(String(32))
    manifest: Mapped[str] = mapped_column(String(64))
    """sha256 of the content manifest in the artifact store."""
    path_name: Mapped[str] = mapped_column(String(255))
    """Base name of the registered file or folder (kept below ``AZUREML_MODEL_DIR``)."""
    size_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    flavors: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    job_name: Mapped[str | None] = mapped_column(String(128))
    """Lineage: the job whose output (or run artifact) this version was registered from."""
    run_id: Mapped[str | None] = mapped_column(String(32))


class EnvironmentRow(AssetMixin, Base):
    __tablename__ = "environments"
    __table_args__ = (UniqueConstraint("name", "version", name="uq_environments_name_version"),)

    spec: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    """Resolved definition: image, conda file content, pip requirements, python version."""
    spec_hash: Mapped[str] = mapped_column(String(64))


class DataRow(AssetMixin, Base):
    __tablename__ = "data_assets"
    __table_args__ = (UniqueConstraint("name", "version", name="uq_data_name_version"),)

    type: Mapped[str] = mapped_column(String(32))
    path: Mapped[str] = mapped_column(Text)


class ComponentRow(AssetMixin, Base):
    """A command or pipeline component version; ``anonymous`` ones come from local files and inline steps."""

    __tablename__ = "components"
    __table_args__ = (UniqueConstraint("name", "version", name="uq_components_name_version"),)

    type: Mapped[str] = mapped_column(String(32))
    spec: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    """The resolved definition: ports, command, code snapshot, environment id, steps with pinned components."""
    content_hash: Mapped[str] = mapped_column(String(64), index=True)
    anonymous: Mapped[bool] = mapped_column(Boolean, default=False)


class ComputeRow(Base):
    __tablename__ = "computes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    type: Mapped[str] = mapped_column(String(32))
    description: Mapped[str | None] = mapped_column(Text)
    tags: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    min_instances: Mapped[int] = mapped_column(Integer, default=0)
    max_instances: Mapped[int] = mapped_column(Integer, default=1)
    address: Mapped[str | None] = mapped_column(Text)
    resources: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[float] = mapped_column(Float, default=now)


class DatastoreRow(Base):
    __tablename__ = "datastores"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    type: Mapped[str] = mapped_column(String(32))
    root: Mapped[str] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[float] = mapped_column(Float, default=now)


class BatchEndpointRow(Base):
    __tablename__ = "batch_endpoints"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    description: Mapped[str | None] = mapped_column(Text)
    tags: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    auth_mode: Mapped[str] = mapped_column(String(32), default="aad_token")
    default_deployment: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[float] = mapped_column(Float, default=now)
    updated_at: Mapped[float] = mapped_column(Float, default=now)


class BatchDeploymentRow(Base):
    __tablename__ = "batch_deployments"
    __table_args__ = (UniqueConstraint("endpoint_id", "name", name="uq_deployments_endpoint_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    endpoint_id: Mapped[int] = mapped_column(ForeignKey("batch_endpoints.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    type: Mapped[str] = mapped_column(String(16))
    description: Mapped[str | None] = mapped_column(Text)
    tags: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    model_name: Mapped[str | None] = mapped_column(String(255), index=True)
    model_version: Mapped[str | None] = mapped_column(String(64))
    spec: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    """The resolved deployment (references pinned, code snapshotted) as the service validated it."""
    created_at: Mapped[float] = mapped_column(Float, default=now)
    updated_at: Mapped[float] = mapped_column(Float, default=now)


class JobRow(Base):
    __tablename__ = "jobs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    type: Mapped[str] = mapped_column(String(32), default="batch")
    """The job's kind (``jobs/kinds.py``): batch today; command and pipeline later."""
    parent_job_name: Mapped[str | None] = mapped_column(String(128), index=True)
    """The job this one is a step of (a pipeline's child jobs), as ``az ml job list --parent-job-name`` filters."""
    state: Mapped[str] = mapped_column(String(32), index=True)
    endpoint_name: Mapped[str | None] = mapped_column(String(64), index=True)
    deployment_name: Mapped[str | None] = mapped_column(String(64))
    experiment_name: Mapped[str | None] = mapped_column(String(255))
    spec: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    """Everything the driver needs: inputs, output location, effective settings, deployment snapshot."""
    output_uri: Mapped[str | None] = mapped_column(Text)
    invoked_by: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[float] = mapped_column(Float, default=now)
    started_at: Mapped[float | None] = mapped_column(Float)
    ended_at: Mapped[float | None] = mapped_column(Float)
    driver_pid: Mapped[int | None] = mapped_column(Integer)
    driver_host: Mapped[str | None] = mapped_column(String(255))
    driver_epoch: Mapped[int] = mapped_column(Integer, default=0)
    heartbeat_at: Mapped[float | None] = mapped_column(Float)
    mb_total: Mapped[int] = mapped_column(BigInteger, default=0)
    mb_done: Mapped[int] = mapped_column(BigInteger, default=0)
    mb_failed: Mapped[int] = mapped_column(BigInteger, default=0)
    items_total: Mapped[int] = mapped_column(BigInteger, default=0)
    items_ok: Mapped[int] = mapped_column(BigInteger, default=0)
    items_failed: Mapped[int] = mapped_column(BigInteger, default=0)
    retries: Mapped[int] = mapped_column(BigInteger, default=0)
    error: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    """The first real error: file, mini-batch, exception, message, traceback."""
    failure_reason: Mapped[str | None] = mapped_column(Text)
    environment: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    """Which environment the job ran in, its build log and build time."""
    publication: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    """What the driver is publishing (file, size, sha256), recorded before it links: the point of no return."""
    fingerprint: Mapped[str | None] = mapped_column(String(64), index=True)
    run_id: Mapped[str | None] = mapped_column(String(32), index=True)
    """The job's MLflow run in the workspace's tracking store (``runs/``)."""
    """A pipeline step's identity for reuse (component, environment, inputs): ``pipelines/reuse.py``."""


class JobEventRow(Base):
    """One transition of a job's state machine (``jobs/lifecycle.py``): the job's history."""

    __tablename__ = "job_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    at: Mapped[float] = mapped_column(Float, default=now)
    actor: Mapped[str] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(32))
    from_state: Mapped[str | None] = mapped_column(String(32))
    to_state: Mapped[str] = mapped_column(String(32))
    epoch: Mapped[int] = mapped_column(Integer)
    detail: Mapped[str | None] = mapped_column(Text)


class MiniBatchRow(Base):
    __tablename__ = "minibatches"
    __table_args__ = (Index("ix_minibatches_job_state", "job_id", "state", "idx"),)

    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True)
    idx: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    offset: Mapped[int] = mapped_column(BigInteger)
    """Byte offset of the mini-batch's first line in the job's plan file."""
    count: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    token: Mapped[str | None] = mapped_column(String(64))
    worker: Mapped[str | None] = mapped_column(String(64))
    items_ok: Mapped[int] = mapped_column(Integer, default=0)
    items_failed: Mapped[int] = mapped_column(Integer, default=0)
    part: Mapped[str | None] = mapped_column(Text)
    part_size: Mapped[int | None] = mapped_column(BigInteger)
    elapsed: Mapped[float | None] = mapped_column(Float)


class TokenRow(Base):
    __tablename__ = "tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    token_id: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str | None] = mapped_column(String(255))
    secret_hash: Mapped[str] = mapped_column(String(128))
    role: Mapped[str] = mapped_column(String(32))
    endpoint: Mapped[str | None] = mapped_column(String(64))
    invoke_only: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[float] = mapped_column(Float, default=now)
    expires_at: Mapped[float | None] = mapped_column(Float)
    revoked_at: Mapped[float | None] = mapped_column(Float)
    created_by: Mapped[str | None] = mapped_column(String(255))
    grants: Mapped[list[str] | None] = mapped_column(JSON)
    """Datastore URI prefixes an endpoint-scoped token may read inputs from and write outputs to."""


class UploadRow(Base):
    """A file or folder uploaded to the server, and the principal that uploaded it (``actor``)."""

    __tablename__ = "uploads"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    upload_id: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(255))
    owner: Mapped[str | None] = mapped_column(String(255), index=True)
    size_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[float] = mapped_column(Float, default=now)
