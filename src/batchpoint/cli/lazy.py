"""A Typer group whose sub-command groups are imported only when one of them is used.

Building a Typer group needs every command function, so registering ``model``, ``job``, ... the
usual way (``app.add_typer``) imports every command module on every call, ``--version`` included.
Here the root group knows each group by name, module and one-line help; a group's module is imported
the first time the group is resolved (``batchpoint job show`` imports ``batchpoint.cli.job`` only).
Listing the groups (the root's ``--help``) needs only their names and help, so it uses stand-ins
that carry just those: the help text reads exactly as if the real groups had been added. The root's
help is click's plain formatting (no rich import); the groups' and commands' help keeps typer's.

Every command is given its value names (``cli/value_names.py``) as it is built: the root's own
options and commands here, a lazy group's when it is loaded.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import typer
import typer.core
import typer.main

from batchpoint.cli.value_names import name_values


@dataclass(frozen=True)
class LazyGroup:
    """A sub-command group: the module defining its ``app`` (a ``typer.Typer``) and its help line."""

    module: str
    help: str


class LazyTyperGroup(typer.core.TyperGroup):
    """The root group; subclasses name their lazy groups in ``lazy_groups`` (in the order they are listed)."""

    lazy_groups: ClassVar[Mapping[str, LazyGroup]] = {}

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        # Stand-ins keep the names in ``self.commands`` (listing order, "Did you mean ...?" suggestions).
        for name, group in self.lazy_groups.items():
            self.commands[name] = typer.core.TyperGroup(
                name=name, help=group.help, rich_markup_mode=self.rich_markup_mode
            )
        self._pending = set(self.lazy_groups)
        self._listing = False
        name_values(self, self.root_value, root=True)

    @staticmethod
    def root_value(name: str) -> Any:
        """The value of the root's option ``name`` (``output``, ``query``) when it was given; else None."""
        return None

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name in self._pending and not self._listing:
            self.commands[cmd_name] = self._load(cmd_name)
            self._pending.discard(cmd_name)
        return super().get_command(ctx, cmd_name)

    def format_help(self, ctx: Any, formatter: Any) -> None:
        # The commands list reads each group's name and help only: the stand-ins have both. The root's
        # own help is click's plain text (typer's rich panels would import rich, rich.markdown and
        # markdown-it first, 80 ms and more); every command and group below keeps typer's rich help.
        self._listing = True
        markup, self.rich_markup_mode = self.rich_markup_mode, None
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False
            self.rich_markup_mode = markup

    def _load(self, name: str) -> Any:
        """The click group of ``name``, built exactly as ``app.add_typer(module.app, name=..., help=...)`` would."""
        group = self.lazy_groups[name]
        sub_app: typer.Typer = importlib.import_module(group.module).app
        holder = typer.Typer(rich_markup_mode=self.rich_markup_mode, suggest_commands=self.suggest_commands)
        holder.add_typer(sub_app, name=name, help=group.help)
        built: Any = typer.main.get_command(holder)
        name_values(built.commands[name], self.root_value)
        return built.commands[name]
