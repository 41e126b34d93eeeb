"""Which executor runs a job: local worker processes, or Ray actors for a compute of type ``ray``."""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from batchpoint.executors import privileges
from batchpoint.executors.base import Executor
from batchpoint.executors.privileges import Need

if TYPE_CHECKING:
    from batchpoint.batch.engine import JobRunner

log = logging.getLogger("batchpoint.driver")


def make_executor(runner: JobRunner, runtime: Any) -> Executor:
    """The executor for ``runner``'s job, by its compute's type."""
    if runner.spec.compute.get("type") == "ray":
        return ray_executor(runner, runtime)
    return local_executor(runner, runtime)


def local_executor(runner: JobRunner, runtime: Any) -> Executor:
    """Worker processes on this machine, as the worker user when batchpoint runs as root.

    Before any worker starts as that user, everything the job's workers read is checked, so that a
    folder it cannot enter fails the job with a sentence naming it (``privileges.require``).
    """
    from batchpoint.executors.local import LocalExecutor

    setting = runner.engine.worker_user
    run_as = privileges.for_job(setting, runner.job_dir)
    if privileges.keeps_root(setting):
        log.warning(
            "%s=root: workers run as root, so the scoring script has full control of this machine",
            privileges.WORKER_USER_VARIABLE,
        )
    privileges.require(run_as, _worker_needs(runner, runtime))
    return LocalExecutor(
        config_file=runtime.config_file,
        log_dir=runner.logs.dir,
        cwd=runtime.cwd,
        python=runtime.python,
        env=runtime.env,
        run_as=run_as,
    )


def _worker_needs(runner: JobRunner, runtime: Any) -> list[Need]:
    from batchpoint.executors.launch import worker_needs

    needs = worker_needs(runtime.python, Path(runtime.config_file))
    needs.append(Need("the input", Path(runner.spec.input.resolved)))
    # append_row: workers write part files in the job's folder, and the driver merges them into the output.
    if runner.settings.output_action == "summary_only":
        needs.append(Need("the output folder", Path(runner.spec.output.path), "write"))
    return needs


def ray_executor(runner: JobRunner, runtime: Any) -> Executor:
    from batchpoint.executors.ray_cluster import import_ray

    import_ray()  # MissingExtra before anything else
    from batchpoint.executors.ray_executor import RayExecutor, RayJob, actor_resources

    spec = runner.spec
    compute = spec.compute
    config = json.loads(Path(runtime.config_file).read_text(encoding="utf-8"))
    deployment_resources = (spec.deployment or {}).get("resources") or {}
    job = RayJob(
        address=str(compute.get("address") or "auto"),
        config=config,
        log_dir=runner.logs.dir,
        cwd=Path(runtime.cwd),
        parts_dir=runner.parts_dir,
        env=dict(runtime.env),
        options=actor_resources(compute.get("resources"), deployment_resources),
        pip=environment_packages(runner, runtime),
        heartbeat_seconds=runner.engine.heartbeat_seconds,
        job_name=runner.job_name,
        workers=runner.n_workers,
        max_instances=int(compute.get("max_instances") or 1),
        start_timeout=runner.ctx.settings.ray.start_timeout,
        dashboard=runner.ctx.settings.ray.dashboard,
    )
    with _driver_heartbeat(runner):
        # Starting a private Ray, or reaching a busy cluster, can outlast driver_stale_seconds.
        return RayExecutor(job)


@contextlib.contextmanager
def _driver_heartbeat(runner: JobRunner) -> Iterator[None]:
    """Keep the job's driver heartbeat fresh from a thread while the main thread waits on Ray."""
    from sqlalchemy import text

    stop = threading.Event()
    statement = text("UPDATE jobs SET heartbeat_at=:t WHERE id=:job AND driver_epoch=:epoch")

    def beat() -> None:
        while not stop.wait(runner.engine.heartbeat_seconds):
            with contextlib.suppress(Exception), runner.ctx.db.session() as s:
                s.execute(statement, {"t": time.time(), "job": runner.job_id, "epoch": runner.epoch})

    thread = threading.Thread(target=beat, name="driver-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def environment_packages(runner: JobRunner, runtime: Any) -> list[str]:
    """The pip packages of the deployment's environment: its Ray ``runtime_env``.

    ``prepare_runtime`` resolves them (a registered environment's pip and conda dependencies, or an
    MLflow model's own) and, for a Ray compute, builds nothing locally.
    """
    from batchpoint.executors.ray_executor import pip_packages

    return pip_packages(list(getattr(runtime, "requirements", None) or []))
