"""The one place executors are built: from an ``ExecutorRequest``, by executor kind.

A kind is one entry in ``EXECUTORS``: its name and a function from the request to the executor
(which imports its module only when a job uses it, so that a driver of local workers never imports
Ray). A job's kind is its compute's (``COMPUTE_EXECUTORS``; local processes for any other compute),
unless ``EngineSettings.executor`` names one (tests, debugging).

Nothing here knows the jobs table or the engine: what the engine needs while an executor starts
comes through the request (``keep_alive``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable

from batchpoint.common.beating import beating
from batchpoint.errors import InvalidInput
from batchpoint.executors import privileges
from batchpoint.executors.base import Executor
from batchpoint.executors.request import ExecutorRequest

log = logging.getLogger("batchpoint.driver")


def build_executor(request: ExecutorRequest) -> Executor:
    """The executor for ``request``'s job, by its kind (``kind_of``)."""
    kind = kind_of(request)
    build = EXECUTORS.get(kind)
    if build is None:
        known = ", ".join(sorted(EXECUTORS))
        raise InvalidInput(f"unknown executor '{kind}' (this batchpoint has: {known})", field="executor")
    return build(request)


def kind_of(request: ExecutorRequest) -> str:
    """The executor kind a request asks for: the engine's override, else its compute type's."""
    if request.executor:
        return request.executor
    return COMPUTE_EXECUTORS.get(str(request.compute.get("type") or ""), "local")


def local_executor(request: ExecutorRequest) -> Executor:
    """Worker processes on this machine, as the worker user when batchpoint runs as root.

    Before any worker starts as that user, everything the job's workers read is checked, so that a
    folder it cannot enter fails the job with a sentence naming it (``privileges.require``).
    """
    from batchpoint.executors.launch import worker_needs
    from batchpoint.executors.local import LocalExecutor

    run_as = privileges.for_job(request.worker_user, request.job_dir)
    if privileges.keeps_root(request.worker_user):
        log.warning(
            "%s=root: workers run as root, so the scoring script has full control of this machine",
            privileges.WORKER_USER_VARIABLE,
        )
    privileges.require(run_as, [*worker_needs(request.python, request.config_file), *request.needs])
    return LocalExecutor(
        config_file=request.config_file,
        log_dir=request.log_dir,
        cwd=request.cwd,
        python=request.python,
        env=request.env,
        run_as=run_as,
        metadata_on_postgres=request.metadata_on_postgres,
    )


def ray_executor(request: ExecutorRequest) -> Executor:
    """Ray actors, on the compute's cluster (or a private Ray for address ``local``)."""
    from batchpoint.executors.ray_cluster import import_ray

    import_ray()  # MissingExtra before anything else
    from batchpoint.executors.ray_executor import RayExecutor, RayJob, actor_resources, pip_packages

    compute = request.compute
    job = RayJob(
        address=str(compute.get("address") or "auto"),
        config=json.loads(request.config_file.read_text(encoding="utf-8")),
        log_dir=request.log_dir,
        cwd=request.cwd,
        parts_dir=request.parts_dir,
        env=dict(request.env),
        options=actor_resources(compute.get("resources"), request.deployment_resources),
        # The deployment environment's packages, as prepare_runtime resolved them (nothing is built
        # locally for a Ray compute): the actors' runtime_env.
        pip=pip_packages(list(request.requirements)),
        heartbeat_seconds=request.heartbeat_seconds,
        job_name=request.job_name,
        workers=request.workers,
        max_instances=int(compute.get("max_instances") or 1),
        start_timeout=request.ray_start_timeout,
        dashboard=request.ray_dashboard,
    )
    with beating(request.keep_alive, request.heartbeat_seconds, name="executor-keep-alive",
                 what="keep the driver's heartbeat fresh"):  # fmt: skip
        # Starting a private Ray, or reaching a busy cluster, can outlast driver_stale_seconds.
        return RayExecutor(job)


def inline_executor(request: ExecutorRequest) -> Executor:
    """Mini-batches scored inside this process, one after another (tests, debugging).

    User code then runs as this process: refused when batchpoint runs as root and would otherwise
    drop workers to the worker user (set ``BATCHPOINT_ENGINE_WORKER_USER=root`` to mean it).
    """
    from batchpoint.executors.inline import InlineExecutor

    if privileges.worker_identity(request.worker_user) is not None:
        raise InvalidInput(
            "the inline executor runs the scoring script inside the job driver, which runs as root, but "
            "workers must run as an unprivileged user",
            hint=f"use the local executor, or set {privileges.WORKER_USER_VARIABLE}=root to run user code as root",
        )
    return InlineExecutor(
        config=json.loads(request.config_file.read_text(encoding="utf-8")),
        log_dir=request.log_dir,
        cwd=request.cwd,
        heartbeat_seconds=request.heartbeat_seconds,
        run_timeout=request.run_timeout,
    )


EXECUTORS: dict[str, Callable[[ExecutorRequest], Executor]] = {
    "local": local_executor,
    "ray": ray_executor,
    "inline": inline_executor,
}
"""Executor kind → the function that builds it from a request."""

COMPUTE_EXECUTORS: dict[str, str] = {"ray": "ray"}
"""Compute type → executor kind; any other compute (``local``, ``amlcompute``) runs local processes."""
