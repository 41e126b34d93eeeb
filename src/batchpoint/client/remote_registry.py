"""Registry services over HTTP: models, environments, data assets, computes, datastores."""

from __future__ import annotations

import builtins
import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from batchpoint.client.transport import API, Transport, q, with_file
from batchpoint.common import refs
from batchpoint.errors import BatchpointError, Conflict, InvalidInput, NotFound
from batchpoint.registry.schemas import Compute, Data, Datastore, Environment, Model
from batchpoint.registry.specs import ComputeSpec, DataSpec, EnvironmentSpec, ModelSpec, load_spec

if TYPE_CHECKING:
    from batchpoint.environments.builder import EnvironmentBuild


class _Versioned:
    """Reading, archiving and deleting, the same for models, environments and data."""

    noun = ""
    kind = ""
    schema: type[BaseModel] = BaseModel

    def __init__(self, transport: Transport) -> None:
        self.t = transport

    def _url(self, *parts: str) -> str:
        return "/".join([f"{API}/{self.noun}", *(q(p) for p in parts)])

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
            raise with_file(exc, file) from None

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
            raise with_file(exc, file) from None


class RemoteModels(_Versioned):
    noun, kind, schema = "models", "model", Model

    def create(self, spec: ModelSpec, *, base_dir: Path | None = None, file: str | None = None) -> Model:
        try:
            spec = self.t.upload_paths(spec, base_dir=base_dir)
        except BatchpointError as exc:
            raise with_file(exc, file) from None
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


class RemoteEnvironments(_Versioned):
    noun, kind, schema = "environments", "environment", Environment

    def create(self, spec: EnvironmentSpec, *, base_dir: Path | None = None, file: str | None = None) -> Environment:
        try:
            spec = self.t.upload_paths(spec, base_dir=base_dir)  # conda and requirements files travel inline
        except BatchpointError as exc:
            raise with_file(exc, file) from None
        result: Environment = self._post(spec, file)
        return result

    def create_from_file(
        self, path: Path, /, *, overrides: builtins.list[tuple[str, Any]] | None = None, **fields: Any
    ) -> Environment:
        path = Path(path)
        spec = load_spec(EnvironmentSpec, path, fields=fields, pairs=overrides)
        return self.create(spec, base_dir=path.resolve().parent, file=str(path))

    def resolve(self, ref: str, *, field: str = "environment", file: str | None = None) -> Environment:
        result: Environment = self._resolve(ref, field, file)
        return result

    def build(self, name: str, version: str | None = None, *, force: bool = False) -> EnvironmentBuild:
        """Build on the server (its workers use the build); may take minutes."""
        from batchpoint.environments.builder import EnvironmentBuild

        params: dict[str, Any] = {"force": force} if version is None else {"force": force, "version": version}
        return self.t.send(EnvironmentBuild, "POST", self._url(name, "build"), params=params, timeout=3600)


class RemoteData(_Versioned):
    noun, kind, schema = "data", "data asset", Data

    def create(self, spec: DataSpec, *, base_dir: Path | None = None, file: str | None = None) -> Data:
        try:
            spec = self.t.upload_paths(spec, base_dir=base_dir)
        except BatchpointError as exc:
            raise with_file(exc, file) from None
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
            raise with_file(exc, file) from None

    def create_from_file(
        self, path: Path, /, *, overrides: builtins.list[tuple[str, Any]] | None = None, **fields: Any
    ) -> Compute:
        path = Path(path)
        spec = load_spec(ComputeSpec, path, fields=fields, pairs=overrides)
        return self.create(spec, file=str(path))

    def get(self, name: str) -> Compute:
        return self.t.get(Compute, f"{API}/computes/{q(name)}")

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
        return self.t.send(Compute, "PATCH", f"{API}/computes/{q(name)}", json=body)

    def delete(self, name: str) -> None:
        self.t.request("DELETE", f"{API}/computes/{q(name)}")


class RemoteDatastores:
    def __init__(self, transport: Transport) -> None:
        self.t = transport

    def list(self) -> builtins.list[Datastore]:
        return self.t.get_list(Datastore, f"{API}/datastores")

    def get(self, name: str) -> Datastore:
        return self.t.get(Datastore, f"{API}/datastores/{q(name)}")

    def create(self, name: str, root: Path, description: str | None = None) -> Datastore:
        body = {"name": name, "root": str(root), "description": description}
        return self.t.send(Datastore, "POST", f"{API}/datastores", json=body)
