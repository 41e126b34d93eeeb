"""BatchEndpointService: create, read, update (default deployment), delete with its deployments."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from batchpoint.errors import InvalidInput, NotFound
from batchpoint.services import Services
from batchpoint.store.tables import BatchDeploymentRow, BatchEndpointRow


def _deploy(services: Services, azure: Path, *, name: str | None = None, set_default: bool = False) -> None:
    services.batch_deployments.create_from_file(
        azure / "mnist-classifier/deployment-torch/deployment.yml", name=name, set_default=set_default
    )


def test_create_from_file_then_get_and_list(services: Services, azure: Path) -> None:
    created = services.batch_endpoints.create_from_file(azure / "mnist-classifier/endpoint.yml")
    assert created.name == "mnist-batch"
    assert created.scoring_uri == "batchpoint://endpoints/batch/mnist-batch/jobs"
    shown = services.batch_endpoints.get("mnist-batch")
    assert shown.description == "A batch endpoint for scoring images from the MNIST dataset."
    assert shown.defaults == {"deployment_name": None} and shown.deployments == []
    assert [e.name for e in services.batch_endpoints.list()] == ["mnist-batch"]


def test_name_flag_wins_and_a_name_alone_is_enough(services: Services, azure: Path) -> None:
    services.batch_endpoints.create_from_file(azure / "mnist-classifier/endpoint.yml", name="other-name")
    services.batch_endpoints.create_from_file(None, name="bare-endpoint", overrides=[("description", "d")])
    assert [e.name for e in services.batch_endpoints.list()] == ["bare-endpoint", "other-name"]
    assert services.batch_endpoints.get("bare-endpoint").description == "d"


def test_create_of_an_existing_endpoint_updates_it_and_bad_names_are_refused(
    services: Services, azure: Path, cluster: str
) -> None:
    # As az ml batch-endpoint create (a create-or-update): running it again changes the endpoint.
    services.batch_endpoints.create_from_file(azure / "mnist-classifier/endpoint.yml")
    _deploy(services, azure, set_default=True)
    again = services.batch_endpoints.create_from_file(None, name="mnist-batch", overrides=[("description", "two")])
    assert again.description == "two"
    assert again.deployments == ["mnist-torch-dpl"] and again.default_deployment == "mnist-torch-dpl"  # kept
    assert [e.name for e in services.batch_endpoints.list()] == ["mnist-batch"]
    with pytest.raises(NotFound) as missing:  # a default named again must be one of its deployments
        services.batch_endpoints.create_from_file(
            None, name="mnist-batch", overrides=[("defaults.deployment_name", "x")]
        )
    assert missing.value.field == "defaults.deployment_name"
    with pytest.raises(InvalidInput) as info:
        services.batch_endpoints.create_from_file(None, name="x" * 40)
    assert info.value.field == "name"
    with pytest.raises(InvalidInput):
        services.batch_endpoints.create_from_file(None)


def test_a_new_endpoint_cannot_name_a_default(services: Services, tmp_path: Path) -> None:
    spec = tmp_path / "endpoint.yml"
    spec.write_text("name: ep-two\ndefaults:\n  deployment_name: blue\n")
    with pytest.raises(NotFound) as info:
        services.batch_endpoints.create_from_file(spec)
    assert info.value.field == "defaults.deployment_name" and services.batch_endpoints.list() == []


def test_update_default_must_name_an_existing_deployment(services: Services, azure: Path, cluster: str) -> None:
    services.batch_endpoints.create_from_file(azure / "mnist-classifier/endpoint.yml")
    _deploy(services, azure)
    with pytest.raises(NotFound) as info:
        services.batch_endpoints.update("mnist-batch", overrides=[("defaults.deployment_name", "nope")])
    assert info.value.field == "defaults.deployment_name" and "mnist-torch-dpl" in str(info.value)
    updated = services.batch_endpoints.update(
        "mnist-batch", overrides=[("defaults.deployment_name", "mnist-torch-dpl"), ("tags.stage", "prod")]
    )
    assert updated.default_deployment == "mnist-torch-dpl"
    assert updated.tags == {"type": "deep-learning", "stage": "prod"}
    assert services.batch_deployments.get("mnist-torch-dpl", "mnist-batch").is_default
    cleared = services.batch_endpoints.update("mnist-batch", overrides=[("defaults.deployment_name", "")])
    assert cleared.default_deployment is None


def test_update_from_file_replaces_description(services: Services, azure: Path, tmp_path: Path) -> None:
    services.batch_endpoints.create_from_file(azure / "mnist-classifier/endpoint.yml")
    spec = tmp_path / "endpoint.yml"
    spec.write_text("name: mnist-batch\ndescription: new words\n")
    assert services.batch_endpoints.update(None, path=spec).description == "new words"
    with pytest.raises(NotFound):
        services.batch_endpoints.update("missing-endpoint", overrides=[("description", "x")])


def test_delete_removes_the_deployments_too(services: Services, azure: Path, cluster: str) -> None:
    services.batch_endpoints.create_from_file(azure / "mnist-classifier/endpoint.yml")
    _deploy(services, azure, set_default=True)
    _deploy(services, azure, name="second-dpl")
    services.batch_endpoints.delete("mnist-batch")
    with services.db.read() as s:
        assert s.scalar(select(func.count()).select_from(BatchDeploymentRow)) == 0
        assert s.scalar(select(func.count()).select_from(BatchEndpointRow)) == 0
    with pytest.raises(NotFound):
        services.batch_endpoints.get("mnist-batch")
    with pytest.raises(NotFound):
        services.batch_endpoints.delete("mnist-batch")
