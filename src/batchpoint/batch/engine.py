"""The job driver's main loop: plan, lease, dispatch, time out, retry, commit, merge.

One driver runs one job. It is the only writer of the job's mini-batch rows (fenced by its epoch)
and talks to workers through an ``Executor``. Each loop iteration gathers what workers reported,
decides, writes all of it in one transaction, and only then sends new tasks — so every task a
worker holds has a lease in the database before the worker can answer it.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import shutil
import signal
import socket
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from batchpoint.batch import inputs, merge
from batchpoint.batch.accounting import Accounting, JobAbort
from batchpoint.batch.ledger import CancelPending, Ledger, Pending, Superseded
from batchpoint.batch.plan import PlanReader, write_plan
from batchpoint.batch.scheduler import Attempt, PendingQueue, Slot
from batchpoint.errors import BatchpointError
from batchpoint.executors.base import Executor
from batchpoint.executors.launch import Launched
from batchpoint.executors.messages import ErrorInfo, Exited, InitFailed, Ready, TaskMessage, TaskResult, WorkerEvent
from batchpoint.jobs import outputs_manifest
from batchpoint.jobs.joblogs import JobLogs
from batchpoint.jobs.schemas import JobState, RunSpec
from batchpoint.store.tables import JobRow

if TYPE_CHECKING:
    from batchpoint.executors.request import ExecutorRequest
    from batchpoint.services import Services

log = logging.getLogger("batchpoint.driver")


def describe_exit(code: int | None) -> str:
    if code is None:
        return "worker exited"
    if code < 0:
        try:
            return f"worker killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"worker killed by signal {-code}"
    return f"worker exited with code {code}"


class JobRunner:
    """Runs one job to a final state."""

    def __init__(
        self,
        ctx: Services,
        job_name: str,
        epoch: int,
        prestarted: list[Launched] | None = None,
        on_phase: Callable[[str], None] | None = None,
    ) -> None:
        self.ctx = ctx
        # Called at each step ("preparing", "finalizing", "published", "linked", "completed"):
        # tests hold or kill the driver at an exact point with it; None in production.
        self.on_phase = on_phase
        self.engine = ctx.settings.engine
        with ctx.db.read() as s:
            row = s.query(JobRow).filter(JobRow.name == job_name).one()
            self.job_id = row.id
            self.job_name = row.name
            self.spec = RunSpec.model_validate(row.spec)
            self.planned = row.mb_total > 0  # set only once planning has finished
        self.epoch = epoch
        self.ledger = Ledger(ctx.db, self.job_id, epoch)
        self.job_dir = ctx.layout.job_dir(job_name)
        self.logs = JobLogs(self.job_dir)
        self.parts_dir = self.job_dir / "parts"
        self.parts_dir.mkdir(parents=True, exist_ok=True)
        self.settings = self.spec.settings
        self.n_workers = self.settings.workers
        self.prestarted = prestarted or []
        self.executor: Executor | None = None
        self.slots: dict[str, Slot] = {}
        self.pending = PendingQueue(self.ledger.fetch_pending)
        self.acc = Accounting(
            self.settings, self.logs, self.pending, self.parts_dir,
            mini_batch_threshold=self.spec.mini_batch_error_threshold,
        )  # fmt: skip
        self.init_failures = 0
        self.reader: PlanReader | None = None
        self.runtime: Any = None
        self._last_beat = 0.0
        self._last_progress = 0.0
        self._started = time.monotonic()
        self._items_at_start = 0

    @property
    def totals(self) -> dict[str, int]:
        return self.acc.totals

    @totals.setter
    def totals(self, value: dict[str, int]) -> None:
        self.acc.totals = value

    # -- lifecycle ---------------------------------------------------------------------------------
    def run(self) -> JobState:
        try:
            if self._published_already():
                return self._complete(resumed=True)
            self._start()
            self._loop()
            return self._finish()
        except JobAbort as abort:
            return self._abort(abort.state, abort.reason)
        except CancelPending:
            return self._abort(JobState.canceled, "canceled by request")
        except BatchpointError as exc:
            # A user-facing problem found while preparing (an environment that does not build, a model
            # that is gone): the job fails with that message, not as an internal error.
            return self._abort(JobState.failed, str(exc))
        except Superseded:
            log.warning("a newer driver took over this job; exiting")
            self._shutdown_workers(kill=True)
            return JobState.running
        except OSError as exc:
            if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
                log.exception("driver failed")
                return self._abort(JobState.failed, f"internal error in the job driver: {type(exc).__name__}: {exc}")
            return self._abort(JobState.failed, _no_space_reason(f"{exc.strerror}: {exc.filename}", self.job_name))
        except Exception as exc:
            log.exception("driver failed")
            return self._abort(JobState.failed, f"internal error in the job driver: {type(exc).__name__}: {exc}")
        finally:
            if self.reader:
                self.reader.close()
            with contextlib.suppress(OSError):
                self.logs.close()

    def _start(self) -> None:
        from batchpoint.batch.prepare import prepare_runtime

        if self.ledger.read_state() == JobState.cancel_requested:
            # Canceled between invoke and this driver's start: honour it before doing anything.
            raise JobAbort(JobState.canceled, "canceled by request before the job started")
        now = time.time()
        self.ledger.advance(
            "prepare",
            started_at=now,
            heartbeat_at=now,
            driver_pid=os.getpid(),
            driver_host=socket.gethostname(),
        )
        self._phase("preparing")
        runtime = prepare_runtime(self.ctx, self.spec, self.job_dir)
        self.ledger.update(environment=_json(runtime.environment))
        self.runtime = runtime
        self.executor = self._make_executor(runtime)
        for _ in range(self.n_workers - self._adopt_prestarted()):
            self._start_worker()
        if not self.planned:
            self._plan()
        released = self.ledger.reset_in_flight()
        if released:
            log.info("resuming: %d mini-batch(es) that were in flight are pending again", released)
        if self.epoch > 1:
            self.logs.reconcile_attempts(self.ledger.finished())
        self.totals = self.ledger.totals()
        self._items_at_start = self.totals["items_ok"] + self.totals["items_failed"]
        self.reader = PlanReader(self.job_dir / "plan" / "files.jsonl")
        self.ledger.advance("run", self.totals)
        workers, total = _count(self.n_workers, "worker", "workers"), self.totals["mb_total"]
        self.logs.progress(f"running with {workers}; {_count(total, 'mini-batch', 'mini-batches')}")

    def _make_executor(self, runtime: Any) -> Executor:
        # Local workers too: the factory starts them as the worker user when batchpoint runs as root.
        from batchpoint.executors.factory import build_executor

        return build_executor(self._executor_request(runtime))

    def _executor_request(self, runtime: Any) -> ExecutorRequest:
        """What the executor needs of this job: its prepared runtime, its spec and the engine's settings."""
        from batchpoint.executors.privileges import Need
        from batchpoint.executors.request import ExecutorRequest

        needs = [Need("the input", Path(self.spec.input.resolved))]
        # append_row: workers write part files in the job's folder, and the driver merges them into the output.
        if self.settings.output_action == "summary_only":
            needs.append(Need("the output folder", Path(self.spec.output.path), "write"))
        return ExecutorRequest(
            config_file=Path(runtime.config_file),
            log_dir=self.logs.dir,
            cwd=Path(runtime.cwd),
            python=runtime.python,
            env=dict(runtime.env),
            requirements=tuple(getattr(runtime, "requirements", None) or ()),
            job_name=self.job_name,
            job_dir=self.job_dir,
            parts_dir=self.parts_dir,
            workers=self.n_workers,
            compute=dict(self.spec.compute),
            deployment_resources=dict((self.spec.deployment or {}).get("resources") or {}),
            needs=tuple(needs),
            run_timeout=float(self.settings.retry_settings.timeout),
            executor=self.engine.executor,
            worker_user=self.engine.worker_user,
            heartbeat_seconds=self.engine.heartbeat_seconds,
            ray_start_timeout=self.ctx.settings.ray.start_timeout,
            ray_dashboard=self.ctx.settings.ray.dashboard,
            metadata_on_postgres=self.ctx.db.url.startswith("postgres"),
            keep_alive=self.ledger.heartbeat,
        )

    def _adopt_prestarted(self) -> int:
        """Hand workers the driver started before its imports to the executor, if it takes them; returns how many."""
        assert self.executor is not None
        workers, self.prestarted = self.prestarted, []
        adopted = 0
        for launched in workers:
            if adopted < self.n_workers and self.executor.adopt(launched):
                self.slots[launched.worker] = Slot(launched.worker)
                adopted += 1
            else:
                launched.discard()
        return adopted

    def _plan(self) -> None:
        files = inputs.iter_files(self.spec.input)
        n_batches, n_files = write_plan(
            self.ctx.db, self.job_id, files, self.job_dir / "plan" / "files.jsonl", self.settings.mini_batch_size,
            max_bytes=self.spec.mini_batch_bytes,
        )  # fmt: skip
        if n_files == 0:
            raise JobAbort(JobState.failed, f"the input '{self.spec.input.path}' has no files to score")
        self.ledger.update(mb_total=n_batches, items_total=n_files)
        log.info("planned %d files in %d mini-batches", n_files, n_batches)

    def _start_worker(self) -> None:
        assert self.executor is not None
        worker = self.executor.start_worker()
        self.slots[worker] = Slot(worker)

    # -- the loop ------------------------------------------------------------------------------------
    def _loop(self) -> None:
        assert self.executor is not None
        while True:
            events = self.executor.poll(0.02 if self._busy() else 0.2)
            for event in events:
                self._on_event(event)
            now = time.monotonic()
            self._check_timeouts(now)
            self._check_leases(now)
            sends = self._refill()
            self._flush(now)
            for worker, task in sends:
                self.executor.send(worker, task)
            if self._done():
                return

    def _busy(self) -> bool:
        return any(slot.queue for slot in self.slots.values())

    def _done(self) -> bool:
        in_flight = any(slot.queue for slot in self.slots.values() if not slot.lost)
        return not in_flight and self.pending.empty()

    def _on_event(self, event: WorkerEvent) -> None:
        slot = self.slots.get(event.worker)
        if slot is None:
            return
        slot.last_seen = time.monotonic()
        message = event.message
        if isinstance(message, TaskResult):
            self._on_result(slot, message)
        elif isinstance(message, Ready):
            slot.ready = True
            self.init_failures = 0
            slot.head_started = time.monotonic()
        elif isinstance(message, InitFailed):
            self._on_init_failed(slot, message)
        elif isinstance(message, Exited):
            self._on_exit(slot, message.returncode)

    def _on_init_failed(self, slot: Slot, message: InitFailed) -> None:
        error = message.error.model_dump()
        slot.init_failed = True
        self.init_failures += 1
        what = "loading the scoring script failed" if message.phase == "load" else "init() failed"
        self.logs.user_error(slot.worker, what, error)
        self.acc.record_first_error({**error, "phase": message.phase, "worker": slot.worker})
        if message.phase == "load":
            # The script does not compile or an import fails: every worker would fail the same way.
            raise JobAbort(JobState.failed, message.error.message + self._stderr_words(slot.worker))
        limit = self.engine.init_failures_per_worker * self.n_workers
        if self.init_failures >= limit:
            raise JobAbort(
                JobState.failed,
                f"init() of the scoring script failed {self.init_failures} times in a row: "
                f"{self.acc.first_error_words()}{self._stderr_words(slot.worker)}{_init_hint(error)}",
            )

    def _stderr_words(self, worker: str) -> str:
        """The worker's last stderr lines, for a failure reason: what argparse or a crash printed there."""
        tail = self.logs.stderr_tail(worker)
        return f"; last lines of {worker}'s stderr: {' | '.join(tail)}" if tail else ""

    def _on_exit(self, slot: Slot, code: int | None) -> None:
        del self.slots[slot.worker]
        if slot.lost or self.executor is None:
            return
        reason = slot.kill_reason or describe_exit(code)
        if not slot.ready and not slot.init_failed and slot.kill_reason is None:
            # Died before init() finished without saying why (os._exit, a segfault): an init failure too.
            info = ErrorInfo(exception="WorkerLost", message=f"{reason} during init()")
            self._on_init_failed(slot, InitFailed(t="init_failed", pid=0, error=info))
        timed_out = slot.timed_out
        for position, attempt in enumerate(list(slot.queue)):
            if position == 0 and slot.ready:
                kind = "Timeout" if timed_out else "WorkerLost"
                error = {"exception": kind, "message": reason, "traceback": ""}
                self.acc.attempt_failed(slot.worker, attempt, error, None, result="timeout" if timed_out else "crashed")
            else:
                self.acc.release(attempt, slot.worker, "not started: " + reason)
        slot.queue.clear()
        if not self.pending.empty() or self._busy():
            self._start_worker()

    def _on_result(self, slot: Slot, message: TaskResult) -> None:
        attempt = None if slot.lost else slot.pop(message.token)
        if attempt is None:
            self._reject_late(slot, message)
            return
        if message.fault == "no_space":
            self.acc.release(attempt, slot.worker, "no space left on device")
            detail = message.error.message if message.error else "no space left on device"
            raise JobAbort(JobState.failed, _no_space_reason(detail, self.job_name))
        if message.ok:
            self.acc.commit(slot.worker, attempt, message)
        else:
            error = message.error.model_dump() if message.error else {"exception": "Error", "message": "run() failed"}
            self.acc.attempt_failed(slot.worker, attempt, error, message.elapsed, result="failed")

    def _reject_late(self, slot: Slot, message: TaskResult) -> None:
        """A result for a lease this driver no longer honours (the worker lost it): never committed."""
        log.warning("rejected late result of mini-batch %d from %s (lease was reassigned)", message.mb, slot.worker)
        self.logs.attempt(
            message.mb, 0, slot.worker, message.elapsed, "rejected", 0, 0, "late result: lease reassigned"
        )
        self.acc.remove_part(message.mb, message.token)
        if slot.lost and self.executor is not None:
            self.executor.kill(slot.worker)

    # -- timeouts and leases ---------------------------------------------------------------------
    def _check_timeouts(self, now: float) -> None:
        timeout = self.settings.retry_settings.timeout
        for slot in self.slots.values():
            if slot.lost or not slot.queue or slot.kill_reason:
                continue
            if now - slot.head_started > timeout:
                slot.kill_reason = f"run() timed out after {timeout} s; the worker was killed"
                slot.timed_out = True
                log.warning("mini-batch %d on %s: %s", slot.queue[0].idx, slot.worker, slot.kill_reason)
                assert self.executor is not None
                self.executor.kill(slot.worker)

    def _check_leases(self, now: float) -> None:
        limit = self.engine.lease_seconds
        for slot in list(self.slots.values()):
            if slot.lost or slot.kill_reason or now - slot.last_seen <= limit:
                continue
            slot.lost = True
            log.warning("%s silent for %.1f s: its lease(s) are reassigned", slot.worker, now - slot.last_seen)
            for attempt in list(slot.queue):
                self.acc.release(attempt, slot.worker, f"worker silent for more than {limit} s; lease reassigned")
            slot.queue.clear()
            self._start_worker()

    # -- dispatch and persistence -----------------------------------------------------------------
    def _refill(self) -> list[tuple[str, TaskMessage]]:
        sends: list[tuple[str, TaskMessage]] = []
        assert self.reader is not None
        for slot in self.slots.values():
            if not slot.ready or slot.lost or slot.kill_reason:
                continue
            while len(slot.queue) < self.engine.prefetch:
                item = self.pending.pop()
                if item is None:
                    return sends
                sends.append((slot.worker, self._lease(slot, item)))
        return sends

    def _lease(self, slot: Slot, item: Pending) -> TaskMessage:
        assert self.reader is not None
        files = self.reader.files(item.offset, item.count)
        token = uuid.uuid4().hex
        attempt = Attempt(
            item.idx, token, item.attempts + 1, item.attempts, item.count, files, self.acc.part_path(item.idx, token),
            item.offset,
        )  # fmt: skip
        if not slot.queue:
            slot.head_started = time.monotonic()
        slot.queue.append(attempt)
        self.acc.batch.leases.append({"idx": item.idx, "token": token, "worker": slot.worker})
        return TaskMessage(mb=item.idx, token=token, attempt=attempt.attempt, files=files, part=attempt.part)

    def _flush(self, now: float) -> None:
        beat_due = now - self._last_beat >= self.engine.heartbeat_seconds
        if not self.acc.batch and not beat_due:
            return
        values: dict[str, Any] = {k: self.totals[k] for k in ("mb_done", "mb_failed", "items_ok", "items_failed")}
        values["retries"] = self.acc.retries
        values["heartbeat_at"] = time.time()
        batch = self.acc.take_batch()
        rejected = self.ledger.apply(batch, values)
        self.logs.flush_attempts()  # after the commit: the attempts log never shows what the ledger lacks
        if rejected:
            raise Superseded(f"{len(rejected)} commit(s) rejected: another driver owns the job")
        if beat_due:
            self._last_beat = now
            self._check_cancel()
            self._progress(now)

    def _check_cancel(self) -> None:
        if self.ledger.read_state() == JobState.cancel_requested:
            raise JobAbort(JobState.canceled, "canceled by request")

    def _progress(self, now: float) -> None:
        if now - self._last_progress < 5.0:
            return
        self._last_progress = now
        t = self.totals
        done_items = t["items_ok"] + t["items_failed"] - self._items_at_start
        # The clock, not ``now``: the last flush passes a time far ahead to force its beat.
        rate = done_items / max(time.monotonic() - self._started, 1e-6)
        self.logs.progress(
            f"mini-batches {t['mb_done'] + t['mb_failed']}/{t['mb_total']} (failed {t['mb_failed']}), "
            f"items ok {t['items_ok']} failed {t['items_failed']} of {t['items_total']}, {rate:.1f} items/s"
        )

    # -- the end ----------------------------------------------------------------------------------
    def _finish(self) -> JobState:
        self._shutdown_workers(kill=False)
        self._flush(time.monotonic() + 1e9)
        t = self.totals
        if t["mb_done"] == 0 and t["mb_failed"] > 0:
            # Every mini-batch failed (after its retries, or because run() returned nothing for it).
            raise JobAbort(
                JobState.failed,
                f"no mini-batch succeeded: all {t['mb_failed']} failed ({t['items_failed']} item(s)); "
                f"first error: {self.acc.first_error_words()}",
            )
        self.ledger.advance("finalize")
        self._phase("finalizing")
        if self._published_already():
            return self._complete(resumed=True)
        staged = self._stage() if self.settings.output_action == "append_row" else None
        # The point of no return: from here a cancel is refused, and a resumed driver completes the job.
        try:
            self.ledger.advance("publish", publication=_json(staged.record() if staged else {"files": []}))
        except BaseException:
            if staged:
                staged.discard()
            raise
        self._phase("published")
        if staged:
            merge.link_staged(staged)
        self._phase("linked")
        return self._complete(resumed=False)

    def _complete(self, *, resumed: bool) -> JobState:
        """Record Completed (durably) once the output is in place, then tidy the job folder."""
        if resumed:
            self.totals = self.ledger.totals()
            log.info("the output was published by an earlier driver; completing without scoring again")
            # Forward to Finalizing first: a Failed job reopened by 'job resume' is Queued again.
            self.ledger.advance("run")
            self.ledger.advance("finalize")
        error_count = self.logs.rebuild_errors(self.ledger.with_errors())
        outputs_manifest.write(self.job_dir, Path(self.spec.output.path))
        summary = self._summary(error_count)
        self.logs.result(JobState.completed, None, summary)
        values: dict[str, Any] = {"ended_at": time.time(), "heartbeat_at": time.time()}
        if self.acc.first_error is not None:
            values["error"] = _json(self.acc.first_error)
        # Parts and merge leftovers go before Completed is recorded: the published file no longer
        # needs them, and whoever sees Completed sees a tidy job folder.
        shutil.rmtree(self.parts_dir, ignore_errors=True)
        if self.settings.output_action == "append_row":
            merge.remove_leftovers(Path(self.spec.output.path) / self.settings.output_file_name)
        self._log_figures()
        self.ledger.advance("complete", **values)
        self._phase("completed")
        self.logs.progress(f"completed: {self._summary_words()}")
        return JobState.completed

    def _published_already(self) -> bool:
        """The output a driver before this one published is in place (it stopped before Completed)."""
        record = self.ledger.publication()
        return record is not None and merge.check_published(record)

    def _phase(self, name: str) -> None:
        if self.on_phase is not None:
            self.on_phase(name)

    def _stage(self) -> merge.Staged:
        """Merge the committed parts into a staged (unpublished) output file."""
        parts = self.ledger.committed_parts()
        bad = merge.check_parts(parts)
        if bad:
            # A part that was committed but lost (disk trouble, a crash before it reached the disk):
            # score those mini-batches again rather than publish an incomplete output.
            log.warning("%d committed part file(s) are missing; scoring them again", len(bad))
            self.ledger.reset(bad)
            self.pending.rescan()
            self.totals = self.ledger.totals()
            self.executor = self._make_executor(self.runtime)
            for _ in range(self.n_workers):
                self._start_worker()
            self._loop()
            self._shutdown_workers(kill=False)
            self._flush(time.monotonic() + 1e9)
            parts = self.ledger.committed_parts()
        target = Path(self.spec.output.path) / self.settings.output_file_name
        try:
            return merge.stage_parts([p for _, p, _ in parts], target)
        except OSError as exc:
            if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                raise JobAbort(JobState.failed, _no_space_reason(f"{exc.strerror}: {target}", self.job_name)) from None
            raise

    def _summary(self, error_count: int) -> dict[str, Any]:
        t = self.totals
        return {
            "mini_batches": f"{t['mb_done']} succeeded, {t['mb_failed']} failed of {t['mb_total']}",
            "items": f"{t['items_ok']} succeeded, {t['items_failed']} failed of {t['items_total']}",
            "retries": self.acc.retries,
            "errors_jsonl_entries": error_count,
            "elapsed_seconds": round(time.monotonic() - self._started, 3),
        }

    def _log_figures(self) -> None:
        """The job's own figures as metrics of its MLflow run, before its end is recorded (never fails the job)."""
        t = self.totals
        elapsed = time.monotonic() - self._started
        items = t.get("items_ok", 0) + t.get("items_failed", 0)
        figures = {
            "mini_batches_done": t.get("mb_done", 0), "mini_batches_failed": t.get("mb_failed", 0),
            "items_succeeded": t.get("items_ok", 0), "items_failed": t.get("items_failed", 0),
            "items_per_second": items / elapsed if elapsed > 0 else 0.0, "duration_seconds": elapsed,
            "retries": self.acc.retries,
        }  # fmt: skip
        self.ctx.runs.log_figures(self._run_id(), figures)

    def _run_id(self) -> str | None:
        try:
            return self.ctx.jobs.run_id(self.job_name)
        except BatchpointError:
            return None

    def _summary_words(self) -> str:
        """The summary as a sentence, for the progress log (which people read)."""
        t = self.totals
        retries = self.acc.retries
        return (
            f"{t['mb_done']} of {_count(t['mb_total'], 'mini-batch', 'mini-batches')} succeeded, "
            f"{t['mb_failed']} failed; {t['items_ok']} of {_count(t['items_total'], 'item', 'items')} succeeded, "
            f"{t['items_failed']} failed; {_count(retries, 'retry', 'retries')}; "
            f"{time.monotonic() - self._started:.1f} s"
        )

    def _abort(self, state: JobState, reason: str) -> JobState:
        log.warning("job %s: %s", state.value, reason)
        self._shutdown_workers(kill=True)
        try:
            if self.acc.batch and self.totals:
                # What was decided before the abort (the failure that crossed the threshold, say) is kept.
                pending = self.acc.take_batch()
                pending.leases.clear()
                self.ledger.apply(pending, {"heartbeat_at": time.time()})
                with contextlib.suppress(OSError):
                    self.logs.flush_attempts()
            values: dict[str, Any] = {}
            if self.acc.first_error is not None:
                values["error"] = _json(self.acc.first_error)
            for key in ("mb_done", "mb_failed", "items_ok", "items_failed"):
                if key in self.totals:
                    values[key] = self.totals[key]
            if self.totals:
                self._log_figures()
            final = self.ledger.end(state, reason, **values)  # Canceled, if a cancel was pending
        except Superseded:
            return JobState.running
        with contextlib.suppress(OSError):  # the logs' disk may be the full one
            error_count = self.logs.rebuild_errors(self.ledger.with_errors())
            if final is not state:
                reason = f"canceled by request (the job was failing: {reason})"
            self.logs.result(final, reason, self._summary(error_count) if self.totals else {})
            words = f"{final.value.lower()}: {reason}"
            self.logs.progress(f"{words}; {self._summary_words()}" if self.totals else words)
        return final

    def _shutdown_workers(self, *, kill: bool) -> None:
        if self.executor is None:
            return
        if kill:
            for worker in list(self.slots):
                self.executor.kill(worker)
        self.executor.close(grace=0.5 if kill else 10.0)
        self.executor = None


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


ARGPARSE_HINT = "use parse_known_args(): batchpoint passes the deployment's program arguments such as --logging_level"


def _init_hint(error: dict[str, Any]) -> str:
    """What to do about a known init() failure: argparse's ``parse_args()`` stopping at our arguments."""
    if error.get("exception") == "SystemExit" and "argparse" in str(error.get("traceback") or ""):
        return f"; {ARGPARSE_HINT}"
    return ""


def _no_space_reason(detail: str, job_name: str) -> str:
    return (
        f"no space left on device ({detail}); nothing committed was lost and nothing was published: "
        f"free some space and run 'batchpoint job resume -n {job_name}'"
    )


def _json(value: Any) -> Any:
    import json

    return None if value is None else json.dumps(value, default=str)
