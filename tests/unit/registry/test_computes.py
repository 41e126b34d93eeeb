from __future__ import annotations

import os
from pathlib import Path

import pytest

from batchpoint.errors import Conflict, InvalidInput, NotFound
from batchpoint.registry.specs import ComputeSpec
from batchpoint.services import Services

from .conftest import add_deployment


def test_builtin_local_always_exists(services: Services) -> None:
    computes = services.computes
    for ref in (None, "local", "azureml:local"):
        local = computes.resolve(ref)
        assert (local.name, local.type, local.max_instances) == ("local", "local", os.cpu_count())
    assert [c.name for c in computes.list()] == ["local"]
    with pytest.raises(Conflict):
        computes.create(ComputeSpec(name="local", type="local"))
    with pytest.raises(InvalidInput):
        computes.delete("local")
    with pytest.raises(InvalidInput):
        computes.update("local", max_instances=3)


def test_azure_cluster_yaml_and_references(services: Services, tmp_path: Path) -> None:
    spec = tmp_path / "cluster.yml"
    spec.write_text(
        "$schema: https://azuremlschemas.azureedge.net/latest/amlCompute.schema.json\n"
        "name: batch-cluster\ntype: amlcompute\nsize: STANDARD_DS3_v2\n"
        "min_instances: 0\nmax_instances: 5\nidle_time_before_scale_down: 120\n"
    )
    cluster = services.computes.create_from_file(spec)
    assert (cluster.type, cluster.max_instances) == ("amlcompute", 5)
    assert services.computes.resolve("azureml:batch-cluster").name == "batch-cluster"
    assert services.computes.resolve("batch-cluster").max_instances == 5
    with pytest.raises(Conflict):
        services.computes.create_from_file(spec)
    with pytest.raises(NotFound) as info:
        services.computes.resolve("azureml:gpu-cluster", file="deployment.yml")
    err = info.value
    assert (err.field, err.file) == ("compute", "deployment.yml")
    assert "batchpoint compute create -n gpu-cluster --type amlcompute" in (err.hint or "")
    with pytest.raises(InvalidInput):
        services.computes.resolve("azureml:../x")


def test_ray_and_validation(services: Services) -> None:
    ray = services.computes.create(
        ComputeSpec(name="ray1", type="ray", address="ray://head:10001", resources={"GPU": 1})
    )
    assert ray.resources == {"GPU": 1.0} and ray.max_instances == 1
    assert services.computes.create(ComputeSpec(name="ray2", type="ray", address="auto")).address == "auto"
    for fields, field in [
        ({"type": "ray"}, "address"),
        ({"type": "ray", "address": "http://head:1"}, "address"),
        ({"type": "local", "address": "auto"}, "address"),
        ({"type": "amlcompute", "min_instances": 3, "max_instances": 2}, "min_instances"),
    ]:
        with pytest.raises(InvalidInput) as info:
            ComputeSpec(name="bad", **fields)
        assert info.value.field == field, fields
    assert services.computes.create(ComputeSpec(name="cpu", type="local")).max_instances == os.cpu_count()
    assert services.computes.create(ComputeSpec(name="big", min_instances=4)).max_instances == 4


def test_update_and_delete(services: Services) -> None:
    services.computes.create(ComputeSpec(name="c1", type="amlcompute", tags={"team": "a"}))
    updated = services.computes.update("c1", max_instances=8, tags={"cost": "low"})
    assert updated.max_instances == 8 and updated.tags == {"team": "a", "cost": "low"}
    with pytest.raises(InvalidInput):
        services.computes.update("c1", min_instances=9)
    with pytest.raises(InvalidInput):
        services.computes.update("c1", type="ray")
    assert services.computes.get("c1").max_instances == 8
    with pytest.raises(NotFound):
        services.computes.update("nope", max_instances=2)
    add_deployment(services, endpoint="ep", name="d1", spec={"compute": "azureml:c1"})
    with pytest.raises(Conflict, match="ep/d1"):
        services.computes.delete("c1")
    services.computes.create(ComputeSpec(name="c2"))
    services.computes.delete("c2")
    with pytest.raises(NotFound):
        services.computes.get("c2")
    with pytest.raises(NotFound):
        services.computes.delete("c2")
