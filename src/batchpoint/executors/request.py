"""What an executor is built from: a plain description of the job's workers, not the engine's objects.

The batch engine fills one ``ExecutorRequest`` from its spec, its prepared runtime and its settings
(``batch/engine.py: JobRunner._executor_request``) and hands it to ``factory.build_executor``. An
executor therefore knows nothing of the jobs table or of the engine; what it needs from the engine
while it starts (a fresh driver heartbeat) comes as the ``keep_alive`` callback.

Standard library only, like ``privileges``: it is imported on the driver's start path.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from batchpoint.executors.privileges import Need


@dataclass(frozen=True, kw_only=True)
class ExecutorRequest:
    """Everything any executor kind needs to start and run one job's workers."""

    # -- how a worker runs (``batch/prepare.py: Runtime``) ------------------------------------------
    config_file: Path
    """The worker configuration file (``worker-config.json``): scoring script, code, env, output format."""
    log_dir: Path
    """The job's ``logs`` folder: workers' stdout/stderr go to ``user/std{out,err}/<worker>.*.txt`` in it."""
    cwd: Path
    """The workers' working folder (the code folder, or the job's ``work`` folder)."""
    python: str
    """The interpreter local workers run under (a deployment's environment, or batchpoint's own)."""
    env: dict[str, str]
    """The job's own variables for its workers (model dir, output path, the deployment's variables)."""
    requirements: tuple[str, ...] = ()
    """The environment's resolved pip requirement lines (a Ray ``runtime_env`` installs them)."""

    # -- the job -----------------------------------------------------------------------------------
    job_name: str
    """Names the job's Ray namespace."""
    job_dir: Path
    """The job's folder: a worker user without a usable home gets ``job_dir/home``."""
    parts_dir: Path
    """Where workers write part files (a Ray node that cannot see it fails ``init()`` saying so)."""
    workers: int
    """How many workers the job runs at once."""
    compute: dict[str, Any] = field(default_factory=dict)
    """The job's compute as registered: ``type``, ``name``, ``address``, ``resources``, ``max_instances``."""
    deployment_resources: dict[str, Any] = field(default_factory=dict)
    """The deployment's ``resources`` (per-worker Ray options, over the compute's)."""
    needs: tuple[Need, ...] = ()
    """What this job's workers read or write besides their runtime (the input; the output folder with
    ``summary_only``): checked for the worker user before any worker starts."""
    run_timeout: float | None = None
    """Seconds one ``run()`` may take (the engine kills a worker past it); the inline executor, which
    cannot be interrupted, withholds a late result so that the engine times the attempt out as usual."""

    # -- settings ----------------------------------------------------------------------------------
    executor: str | None = None
    """An executor kind that overrides the compute's (``EngineSettings.executor``: tests, debugging)."""
    worker_user: str | None = None
    """``EngineSettings.worker_user``: who local workers run as when batchpoint runs as root."""
    heartbeat_seconds: float = 1.0
    """How often a worker says it is alive (and how often ``keep_alive`` is called during a slow start)."""
    ray_start_timeout: float = 600.0
    ray_dashboard: bool = True
    metadata_on_postgres: bool = False
    """The metadata database is PostgreSQL: libpq's variables (its credentials) are kept from workers."""
    keep_alive: Callable[[], object] | None = None
    """Called from a thread while a slow start (reaching Ray) blocks, so the engine's heartbeat stays fresh
    (what it returns is ignored)."""
