"""The SDK over HTTP: objects with the services' method names and signatures, talking to a server.

``Client(server=URL, token=T)`` hands a ``RemoteServices`` to the same operations classes the
embedded client uses, so ``client.models.create(...)`` or ``client.batch_endpoints.invoke(...)``
behave the same either way, return the same pydantic objects, and raise the same exceptions
(rebuilt from the server's JSON error with ``BatchpointError.from_dict``).

Files are the one real difference: the server cannot read the caller's disk. YAML files are read
here; a model file or folder, a code folder, a pipeline component folder, data given as a local
path, are uploaded first (``POST /api/v1/uploads``) and named by the URI the server returns.
Conda and requirements files are read here and sent inline. A path that does not exist here is
sent as it is, as a path of the server (which only accepts its allowed input folders).
"""

from __future__ import annotations

import builtins
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, TypeAdapter

from batchpoint.common import overrides as ov
from batchpoint.common import refs, yamlio
from batchpoint.endpoints.deployment_service import editable
from batchpoint.endpoints.schemas import BatchDeployment, BatchEndpoint
from batchpoint.endpoints.specs import (
    BatchEndpointSpec,
    DeploymentSpec,
    apply_overrides,
    parse_deployment,
    parse_endpoint,
)
from batchpoint.errors import BatchpointError, Conflict, InvalidInput, NotFound
from batchpoint.jobs import invoke as inv
from batchpoint.jobs.schemas import TERMINAL, Job
from batchpoint.registry.environments import PATH_FIELDS
from batchpoint.registry.schemas import Compute, Data, Datastore, Environment, Model
from batchpoint.registry.specs import ComputeSpec, DataSpec, EnvironmentSpec, ModelSpec, load_spec
from batchpoint.server import archives
from batchpoint.server.tokens import NewToken, TokenInfo

M = TypeVar("M", bound=BaseModel)
API = "/api/v1"
_UPLOAD_LIMITS = archives.Limits(max_members=1_000_000, max_bytes=1 << 62)


def _q(value: str) -> str:
    return quote(str(value), safe="")


def _with_file(exc: BatchpointError, file: str | None) -> BatchpointError:
    if file and not exc.file:
        exc.file = file
    return exc


class Transport:
    """One HTTP connection pool to a server, with the token; turns error answers into exceptions."""

    def __init__(
        self, server: str, token: str | None, *, timeout: float = 300, transport: httpx.BaseTransport | None = None
    ) -> None:
        if not server.startswith(("http://", "https://")):
            raise InvalidInput(f"'{server}' is not an http:// or https:// URL", field="server")
        self.server = server.rstrip("/")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.http = httpx.Client(base_url=self.server, headers=headers, timeout=timeout, transport=transport)

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self.http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise BatchpointError(
                f"cannot reach the batchpoint server at {self.server}: {exc}",
                hint="is it running? the URL comes from --server, BATCHPOINT_SERVER or 'batchpoint login'",
            ) from None
        if response.status_code >= 400:
            raise self._error(response)
        return response

    def _error(self, response: httpx.Response) -> BatchpointError:
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict) and isinstance(body.get("error"), dict):
            return BatchpointError.from_dict(body["error"])
        return BatchpointError(f"the server answered {response.status_code}: {response.text[:300]}")

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        return self.request(method, path, **kwargs).json()

    def get(self, model: type[M], path: str, **kwargs: Any) -> M:
        return model.model_validate(self.json("GET", path, **kwargs))

    def get_list(self, model: type[M], path: str, **kwargs: Any) -> builtins.list[M]:
        return TypeAdapter(builtins.list[model]).validate_python(self.json("GET", path, **kwargs))  # type: ignore[valid-type]

    def send(self, model: type[M], method: str, path: str, **kwargs: Any) -> M:
        return model.model_validate(self.json(method, path, **kwargs))

    # -- files ---------------------------------------------------------------------------------------
    def upload(self, local: Path) -> str:
        """Upload a file or a folder; returns the ``azureml://datastores/...`` URI naming it on the server."""
        local = local.resolve()
        params = {"name": local.name}
        if local.is_file():
            with open(local, "rb") as fh:
                answer = self.json(
                    "POST",
                    f"{API}/uploads",
                    params=params,
                    content=fh,
                    headers={"Content-Type": "application/octet-stream"},
                )
        else:
            with tempfile.TemporaryFile() as tmp:
                archives.pack(local, tmp)
                tmp.seek(0)
                answer = self.json(
                    "POST",
                    f"{API}/uploads",
                    params=params,
                    content=_chunks(tmp),
                    headers={"Content-Type": "application/gzip"},
                )
        return str(answer["uri"])

    def download(self, path: str, dest: Path) -> Path:
        """Stream a tar.gz from ``path`` and unpack it (safely) into the new folder ``dest``."""
        dest.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=dest.parent, prefix=".bp-download-", delete=False) as tmp:
            try:
                with self.http.stream("GET", path) as response:
                    if response.status_code >= 400:
                        response.read()
                        raise self._error(response)
                    for chunk in response.iter_bytes():
                        tmp.write(chunk)
                tmp.close()
                archives.extract(Path(tmp.name), dest, "application/gzip", _UPLOAD_LIMITS, field="download")
            except httpx.TransportError as exc:
                raise BatchpointError(f"download from {self.server} failed: {exc}") from None
            finally:
                Path(tmp.name).unlink(missing_ok=True)
        return dest

    def local_or_remote(self, value: Any, base_dir: Path | None, field: str) -> Any:
        """A path of this machine is uploaded (its URI returned); URIs, references and server paths pass."""
        if not isinstance(value, str) or "://" in value or value.startswith("azureml:"):
            return value
        path = Path(value).expanduser()
        if not path.is_absolute():
            path = (base_dir or Path.cwd()) / path
            if not path.exists():
                raise InvalidInput(f"path '{path.resolve()}' does not exist", field=field)
        if path.exists():
            return self.upload(path)
        return value

    def close(self) -> None:
        self.http.close()


def _chunks(fh: Any, size: int = 1024 * 1024) -> Iterator[bytes]:
    while chunk := fh.read(size):
        yield chunk


class _Versioned:
    """Reading, archiving and deleting, the same for models, environments and data."""

    noun = ""
    kind = ""
    schema: type[BaseModel] = BaseModel

    def __init__(self, transport: Transport) -> None:
        self.t = transport

    def _url(self, *parts: str) -> str:
        return "/".join([f"{API}/{self.noun}", *(_q(p) for p in parts)])

    def get(self, name: str, version: str | None = None) -> Any:
        path = self._url(name) if version is None else self._url(name, "versions", version)
        return self.t.get(self.schema, path)

    def _resolve(self, ref: str, field: str, file: str | None) -> Any:
        try:
            parsed = refs.parse(ref, field)
            return self.get(parsed.name, parsed.version)
        except NotFound as exc:
            raise NotFound(f"'{ref}': {exc.message}", field=field, file=file, hint=exc.hint) from None
        except InvalidInput as exc:
            raise _with_file(exc, file) from None

    def list(self, name: str | None = None, *, include_archived: bool = False) -> builtins.list[Any]:
        params: dict[str, Any] = {"include_archived": include_archived}
        if name is not None:
            params["name"] = name
        return self.t.get_list(self.schema, f"{API}/{self.noun}", params=params)

    def archive(self, name: str, version: str | None = None) -> Any:
        params = {} if version is None else {"version": version}
        return self.t.send(self.schema, "POST", self._url(name, "archive"), params=params)

    def restore(self, name: str, version: str | None = None) -> Any:
        params = {} if version is None else {"version": version}
        return self.t.send(self.schema, "POST", self._url(name, "restore"), params=params)

    def delete(self, name: str, version: str) -> None:
        self.t.request("DELETE", self._url(name, "versions", version))

    def _post(self, spec: BaseModel, file: str | None) -> Any:
        try:
            return self.t.send(
                self.schema, "POST", f"{API}/{self.noun}", json=spec.model_dump(mode="json", exclude_none=True)
            )
        except BatchpointError as exc:
            raise _with_file(exc, file) from None


class RemoteModels(_Versioned):
    noun, kind, schema = "models", "model", Model

    def create(self, spec: ModelSpec, *, base_dir: Path | None = None, file: str | None = None) -> Model:
        try:
            spec = spec.model_copy(update={"path": self.t.local_or_remote(spec.path, base_dir, "path")})
        except BatchpointError as exc:
            raise _with_file(exc, file) from None
        result: Model = self._post(spec, file)
        return result

    def create_from_file(
        self, path: Path, /, *, overrides: builtins.list[tuple[str, Any]] | None = None, **fields: Any
    ) -> Model:
        path = Path(path)
        spec = load_spec(ModelSpec, path, fields=fields, pairs=overrides)
        return self.create(spec, base_dir=path.resolve().parent, file=str(path))

    def resolve(self, ref: str, *, field: str = "model", file: str | None = None) -> Model:
        result: Model = self._resolve(ref, field, file)
        return result

    def download(self, name: str, version: str | None, dest: Path) -> Path:
        model: Model = self.get(name, version)
        target = Path(dest) / model.path
        if target.exists():
            raise Conflict(f"'{target}' already exists; choose another download path", field="download_path")
        staging = Path(dest) / f".bp-download-{time.time_ns()}"
        try:
            self.t.download(self._url(name, "versions", model.version, "download"), staging)
            shutil.move(str(staging / model.path), str(target))
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return target


def _requirement_lines(text: str) -> builtins.list[str]:
    lines = (line.strip() for line in text.splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def inline_environment(data: dict[str, Any], base_dir: Path | None, prefix: str = "") -> dict[str, Any]:
    """Read a conda file and a requirements file named by path, so the definition travels inline."""
    conda = data.get("conda_file")
    if isinstance(conda, str) and "://" not in conda:
        path = (base_dir or Path.cwd()) / Path(conda).expanduser()
        if not path.is_file():
            raise InvalidInput(f"path '{path.resolve()}' does not exist", field=f"{prefix}conda_file")
        data["conda_file"] = yamlio.load_file(path)
    pip = data.get("pip_requirements")
    if isinstance(pip, str) and "://" not in pip:
        path = (base_dir or Path.cwd()) / Path(pip).expanduser()
        if not path.is_file():
            raise InvalidInput(f"path '{path.resolve()}' does not exist", field=f"{prefix}pip_requirements")
        data["pip_requirements"] = _requirement_lines(path.read_text(encoding="utf-8"))
    return data


class RemoteEnvironments(_Versioned):
    noun, kind, schema = "environments", "environment", Environment

    def create(self, spec: EnvironmentSpec, *, base_dir: Path | None = None, file: str | None = None) -> Environment:
        try:
            fields = inline_environment(
                {"conda_file": spec.conda_file, "pip_requirements": spec.pip_requirements}, base_dir
            )
            spec = spec.model_copy(update=fields)
        except BatchpointError as exc:
            raise _with_file(exc, file) from None
        result: Environment = self._post(spec, file)
        return result

    def create_from_file(
        self, path: Path, /, *, overrides: builtins.list[tuple[str, Any]] | None = None, **fields: Any
    ) -> Environment:
        path = Path(path)
        spec = load_spec(EnvironmentSpec, path, fields=fields, pairs=overrides, path_fields=PATH_FIELDS)
        return self.create(spec, base_dir=path.resolve().parent, file=str(path))

    def resolve(self, ref: str, *, field: str = "environment", file: str | None = None) -> Environment:
        result: Environment = self._resolve(ref, field, file)
        return result


class RemoteData(_Versioned):
    noun, kind, schema = "data", "data asset", Data

    def create(self, spec: DataSpec, *, base_dir: Path | None = None, file: str | None = None) -> Data:
        try:
            spec = spec.model_copy(update={"path": self.t.local_or_remote(spec.path, base_dir, "path")})
        except BatchpointError as exc:
            raise _with_file(exc, file) from None
        result: Data = self._post(spec, file)
        return result

    def create_from_file(
        self, path: Path, /, *, overrides: builtins.list[tuple[str, Any]] | None = None, **fields: Any
    ) -> Data:
        path = Path(path)
        spec = load_spec(DataSpec, path, fields=fields, pairs=overrides)
        return self.create(spec, base_dir=path.resolve().parent, file=str(path))

    def resolve(self, ref: str, *, field: str = "input", file: str | None = None) -> Data:
        result: Data = self._resolve(ref, field, file)
        return result


class RemoteComputes:
    def __init__(self, transport: Transport) -> None:
        self.t = transport

    def create(self, spec: ComputeSpec, *, file: str | None = None) -> Compute:
        try:
            return self.t.send(Compute, "POST", f"{API}/computes", json=spec.model_dump(mode="json", exclude_none=True))
        except BatchpointError as exc:
            raise _with_file(exc, file) from None

    def create_from_file(
        self, path: Path, /, *, overrides: builtins.list[tuple[str, Any]] | None = None, **fields: Any
    ) -> Compute:
        path = Path(path)
        spec = load_spec(ComputeSpec, path, fields=fields, pairs=overrides, path_fields=())
        return self.create(spec, file=str(path))

    def get(self, name: str) -> Compute:
        return self.t.get(Compute, f"{API}/computes/{_q(name)}")

    def resolve(self, ref: str | None, *, field: str = "compute", file: str | None = None) -> Compute:
        name = "local" if ref is None else ref.removeprefix("azureml:")
        try:
            return self.get(name)
        except NotFound as exc:
            raise NotFound(f"'{ref}': {exc.message}", field=field, file=file, hint=exc.hint) from None

    def list(self) -> builtins.list[Compute]:
        return self.t.get_list(Compute, f"{API}/computes")

    def update(self, name: str, **fields: Any) -> Compute:
        body = {k: v for k, v in fields.items() if v is not None}
        return self.t.send(Compute, "PATCH", f"{API}/computes/{_q(name)}", json=body)

    def delete(self, name: str) -> None:
        self.t.request("DELETE", f"{API}/computes/{_q(name)}")


class RemoteDatastores:
    def __init__(self, transport: Transport) -> None:
        self.t = transport

    def list(self) -> builtins.list[Datastore]:
        return self.t.get_list(Datastore, f"{API}/datastores")

    def get(self, name: str) -> Datastore:
        return self.t.get(Datastore, f"{API}/datastores/{_q(name)}")

    def create(self, name: str, root: Path, description: str | None = None) -> Datastore:
        body = {"name": name, "root": str(root), "description": description}
        return self.t.send(Datastore, "POST", f"{API}/datastores", json=body)


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
            raise _with_file(exc, file) from None

    def get(self, name: str) -> BatchEndpoint:
        return self.t.get(BatchEndpoint, f"{API}/batch-endpoints/{_q(name)}")

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
            return self.t.send(BatchEndpoint, "PATCH", f"{API}/batch-endpoints/{_q(name)}", json=body)
        except BatchpointError as exc:
            raise _with_file(exc, file) from None

    def delete(self, name: str) -> None:
        self.t.request("DELETE", f"{API}/batch-endpoints/{_q(name)}")


_FILE_KEYS = ("model", "code_configuration", "environment", "component")


class RemoteBatchDeployments:
    def __init__(self, transport: Transport) -> None:
        self.t = transport

    def _url(self, endpoint_name: str, *parts: str) -> str:
        return "/".join([f"{API}/batch-endpoints/{_q(endpoint_name)}/deployments", *(_q(p) for p in parts)])

    def _upload_paths(self, data: dict[str, Any], base_dir: Path | None) -> dict[str, Any]:
        """The local files a deployment names, uploaded; the spec then names their URIs."""
        model = data.get("model")
        if isinstance(model, dict) and "path" in model:
            model["path"] = self.t.local_or_remote(model["path"], base_dir, "model.path")
        code = data.get("code_configuration")
        if isinstance(code, dict) and isinstance(code.get("code"), str) and not code["code"].startswith("snapshot:"):
            code["code"] = self.t.local_or_remote(code["code"], base_dir, "code_configuration.code")
        environment = data.get("environment")
        if isinstance(environment, dict):
            inline_environment(environment, base_dir, "environment.")
        component = data.get("component")
        if (
            isinstance(component, str)
            and not component.startswith(("azureml:", "snapshot:"))
            and "://" not in component
        ):
            local = (base_dir or Path.cwd()) / Path(component).expanduser()
            if local.is_file():
                data["component"] = f"{self.t.upload(local.parent)}/{local.name}"
        return data

    def _send(self, method: str, url: str, body: dict[str, Any], file: str | None) -> BatchDeployment:
        try:
            return self.t.send(BatchDeployment, method, url, json=body)
        except BatchpointError as exc:
            raise _with_file(exc, file) from None

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
            raise _with_file(exc, file) from None
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
            raise _with_file(exc, str(path)) from None
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
        elif any(key.split(".")[0] in _FILE_KEYS and not key.endswith("scoring_script") for key, _ in pairs):
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
        return self.t.get(BatchDeployment, f"{API}/batch-endpoints/{_q(endpoint_name)}/route", params=params)


class RemoteJobs:
    def __init__(self, transport: Transport) -> None:
        self.t = transport

    def invoke(
        self,
        endpoint_name: str,
        *,
        input: str | Path | None = None,
        input_type: str | None = None,
        deployment_name: str | None = None,
        output_path: str | Path | None = None,
        mini_batch_size: int | None = None,
        instance_count: int | None = None,
        job_name: str | None = None,
        experiment_name: str | None = None,
        overrides: builtins.list[str] | builtins.list[tuple[str, Any]] | dict[str, Any] | None = None,
        inputs_file: str | Path | None = None,
        start: bool = True,
    ) -> Job:
        """Start a job on the server; a local input file or folder is uploaded to its default datastore first."""
        if inputs_file is not None:
            file_input, file_type, file_output = inv.read_inputs_file(Path(inputs_file))
            input = input or file_input
            input_type = input_type or file_type
            output_path = output_path or file_output
        source: Any = str(input) if input is not None else None
        if source and "://" not in source and not source.startswith("azureml:") and Path(source).expanduser().exists():
            source = self.t.upload(Path(source).expanduser())
        body = {
            "input": source,
            "input_type": input_type,
            "deployment_name": deployment_name,
            "output_path": None if output_path is None else str(output_path),
            "mini_batch_size": mini_batch_size,
            "instance_count": instance_count,
            "job_name": job_name,
            "experiment_name": experiment_name,
            "overrides": [list(pair) for pair in inv.normalise_overrides(overrides)],
        }
        return self.t.send(Job, "POST", f"{API}/batch-endpoints/{_q(endpoint_name)}/jobs", json=body)

    def get(self, name: str) -> Job:
        return self.t.get(Job, f"{API}/jobs/{_q(name)}")

    def list(
        self,
        *,
        endpoint_name: str | None = None,
        deployment_name: str | None = None,
        status: str | None = None,
        limit: int = 100,
    ) -> builtins.list[Job]:
        params: dict[str, Any] = {"limit": limit}
        for key, value in (("endpoint_name", endpoint_name), ("deployment_name", deployment_name), ("status", status)):
            if value:
                params[key] = value
        return self.t.get_list(Job, f"{API}/jobs", params=params)

    def wait(
        self,
        name: str,
        *,
        timeout: float | None = None,
        poll: float = 0.5,
        on_update: Callable[[Job], None] | None = None,
    ) -> Job:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            job = self.get(name)
            if on_update is not None:
                on_update(job)
            if job.status in TERMINAL or job.driver.lost:
                return job
            if deadline is not None and time.monotonic() > deadline:
                return job
            time.sleep(poll)

    def cancel(self, name: str) -> Job:
        return self.t.send(Job, "POST", f"{API}/jobs/{_q(name)}/cancel")

    def resume(self, name: str) -> Job:
        return self.t.send(Job, "POST", f"{API}/jobs/{_q(name)}/resume")

    def read_log(self, name: str, file: str | None = None) -> str:
        params = {} if file is None else {"file": file}
        return self.t.request("GET", f"{API}/jobs/{_q(name)}/logs", params=params).text

    def download(
        self, name: str, *, output_name: str | None = "score", download_path: str | Path = ".", all: bool = False
    ) -> Path:
        """Fetch outputs (and with ``all`` the logs) into ``download_path/named-outputs/<name>``, as embedded."""
        job = self.get(name)
        dest = Path(download_path).expanduser().resolve()
        wanted = builtins.list(job.outputs) if all or output_name is None else [output_name]
        for out_name in wanted:
            if out_name not in job.outputs:
                raise NotFound(f"job '{name}' has no output named '{out_name}' (outputs: {', '.join(job.outputs)})")
            self._fetch(f"{API}/jobs/{_q(name)}/outputs/{_q(out_name)}", dest / "named-outputs" / out_name)
        if all:
            self._fetch(f"{API}/jobs/{_q(name)}/logs/archive", dest / "artifacts" / "logs")
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
    ) -> NewToken:
        body = {"role": role, "name": name, "endpoint": endpoint, "invoke_only": invoke_only, "expires": expires}
        return self.t.send(NewToken, "POST", f"{API}/tokens", json=body)

    def list(self) -> builtins.list[TokenInfo]:
        return self.t.get_list(TokenInfo, f"{API}/tokens")

    def revoke(self, token_id: str) -> TokenInfo:
        return self.t.send(TokenInfo, "DELETE", f"{API}/tokens/{_q(token_id)}")


class RemoteServices:
    """What ``Services`` offers the operations classes, over HTTP."""

    def __init__(self, server: str, token: str | None, *, transport: httpx.BaseTransport | None = None) -> None:
        self.transport = Transport(server, token, transport=transport)
        self.server = self.transport.server
        self.models = RemoteModels(self.transport)
        self.environments = RemoteEnvironments(self.transport)
        self.data = RemoteData(self.transport)
        self.computes = RemoteComputes(self.transport)
        self.datastores = RemoteDatastores(self.transport)
        self.batch_endpoints = RemoteBatchEndpoints(self.transport)
        self.batch_deployments = RemoteBatchDeployments(self.transport)
        self.jobs = RemoteJobs(self.transport)
        self.tokens = RemoteTokens(self.transport)

    def whoami(self) -> dict[str, Any]:
        answer: dict[str, Any] = self.transport.json("GET", f"{API}/whoami")
        return answer

    def close(self) -> None:
        self.transport.close()
