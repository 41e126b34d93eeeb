"""Commands and options that several asset groups share, defined once.

``VersionedCommands`` adds ``show``, ``list``, ``archive``, ``restore`` and ``delete`` to the group of
a versioned asset (model, data, environment); ``NamedCommands`` adds ``show``, ``list`` and ``delete``
to the group of an asset with a name only (compute, batch endpoint). Each method defines one command,
with the group's noun in its option help and messages and the docstring it is given as its help, so
the command modules keep their help texts next to their own commands.
"""

# No ``from __future__ import annotations``: the option annotations of the commands defined below use
# the arguments of the methods that define them, so they must be evaluated where they are written.

import builtins
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Annotated, Any, Generic, Protocol, TypeVar

import typer

from batchpoint.cli import notices
from batchpoint.cli.common import NoWaitOpt, OutputOpt, QueryOpt, YesOpt, client
from batchpoint.cli.output import OutputFormat, emit

if TYPE_CHECKING:
    from batchpoint.client import Client

VersionOpt = Annotated[str | None, typer.Option("--version", "-v", help="Version (default: the latest).")]
AllVersionsOpt = Annotated[str | None, typer.Option("--version", "-v", help="Version (default: every version).")]
NewVersionOpt = Annotated[str | None, typer.Option("--version", "-v", help="Version (default: next number).")]
NameOverrideOpt = Annotated[str | None, typer.Option("--name", "-n", help="Name (overrides the file's).")]
TagOpt = Annotated[list[str] | None, typer.Option("--tag", "--tags", help="Tag KEY=VALUE (repeatable).")]
DescriptionOpt = Annotated[str | None, typer.Option("--description", "-d", help="Description.")]


class VersionedOperations(Protocol):
    """What the SDK offers for a versioned asset (``client.models``, ``client.data``, ...)."""

    def get(self, name: str, version: str | None = None) -> Any: ...
    def list(self, name: str | None = None, *, include_archived: bool = False) -> builtins.list[Any]: ...
    def archive(self, name: str, version: str | None = None) -> Any: ...
    def restore(self, name: str, version: str | None = None) -> Any: ...
    def delete(self, name: str, version: str) -> None: ...


class NamedOperations(Protocol):
    """What the SDK offers for an asset known by name only (``client.computes``, ...)."""

    def get(self, name: str) -> Any: ...
    def list(self) -> builtins.list[Any]: ...
    def delete(self, name: str) -> None: ...


Command = TypeVar("Command", bound=Callable[..., None])
Operations = TypeVar("Operations")


class _Commands(Generic[Operations]):
    """Defines commands on ``app`` for the asset called ``noun``, whose SDK operations ``operations`` returns."""

    def __init__(
        self, app: typer.Typer, noun: str, operations: Callable[["Client"], Operations], columns: Sequence[str]
    ) -> None:
        self.app = app
        self.noun = noun
        self.operations = operations
        self.columns = columns

    def _name_option(self) -> Any:
        return typer.Option("--name", "-n", help=f"Name of the {self.noun}.")

    def _register(self, command: str, doc: str, function: Command) -> Command:
        function.__doc__ = doc
        return self.app.command(command)(function)


class VersionedCommands(_Commands[VersionedOperations]):
    """The commands every versioned asset group has, shaped like ``az ml model``'s."""

    def show(self, doc: str) -> None:
        """``show --name [--version]``: one version, the latest by default."""
        operations, columns = self.operations, self.columns

        def show(
            ctx: typer.Context,
            name: Annotated[str, self._name_option()],
            version: VersionOpt = None,
            output: OutputOpt = OutputFormat.json,
            query: QueryOpt = None,
        ) -> None:
            emit(operations(client(ctx)).get(name, version), output, query, columns=columns)

        self._register("show", doc, show)

    def list(self, doc: str, *, archived_help: str) -> None:
        """``list [--name] [--include-archived]``."""
        operations, columns = self.operations, self.columns
        name_help = f"Every version of this {self.noun} (without it: the latest version of each)."

        def list_(
            ctx: typer.Context,
            name: Annotated[str | None, typer.Option("--name", "-n", help=name_help)] = None,
            include_archived: Annotated[bool, typer.Option("--include-archived", help=archived_help)] = False,
            output: OutputOpt = OutputFormat.json,
            query: QueryOpt = None,
        ) -> None:
            emit(operations(client(ctx)).list(name, include_archived=include_archived), output, query, columns=columns)

        self._register("list", doc, list_)

    def archive(self, doc: str) -> None:
        """``archive --name [--version]``: one version, or every version."""
        self._add_state_change("archive", doc, lambda ops, name, version: ops.archive(name, version))

    def restore(self, doc: str) -> None:
        """``restore --name [--version]``: one version, or every version."""
        self._add_state_change("restore", doc, lambda ops, name, version: ops.restore(name, version))

    def _add_state_change(
        self, command: str, doc: str, change: Callable[[VersionedOperations, str, str | None], Any]
    ) -> None:
        operations, columns = self.operations, self.columns

        def state_change(
            ctx: typer.Context,
            name: Annotated[str, self._name_option()],
            version: AllVersionsOpt = None,
            output: OutputOpt = OutputFormat.json,
            query: QueryOpt = None,
        ) -> None:
            emit(change(operations(client(ctx)), name, version), output, query, columns=columns)

        self._register(command, doc, state_change)

    def delete(self, doc: str) -> None:
        """``delete --name --version [--yes]``: one version, after asking unless --yes."""
        operations, noun = self.operations, self.noun

        def delete(
            ctx: typer.Context,
            name: Annotated[str, self._name_option()],
            version: Annotated[str, typer.Option("--version", "-v", help="Version to delete.")],
            yes: YesOpt = False,
            no_wait: NoWaitOpt = False,
        ) -> None:
            if not yes:
                typer.confirm(f"Delete {noun} '{name}' version '{version}'?", abort=True)
            operations(client(ctx)).delete(name, version)
            notices.note(f"Deleted {noun} '{name}' version '{version}'.")

        self._register("delete", doc, delete)


class NamedCommands(_Commands[NamedOperations]):
    """The commands every group of assets known by name only has (no versions)."""

    def show(self, doc: str) -> None:
        """``show --name``."""
        operations, columns = self.operations, self.columns

        def show(
            ctx: typer.Context,
            name: Annotated[str, self._name_option()],
            output: OutputOpt = OutputFormat.json,
            query: QueryOpt = None,
        ) -> None:
            emit(operations(client(ctx)).get(name), output, query, columns=columns)

        self._register("show", doc, show)

    def list(self, doc: str) -> None:
        """``list``: all of them."""
        operations, columns = self.operations, self.columns

        def list_(ctx: typer.Context, output: OutputOpt = OutputFormat.json, query: QueryOpt = None) -> None:
            emit(operations(client(ctx)).list(), output, query, columns=columns)

        self._register("list", doc, list_)

    def delete(self, doc: str, *, also: str = "") -> None:
        """``delete --name [--yes]``, after asking unless --yes; ``also`` ends the question (" and ...")."""
        operations, noun = self.operations, self.noun

        def delete(
            ctx: typer.Context,
            name: Annotated[str, self._name_option()],
            yes: YesOpt = False,
            no_wait: NoWaitOpt = False,
        ) -> None:
            if not yes:
                typer.confirm(f"Delete {noun} '{name}'{also}?", abort=True)
            operations(client(ctx)).delete(name)
            notices.note(f"Deleted {noun} '{name}'.")

        self._register("delete", doc, delete)
