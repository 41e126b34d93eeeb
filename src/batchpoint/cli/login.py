"""``batchpoint login`` / ``logout``: remember a server and a token in the user's config file (mode 0600)."""

from __future__ import annotations

from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    @app.command("login")
    def login(
        server: Annotated[str, typer.Option("--server", help="The server's URL, e.g. http://127.0.0.1:8080.")],
        token: Annotated[
            str | None, typer.Option("--token", help="A token (default: BATCHPOINT_TOKEN, else asked for).")
        ] = None,
    ) -> None:
        """Check the token against the server and save both; every command then talks to that server."""
        from batchpoint.client import userconfig
        from batchpoint.client.remote import RemoteServices
        from batchpoint.config import Settings

        token = token or Settings().token or typer.prompt("Token", hide_input=True)
        remote = RemoteServices(server, token)
        try:
            who = remote.whoami()
        finally:
            remote.close()
        path = userconfig.save(userconfig.UserConfig(server=remote.server, token=token))
        scope = f" on endpoint '{who['endpoint']}'" if who.get("endpoint") else ""
        typer.echo(f"Logged in to {remote.server} as {who['actor']} ({who['role']}{scope}); saved in {path}")

    @app.command("logout")
    def logout() -> None:
        """Forget the saved server and token; commands use the local workspace again."""
        from batchpoint.client import userconfig  # pydantic: only for this command

        if userconfig.clear():
            typer.echo(f"Removed {userconfig.config_path()}")
        else:
            typer.echo("Not logged in.")
