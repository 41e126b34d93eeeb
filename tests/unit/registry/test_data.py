from __future__ import annotations

from pathlib import Path

import pytest

from batchpoint.errors import InvalidInput, NotFound, UnsafePath
from batchpoint.registry.specs import DataSpec
from batchpoint.services import Services


def test_data_yaml_paths_and_types(services: Services, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "assets"
    (folder / "data").mkdir(parents=True)
    (folder / "data" / "heart-0.csv").write_text("a,b\n1,2\n")
    spec = folder / "heart-dataset-unlabeled.yml"
    spec.write_text(
        "$schema: https://azuremlschemas.azureedge.net/latest/data.schema.json\n"
        "name: heart-dataset-unlabeled\n"
        "description: An unlabeled dataset for heart classification.\n"
        "type: uri_folder\n"
        "path: data\n"
    )
    monkeypatch.chdir(tmp_path)
    data = services.data.create_from_file(spec)
    assert (data.version, data.type, data.path) == ("1", "uri_folder", str((folder / "data").resolve()))
    one = services.data.create_from_file(spec, type="uri_file", path=str(folder / "data" / "heart-0.csv"))
    assert one.version == "2" and one.path.endswith("heart-0.csv")
    assert services.data.resolve("azureml:heart-dataset-unlabeled@latest").version == "2"

    for overrides, field, text in [
        ([("type", "uri_file")], "path", "is a folder"),
        ([("path", "data/heart-0.csv")], "path", "is a file"),
        ([("path", "nothing")], "path", "does not exist"),
        ([("path", "https://example.com/x.csv")], "path", "only local paths"),
        ([("type", "table")], "type", "literal_error"),
    ]:
        with pytest.raises(InvalidInput) as info:
            services.data.create_from_file(spec, overrides=overrides)
        assert (info.value.field, info.value.file) == (field, str(spec)), overrides
        assert text in info.value.message or text == "literal_error"
    # Both versions were kept; the list without a name shows each asset's latest (as az ml data list).
    assert [d.version for d in services.data.list("heart-dataset-unlabeled")] == ["1", "2"]
    assert [(d.name, d.version) for d in services.data.list()] == [("heart-dataset-unlabeled", "2")]
    with pytest.raises(NotFound, match="input"):
        services.data.resolve("azureml:nope:1")


def test_data_on_a_datastore_keeps_the_uri(services: Services) -> None:
    target = services.layout.default_datastore / "inputs" / "batch1"
    target.mkdir(parents=True)
    uri = "azureml://datastores/workspaceblobstore/paths/inputs/batch1"
    data = services.data.create(DataSpec(name="batch", path=uri))
    assert data.path == uri
    assert services.data.local_path(data) == target.resolve()
    with pytest.raises(UnsafePath):
        services.data.create(DataSpec(name="batch", path="azureml://datastores/workspaceblobstore/paths/../../../etc"))
    with pytest.raises(NotFound):
        services.data.create(DataSpec(name="batch", path="azureml://datastores/elsewhere/paths/x"))
    services.data.archive("batch")
    assert services.data.list() == [] and services.data.restore("batch", "1").archived is False
    services.data.delete("batch", "1")
    assert services.data.list(include_archived=True) == []
