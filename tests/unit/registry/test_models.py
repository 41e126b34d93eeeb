from __future__ import annotations

from pathlib import Path

import pytest

from batchpoint.errors import Conflict, InvalidInput, NotFound, UnsafePath
from batchpoint.registry.specs import ModelSpec
from batchpoint.services import Services

from .conftest import add_deployment


def _blobs(services: Services) -> list[Path]:
    root = services.artifacts.blobs
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def test_versions_auto_increment_numerically(services: Services, model_dir: Path) -> None:
    models = services.models
    assert models.create(ModelSpec(name="m", path=str(model_dir))).version == "1"
    assert models.create(ModelSpec(name="m", path=str(model_dir))).version == "2"
    assert models.create(ModelSpec(name="m", path=str(model_dir), version="9")).version == "9"
    assert models.create(ModelSpec(name="m", path=str(model_dir), version="beta")).version == "beta"
    assert models.create(ModelSpec(name="m", path=str(model_dir))).version == "10"
    assert models.get("m").version == "10"  # "10" is after "9"
    assert [m.version for m in models.list("m")] == ["1", "2", "9", "10", "beta"]
    assert models.create(ModelSpec(name="other", path=str(model_dir))).version == "1"


def test_mlflow_detection_and_flavors(services: Services, model_dir: Path, tmp_path: Path) -> None:
    mlflow = services.models.create(ModelSpec(name="ml", path=str(model_dir)))
    assert mlflow.type == "mlflow_model"
    assert set(mlflow.flavors) == {"python_function", "sklearn"}
    custom = services.models.create(ModelSpec(name="ml", path=str(model_dir), type="custom_model"))
    assert custom.type == "custom_model" and custom.flavors == {}
    single = tmp_path / "model.pt"
    single.write_bytes(b"tensor")
    plain = services.models.create(ModelSpec(name="pt", path=str(single)))
    assert (plain.type, plain.path, plain.size_bytes) == ("custom_model", "model.pt", 6)
    with pytest.raises(InvalidInput) as info:
        services.models.create(ModelSpec(name="pt", path=str(single), type="mlflow_model"))
    assert info.value.field == "type" and "MLmodel" in info.value.message


def test_same_files_share_blobs_and_sources_are_copied(services: Services, model_dir: Path, tmp_path: Path) -> None:
    first = services.models.create(ModelSpec(name="m", path=str(model_dir)))
    blobs = _blobs(services)
    assert len(blobs) == 3
    second = services.models.create(ModelSpec(name="m", path=str(model_dir)))
    assert second.manifest == first.manifest and _blobs(services) == blobs

    (model_dir / "model.pkl").write_bytes(b"changed after registration")
    (model_dir / "new.txt").write_text("new")
    out = services.models.download("m", "1", tmp_path / "dl")
    assert out == tmp_path / "dl" / "model"
    assert (out / "model.pkl").read_bytes() == b"\x80\x04weights"
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()) == [
        "MLmodel",
        "model.pkl",
        "sub/extra.txt",
    ]
    with pytest.raises(Conflict):
        services.models.download("m", "1", tmp_path / "dl")
    third = services.models.create(ModelSpec(name="m", path=str(model_dir)))
    assert third.manifest != first.manifest


def test_materialise_gives_the_parent_folder(services: Services, model_dir: Path) -> None:
    model = services.models.create(ModelSpec(name="m", path=str(model_dir)))
    model_root = services.models.materialise(model)
    assert model_root == services.layout.cache / "models" / model.manifest
    assert (model_root / "model" / "MLmodel").is_file()
    assert (model_root / "model" / "model.pkl").stat().st_mode & 0o222 == 0  # read-only
    assert services.models.materialise(model) == model_root  # idempotent


def test_archive_restore_delete(services: Services, model_dir: Path) -> None:
    models = services.models
    for _ in range(2):
        models.create(ModelSpec(name="m", path=str(model_dir)))
    assert models.archive("m", "2").archived
    assert models.get("m").version == "1"
    assert models.get("m", "2").archived  # still reachable by version
    assert [m.version for m in models.list("m")] == ["1"]
    assert [m.version for m in models.list("m", include_archived=True)] == ["1", "2"]
    models.archive("m")
    with pytest.raises(NotFound, match="archived") as info:
        models.get("m")
    assert "restore" in (info.value.hint or "")
    assert models.restore("m").version == "2"
    assert models.get("m").version == "2"
    models.delete("m", "2")
    with pytest.raises(NotFound):
        models.get("m", "2")
    with pytest.raises(NotFound):
        models.delete("m", "2")
    with pytest.raises(NotFound):
        models.archive("nothing")


def test_models_in_use_cannot_be_deleted_or_archived(services: Services, model_dir: Path) -> None:
    for _ in range(2):
        services.models.create(ModelSpec(name="m", path=str(model_dir)))
    add_deployment(services, endpoint="scoring", name="blue", model=("m", "1"))
    with pytest.raises(Conflict, match="scoring/blue"):
        services.models.delete("m", "1")
    with pytest.raises(Conflict, match="scoring/blue"):
        services.models.archive("m", "1")
    with pytest.raises(Conflict, match="scoring/blue"):
        services.models.archive("m")  # every version, one of which is deployed
    assert not services.models.get("m", "2").archived  # nothing half-done
    services.models.delete("m", "2")
    assert [m.version for m in services.models.list("m")] == ["1"]


def test_references_in_every_form(services: Services, model_dir: Path) -> None:
    for _ in range(2):
        services.models.create(ModelSpec(name="heart", path=str(model_dir)))
    resolve = services.models.resolve
    for ref, version in [
        ("azureml:heart:1", "1"),
        ("azureml:heart@latest", "2"),
        ("heart:1", "1"),
        ("heart@latest", "2"),
        ("azureml:heart", "2"),
    ]:
        assert resolve(ref).version == version, ref
    with pytest.raises(NotFound) as info:
        resolve("azureml:heart:3", file="deployment.yml")
    assert info.value.field == "model" and info.value.file == "deployment.yml"
    assert "azureml:heart:3" in str(info.value)
    with pytest.raises(NotFound, match="azureml:nope@latest"):
        resolve("azureml:nope@latest", field="model")
    with pytest.raises(InvalidInput, match="@stable"):
        resolve("heart@stable")
    with pytest.raises(InvalidInput):
        resolve("azureml://registries/azureml/models/heart/versions/1")


def test_model_yaml_in_azure_form(
    services: Services, model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec_dir = model_dir.parent
    spec = spec_dir / "model.yml"
    spec.write_text(
        "$schema: https://azuremlschemas.azureedge.net/latest/model.schema.json\n"
        "name: heart-classifier-mlflow\n"
        "version: 3\n"
        "path: model\n"
        "type: mlflow_model\n"
        "description: A heart classifier.\n"
        "tags: {framework: sklearn, rows: 100}\n"
        "properties: {auc: 0.9}\n"
        "stage: Development\n"
    )
    monkeypatch.chdir(tmp_path)  # the path is relative to the YAML file, not to the cwd
    model = services.models.create_from_file(spec)
    assert (model.name, model.version, model.type, model.stage) == (
        "heart-classifier-mlflow",
        "3",
        "mlflow_model",
        "Development",
    )
    assert model.tags == {"framework": "sklearn", "rows": "100"} and model.properties == {"auc": 0.9}
    override = services.models.create_from_file(spec, overrides=[("tags.framework", "xgb")], version=None, name="other")
    assert override.name == "other" and override.tags["framework"] == "xgb"


def test_bad_specs_touch_nothing(services: Services, model_dir: Path, tmp_path: Path) -> None:
    for bad in ["../x", "a/b", "a\x00b", "x" * 300]:
        spec = tmp_path / "bad.yml"
        spec.write_text(f"name: {bad!r}\npath: {model_dir}\n".replace("'", '"').replace("\x00", "\\0"))
        with pytest.raises(InvalidInput) as info:
            services.models.create_from_file(spec)
        assert info.value.field == "name" and info.value.file == str(spec)
    with pytest.raises(UnsafePath):
        services.models.create_from_file(tmp_path / "bad.yml", name="a/../b")
    (tmp_path / "typo.yml").write_text(f"name: m\npaht: {model_dir}\npath: {model_dir}\n")
    with pytest.raises(InvalidInput, match="unknown field") as info:
        services.models.create_from_file(tmp_path / "typo.yml")
    assert info.value.field == "paht"
    (tmp_path / "missing.yml").write_text("name: m\npath: nowhere\n")
    with pytest.raises(InvalidInput, match="does not exist") as info:
        services.models.create_from_file(tmp_path / "missing.yml")
    assert info.value.field == "path"
    services.models.create(ModelSpec(name="m", path=str(model_dir), version="1"))
    blobs = _blobs(services)
    other = tmp_path / "other"
    other.mkdir()
    (other / "w.bin").write_bytes(b"different")
    with pytest.raises(Conflict):
        services.models.create(ModelSpec(name="m", path=str(other), version="1"))
    assert _blobs(services) == blobs  # the duplicate was refused before copying
    assert [m.version for m in services.models.list()] == ["1"]


def test_model_from_a_datastore_uri(services: Services) -> None:
    folder = services.layout.default_datastore / "models" / "m1"
    folder.mkdir(parents=True)
    (folder / "w.bin").write_bytes(b"w")
    model = services.models.create(ModelSpec(name="m", path="azureml://datastores/workspaceblobstore/paths/models/m1"))
    assert model.path == "m1"
    with pytest.raises(UnsafePath):
        services.models.create(ModelSpec(name="m", path="azureml://datastores/workspaceblobstore/paths/../../x"))
