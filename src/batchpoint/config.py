"""Typed settings, read from ``BATCHPOINT_*`` environment variables. Nothing is read at import time."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class EngineSettings(BaseSettings):
    """Timing knobs of the job engine (the defaults suit a laptop; tests shorten them)."""

    model_config = SettingsConfigDict(env_prefix="BATCHPOINT_ENGINE_", extra="ignore")

    heartbeat_seconds: float = Field(1.0, gt=0)
    """How often a worker tells the driver it is alive, and the driver writes its own heartbeat."""

    lease_seconds: float = Field(20.0, gt=0)
    """A worker silent for this long loses its mini-batch to another worker (its late result is rejected)."""

    driver_stale_seconds: float = Field(15.0, gt=0)
    """A running job whose driver has not written a heartbeat for this long is reported as lost."""

    prefetch: int = Field(2, ge=1, le=64)
    """Mini-batches handed to each worker ahead of time, so it never waits for the driver."""

    init_failures_per_worker: int = Field(3, ge=1)
    """The job fails once ``init()`` has failed this many times per worker slot without any success."""


class Settings(BaseSettings):
    """Settings of one batchpoint process (CLI, SDK, driver or server)."""

    model_config = SettingsConfigDict(env_prefix="BATCHPOINT_", extra="ignore")

    workspace: Path | None = None
    """The workspace folder (``.batchpoint``) or a folder inside which one is searched for."""

    database_url: str | None = None
    """Metadata database; default: the SQLite file inside the workspace."""

    server: str | None = None
    """URL of a batchpoint server; when set, the CLI and SDK talk to it instead of a local workspace."""

    token: str | None = None
    """Bearer token for the server."""

    engine: EngineSettings = Field(default_factory=EngineSettings)
