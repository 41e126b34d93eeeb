"""The environment a job driver starts with, when someone other than the invoker starts it (the server).

A driver needs the metadata database and the engine's settings, and nothing secret: the server's
bootstrap token and a client's token stay behind. Settings that are unset stay unset (a driver
reading ``BATCHPOINT_ENGINE_WORKER_USER=None`` would look for a user named ``None``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from batchpoint.config import Settings

SECRETS = ("BATCHPOINT_BOOTSTRAP_TOKEN", "BATCHPOINT_TOKEN")


def driver_environment(settings: Settings, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """``environ`` (default: this process's) without secrets, plus the database URL and engine settings."""
    source = os.environ if environ is None else environ
    env = {k: v for k, v in source.items() if k not in SECRETS}
    if settings.database_url:
        env["BATCHPOINT_DATABASE_URL"] = settings.database_url
    engine = settings.engine
    for name in type(engine).model_fields:
        value = getattr(engine, name)
        if value is not None:
            env[f"BATCHPOINT_ENGINE_{name.upper()}"] = str(value)
    return env
