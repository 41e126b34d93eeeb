"""A pipeline job's local files, uploaded by the remote SDK before the job's YAML goes to the server.

The server cannot read this machine's files, so what names one is uploaded (or registered) and
replaced by what the server answers:

* the pipeline's inputs with a local ``path`` (literals, ``${{...}}`` bindings, references and
  datastore URIs pass as they are);
* each step's ``component:`` given as a local YAML file or inline: registered on the server as an
  anonymous component (its code uploaded and its environment's files read, as ``component create``
  sends them), and the step then names it ``azureml:NAME:VERSION``. Uploading the file's folder
  instead would miss what the file names outside it (``code: ../src``, another step file), and the
  server refuses component files that are not inside its allowed folders; registering sends the
  definition an embedded run would store, checked as ``component create`` checks it;
* an inline step's ``code``, inline ``environment`` and inputs, as a command job's
  (``command_jobs/remote.py``), and a parallel step's ``task.code`` and inline ``task.environment``.

Outputs are the server's business and are not touched.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from batchpoint.command_jobs.remote import upload_command_paths, upload_input
from batchpoint.components.specs import is_local_file

if TYPE_CHECKING:
    from batchpoint.client.transport import Transport


def upload_pipeline_paths(
    transport: Transport, data: dict[str, Any], base_dir: Path | None, *, file: str | None = None
) -> dict[str, Any]:
    """``data`` (a pipeline job's mapping, paths relative to ``base_dir``) as the server may take it."""
    data = dict(data)
    inputs = data.get("inputs")
    if isinstance(inputs, dict):
        data["inputs"] = {
            name: upload_input(transport, f"inputs.{name}", value, base_dir) for name, value in inputs.items()
        }
    jobs = data.get("jobs")
    if isinstance(jobs, dict):
        data["jobs"] = {
            step: _step(transport, step, body, base_dir, file) if isinstance(body, dict) else body
            for step, body in jobs.items()
        }
    return data


def _step(transport: Transport, step: str, body: dict[str, Any], base_dir: Path | None, file: str | None) -> Any:
    prefix = f"jobs.{step}."
    body = upload_command_paths(transport, body, base_dir, prefix=prefix)  # code, environment, inputs
    task = body.get("task")
    if isinstance(task, dict):  # a parallel step: its entry script's folder and environment
        body["task"] = upload_command_paths(transport, task, base_dir, prefix=f"{prefix}task.")
    component = body.get("component")
    if isinstance(component, dict) or (isinstance(component, str) and is_local_file(component)):
        body["component"] = _registered(transport, component, base_dir, f"{prefix}component", file)
    return body


def _registered(
    transport: Transport, component: str | dict[str, Any], base_dir: Path | None, field: str, file: str | None
) -> str:
    """A local or inline component registered (anonymous) on the server: its ``azureml:NAME:VERSION``."""
    from batchpoint.client.remote_components import RemoteComponents

    return RemoteComponents(transport).resolve(component, base_dir=base_dir, field=field, file=file).id
