"""Calling something every few seconds from a thread while the caller blocks (a driver's heartbeat during a long start)."""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterator

log = logging.getLogger("batchpoint.driver")


@contextlib.contextmanager
def beating(beat: Callable[[], object] | None, interval: float, *, name: str, what: str) -> Iterator[None]:
    """Call ``beat`` every ``interval`` seconds from a daemon thread until the ``with`` block ends.

    A failing call is logged (``could not <what>``) and the next one tried: a database hiccup must not
    end a start that is otherwise fine; the caller's own next write finds real trouble.
    """
    if beat is None:
        yield
        return
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(interval):
            try:
                beat()
            except Exception:
                log.warning("could not %s", what, exc_info=True)

    thread = threading.Thread(target=loop, name=name, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
