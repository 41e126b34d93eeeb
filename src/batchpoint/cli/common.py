"""Options and helpers every command shares."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from batchpoint.cli.output import OutputFormat

if TYPE_CHECKING:
    # Imported when a command first needs the client: --version and --help never load the SDK.
    from batchpoint.client import Client

OutputOpt = Annotated[
    OutputFormat,
    typer.Option("--output", "-o", help="Output format: json, jsonc, none, table, tsv or yaml.", case_sensitive=False),
]
QueryOpt = Annotated[str | None, typer.Option("--query", help="JMESPath query applied to the output.")]
SetOpt = Annotated[
    list[str] | None, typer.Option("--set", help="Override a field: --set settings.mini_batch_size=20 (repeatable).")
]
# ``--f``: the Azure CLI accepts any unambiguous prefix of a long option, and scripts written for it use this one.
FILE_FLAGS = ("--file", "--f", "-f")
ENDPOINT_FLAGS = ("--endpoint-name", "--endpoint", "-e")
FileOpt = Annotated[Path | None, typer.Option(*FILE_FLAGS, help="YAML specification file.")]
YesOpt = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]
NoWaitOpt = Annotated[
    bool,
    typer.Option("--no-wait", help="Accepted for Azure CLI scripts; batchpoint finishes the change before it returns."),
]


class CliState:
    """What the root callback parsed, handed to every command through ``ctx.obj``."""

    def __init__(self, workspace: Path | None) -> None:
        self.workspace = workspace
        self._client: Client | None = None
        self._noted = False  # one note per command
        self._env_checked = False

    def client(self) -> Client:
        if self._client is None:
            from batchpoint.client import Client
            from batchpoint.config import Settings

            self.note_workspace()  # before opening: it explains a "no workspace at" error too
            self._client = Client(self.workspace, settings=Settings())
            if self._client.server is not None and self.workspace is None:
                self._note_server(self._client.server, from_env=bool(self._client.settings.server))
        return self._client

    def note_workspace(self) -> None:
        """Say on stderr, once, that ``BATCHPOINT_WORKSPACE`` picks another workspace than this folder's."""
        from batchpoint.workspace.origin import env_note

        if not self._env_checked:
            self._env_checked = True
            self._say(env_note(self.workspace))

    def _note_server(self, server: str, *, from_env: bool) -> None:
        from batchpoint.workspace.origin import server_note

        if not self._noted:
            self._say(server_note(server, from_env=from_env))

    def _say(self, text: str | None) -> None:
        from batchpoint.cli import notices

        if text is not None:
            self._noted = True
            notices.note(text)


def state(ctx: typer.Context) -> CliState:
    root_state: CliState = ctx.find_root().obj
    return root_state


def client(ctx: typer.Context) -> Client:
    return state(ctx).client()


def split_tags(pairs: list[str] | None, field: str = "--tag") -> dict[str, str]:
    """``k=v`` strings to a dict (a bare ``k`` gets an empty value)."""
    from batchpoint.errors import InvalidInput

    tags: dict[str, str] = {}
    for pair in pairs or []:
        key, _, value = pair.partition("=")
        if not key:
            raise InvalidInput(f"'{pair}' is not KEY=VALUE", field=field)
        tags[key] = value
    return tags


def parse_set(pairs: list[str] | None) -> list[tuple[str, Any]]:
    """The ``--set`` values as (field, value) pairs; values are YAML scalars (``3`` is an int)."""
    from batchpoint.common.overrides import parse_pairs  # yaml: only for a command that was given --set

    return parse_pairs(pairs)
