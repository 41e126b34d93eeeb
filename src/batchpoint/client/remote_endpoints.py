"""Endpoint, deployment, job and token services over HTTP."""

from __future__ import annotations

import builtins
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from batchpoint.client.transport import API, Transport, q, with_file
from batchpoint.common import overrides as ov
from batchpoint.common import yamlio
from batchpoint.common.specpaths import override_names_path
from batchpoint.endpoints.deployment_service import editable
from batchpoint.endpoints.schemas import BatchDeployment, BatchEndpoint
from batchpoint.endpoints.specs import (
    BatchEndpointSpec,
    DeploymentSpec,
    apply_overrides,
    parse_deployment,
    parse_endpoint,
)
from batchpoint.errors import BatchpointError, InvalidInput
from batchpoint.jobs import downloads
from batchpoint.jobs.invoke import InvokeRequest
from batchpoint.jobs.schemas import Job
from batchpoint.tokens.service import NewToken, TokenInfo


class RemoteBatchEndpoints:
    def __init__(self, transport: Transport) -> None:
        self.t = transport

    def create(self, spec: BatchEndpointSpec) -> BatchEndpoint:
        return self.t.send(BatchEndpoint, "POST", f"{API}/batch-endpoints", json=spec.model_dump(mode="json"))

    def create_from_file(
        self, path: Path | None, *, name: str | None = None, overrides: builtins.list[tuple[str, Any]] | None = None
    ) -> BatchEndpoint:
        if path is None and name is None:
            raise InvalidInput("give a YAML file (--file) or a name (--name)", field="name")
        file = str(path) if path is not None else None
        data = yamlio.load_file(path) if path is not None else {}
        ov.apply(data, overrides or [])
        if name is not None:
            data["name"] = name
        spec = parse_endpoint(data, file=file)
        try:
            return self.create(spec)
        except BatchpointError as exc:
            raise with_file(exc, file) from None

    def get(self, name: str) -> BatchEndpoint:
        return self.t.get(BatchEndpoint, f"{API}/batch-endpoints/{q(name)}")

    def list(self) -> builtins.list[BatchEndpoint]:
        return self.t.get_list(BatchEndpoint, f"{API}/batch-endpoints")

    def update(
        self, name: str | None, *, overrides: builtins.list[tuple[str, Any]] | None = None, path: Path | None = None
    ) -> BatchEndpoint:
        file = str(path) if path is not None else None
        loaded = yamlio.load_file(path) if path is not None else None
        if name is None and loaded is not None:
            name = str(loaded.get("name") or "") or None
        if name is None:
            raise InvalidInput("give the endpoint's name (--name) or a YAML file with a name (--file)", field="name")
        body = {"spec": loaded, "overrides": overrides or []}
        try:
            return self.t.send(BatchEndpoint, "PATCH", f"{API}/batch-endpoints/{q(name)}", json=body)
        except BatchpointError as exc:
            raise with_file(exc, file) from None

    def delete(self, name: str) -> None:
        self.t.request("DELETE", f"{API}/batch-endpoints/{q(name)}")


class RemoteBatchDeployments:
    def __init__(self, transport: Transport) -> None:
        self.t = transport

    def _url(self, endpoint_name: str, *parts: str) -> str:
        return "/".join([f"{API}/batch-endpoints/{q(endpoint_name)}/deployments", *(q(p) for p in parts)])

    def _upload_paths(self, data: dict[str, Any], base_dir: Path | None) -> dict[str, Any]:
        """The local files a deployment names (its ``SpecPath`` fields), uploaded; the spec then names their URIs."""
        uploaded: dict[str, Any] = self.t.upload_paths(data, DeploymentSpec, base_dir=base_dir)
        return uploaded

    def _send(self, method: str, url: str, body: dict[str, Any], file: str | None) -> BatchDeployment:
        try:
            return self.t.send(BatchDeployment, method, url, json=body)
        except BatchpointError as exc:
            raise with_file(exc, file) from None

    def create(
        self,
        spec: DeploymentSpec,
        *,
        base_dir: Path | None,
        file: str | None = None,
        set_default: bool = False,
    ) -> BatchDeployment:
        data = spec.model_dump(mode="json", exclude_unset=True)
        data["name"], data["endpoint_name"] = spec.name, spec.endpoint_name
        try:
            data = self._upload_paths(data, base_dir)
        except BatchpointError as exc:
            raise with_file(exc, file) from None
        return self._send("POST", self._url(spec.endpoint_name), {"spec": data, "set_default": set_default}, file)

    def create_from_file(
        self,
        path: Path,
        *,
        endpoint_name: str | None = None,
        name: str | None = None,
        overrides: builtins.list[tuple[str, Any]] | None = None,
        set_default: bool = False,
    ) -> BatchDeployment:
        path = Path(path)
        data = self._load(path, name, endpoint_name, overrides)
        try:
            data = self._upload_paths(data, path.resolve().parent)
        except BatchpointError as exc:
            raise with_file(exc, str(path)) from None
        url = self._url(str(data["endpoint_name"]))
        return self._send("POST", url, {"spec": data, "set_default": set_default}, str(path))

    @staticmethod
    def _load(
        path: Path, name: str | None, endpoint_name: str | None, overrides: builtins.list[tuple[str, Any]] | None
    ) -> dict[str, Any]:
        data = yamlio.load_file(path)
        apply_overrides(data, overrides or [])
        if name is not None:
            data["name"] = name
        if endpoint_name is not None:
            data["endpoint_name"] = endpoint_name
        parse_deployment(dict(data), file=str(path))  # the file's mistakes are reported before any upload
        return data

    def update(
        self,
        name: str | None,
        endpoint_name: str | None,
        *,
        path: Path | None = None,
        overrides: builtins.list[tuple[str, Any]] | None = None,
        set_default: bool = False,
    ) -> BatchDeployment:
        pairs = overrides or []
        file = str(path) if path is not None else None
        if path is not None:
            data: dict[str, Any] | None = self._load(Path(path), name, endpoint_name, pairs)
            assert data is not None
            name, endpoint_name = str(data["name"]), str(data["endpoint_name"])
            data = self._upload_paths(data, Path(path).resolve().parent)
            pairs = []
        elif any(override_names_path(DeploymentSpec, key) is not None for key, _ in pairs):
            if not name or not endpoint_name:
                raise InvalidInput("give the deployment's name and its endpoint's name (--name, --endpoint-name)")
            data = apply_overrides(editable(self.get(name, endpoint_name)), pairs)
            data = self._upload_paths(data, Path.cwd())
            pairs = []
        else:
            data = None
        if not name or not endpoint_name:
            raise InvalidInput("give the deployment's name and its endpoint's name (--name, --endpoint-name)")
        body = {"spec": data, "overrides": pairs, "set_default": set_default}
        return self._send("PATCH", self._url(endpoint_name, name), body, file)

    def get(self, name: str, endpoint_name: str) -> BatchDeployment:
        return self.t.get(BatchDeployment, self._url(endpoint_name, name))

    def list(self, endpoint_name: str) -> builtins.list[BatchDeployment]:
        return self.t.get_list(BatchDeployment, self._url(endpoint_name))

    def delete(self, name: str, endpoint_name: str) -> None:
        self.t.request("DELETE", self._url(endpoint_name, name))

    def route(self, endpoint_name: str, deployment_name: str | None = None) -> BatchDeployment:
        params = {"deployment_name": deployment_name} if deployment_name else {}
        return self.t.get(BatchDeployment, f"{API}/batch-endpoints/{q(endpoint_name)}/route", params=params)


class RemoteJobs:
    def __init__(self, transport: Transport) -> None:
        self.t = transport

    def invoke(self, endpoint_name: str, request: InvokeRequest, *, start: bool = True) -> Job:
        """Start a job on the server (it starts when the server's queue has room, whatever ``start`` says);
        a local input file or folder is uploaded to its default datastore first."""
        request = self.t.upload_paths(request)
        if request.inputs:  # a pipeline deployment's named inputs: local files and folders are uploaded too
            from batchpoint.command_jobs.remote import upload_named_inputs

            request = request.model_copy(update={"inputs": upload_named_inputs(self.t, request.inputs)})
        body = request.model_dump(mode="json", exclude_none=True)
        if request.overrides is not None:
            body["overrides"] = [list(pair) for pair in request.pairs()]
        return self.t.send(Job, "POST", f"{API}/batch-endpoints/{q(endpoint_name)}/jobs", json=body)

    def create(
        self,
        source: str | Path | dict[str, Any],
        *,
        name: str | None = None,
        set_pairs: builtins.list[tuple[str, Any]] | None = None,
        base_dir: Path | None = None,
        file: str | None = None,
        start: bool = True,
    ) -> Job:
        """Create a command or pipeline job on the server (its queue starts it, whatever ``start`` says); the
        local code folders, inputs and component files are uploaded first (``command_jobs/remote.py``,
        ``pipelines/remote.py``)."""
        import copy

        if isinstance(source, dict):
            data = copy.deepcopy(source)
        else:
            path = Path(source)
            data = yamlio.load_file(path)
            base_dir, file = path.resolve().parent, str(path)
        try:
            ov.apply(data, set_pairs or [])
            data = self._upload_job_paths(data, base_dir, file)
            return self.t.send(Job, "POST", f"{API}/jobs", json={"spec": data, "name": name})
        except BatchpointError as exc:
            raise with_file(exc, file) from None

    def _upload_job_paths(self, data: dict[str, Any], base_dir: Path | None, file: str | None) -> dict[str, Any]:
        """The job's local files uploaded (``command_jobs/remote.py``, ``pipelines/remote.py``), by its type."""
        from batchpoint.command_jobs.service import default_experiment
        from batchpoint.jobs.creation import job_type

        kind = job_type(data, file)
        if kind not in ("command", "pipeline"):
            return data  # the server names what it cannot create
        # Azure files it under the folder it was created from: this machine's, not the server's.
        data.setdefault("experiment_name", default_experiment(base_dir))
        if kind == "command":
            from batchpoint.command_jobs.remote import upload_command_paths

            return upload_command_paths(self.t, data, base_dir)
        from batchpoint.pipelines.remote import upload_pipeline_paths

        return upload_pipeline_paths(self.t, data, base_dir, file=file)

    def get(self, name: str) -> Job:
        return self.t.get(Job, f"{API}/jobs/{q(name)}")

    def list(
        self,
        *,
        endpoint_name: str | None = None,
        deployment_name: str | None = None,
        status: str | None = None,
        limit: int = 100,
        experiment_name: str | None = None,
        parent_job_name: str | None = None,
        job_type: str | None = None,
    ) -> builtins.list[Job]:
        params: dict[str, Any] = {"limit": limit}
        filters = {
            "endpoint_name": endpoint_name, "deployment_name": deployment_name, "status": status,
            "experiment_name": experiment_name, "parent_job_name": parent_job_name, "type": job_type,
        }  # fmt: skip
        params.update({key: value for key, value in filters.items() if value is not None})
        return self.t.get_list(Job, f"{API}/jobs", params=params)

    def wait(
        self,
        name: str,
        *,
        timeout: float | None = None,
        poll: float = 0.5,
        on_update: Callable[[Job], None] | None = None,
    ) -> Job:
        from batchpoint.jobs.waiting import wait_for_job

        return wait_for_job(self.get, name, timeout=timeout, poll=poll, on_update=on_update)

    def cancel(self, name: str) -> Job:
        return self.t.send(Job, "POST", f"{API}/jobs/{q(name)}/cancel")

    def resume(self, name: str) -> Job:
        return self.t.send(Job, "POST", f"{API}/jobs/{q(name)}/resume")

    def read_log(self, name: str, file: str | None = None) -> str:
        params = {} if file is None else {"file": file}
        return self.t.request("GET", f"{API}/jobs/{q(name)}/logs", params=params).text

    def download(
        self,
        name: str,
        *,
        output_name: str | None = "score",
        download_path: str | Path = ".",
        all: bool = False,
        partial: bool = False,
    ) -> Path:
        """Fetch outputs (and with ``all`` the logs) into ``download_path/named-outputs/<name>``, as embedded.

        Refused and laid out as embedded (``jobs/downloads.py``); the server refuses the same way.
        """
        job = self.get(name)
        todo = downloads.plan(job, output_name=output_name, all=all, partial=partial)
        dest = Path(download_path).expanduser().resolve()
        for out_name in todo.outputs:
            url = f"{API}/jobs/{q(name)}/outputs/{q(out_name)}"
            if todo.kind == "partial":
                self._fetch(f"{url}?partial=true", dest / downloads.PARTIAL_DIR / out_name)
            else:
                self._fetch(url, dest / "named-outputs" / out_name)
        if todo.kind == "partial":
            downloads.write_readme(dest, job, todo.outputs)
        if todo.logs:
            self._fetch(f"{API}/jobs/{q(name)}/logs/archive", dest / "artifacts" / "logs")
        return dest

    def _fetch(self, url: str, target: Path) -> None:
        staging = target.parent / f".bp-download-{time.time_ns()}"
        try:
            self.t.download(url, staging)
            shutil.copytree(staging, target, dirs_exist_ok=True)
        finally:
            shutil.rmtree(staging, ignore_errors=True)


class RemoteTokens:
    """Tokens of the server (owner only)."""

    def __init__(self, transport: Transport) -> None:
        self.t = transport

    def create(
        self,
        role: str,
        *,
        name: str | None = None,
        endpoint: str | None = None,
        invoke_only: bool = False,
        expires: str | None = None,
        grants: builtins.list[str] | None = None,
    ) -> NewToken:
        body = {
            "role": role, "name": name, "endpoint": endpoint, "invoke_only": invoke_only, "expires": expires,
            "grants": grants,
        }  # fmt: skip
        return self.t.send(NewToken, "POST", f"{API}/tokens", json=body)

    def list(self) -> builtins.list[TokenInfo]:
        return self.t.get_list(TokenInfo, f"{API}/tokens")

    def revoke(self, token_id: str) -> TokenInfo:
        return self.t.send(TokenInfo, "DELETE", f"{API}/tokens/{q(token_id)}")
