from __future__ import annotations

from pathlib import Path

import pytest

from batchpoint.errors import Conflict, InvalidInput, NotFound, UnsafePath
from batchpoint.services import Services


def test_default_datastore_uris(services: Services) -> None:
    stores = services.datastores
    root = services.layout.default_datastore.resolve()
    assert [d.name for d in stores.list()] == ["workspaceblobstore"]
    assert stores.get("workspaceblobstore").is_default
    assert stores.resolve_uri("azureml://datastores/workspaceblobstore/paths/a/b.csv") == root / "a" / "b.csv"
    assert stores.resolve_uri("azureml://datastores/workspaceblobstore/paths/") == root
    assert stores.resolve_uri("azureml://datastores/workspaceblobstore/paths/x%20y/../z") == root / "z"
    long_form = "azureml://subscriptions/s/resourcegroups/rg/workspaces/ws/datastores/workspaceblobstore/paths/in/x.csv"
    assert stores.resolve_uri(long_form) == root / "in" / "x.csv"
    assert stores.to_uri(root / "in" / "x.csv") == "azureml://datastores/workspaceblobstore/paths/in/x.csv"
    assert stores.to_uri(root) == "azureml://datastores/workspaceblobstore/paths/"
    assert stores.to_uri(Path("/somewhere/else")) is None


def test_uris_never_escape_the_datastore(services: Services, tmp_path: Path) -> None:
    stores = services.datastores
    for uri in [
        "azureml://datastores/workspaceblobstore/paths/../secret",
        "azureml://datastores/workspaceblobstore/paths/a/../../..",
        "azureml://datastores/workspaceblobstore/paths/%2e%2e/secret",
        "azureml://datastores/workspaceblobstore/paths/a\x00b",
    ]:
        with pytest.raises(UnsafePath) as info:
            stores.resolve_uri(uri, field="input")
        assert info.value.field == "input"
    outside = tmp_path / "outside"
    outside.mkdir()
    (services.layout.default_datastore / "link").symlink_to(outside)
    with pytest.raises(UnsafePath):
        stores.resolve_uri("azureml://datastores/workspaceblobstore/paths/link/file")
    with pytest.raises(UnsafePath):
        stores.resolve_uri("azureml://datastores/../paths/x")
    with pytest.raises(NotFound):
        stores.resolve_uri("azureml://datastores/nope/paths/x")
    with pytest.raises(InvalidInput):
        stores.resolve_uri("azureml://registries/x/models/y")


def test_registered_local_datastore(services: Services, tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    stores = services.datastores
    created = stores.create("shared", shared, description="team folder")
    assert created.root == str(shared.resolve()) and not created.is_default
    assert stores.resolve_uri("azureml://datastores/shared/paths/x") == shared.resolve() / "x"
    assert stores.to_uri(shared / "x") == "azureml://datastores/shared/paths/x"
    assert [d.name for d in stores.list()] == ["workspaceblobstore", "shared"]
    with pytest.raises(Conflict):
        stores.create("shared", shared)
    with pytest.raises(Conflict):
        stores.create("workspaceblobstore", shared)
    with pytest.raises(InvalidInput):
        stores.create("other", tmp_path / "missing")
    with pytest.raises(UnsafePath):
        stores.create("a/b", shared)
