"""Typed settings, read from ``BATCHPOINT_*`` environment variables. Nothing is read at import time."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
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

    fork_driver: bool = True
    """Start an embedded job's driver by forking the invoking process when that is safe (Linux, a
    single thread, no database connection in use, under 512 MiB resident): it then starts in
    milliseconds instead of importing batchpoint again. ``False`` always starts a fresh interpreter."""

    worker_user: str | None = None
    """The operating-system user that runs workers (user code) when batchpoint itself runs as root.
    Default: the user ``batchpoint`` when it exists, else ``nobody``. ``root`` keeps workers as root
    (an explicit, logged choice). Ignored when batchpoint does not run as root."""

    max_workers_per_instance: int = Field(0, ge=0, le=1024)
    """Most workers one job may start on one machine: on a local compute (whose instances all run here)
    ``instance_count × max_concurrency_per_instance``, on Ray ``max_concurrency_per_instance``. A job
    asking for more is refused. 0: four per CPU core, at least 8."""

    executor: str | None = None
    """For tests and debugging: the executor every job runs on, whatever its compute (``local``,
    ``ray``, or ``inline``: mini-batches scored one after another inside the driver's own process,
    see ``executors/inline.py``). Default: the compute's (Ray actors for a ``ray`` compute, local
    worker processes otherwise)."""


class ServerSettings(BaseSettings):
    """Knobs of ``batchpoint server`` (read from ``BATCHPOINT_SERVER_*``); the defaults are safe for a team."""

    model_config = SettingsConfigDict(env_prefix="BATCHPOINT_SERVER_", extra="ignore")

    host: str = "127.0.0.1"
    """Interface to listen on; loopback unless told otherwise."""

    port: int = Field(8080, ge=0, le=65535)

    allowed_hosts: str | None = None
    """Host names the server answers to besides ``localhost`` and the loopback addresses, comma
    separated (``*.example.com`` matches its sub-domains, ``*`` any name). Default: this machine's
    names and the address it listens on. A request for any other Host gets 400 (DNS rebinding)."""

    auth_failure_limit: int = Field(20, ge=1)
    """Failed authentications one client address may make within ``auth_failure_window_seconds``;
    after that every request from it gets 429 until the window has passed."""

    auth_failure_window_seconds: float = Field(60.0, gt=0, le=86400)

    input_roots: str | None = None
    """Server folders invokes and data assets may read from, separated by ``os.pathsep``
    (default: the workspace's datastores folder). Datastore URIs are always allowed."""

    max_body_bytes: int = Field(1024 * 1024, ge=1024)
    """Largest JSON request body."""

    max_upload_bytes: int = Field(2 * 1024**3, ge=1024)
    """Largest upload (a model file or archive, a code folder, input data)."""

    max_extracted_bytes: int = Field(4 * 1024**3, ge=1024)
    """Largest total size an uploaded archive may expand to."""

    max_archive_members: int = Field(10_000, ge=1)
    """Most entries an uploaded archive may hold."""

    max_json_depth: int = Field(32, ge=4, le=256)
    """Deepest nesting of arrays and objects accepted in a JSON body."""

    jobs_per_compute: int = Field(2, ge=1, le=1024)
    """Jobs running at once on one compute; more wait in the server's queue (state Queued)."""

    compute_concurrency: str | None = None
    """Per-compute limits that differ from ``jobs_per_compute``: ``local=4,gpu-cluster=1``."""

    queue_poll_seconds: float = Field(0.5, gt=0, le=60)
    """How often the job queue looks for jobs to start, lost drivers to replace and cancels to apply."""

    max_driver_restarts: int = Field(5, ge=0)
    """A job whose driver was lost more often than this is left for ``job resume`` instead of restarted."""

    max_active_jobs_per_token: int = Field(20, ge=1)
    """Queued and running jobs one token may have at once; one more invoke gets 429 with Retry-After."""

    max_upload_bytes_per_token: int = Field(20 * 1024**3, ge=1024)
    """Bytes one token may upload within ``upload_window_seconds``; beyond, uploads get 429 with Retry-After."""

    upload_window_seconds: float = Field(86400.0, gt=0)


class RaySettings(BaseSettings):
    """Knobs of Ray computes (read from ``BATCHPOINT_RAY_*``)."""

    model_config = SettingsConfigDict(env_prefix="BATCHPOINT_RAY_", extra="ignore")

    start_timeout: float = Field(600.0, gt=0)
    """Seconds an actor may take to be placed and set up before it counts as a failed ``init()``."""

    dashboard: bool = True
    """``false`` (or ``0``): a private (``local``) Ray starts without a dashboard."""


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

    bootstrap_token: SecretStr | None = None
    """``batchpoint server`` only: the owner token of a server whose database has no tokens yet."""

    engine: EngineSettings = Field(default_factory=EngineSettings)

    ray: RaySettings = Field(default_factory=RaySettings)

    serving: ServerSettings = Field(default_factory=ServerSettings)
    """Settings of ``batchpoint server`` (only the server reads them)."""
