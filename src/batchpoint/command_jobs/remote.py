"""A command job's local files, uploaded by the remote SDK before the job's YAML goes to the server.

The code folder and every path-typed input that names a file of this machine are uploaded (the
spec then names them by ``azureml://datastores/...`` URIs); references, datastore URIs and paths of
the server pass as they are. An inline environment's conda and requirements files travel inline,
as ``environment create`` sends them. Output paths are the server's business and are not touched,
and so are ``${{...}}`` bindings (a pipeline step's inputs, see ``pipelines/remote.py``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from batchpoint.command_jobs.runspec import LITERAL_TYPES

if TYPE_CHECKING:
    from batchpoint.client.transport import Transport


def upload_command_paths(
    transport: Transport, data: dict[str, Any], base_dir: Path | None, *, prefix: str = ""
) -> dict[str, Any]:
    """A command job (or a pipeline's inline step, its fields named under ``prefix``) with its local files uploaded."""
    from batchpoint.registry.specs import EnvironmentSpec

    data = dict(data)
    code = data.get("code")
    if isinstance(code, str) and not code.startswith("snapshot:"):
        data["code"] = transport.local_or_remote(code.removeprefix("file:"), base_dir, f"{prefix}code")
    environment = data.get("environment")
    if isinstance(environment, dict):
        data["environment"] = transport.upload_paths(environment, EnvironmentSpec, base_dir=base_dir)
    inputs = data.get("inputs")
    if isinstance(inputs, dict):
        data["inputs"] = {
            name: upload_input(transport, f"{prefix}inputs.{name}", value, base_dir) for name, value in inputs.items()
        }
    return data


def upload_input(transport: Transport, field: str, value: Any, base_dir: Path | None) -> Any:
    """One input value (``field`` names it in errors): a ``{path: ...}`` of this machine uploaded, the rest as it is."""
    if not isinstance(value, dict) or str(value.get("type") or "uri_folder") in LITERAL_TYPES:
        return value
    path = value.get("path")
    # ``{path: ${{parent.inputs.x}}}`` is a pipeline step's binding, not a file: the server checks it (a
    # malformed one too, naming the step) and its driver resolves it.
    if not isinstance(path, str) or "${{" in path:
        return value
    uploaded = transport.local_or_remote(path.removeprefix("file:"), base_dir, f"{field}.path")
    return {**value, "path": uploaded}


def upload_named_inputs(transport: Transport, inputs: dict[str, Any]) -> dict[str, Any]:
    """Named inputs (an invoke's ``inputs.yml``, paths already absolute): local files and folders uploaded."""
    return {name: upload_input(transport, f"inputs.{name}", value, None) for name, value in inputs.items()}
