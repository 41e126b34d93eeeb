"""Fixtures for the endpoint tests: a private copy of the Azure-form YAML files and a registered cluster."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from batchpoint import Client
from batchpoint.services import Services

DATA = Path(__file__).parents[2] / "data" / "azureml"


@pytest.fixture
def azure(tmp_path: Path) -> Path:
    """A copy of tests/data/azureml that a test may edit (code folders, models)."""
    target = tmp_path / "azureml"
    shutil.copytree(DATA, target)
    return target


@pytest.fixture
def services(client: Client) -> Services:
    return client.services


@pytest.fixture
def cluster(services: Services, azure: Path) -> str:
    """The ``batch-cluster`` compute the Azure examples name."""
    return services.computes.create_from_file(azure / "compute" / "batch-cluster.yml").name
