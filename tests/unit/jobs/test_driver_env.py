"""What a server-started driver's environment holds."""

from __future__ import annotations

from batchpoint.config import EngineSettings, Settings
from batchpoint.launcher.driver_env import driver_environment


def test_no_tokens_the_database_url_and_only_the_engine_settings_that_are_set() -> None:
    settings = Settings(database_url="sqlite:///x.db", engine=EngineSettings(heartbeat_seconds=0.5, worker_user=None))
    env = driver_environment(
        settings, {"BATCHPOINT_BOOTSTRAP_TOKEN": "t" * 40, "BATCHPOINT_TOKEN": "x", "PATH": "/bin"}
    )
    assert "BATCHPOINT_BOOTSTRAP_TOKEN" not in env and "BATCHPOINT_TOKEN" not in env
    assert env["BATCHPOINT_DATABASE_URL"] == "sqlite:///x.db" and env["PATH"] == "/bin"
    assert env["BATCHPOINT_ENGINE_HEARTBEAT_SECONDS"] == "0.5"
    assert "BATCHPOINT_ENGINE_WORKER_USER" not in env  # unset stays unset, never the string "None"
