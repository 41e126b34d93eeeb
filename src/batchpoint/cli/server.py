"""``batchpoint server``: run the REST API, the job queue and the Azure-style data plane."""

from __future__ import annotations

import copy
import ipaddress
import os
from typing import Annotated, Any

import typer

from batchpoint.cli import notices
from batchpoint.cli.common import CliState

#: Never handed to drivers and workers (they inherit the server's environment and run user code).
SECRET_ENV = ("BATCHPOINT_BOOTSTRAP_TOKEN", "BATCHPOINT_TOKEN")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def log_config(secrets: list[str]) -> dict[str, Any]:
    """uvicorn's logging configuration with secrets masked on every handler (access and error logs).

    The root logger gets uvicorn's stderr handler too, at WARNING: batchpoint's own server loggers
    have no handler of their own, and without one their records went to ``logging.lastResort``,
    past the filter.
    """
    import uvicorn.config

    config: dict[str, Any] = copy.deepcopy(uvicorn.config.LOGGING_CONFIG)
    config.setdefault("filters", {})["redact"] = {"()": "batchpoint.common.redact.RedactingFilter", "secrets": secrets}
    for handler in config["handlers"].values():
        handler["filters"] = [*handler.get("filters", []), "redact"]
    config.setdefault("root", {"handlers": ["default"], "level": "WARNING"})
    return config


def register(app: typer.Typer) -> None:
    @app.command("server")
    def server(
        ctx: typer.Context,
        host: Annotated[
            str | None, typer.Option("--host", help="Interface to listen on (default 127.0.0.1: this machine only).")
        ] = None,
        port: Annotated[int | None, typer.Option("--port", help="Port (default 8080).", min=0, max=65535)] = None,
        log_level: Annotated[str, typer.Option("--log-level", help="debug, info, warning or error.")] = "info",
    ) -> None:
        """Serve the workspace to a team: REST API with tokens, job queue, /metrics, /health."""
        import uvicorn

        from batchpoint.config import Settings
        from batchpoint.server.app import create_app
        from batchpoint.server.guards import allowed_hosts
        from batchpoint.tokens.auth import check_bootstrap

        state: CliState = ctx.find_root().obj
        settings = Settings()
        bootstrap = settings.bootstrap_token.get_secret_value() if settings.bootstrap_token else None
        if bootstrap:
            check_bootstrap(bootstrap)  # a bad one stops the start with a clear message
        # The bootstrap token is free-form (not bp_<id>_<secret>): the filter masks it by its value.
        secrets = [bootstrap.strip()] if bootstrap else []
        for name in SECRET_ENV:
            os.environ.pop(name, None)
        settings.serving.host = host = host or settings.serving.host  # the Host allowlist includes it
        app = create_app(settings, workspace=state.workspace, bootstrap_token=bootstrap)
        port = settings.serving.port if port is None else port
        if not _is_loopback(host):
            notices.warn(
                f"listening on {host}: other machines can reach this server. Put TLS in front of it "
                "(a reverse proxy), since tokens travel in every request. It answers to the host names "
                + ", ".join(allowed_hosts(settings.serving.allowed_hosts, host))
                + "; add others with BATCHPOINT_SERVER_ALLOWED_HOSTS."
            )
        notices.note(f"batchpoint server: http://{host}:{port} (workspace {app.state.ctx.workspace.root})")
        uvicorn.run(
            app,
            host=host,
            port=port,
            log_level=log_level.lower(),
            log_config=log_config(secrets),
            server_header=False,
            proxy_headers=False,
            timeout_keep_alive=5,
            timeout_graceful_shutdown=10,
        )
