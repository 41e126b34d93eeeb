"""Starting a job's driver as a fork of the invoking process.

A fresh driver interpreter spends about half a CPU-second importing pydantic, pydantic-settings and
SQLAlchemy before it can hand out the first mini-batch, while the workers it started load their
models on the same cores. The process that calls ``invoke`` has imported all of that already, so
when it is safe the driver is that process, forked twice (new session, reparented to init), and is
up in milliseconds.

Safe means: Linux (fork without exec is unsupported with the macOS system frameworks), a single
thread (a fork copies only the calling thread, and a lock another thread held stays locked in the
child forever), no metadata-database connection in use (every pooled connection is closed first,
see ``Database.release_all_for_fork``), no other database file open (an MLflow client's
SQLite connections are not batchpoint's to close), and a modest resident size (copy-on-write memory is shared
only until either side writes, and the driver keeps the caller's pages until the job ends).
Threads that Python does not know about (a BLAS pool, say) do not prevent the fork: the driver uses
only the standard library and the database driver, never the libraries that own them. Jobs on a
Ray compute are never forked, since their driver speaks gRPC, whose state a caller that has used
Ray would hand down. Otherwise, and whenever ``BATCHPOINT_ENGINE_FORK_DRIVER=false``, the driver
is a fresh interpreter as before.

The forked driver then cuts itself loose from the caller's state: default signal handlers, stdin
from ``/dev/null``, stdout and stderr to the job's ``driver.out``, every other inherited file
descriptor pointed at ``/dev/null`` (so a socket or pipe of the caller is not kept open by the
driver; the numbers stay taken so a stray finalizer cannot close one of the driver's own files),
the caller's logging handlers set aside, and it ends with ``os._exit`` so that nothing of the
caller (``finally`` blocks, ``atexit`` handlers, buffered output) runs twice.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import signal
import sys
import threading
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

MAX_RSS_BYTES = 512 << 20  # a forked driver keeps these pages for the whole job once the caller exits
_RESET_SIGNALS = ("SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2", "SIGALRM", "SIGCHLD", "SIGTSTP")
_kept: list[Any] = []  # the caller's logging handlers, set aside in the driver but never finalized


def _resident_bytes() -> int:
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return MAX_RSS_BYTES  # unknown: do not fork


def can_fork() -> bool:
    """Whether this process may fork a driver now (closes its idle database connections if so)."""
    if not sys.platform.startswith("linux") or not hasattr(os, "fork"):
        return False
    if threading.active_count() != 1 or threading.current_thread() is not threading.main_thread():
        return False
    if _resident_bytes() >= MAX_RSS_BYTES:
        return False
    from batchpoint.store.db import Database

    return Database.release_all_for_fork() and not _sqlite_files_open()


_SQLITE_SUFFIXES = (".db", ".db-wal", ".db-shm", ".sqlite", ".sqlite3")


def _sqlite_files_open() -> bool:
    """Whether a database file is still open once batchpoint's own connections are closed.

    MLflow's store (a notebook's ``MlflowClient`` on the workspace's ``tracking.db``, in the process
    that invokes) keeps SQLite connections batchpoint cannot close; carried across the fork, they
    would break the child's locks on the same file.
    """
    try:
        fds = os.listdir("/proc/self/fd")
    except OSError:
        return True  # unknown: do not fork
    for fd in fds:
        with contextlib.suppress(OSError):
            if os.readlink(f"/proc/self/fd/{fd}").endswith(_SQLITE_SUFFIXES):
                return True
    return False


def fork_detached(target: Callable[[], int], log_file: Path, title: str | None = None) -> bool:
    """Run ``target()`` in a detached grandchild process; True once it runs on its own.

    ``title`` replaces the process's command line as ``ps`` shows it (else it would show the
    caller's). False when forking failed, so that the caller can start a fresh interpreter instead.
    """
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()  # else the child would write the caller's buffered output again
    try:
        pid = os.fork()
    except OSError:
        return False
    if pid == 0:
        _intermediate(target, log_file, title)
    try:
        _, status = os.waitpid(pid, 0)
    except ChildProcessError:  # reaped by a SIGCHLD handler of the caller: it did run
        return True
    return os.waitstatus_to_exitcode(status) == 0


def _intermediate(target: Callable[[], int], log_file: Path, title: str | None) -> NoReturn:
    """The first child: a new session, then fork the driver and exit, so init adopts the driver."""
    try:
        os.setsid()
        if os.fork() > 0:
            os._exit(0)
    except BaseException:
        os._exit(70)
    code = 1
    try:
        _cut_loose(log_file, title)
        code = target()
    except BaseException:
        with contextlib.suppress(Exception):
            traceback.print_exc()
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        os._exit(code)


def _cut_loose(log_file: Path, title: str | None) -> None:
    gc.freeze()  # the caller's objects: never scanned by the collector, so their pages stay shared
    for name in _RESET_SIGNALS:
        signal.signal(getattr(signal, name), signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.set_wakeup_fd(-1)
    _redirect_descriptors(log_file)
    sys.stdin = open(0, closefd=False)  # noqa: SIM115 - the process's own stdio
    sys.stdout = open(1, "w", buffering=1, encoding="utf-8", errors="backslashreplace", closefd=False)  # noqa: SIM115
    sys.stderr = open(2, "w", buffering=1, encoding="utf-8", errors="backslashreplace", closefd=False)  # noqa: SIM115
    root = logging.getLogger()
    _kept.append(list(root.handlers))
    root.handlers.clear()
    if title:
        with contextlib.suppress(ImportError):
            import setproctitle

            setproctitle.setproctitle(title)
    with contextlib.suppress(OSError):
        Path("/proc/self/comm").write_text("batchpoint-drv")


def _redirect_descriptors(log_file: Path) -> None:
    devnull = os.open(os.devnull, os.O_RDWR)
    log = os.open(log_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(devnull, 0)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)
    for entry in os.listdir("/proc/self/fd"):
        fd = int(entry)
        if fd > 2 and fd != devnull:
            with contextlib.suppress(OSError):  # the listing's own descriptor is already closed
                os.dup2(devnull, fd)
