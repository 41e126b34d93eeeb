"""``batchpoint status``: the target (workspace or server) and, for a workspace, its background supervisor.

Cheap: it reads the supervisor's files (``batchpoint.supervisor.files``) and, for a server, asks its
``GET /health`` with the standard library; it imports neither SQLAlchemy nor an HTTP client. The
target is chosen as the SDK chooses it: ``--workspace``/``BATCHPOINT_WORKSPACE``, then
``BATCHPOINT_SERVER``, then the saved login, then the workspace found from the current folder.
Every known state (running, starting, unresponsive, stale, not running; a server that is up, down
or unreachable) exits 0.
"""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path
from typing import Any

import typer

from batchpoint.cli.common import CliState, OutputOpt, QueryOpt
from batchpoint.cli.output import OutputFormat

app = typer.Typer(invoke_without_command=True, add_completion=False)

_HINTS = {
    "not_running": "start it with 'batchpoint supervisor start'",
    "stale": "'batchpoint supervisor start' replaces it",
    "unresponsive": "'batchpoint supervisor stop' ends it",
}


def _target(explicit: Path | None) -> tuple[str, str]:
    from batchpoint.supervisor.files import find_root

    if explicit is not None:
        return "workspace", str(find_root(explicit))
    server = os.environ.get("BATCHPOINT_SERVER")
    if server:
        return "server", server
    from batchpoint.client import userconfig  # pydantic only, for the saved login

    saved = userconfig.load()
    if saved.server:
        return "server", saved.server
    return "workspace", str(find_root(None))


def _token() -> str | None:
    token = os.environ.get("BATCHPOINT_TOKEN")
    if token:
        return token
    from batchpoint.client import userconfig

    return userconfig.load().token


def _get_json(url: str, token: str | None, timeout: float) -> tuple[int | None, Any, str | None]:
    """(status code, parsed body or None, error) of ``GET url``, with the standard library."""
    import urllib.error
    import urllib.request

    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            code, body = response.status, response.read()
    except urllib.error.HTTPError as exc:
        code, body = exc.code, exc.read()
    except (OSError, ValueError) as exc:
        return None, None, str(exc)
    try:
        return code, json.loads(body), None
    except ValueError:
        return code, None, None


def server_health(url: str, token: str | None, timeout: float = 5.0) -> dict[str, Any]:
    """``GET URL/health``, and with an owner token ``GET URL/api/v1/supervisor`` (the duties)."""
    base = url.rstrip("/")
    code, health, error = _get_json(base + "/health", None, timeout)
    if code is None:
        return {"state": "unreachable", "status_code": None, "health": None, "error": error}
    result: dict[str, Any] = {"state": "ok" if code == 200 else "unavailable", "status_code": code, "health": health}
    if token and code == 200:
        sup_code, duties, _ = _get_json(base + "/api/v1/supervisor", token, timeout)
        result["supervisor"] = duties if sup_code == 200 and isinstance(duties, dict) else None
    return result


def workspace_report(root: Path) -> dict[str, Any]:
    from batchpoint.supervisor.files import SupervisorFiles

    return {
        "target": {"kind": "workspace", "location": str(root)},
        "supervisor": SupervisorFiles.of(root).probe().to_dict(),
    }


def report(explicit: Path | None) -> dict[str, Any]:
    kind, location = _target(explicit)
    if kind == "workspace":
        return workspace_report(Path(location))
    server = server_health(location, _token())
    return {
        "target": {"kind": "server", "location": location},
        "server": server,
        "supervisor": server.pop("supervisor", None),
    }


def _age(value: Any) -> str:
    if not isinstance(value, str):
        return "not yet"
    try:
        seconds = datetime.now().astimezone().timestamp() - datetime.fromisoformat(value).timestamp()
    except ValueError:
        return value
    return f"{_duration(max(0.0, seconds))} ago"


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    if days:
        return f"{days}d {hours}h {minutes}m"
    return f"{hours}h {minutes}m {secs}s" if hours else f"{minutes}m {secs}s"


def _duty_lines(duties: Any) -> list[str]:
    lines = []
    for duty in duties or []:
        detail = duty.get("detail") or {}
        numbers = " ".join(f"{k}={v}" for k, v in detail.items() if not isinstance(v, dict | list))
        name, state = duty.get("name", "?"), duty.get("state", "?")
        lines.append(f"  {name:<16} {state:<8} last pass {_age(duty.get('last_tick_at'))}  {numbers}".rstrip())
    return lines


def supervisor_lines(supervisor: dict[str, Any]) -> list[str]:
    """The table form of ``Probe.to_dict()``."""
    state = supervisor["state"]
    if state in ("running", "unresponsive"):
        uptime = supervisor.get("uptime_seconds")
        facts = [f"pid {supervisor['pid']}"]
        if uptime is not None:
            facts.append(f"up {_duration(uptime)}")
        beat = supervisor.get("heartbeat_age_seconds")
        facts.append("no heartbeat" if beat is None else f"heartbeat {beat:.1f} s ago")
        if supervisor.get("reason") == "stopping":
            facts.append("stopping")
        line = f"Supervisor:  {state.replace('_', ' ')} ({', '.join(facts)})"
    else:
        line = f"Supervisor:  {state.replace('_', ' ')}: {supervisor.get('reason')}"
    if state in _HINTS:
        line += f"; {_HINTS[state]}"
    lines = [line]
    duties = supervisor.get("duties") or []
    if duties:
        lines.append("Duties:")
        lines.extend(_duty_lines(duties))
    return lines


def render(data: dict[str, Any]) -> str:
    target = data["target"]
    lines = [f"Target:      {target['kind']} {target['location']}"]
    if target["kind"] == "workspace":
        lines.extend(supervisor_lines(data["supervisor"]))
        return "\n".join(lines)
    server = data["server"]
    if server["state"] == "unreachable":
        lines.append(f"Server:      unreachable ({server.get('error')})")
    else:
        lines.append(f"Server:      {server['state']} (GET /health: {server['status_code']})")
    supervisor = data.get("supervisor")
    if isinstance(supervisor, dict):
        lines.append(f"Supervisor:  {supervisor.get('mode', 'server')} mode")
        lines.append("Duties:")
        lines.extend(_duty_lines(supervisor.get("duties")))
    elif server["state"] != "unreachable":
        lines.append("Supervisor:  runs in the server (its duties are shown to owner tokens)")
    return "\n".join(lines)


def show(data: dict[str, Any], output: OutputFormat, query: str | None) -> None:
    if output is OutputFormat.table and not query:
        typer.echo(render(data))
        return
    from batchpoint.cli.output import emit

    emit(data, output, query)


@app.callback()
def status(ctx: typer.Context, output: OutputOpt = OutputFormat.table, query: QueryOpt = None) -> None:
    """Show the target (workspace or server) and whether the workspace's supervisor runs."""
    state: CliState = ctx.find_root().obj
    show(report(state.workspace), output, query)
