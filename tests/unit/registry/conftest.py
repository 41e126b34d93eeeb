"""Helpers for registry tests: a Services object on a fresh workspace, model folders, fake deployments."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from batchpoint import Client
from batchpoint.services import Services
from batchpoint.store.tables import BatchDeploymentRow, BatchEndpointRow


@pytest.fixture
def services(client: Client) -> Iterator[Services]:
    yield client.services


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    """A small MLflow-looking model folder."""
    folder = tmp_path / "src" / "model"
    folder.mkdir(parents=True)
    (folder / "MLmodel").write_text("flavors:\n  python_function:\n    loader_module: mlflow.sklearn\n  sklearn: {}\n")
    (folder / "model.pkl").write_bytes(b"\x80\x04weights")
    (folder / "sub").mkdir()
    (folder / "sub" / "extra.txt").write_text("extra\n")
    return folder


def add_deployment(
    services: Services,
    *,
    endpoint: str = "ep1",
    name: str = "blue",
    model: tuple[str, str] | None = None,
    spec: dict[str, Any] | None = None,
) -> None:
    """Insert an endpoint (if needed) and a deployment row, as the endpoint service would."""
    with services.db.session() as s:
        ep = s.query(BatchEndpointRow).filter_by(name=endpoint).first()
        if ep is None:
            ep = BatchEndpointRow(name=endpoint)
            s.add(ep)
            s.flush()
        s.add(
            BatchDeploymentRow(
                endpoint_id=ep.id,
                name=name,
                type="model",
                model_name=model[0] if model else None,
                model_version=model[1] if model else None,
                spec=spec or {},
            )
        )
