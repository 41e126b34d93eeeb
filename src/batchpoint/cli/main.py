"""The ``batchpoint`` root command: global options, sub-command groups, and error reporting."""

from __future__ import annotations

import logging
import sys
import time
import traceback
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

from batchpoint._version import __version__
from batchpoint.cli import login as login_cli
from batchpoint.cli import notices, workspace
from batchpoint.cli import server as server_cli
from batchpoint.cli.common import CliState
from batchpoint.cli.lazy import LazyGroup, LazyTyperGroup
from batchpoint.cli.output import OutputFormat
from batchpoint.errors import BatchpointError
from batchpoint.nouns import NOUNS

# Each group's module is imported only when the group is used (see cli/lazy.py): a call imports the
# SDK and the services it needs inside its command function, and --version and --help none of them.
# The nouns' groups come from their entries in nouns.py; the rest are the CLI's own.
GROUPS = {
    **{n.cli.name: LazyGroup(n.cli.module, n.cli.help) for n in NOUNS if n.cli is not None},
    "token": LazyGroup("batchpoint.cli.token", "Server tokens: create, list, revoke."),
    "supervisor": LazyGroup("batchpoint.cli.supervisor", "The workspace supervisor: start, stop, status."),
    "status": LazyGroup("batchpoint.cli.status", "Show the target and whether its supervisor runs."),
}


ROOT_VALUES: dict[str, Any] = {}
"""``-o``/``--query`` given before the command: what a command's own ``-o``/``--query`` falls back to."""


class RootGroup(LazyTyperGroup):
    lazy_groups = GROUPS

    @staticmethod
    def root_value(name: str) -> Any:
        return ROOT_VALUES.get(name)


app = typer.Typer(
    name="batchpoint",
    help="Self-hosted ML batch inference: Azure ML style batch endpoints, deployments and jobs.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    cls=RootGroup,
    context_settings={"max_content_width": 120},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"batchpoint {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    ctx: typer.Context,
    workspace_path: Annotated[
        Path | None,
        typer.Option(
            "--workspace", "-w", envvar="BATCHPOINT_WORKSPACE", help="Workspace folder (default: search upwards)."
        ),
    ] = None,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
    output: Annotated[
        OutputFormat | None,
        typer.Option(
            "--output", "-o", case_sensitive=False, help="Output format of the command's result (as its own -o)."
        ),
    ] = None,
    query: Annotated[str | None, typer.Option("--query", help="JMESPath query of the command's result.")] = None,
    only_show_errors: Annotated[
        bool, typer.Option("--only-show-errors", help="Print no warnings or notes, only errors (anywhere).")
    ] = False,
    debug: Annotated[
        bool, typer.Option("--debug", help="Log everything to stderr, with the traceback of an error (anywhere).")
    ] = False,
    verbose: Annotated[bool, typer.Option("--verbose", help="Log what is done to stderr (anywhere).")] = False,
) -> None:
    # --only-show-errors, --debug and --verbose are taken off the command line by run() wherever they
    # are (as az takes them); here when the app is called some other way.
    if only_show_errors or debug or verbose:
        configure(GlobalFlags(only_show_errors=only_show_errors, debug=debug, verbose=verbose))
    ROOT_VALUES.clear()
    ROOT_VALUES.update({k: v for k, v in (("output", output), ("query", query)) if v is not None})
    ctx.obj = CliState(workspace_path)


workspace.register(app)
server_cli.register(app)
login_cli.register(app)


@dataclass(frozen=True)
class GlobalFlags:
    """The flags every ``az`` command takes, accepted anywhere on the command line."""

    only_show_errors: bool = False
    debug: bool = False
    verbose: bool = False


_FLAGS = {"--only-show-errors": "only_show_errors", "--debug": "debug", "--verbose": "verbose"}
_handler: list[logging.Handler] = []  # the handler run() added to the root logger (one per process)


def take_global_flags(argv: list[str]) -> tuple[list[str], GlobalFlags]:
    """``argv`` without the global flags (wherever they are, up to a ``--``), and the flags found."""
    found: dict[str, bool] = {}
    rest: list[str] = []
    for i, arg in enumerate(argv):
        if arg == "--":
            rest += argv[i:]
            break
        if arg in _FLAGS:
            found[_FLAGS[arg]] = True
        else:
            rest.append(arg)
    return rest, GlobalFlags(**found)


def configure(flags: GlobalFlags) -> None:
    """Notices and logging for this call: ``--only-show-errors`` silences warnings and notes; ``--verbose``
    logs INFO and ``--debug`` everything to stderr."""
    notices.set_quiet(flags.only_show_errors and not flags.debug)
    root = logging.getLogger()
    for handler in _handler:
        root.removeHandler(handler)
    _handler.clear()
    level = logging.DEBUG if flags.debug else logging.INFO if flags.verbose else None
    if level is None and flags.only_show_errors:
        level = logging.ERROR
    if level is not None:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(levelname)s: %(name)s: %(message)s"))
        root.addHandler(handler)
        root.setLevel(level)
        _handler.append(handler)
    # Python warnings (the SDK's warnings.warn) read like the CLI's own: one WARNING line, silenced alike.
    warnings.showwarning = _show_warning


def _show_warning(message: Warning | str, category: type[Warning], *args: Any, **kwargs: Any) -> None:
    notices.warn(str(message))


def run() -> None:
    """Console-script entry point: user errors print one clear message and exit with their code.

    An unexpected error prints one line too, and its traceback with ``--debug``.
    """
    args, flags = take_global_flags(sys.argv[1:])
    configure(flags)
    started = time.monotonic()
    try:
        _run(args, flags)
    finally:  # as az --verbose ends: "Command ran in N seconds" (never the arguments: they may hold a token)
        logging.getLogger("batchpoint.cli").info("command ran in %.3f seconds", time.monotonic() - started)


def _run(args: list[str], flags: GlobalFlags) -> None:
    try:
        # Without standalone mode click returns (not raises) the exit code of typer.Exit and of Ctrl-C (130).
        code = app(args=args, standalone_mode=False)
        if isinstance(code, int) and code:
            sys.exit(code)
    except BatchpointError as exc:
        if flags.debug:
            traceback.print_exc()
        typer.secho(f"ERROR: {exc}", err=True, fg=typer.colors.RED)
        sys.exit(exc.exit_code)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        typer.echo("Aborted.", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:  # click usage errors (typer bundles its own click) and anything unexpected
        code = getattr(exc, "exit_code", None)
        show = getattr(exc, "show", None)
        if callable(show) and isinstance(code, int):
            show()
            sys.exit(code)
        if flags.debug:
            traceback.print_exc()
            sys.exit(1)
        typer.secho(
            f"ERROR: unexpected error: {type(exc).__name__}: {exc} (run the command again with --debug for the "
            "traceback, and report it)",
            err=True,
            fg=typer.colors.RED,
        )
        sys.exit(1)
