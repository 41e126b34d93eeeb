"""Value names in help, as ``az`` and click show them: ``--tag KEY=VALUE``, ``--mini-batch-size INTEGER``.

Recent typer versions name an option's value after its Python type (``<str>``, ``<list[str]>``) and
give flags a ``<bool>`` value they do not take. ``name_values`` walks a built click command (a group
with everything below it) once, when it is built, and sets each option's ``metavar``: the name of
the value for the options listed in ``NAMED``, else the click name of its type (``TEXT``,
``INTEGER``, ``PATH``, ``[a|b]`` for choices), and nothing for flags. An option that already has a
``metavar`` keeps it.

Also here, for the same walk: ``fall_back_to_root`` makes a command's ``--output``/``--query`` take
the value given before the command (``batchpoint -o table model list``) when it was not given after.
"""

from __future__ import annotations

import contextlib
import enum
import pathlib
from collections.abc import Callable
from typing import Any

NAMED = {
    "--tag": "KEY=VALUE",
    "--set": "KEY=VALUE",
    "--query": "JMESPATH",
    "--resources": "JSON",
    "--expires": "DURATION",
    "--grant": "URI",
}
"""Options whose values are better named by what they hold than by their type."""

_TYPES = {str: "TEXT", int: "INTEGER", float: "FLOAT", pathlib.Path: "PATH"}


def name_values(command: Any, root_values: Callable[[str], Any] | None = None, *, root: bool = False) -> None:
    """Set the value names of ``command``'s options and of every command below it (see the module).

    With ``root_values``, the ``--output``/``--query`` of the commands below the root fall back to
    the root's (``root``: ``command`` is the root, whose own options stay as they are).
    """
    for param in getattr(command, "params", []):
        _name(param)
        if root_values is not None and not root and getattr(param, "name", None) in ("output", "query"):
            fall_back_to_root(param, root_values)
    with contextlib.suppress(Exception):  # the help option is made on demand, per command
        help_option = command.get_help_option(command.context_class(command))
        if help_option is not None:
            help_option.metavar = ""
    for sub in (getattr(command, "commands", None) or {}).values():
        name_values(sub, root_values)


def _name(param: Any) -> None:
    kind = getattr(param, "param_type_name", "")
    if kind == "argument" and hasattr(param, "display_type_rich"):
        # typer shows an argument's type next to its name (``path <path>``); the click name instead.
        type_name = _type_name(param)
        param.display_type_rich = lambda ctx: type_name
        return
    if kind != "option" or param.metavar is not None:
        return
    if getattr(param, "is_flag", False) or getattr(param, "count", False):
        param.metavar = ""  # a flag takes no value
        return
    named = next((NAMED[o] for o in param.opts if o in NAMED), None)
    param.metavar = named or _type_name(param)


def _type_name(param: Any) -> str:
    descriptor = getattr(param, "type_descriptor", None)
    if descriptor is not None:  # typer's own click (typer 0.2x and later)
        if descriptor.is_choice:
            return "[" + "|".join(_choice(c) for c in descriptor.choices or ()) + "]"
        if descriptor.is_path:
            return "PATH"
        annotation = descriptor.annotation
        if descriptor.is_list:
            annotation = next(iter(getattr(annotation, "__args__", ())), str)
        return _TYPES.get(annotation, "TEXT")
    click_type = getattr(param, "type", None)  # click's ParamType (older typer): TEXT, INTEGER, ...
    choices = getattr(click_type, "choices", None)
    if choices:
        return "[" + "|".join(_choice(c) for c in choices) + "]"
    return str(getattr(click_type, "name", "text")).upper()


def _choice(value: Any) -> str:
    return str(value.value) if isinstance(value, enum.Enum) else str(value)


class _RootFallback:
    """A default that is the root command's value of the same option when one was given, else the original.

    Called by click when the command's own option was not given. Not a function, and printed as
    the original default, so help still reads ``[default: json]``.
    """

    def __init__(self, name: str, original: Any, root_values: Callable[[str], Any]) -> None:
        self.name = name
        self.original = original
        self.root_values = root_values

    def __call__(self) -> Any:
        given = self.root_values(self.name)
        return self.original if given is None else given

    def __str__(self) -> str:
        return _choice(self.original) if self.original is not None else ""

    __repr__ = __str__


def fall_back_to_root(param: Any, root_values: Callable[[str], Any]) -> None:
    if not isinstance(param.default, _RootFallback) and not callable(param.default):
        param.default = _RootFallback(param.name, param.default, root_values)
