"""Worker process main loop.

Started by the local executor as ``python -m batchpoint.runtime.worker --fd N --config FILE
--worker-id ID``. It imports the scoring script, calls ``init()`` once, then for every task message
calls ``run(mini_batch)``, writes the formatted rows to the task's part file and reports the result.
A heartbeat thread tells the driver the process is alive; a stopped or frozen worker falls silent
and loses its lease.
"""

from __future__ import annotations

import argparse
import errno
import json
import logging
import os
import socket
import sys
import threading
import time
import traceback
from types import ModuleType
from typing import Any, Protocol

from batchpoint.runtime import formatting
from batchpoint.runtime.channel import Channel
from batchpoint.runtime.loader import describe_load_failure, load_scorer
from batchpoint.runtime.results import PartialResult


def describe_exception(exc: BaseException) -> dict[str, str]:
    """Exception type, message and the traceback as text, for the driver's error records."""
    return {
        "exception": type(exc).__name__,
        "message": str(exc) or repr(exc),
        "traceback": "".join(traceback.format_exception(exc)),
    }


def _heartbeat(channel: Channel, interval: float, stop: threading.Event) -> None:
    while not stop.wait(interval):
        try:
            channel.send({"t": "hb"})
        except OSError:
            return


def _configure(config: dict[str, Any]) -> None:
    os.environ.update(config.get("env", {}))
    level = str(config.get("logging_level", "info")).upper()
    logging.basicConfig(
        level=getattr(logging, level, logging.INFO), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    sys.argv = script_argv(config)


def script_argv(config: dict[str, Any]) -> list[str]:
    """The ``sys.argv`` a scoring script sees: what Azure's runtime passes (scripts parse it with
    ``parse_known_args``), then the deployment's program arguments."""
    level = str(config.get("logging_level", "info")).upper()
    script = config.get("scoring_script") or "score.py"
    return [script, "--logging_level", level, *config.get("program_arguments", [])]


def invalid_result(files: list[str], kind: str) -> list[dict[str, Any]]:
    """One error record per input file, for a ``run`` that returned no collection of results."""
    text = f"run() returned {kind}; return one result per input (a list or a DataFrame)"
    return [{"file": f, "exception": "InvalidResult", "message": text, "traceback": ""} for f in files]


class Sender(Protocol):
    """Where a worker's replies go: the socket channel here, a Ray actor's return value there."""

    def send(self, message: dict[str, Any]) -> None: ...


class Worker:
    """One worker: a scorer module and the channel to the driver."""

    def __init__(self, channel: Sender, config: dict[str, Any], worker_id: str) -> None:
        self.channel = channel
        self.config = config
        self.worker_id = worker_id
        self.append_row = config.get("output_action", "append_row") == "append_row"
        self.kind = formatting.output_kind(config.get("output_file_name", "predictions.csv"))
        self.to_csv = formatting.load_to_csv_settings(config.get("code_dir"))
        self.module: ModuleType | None = None

    def start(self) -> bool:
        try:
            self.module = load_scorer(self.config)
        except BaseException as exc:
            words = describe_load_failure(exc, self.config)
            if words is None:  # the script's own top-level code raised: as if init() had
                self._init_failed(describe_exception(exc), "init")
            else:
                self._init_failed({**describe_exception(exc), "message": words}, "load")
            return False
        try:
            init = getattr(self.module, "init", None)
            if callable(init):
                init()
        except BaseException as exc:
            self._init_failed(describe_exception(exc), "init")
            return False
        self.channel.send({"t": "ready", "pid": os.getpid()})
        return True

    def _init_failed(self, error: dict[str, str], phase: str) -> None:
        """``phase`` "load": the script cannot be loaded at all (the driver fails the job at once)."""
        self.channel.send({"t": "init_failed", "pid": os.getpid(), "error": error, "phase": phase})

    def handle(self, task: dict[str, Any]) -> None:
        assert self.module is not None
        files: list[str] = task["files"]
        started = time.perf_counter()
        reply: dict[str, Any] = {"t": "result", "mb": task["mb"], "token": task["token"]}
        try:
            result = formatting.materialise(self.module.run(list(files)))
            failed: list[dict[str, Any]] = []
            if isinstance(result, PartialResult):
                failed, result = result.failed, result.rows
                returned = len(files) - len(failed)
            elif (kind := formatting.without_length(result)) is not None:
                failed, result, returned = invalid_result(files, kind), None, 0
            else:
                returned = formatting.count_results(result)
            part_size = None
            if self.append_row:
                header, body = formatting.render(result, self.kind, self.to_csv)
                part_size = formatting.write_part(task["part"], header, body)
            reply.update(ok=True, returned=returned, part_size=part_size, item_errors=failed)
        except BaseException as exc:  # run() failures fail the attempt, not the worker
            reply.update(ok=False, error=describe_exception(exc))
            if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
                reply["fault"] = "no_space"  # the machine's fault, not the mini-batch's: the driver stops the job
        reply["elapsed"] = time.perf_counter() - started
        self.channel.send(reply)

    def serve(self, channel: Channel) -> None:
        while True:
            message = channel.receive()
            if message is None or message.get("t") == "stop":
                break
            if message.get("t") == "task":
                self.handle(message)
        self.stop()

    def stop(self) -> None:
        """Call the script's ``shutdown()`` if it has one."""
        shutdown = getattr(self.module, "shutdown", None)
        if callable(shutdown):
            try:
                shutdown()
            except Exception:
                logging.getLogger("batchpoint.worker").exception("shutdown() failed")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="batchpoint-worker")
    parser.add_argument("--fd", type=int, required=True)
    parser.add_argument("--config", required=True)
    parser.add_argument("--worker-id", required=True)
    args = parser.parse_args(argv)
    with open(args.config, encoding="utf-8") as fh:
        config = json.load(fh)
    channel = Channel(socket.socket(fileno=args.fd))
    _configure(config)
    stop = threading.Event()
    beat = threading.Thread(
        target=_heartbeat, args=(channel, float(config.get("heartbeat_seconds", 1.0)), stop), daemon=True
    )
    beat.start()
    worker = Worker(channel, config, args.worker_id)
    if not worker.start():
        return 3
    try:
        worker.serve(channel)
    finally:
        stop.set()
    # Every result is sent and every part file closed: skip interpreter teardown, which takes
    # hundreds of milliseconds with pandas or a model loaded, while the driver waits to merge.
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main())
