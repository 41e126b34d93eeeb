"""The paths of a pipeline job sent to the server (``POST /api/v1/jobs``, ``type: pipeline``), checked.

A pipeline job names files in more places than a command job, and each is checked the way
``server/paths.py`` checks a command job's before the pipeline services see it:

* the pipeline's inputs and every step's inputs with a ``path`` (uploads, datastore URIs, data
  assets, or absolute folders inside the allowed roots); ``${{...}}`` bindings and literals are no paths;
* the pipeline's and every step's outputs with an explicit ``path``: where a job may write (never
  into uploads); a datastore URI becomes its local folder, since pipeline outputs are local folders;
* an inline step's ``code`` and a parallel step's ``task.code`` (turned into local folders) and
  their inline ``environment`` (as ``POST /api/v1/environments``);
* a step's ``component:``: references pass; an inline mapping has its paths checked as
  ``POST /api/v1/components`` checks them; a component YAML *of the server* (the remote SDK never sends
  one: it registers local component files itself) must lie inside the allowed roots, and is read here
  and sent on inline, with every path in it checked too, so that a file inside the roots cannot
  name code outside them (``code: ../../elsewhere``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from batchpoint.command_jobs.runspec import LITERAL_TYPES
from batchpoint.common.specpaths import PathRef, replace_paths
from batchpoint.components.specs import ComponentSpec, dump, is_local_file, load_local, parse_component, walk
from batchpoint.errors import InvalidInput

if TYPE_CHECKING:
    from collections.abc import Callable

    from batchpoint.server.paths import PathPolicy


def checked_pipeline(spec: dict[str, Any], paths: PathPolicy) -> dict[str, Any]:
    """The pipeline job's spec with every path in it checked (and turned into what the services take)."""
    spec = dict(spec)
    if isinstance(spec.get("inputs"), dict):
        spec["inputs"] = _inputs(spec["inputs"], "inputs", paths)
    if isinstance(spec.get("outputs"), dict):
        spec["outputs"] = _outputs(spec["outputs"], "outputs", paths)
    jobs = spec.get("jobs")
    if isinstance(jobs, dict):
        spec["jobs"] = {
            step: _step(body, f"jobs.{step}", paths) if isinstance(body, dict) else body for step, body in jobs.items()
        }
    return spec


def _step(body: dict[str, Any], field: str, paths: PathPolicy) -> dict[str, Any]:
    for key in ("inputs", "outputs", "task"):
        # Each is read as a mapping further on; any other shape is the sender's error, never the server's.
        if body.get(key) is not None and not isinstance(body[key], dict):
            raise InvalidInput(f"a step's '{key}' is a mapping", field=f"{field}.{key}")
    body = _code_and_environment(dict(body), field, paths)
    if isinstance(body.get("inputs"), dict):
        body["inputs"] = _inputs(body["inputs"], f"{field}.inputs", paths)
    if isinstance(body.get("outputs"), dict):
        body["outputs"] = _outputs(body["outputs"], f"{field}.outputs", paths)
    if isinstance(body.get("task"), dict):  # a parallel step's entry script: its code and environment
        body["task"] = _code_and_environment(dict(body["task"]), f"{field}.task", paths)
    component = body.get("component")
    if isinstance(component, dict):
        body["component"] = _inline_component(component, f"{field}.component", paths)
    elif isinstance(component, str) and is_local_file(component):
        body["component"] = _server_component(component, f"{field}.component", paths)
    return body


def _code_and_environment(body: dict[str, Any], field: str, paths: PathPolicy) -> dict[str, Any]:
    code = body.get("code")
    if isinstance(code, str) and not code.startswith("snapshot:"):
        body["code"] = paths.local_file(code, f"{field}.code")
    if isinstance(body.get("environment"), dict):
        body["environment"] = paths.environment_spec(body["environment"])
    return body


def _is_path(port: Any) -> bool:
    """A ``{path: ...}`` that names a location: not a literal, not a ``${{...}}`` binding."""
    if not isinstance(port, dict) or port.get("path") is None or port.get("type") in LITERAL_TYPES:
        return False
    return not (isinstance(port["path"], str) and "${{" in port["path"])


def _inputs(ports: dict[str, Any], field: str, paths: PathPolicy) -> dict[str, Any]:
    return _each(ports, field, paths.invoke_input)


def _outputs(ports: dict[str, Any], field: str, paths: PathPolicy) -> dict[str, Any]:
    def where(value: Any, name: str) -> Any:
        checked = paths.output_path(value, name)
        if isinstance(checked, str) and checked.startswith("azureml://"):
            # A pipeline's outputs are local folders (``graph.py``); the server knows where a URI lies.
            return str(paths.services.datastores.resolve_uri(checked, field=name))
        return checked

    return _each(ports, field, where)


def _each(ports: dict[str, Any], field: str, check: Callable[[Any, str], Any]) -> dict[str, Any]:
    return {
        name: {**port, "path": check(port["path"], f"{field}.{name}.path")} if _is_path(port) else port
        for name, port in ports.items()
    }


def _inline_component(data: dict[str, Any], field: str, paths: PathPolicy) -> dict[str, Any]:
    """An inline ``component:`` mapping, its paths (its steps' too) checked as the components route does."""
    spec = walk(
        parse_component(data, prefix=field),
        lambda s, _folder, _file: paths.spec(s),
        base_dir=None,
        file=None,
        local_files="refuse",
        prefix=f"{field}.",
    )
    return dump(spec)


def _server_component(ref: str, field: str, paths: PathPolicy) -> dict[str, Any]:
    """A component YAML of the server (inside the roots), read and sent on inline with its paths checked."""
    location = paths.local_file(ref.removeprefix("file:"), field)
    spec, path = load_local(str(location), None, field, None, ())
    folder = path.parent

    def visit(s: ComponentSpec, _folder: Path | None, _file: str | None) -> ComponentSpec:
        checked: ComponentSpec = paths.spec(replace_paths(s, lambda r: _absolute(r, folder)))
        return checked

    return dump(walk(spec, visit, base_dir=folder, file=str(path), local_files="refuse", prefix=f"{field}."))


def _absolute(ref: PathRef, folder: Path) -> Any:
    """A path relative to the component file, made absolute, so that it is checked where it really points."""
    value = ref.location
    if value is None or value.startswith("/") or ":" in value.split("/", 1)[0]:
        return ref.value
    return str(folder / value)
