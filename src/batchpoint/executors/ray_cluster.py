"""Connecting a job's driver to Ray, and the private single-node Ray of a compute whose address is ``local``.

``local`` starts Ray inside the driver process for one job and stops it when the job ends:

* every port binds the loopback interface only (GCS, raylet, object manager, workers, dashboard
  and its agent): the node's address is 127.0.0.1, so nothing on the network can reach it;
* token authentication is on (``RAY_AUTH_MODE=token``) with a random 256-bit token that exists only
  in the environment of the driver and of the Ray processes it starts, never in a file;
* its session files go to a private temporary folder, removed afterwards, so ``ray.init("auto")``
  from another process does not find it.

The Ray processes of a private cluster share the driver's fate: if the driver is killed, the
operating system stops them (Ray starts them with a parent-death signal), and a resumed driver
starts a fresh one.

``auto`` and ``ray://HOST:PORT`` connect to a cluster someone else runs; its security is theirs
(docs/ray.md says what to set).
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import shutil
import tempfile
import threading
import time
from types import ModuleType
from typing import Any

from batchpoint.errors import BatchpointError, MissingExtra

log = logging.getLogger("batchpoint.driver")
CONNECT_ATTEMPTS = 3
CONNECT_BACKOFF_SECONDS = 2.0

INSTALL_HINT = "pip install -e '.[ray]' in the batchpoint checkout"
TOKEN_AUTH_SINCE = (2, 52)
# Ray reads these at import time: with the first one false, a Linux node takes 127.0.0.1 as its
# address (as on macOS and Windows) and its servers listen on loopback only.
_LOOPBACK_ENV = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}


def import_ray() -> ModuleType:
    """``ray``, or ``MissingExtra`` naming the extra to install."""
    try:
        import ray
    except ImportError as exc:
        raise MissingExtra(f"a compute of type ray needs Ray, which is not installed ({exc}): {INSTALL_HINT}") from None
    return ray


def _version(text: str) -> tuple[int, ...]:
    parts = []
    for piece in text.split(".")[:3]:
        digits = "".join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits) if digits else 0)
    return tuple(parts)


_TOKEN: list[str] = []
_STOPPING: list[threading.Thread] = []


def _wait_for_stops() -> None:
    """Let an earlier connection finish disconnecting (and stopping its private Ray) first."""
    while _STOPPING:
        _STOPPING.pop().join()


def _private_token() -> str:
    """One random token per driver process (Ray caches the token it has read)."""
    if not _TOKEN:
        _TOKEN.append(secrets.token_hex(32))
    return _TOKEN[0]


class RayConnection:
    """This process's connection to Ray for one executor: connect, and disconnect (and stop a private cluster)."""

    def __init__(self, address: str, *, namespace: str, num_cpus: int | None = None, dashboard: bool = True) -> None:
        self.address = address
        self.private = address == "local"
        self.namespace = namespace
        self.num_cpus = num_cpus
        self.dashboard = dashboard
        self.temp_dir: str | None = None
        self.ray: Any = None
        self.info: dict[str, Any] = {}

    def connect(self) -> Any:
        _wait_for_stops()
        if self.private:
            # Before Ray is imported: it reads these once.
            os.environ.update(_LOOPBACK_ENV)
            os.environ["RAY_AUTH_MODE"] = "token"
            os.environ["RAY_AUTH_TOKEN"] = _private_token()
            os.environ.pop("RAY_AUTH_TOKEN_PATH", None)
            os.environ.pop("RAY_ADDRESS", None)
        ray = import_ray()
        if self.private and _version(ray.__version__) < TOKEN_AUTH_SINCE:
            raise MissingExtra(
                f"a private Ray (address local) needs Ray {'.'.join(map(str, TOKEN_AUTH_SINCE))} or later for token "
                f"authentication; Ray {ray.__version__} is installed: pip install -U -e '.[ray]' in the batchpoint checkout"
            )
        if ray.is_initialized():
            ray.shutdown()
        try:
            if self.private:
                self._start_private(ray)
            else:
                self._connect_existing(ray)
        except BatchpointError:
            raise
        except Exception as exc:
            self.close()
            where = "start a private Ray cluster" if self.private else f"connect to the Ray cluster at {self.address}"
            raise BatchpointError(
                f"cannot {where}: {type(exc).__name__}: {exc}",
                hint="check the compute's address and that the cluster runs the same Ray version"
                if not self.private
                else None,
            ) from None
        self.ray = ray
        return ray

    def _start_private(self, ray: Any) -> None:
        with contextlib.suppress(AttributeError):
            # Ray was imported before (an earlier executor of this driver): apply the settings anyway.
            ray._private.ray_constants.ENABLE_RAY_CLUSTER = False
        with contextlib.suppress(Exception):
            ray._raylet.Config.initialize("")
        self.temp_dir = tempfile.mkdtemp(prefix="bp-ray-")
        kwargs: dict[str, Any] = {
            "namespace": self.namespace,
            "num_cpus": self.num_cpus,
            "include_dashboard": self.dashboard,
            "dashboard_host": "127.0.0.1",
            "log_to_driver": False,
            "_temp_dir": self.temp_dir,
            "_node_ip_address": "127.0.0.1",
        }
        context = ray.init(**kwargs)
        self.info = {"cluster": "private", "node_ip": "127.0.0.1", "auth": "token"}
        dashboard = getattr(context, "dashboard_url", None)
        if dashboard:
            self.info["dashboard"] = dashboard
        log.info("started a private Ray %s (loopback only, token auth)", ray.__version__)

    def _connect_existing(self, ray: Any) -> None:
        kwargs: dict[str, Any] = {"namespace": self.namespace, "log_to_driver": False}
        for attempt in range(1, CONNECT_ATTEMPTS + 1):
            try:
                ray.init(address=self.address, **kwargs)
                break
            except ConnectionAbortedError as exc:
                # The cluster answered but failed to set up the session ("Initialization failure
                # from server": Ray Client's per-client server process can die at start on a loaded
                # head node). Try again before giving up; an unreachable address is not retried.
                if attempt == CONNECT_ATTEMPTS:
                    raise
                log.warning("connecting to %s failed (%s: %s); trying again", self.address, type(exc).__name__, exc)
                with contextlib.suppress(Exception):
                    ray.shutdown()
                time.sleep(CONNECT_BACKOFF_SECONDS * attempt)
        self.info = {"cluster": self.address}
        log.info("connected to the Ray cluster at %s (Ray %s)", self.address, ray.__version__)

    def close(self, *, wait: bool = True) -> None:
        """Disconnect, and stop a private Ray; ``wait=False`` does it in a thread the process waits for at exit.

        Stopping a private Ray takes a second or two; once the actors are gone nothing depends on it,
        so the job need not wait (the driver process does, before it exits).
        """
        ray, temp_dir = self.ray, self.temp_dir
        self.ray = None
        self.temp_dir = None

        def stop() -> None:
            if ray is not None:
                with contextlib.suppress(Exception):
                    ray.shutdown()
            if temp_dir:
                shutil.rmtree(temp_dir, ignore_errors=True)

        if wait:
            stop()
            return
        thread = threading.Thread(target=stop, name="ray-shutdown")  # not a daemon: the exit waits for it
        thread.start()
        _STOPPING.append(thread)
