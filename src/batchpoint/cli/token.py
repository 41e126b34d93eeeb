"""``batchpoint token create|list|revoke``: tokens of the server (or, with --workspace, of its database)."""

from __future__ import annotations

from typing import Annotated

import typer

from batchpoint.cli import notices
from batchpoint.cli.common import OutputOpt, QueryOpt, client
from batchpoint.cli.output import OutputFormat, emit

app = typer.Typer(no_args_is_help=True)
COLUMNS = ("id", "name", "role", "endpoint", "invoke_only", "active", "expires_at", "revoked_at")


@app.command("create")
def create(
    ctx: typer.Context,
    role: Annotated[str, typer.Option("--role", help="owner, contributor or reader.")] = "contributor",
    name: Annotated[str | None, typer.Option("--name", "-n", help="A label: who or what uses it.")] = None,
    endpoint: Annotated[str | None, typer.Option("--endpoint", help="Limit the token to this endpoint.")] = None,
    invoke_only: Annotated[
        bool, typer.Option("--invoke-only", help="Only invoke --endpoint and follow its jobs (for applications).")
    ] = False,
    expires: Annotated[
        str | None, typer.Option("--expires", help="Lifetime: 30d, 12h, 15m, 2w, at most 3650d (default: never).")
    ] = None,
    grant: Annotated[
        list[str] | None,
        typer.Option(
            "--grant",
            help="A datastore path (azureml://datastores/<name>/paths/<folder>/) an --endpoint token may read "
            "inputs from and write outputs to; repeatable.",
        ),
    ] = None,
    output: OutputOpt = OutputFormat.json,
    query: QueryOpt = None,
) -> None:
    """Create a token; it is printed once, store it now."""
    created = client(ctx).tokens.create(
        role, name=name, endpoint=endpoint, invoke_only=invoke_only, expires=expires, grants=grant or None
    )
    emit(created, output, query, columns=(*COLUMNS, "token"))
    notices.warn("Store the token now: it is not shown again.")


@app.command("list")
def list_(ctx: typer.Context, output: OutputOpt = OutputFormat.json, query: QueryOpt = None) -> None:
    """List tokens (never their secrets), revoked and expired ones included."""
    emit(client(ctx).tokens.list(), output, query, columns=COLUMNS)


@app.command("revoke")
def revoke(
    ctx: typer.Context,
    token_id: Annotated[str, typer.Option("--id", help="The token's id (see 'token list').")],
    output: OutputOpt = OutputFormat.json,
    query: QueryOpt = None,
) -> None:
    """Revoke a token at once."""
    emit(client(ctx).tokens.revoke(token_id), output, query, columns=COLUMNS)
