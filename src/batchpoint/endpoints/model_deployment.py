"""Turning a ``type: model`` spec into a stored deployment: pin references, snapshot code, register inline assets.

The order matters: everything that can be checked without writing is checked first (settings,
compute, references, the code folder and its scoring script), and only then are inline
environments and models registered. A mistake in the file therefore leaves nothing behind; only
a failure after registration (rare: a concurrent create of the same deployment) can leave a new
model or environment version, which is harmless and reusable.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from batchpoint.common import paths, refs, validation
from batchpoint.endpoints import snapshot
from batchpoint.endpoints.schemas import BatchDeployment, CodeConfiguration
from batchpoint.endpoints.specs import CodeConfigurationSpec, ModelDeploymentSpec
from batchpoint.errors import BatchpointError, InvalidInput, NotFound, UnsafePath

if TYPE_CHECKING:
    from batchpoint.registry.schemas import Model
    from batchpoint.registry.specs import ModelSpec
    from batchpoint.services import Services

MLFLOW = "mlflow_model"
CODE = "code_configuration.code"


@dataclass
class _InlineModel:
    spec: ModelSpec
    path: Path

    @property
    def declared_type(self) -> str:
        if self.spec.type:
            return self.spec.type
        return MLFLOW if (self.path / "MLmodel").is_file() else "custom_model"


def _with_file(exc: BatchpointError, file: str | None) -> BatchpointError:
    if file and not exc.file:
        exc.file = file
    return exc


class ModelDeploymentBuilder:
    """Builds one :class:`BatchDeployment` of ``type: model`` from its spec."""

    def __init__(self, ctx: Services, *, base_dir: Path | None, file: str | None) -> None:
        self.ctx = ctx
        self.base_dir = base_dir
        self.file = file

    def build(self, spec: ModelDeploymentSpec, *, previous: BatchDeployment | None = None) -> BatchDeployment:
        try:
            settings = spec.effective_settings()
        except InvalidInput as exc:
            raise _with_file(exc, self.file) from None
        compute = self.ctx.computes.resolve(spec.compute, field="compute", file=self.file).name
        model: Model | _InlineModel = self._model(spec.model, anonymous=f"{spec.endpoint_name}-{spec.name}")
        environment: str | dict[str, Any] | None = self._environment(spec.environment)
        code = self._code(spec.code_configuration, previous.code_configuration if previous else None)
        model_type = model.declared_type if isinstance(model, _InlineModel) else model.type
        self._require_code(code, model_type)
        # Everything is valid: now register what the file defines inline.
        if isinstance(environment, dict):
            environment = self.ctx.environments.create_inline(
                environment, base_dir=self.base_dir, field="environment", file=self.file
            ).id
        if isinstance(model, _InlineModel):
            model = self._register(model)
            self._require_code(code, model.type)
        return BatchDeployment(
            name=spec.name,
            endpoint_name=spec.endpoint_name,
            type="model",
            description=spec.description,
            tags=dict(spec.tags),
            model=model.id,
            code_configuration=code,
            environment=environment,
            compute=compute,
            settings=settings,
            resources=spec.resources.per_worker() if spec.resources is not None else {},
        )

    # -- model ---------------------------------------------------------------------------------------
    def _model(self, value: str | dict[str, Any], *, anonymous: str) -> Model | _InlineModel:
        """A reference is resolved now; an inline model is checked now and registered at the end.

        An inline model without a name (old Azure files: ``model: {path: ./model}``) is registered
        under ``<endpoint>-<deployment>``.
        """
        if isinstance(value, str):
            return self.ctx.models.resolve(value, field="model", file=self.file)
        from batchpoint.registry.specs import ModelSpec

        with self._inline_errors():
            spec = validation.parse(ModelSpec, {"name": anonymous, **value}, file=self.file)
            path = self.ctx.datastores.local_path(spec.path, base_dir=self.base_dir, field="path", file=self.file)
            paths.must_exist(path, "path", file=self.file, kind="model path")
            if spec.type == MLFLOW and not (path / "MLmodel").is_file():
                raise InvalidInput(f"type mlflow_model needs an 'MLmodel' file in '{path}'", field="type")
        return _InlineModel(spec=spec, path=path)

    def _register(self, inline: _InlineModel) -> Model:
        """Register an inline model, reusing the matching version when the content is unchanged.

        NOTE: Azure registers inline models on every create; here an update with the same folder
        would pile up identical versions, so the latest (or named) version is reused when its
        content manifest and type match.
        """
        reuse = self._same_content(inline)
        if reuse is not None:
            return reuse
        with self._inline_errors():
            return self.ctx.models.create(inline.spec, base_dir=self.base_dir, file=self.file)

    @contextmanager
    def _inline_errors(self) -> Iterator[None]:
        """Errors about an inline model name its field under ``model.`` (``model.path``, ``model.type``)."""
        try:
            yield
        except BatchpointError as exc:
            if exc.field and not exc.field.startswith("model"):
                exc.field = f"model.{exc.field}"
            elif not exc.field:
                exc.field = "model"
            raise _with_file(exc, self.file) from None

    def _same_content(self, inline: _InlineModel) -> Model | None:
        try:
            current = self.ctx.models.get(inline.spec.name, inline.spec.version)
        except NotFound:
            return None
        with self._inline_errors():
            digest, _ = self.ctx.artifacts.put_tree(inline.path)
        if current.manifest == digest and current.type == inline.declared_type:
            return current
        return None

    # -- environment ---------------------------------------------------------------------------------
    def _environment(self, value: str | dict[str, Any] | None) -> str | dict[str, Any] | None:
        if value is None or value == "model" or isinstance(value, dict):
            return value
        return self.ctx.environments.resolve(value, field="environment", file=self.file).id

    # -- code ----------------------------------------------------------------------------------------
    def _code(self, spec: CodeConfigurationSpec | None, previous: CodeConfiguration | None) -> CodeConfiguration | None:
        if spec is None:
            return None
        script = self._script_path(spec.scoring_script)
        if snapshot.is_snapshot(spec.code):
            digest, manifest = snapshot.existing(
                self.ctx.artifacts, spec.code, field="code_configuration.code", file=self.file
            )
            source = previous.source if previous and previous.code == spec.code else None
        elif refs.is_reference(spec.code) or "://" in spec.code:
            raise InvalidInput(
                f"'{spec.code}': code assets and URIs are not supported; point 'code' at a local folder",
                field="code_configuration.code",
                file=self.file,
            )
        else:
            folder = paths.resolve_relative(spec.code, self.base_dir, "code_configuration.code", file=self.file)
            self._check_folder(folder, script)
            digest, manifest = snapshot.take(
                self.ctx.artifacts, folder, exclude=self.ctx.layout.root, field=CODE, file=self.file
            )
            source = str(folder)
        if not snapshot.contains(manifest, script):
            raise InvalidInput(
                f"scoring script '{script}' is not in the code snapshot",
                field="code_configuration.scoring_script",
                file=self.file,
            )
        return CodeConfiguration(code=f"{snapshot.PREFIX}{digest}", scoring_script=script, source=source)

    def _script_path(self, value: str) -> str:
        field = "code_configuration.scoring_script"
        pure = PurePosixPath(value.replace("\\", "/"))
        if not value or "\x00" in value or pure.is_absolute() or ".." in pure.parts:
            raise UnsafePath(
                f"scoring script '{value}' must be a relative path inside the code folder", field=field, file=self.file
            )
        return pure.as_posix()

    def _check_folder(self, folder: Path, script: str) -> None:
        if not folder.exists():
            raise InvalidInput(f"code folder '{folder}' does not exist", field=CODE, file=self.file)
        if not folder.is_dir():
            raise InvalidInput(f"'{folder}' is not a folder", field=CODE, file=self.file)
        if not (folder / script).is_file():
            raise InvalidInput(
                f"scoring script '{script}' not found in code folder '{folder}'",
                field="code_configuration.scoring_script",
                file=self.file,
            )

    def _require_code(self, code: CodeConfiguration | None, model_type: str) -> None:
        if code is None and model_type != MLFLOW:
            raise InvalidInput(
                f"a {model_type} needs a scoring script: add code_configuration {{code, scoring_script}} "
                "(only MLflow models deploy without code)",
                field="code_configuration",
                file=self.file,
            )
