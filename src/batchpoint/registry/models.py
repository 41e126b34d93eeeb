"""Models: named, versioned, immutable copies of a file or folder in the content-addressed store.

Registering copies the files into the artifact store, so later edits to the source folder never
change a registered version, and two versions with the same files share their blobs. A model that
a batch deployment uses cannot be archived or deleted: the next job would fail far from the cause.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from batchpoint.common import yamlio
from batchpoint.common.paths import must_exist
from batchpoint.common.timefmt import to_datetime
from batchpoint.errors import BatchpointError, Conflict, InvalidInput
from batchpoint.registry import model_sources
from batchpoint.registry.model_sources import Source
from batchpoint.registry.schemas import Model
from batchpoint.registry.specs import ModelSpec, load_spec
from batchpoint.registry.versioned import VersionedRows, VersionedService, deployments_using, with_file
from batchpoint.store.tables import ModelRow

if TYPE_CHECKING:
    from batchpoint.services import Services

STAGE_KEY = "batchpoint.stage"
"""The Azure ``stage`` field is kept in the properties column under this reserved key."""
MLMODEL = "MLmodel"


class ModelService(VersionedService[ModelRow, Model]):
    """Registers, finds, archives, deletes and materialises models."""

    def __init__(self, ctx: Services) -> None:
        super().__init__(ctx, VersionedRows(ModelRow, "model", "model"))

    # -- registering ---------------------------------------------------------------------------------
    def create(self, spec: ModelSpec, *, base_dir: Path | None = None, file: str | None = None) -> Model:
        """Copy the files into the store and add the version (the next integer when none is given)."""
        try:
            if spec.version is not None:  # before copying anything
                with self.ctx.db.read() as s:
                    self.rows.refuse_duplicate(s, spec.name, spec.version)
            src, lineage = self._source(spec.path, base_dir, file)
            must_exist(src, "path", file=file)
            model_type, flavors = self._detect(src, spec, file)
            digest, manifest = self.ctx.artifacts.put_tree(src)
        except BatchpointError as exc:
            raise with_file(exc, file) from None
        properties = dict(spec.properties)
        if spec.stage is not None:
            properties[STAGE_KEY] = spec.stage
        try:
            with self.ctx.db.session() as s:
                version = spec.version or self.rows.next_version(s, spec.name)
                self.rows.refuse_duplicate(s, spec.name, version)
                row = ModelRow(
                    name=spec.name,
                    version=version,
                    description=spec.description,
                    tags=spec.tags,
                    properties=properties,
                    type=model_type,
                    manifest=digest,
                    path_name=manifest.name,
                    size_bytes=manifest.size,
                    flavors=flavors,
                    created_by=self.ctx.actor,
                    job_name=lineage.job_name if lineage else None,
                    run_id=lineage.run_id if lineage else None,
                )
                s.add(row)
                s.flush()
        except IntegrityError:
            raise Conflict(f"model '{spec.name}' got the same version twice at once; try again") from None
        except BatchpointError as exc:
            raise with_file(exc, file) from None
        return self._to_schema(row)

    def create_from_file(
        self, path: Path, /, *, overrides: list[tuple[str, Any]] | None = None, **fields: Any
    ) -> Model:
        """Register from a model YAML (Azure form); ``fields`` are flag values laid over the file."""
        path = Path(path)
        spec = load_spec(ModelSpec, path, fields=fields, pairs=overrides)
        return self.create(spec, base_dir=path.resolve().parent, file=str(path))

    def _source(self, path: str, base_dir: Path | None, file: str | None) -> tuple[Path, Source | None]:
        """The files to register: a local path or datastore URI, or what a job or run produced (with lineage)."""
        if model_sources.is_job_source(path):
            source = model_sources.resolve(self.ctx, path)
            return source.path, source
        return self.ctx.datastores.local_path(path, base_dir=base_dir, field="path", file=file), None

    def _detect(self, src: Path, spec: ModelSpec, file: str | None) -> tuple[str, dict[str, Any]]:
        """The model type and its MLflow flavors (read from ``MLmodel`` when there is one)."""
        mlmodel = src / MLMODEL
        has_mlmodel = src.is_dir() and mlmodel.is_file()
        model_type = spec.type or ("mlflow_model" if has_mlmodel else "custom_model")
        if model_type != "mlflow_model":
            return model_type, dict(spec.flavors or {})
        if not has_mlmodel:
            raise InvalidInput(
                f"type mlflow_model needs an '{MLMODEL}' file at the root of the folder '{src}'",
                field="type",
                file=file,
                hint="register it as custom_model, or point path at the MLflow model folder",
            )
        flavors = yamlio.load_file(mlmodel).get("flavors") or {}
        if not isinstance(flavors, dict):
            raise InvalidInput("'flavors' must be a mapping", field="flavors", file=str(mlmodel))
        return model_type, flavors

    # -- reading -------------------------------------------------------------------------------------
    def resolve(self, ref: str, *, field: str = "model", file: str | None = None) -> Model:
        """A reference (``azureml:N:V``, ``azureml:N@latest``, ``N:V``, ``N@latest``) to its model."""
        return self._resolve(ref, field, file)

    def _users(self, s: Session, name: str, versions: list[str]) -> list[str]:
        return deployments_using(s, lambda d: d.model_name == name and d.model_version in versions)

    # -- files ---------------------------------------------------------------------------------------
    def download(self, name: str, version: str | None, dest: Path) -> Path:
        """Copy the registered files to ``dest/<path>`` as ordinary files; refuses to overwrite."""
        model = self.get(name, version)
        target = Path(dest) / model.path
        if target.exists():
            raise Conflict(f"'{target}' already exists; choose another download path", field="download_path")
        Path(dest).mkdir(parents=True, exist_ok=True)
        return self.ctx.artifacts.export(model.manifest, Path(dest))

    def materialise(self, model: Model) -> Path:
        """The folder to use as ``AZUREML_MODEL_DIR``: the model's file or folder sits right inside it."""
        folder = self.ctx.layout.cache / "models" / model.manifest
        self.ctx.artifacts.materialise(model.manifest, folder)
        return folder

    def _to_schema(self, row: ModelRow) -> Model:
        properties = dict(row.properties or {})
        stage = properties.pop(STAGE_KEY, None)
        return Model(
            name=row.name,
            version=row.version,
            type=row.type,
            description=row.description,
            tags=row.tags or {},
            properties=properties,
            path=row.path_name,
            manifest=row.manifest,
            size_bytes=row.size_bytes,
            flavors=row.flavors or {},
            stage=stage,
            archived=row.archived,
            created_at=to_datetime(row.created_at),
            created_by=row.created_by,
            job_name=row.job_name,
            run_id=row.run_id,
        )
