"""Components through a real server and the remote SDK: code uploaded, step component files sent inline.

The same files registered embedded and remotely give the same definition (``content_hash``), since
the code snapshot and the inline environment are content-addressed on both sides.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from batchpoint import Client
from batchpoint.errors import Conflict, Forbidden, InvalidInput, NotFound
from batchpoint.workspace import init_workspace

from .conftest import ServerFactory

DATA = Path(__file__).resolve().parents[2] / "data" / "components"


def test_components_through_the_server(server_factory: ServerFactory, tmp_path: Path) -> None:
    server = server_factory()
    files = tmp_path / "components"
    shutil.copytree(DATA, files)
    (files / "src" / "notes.tmp").write_text("left out by .amlignore")
    remote = server.client()

    train = remote.components.create(files / "train.yml")
    assert train.id == "azureml:train_model:1" and train.code and train.code.startswith("snapshot:")
    pipeline = remote.components.create(files / "pipeline.yml")
    assert pipeline.jobs is not None
    assert all(body["component"].startswith("azureml:") for body in pipeline.jobs.values())
    assert remote.components.create(files / "pipeline.yml") == pipeline  # nothing new the second time
    uploads = server.workspace / "datastores" / "workspaceblobstore" / "uploads"
    assert not uploads.exists() or not any(uploads.iterdir())  # the code went into the artifact store

    # The same files embedded: the same definitions.
    project = tmp_path / "embedded"
    project.mkdir()
    init_workspace(project)
    with Client(project) as embedded:
        assert embedded.components.create(files / "train.yml").content_hash == train.content_hash
        assert embedded.components.create(files / "pipeline.yml").content_hash == pipeline.content_hash

    # Reading, archiving, resolving.
    assert [c.id for c in remote.components.list()] == ["azureml:train_and_score:1", "azureml:train_model:1"]
    assert remote.components.get("train_model", "1") == train
    assert remote.components.resolve("azureml:train_model@latest") == train
    local = remote.components.resolve(str(files / "score.yml"))
    assert local.anonymous and local.id == pipeline.jobs["score"]["component"]
    inline = remote.components.resolve({"type": "command", "command": "echo hi"})
    assert (
        inline.name == "azureml_anonymous"
        and remote.components.resolve({"type": "command", "command": "echo hi"}) == inline
    )
    assert remote.components.archive("train_model").archived
    with pytest.raises(NotFound):
        remote.components.get("train_model")
    assert remote.components.restore("train_model", "1").archived is False

    # Errors name the local file and the field, as embedded.
    with pytest.raises(Conflict) as conflict:
        remote.components.create(files / "train.yml", overrides=[("command", "echo ${{inputs.training_data}}")])
    assert conflict.value.field == "version"
    bad = files / "bad.yml"
    bad.write_text(yaml.safe_dump({"name": "bad", "type": "command", "command": "echo ${{inputs.x}}"}))
    with pytest.raises(InvalidInput) as info:
        remote.components.create(bad)
    assert info.value.file == str(bad) and info.value.field == "command"
    assert "component 'bad'" in info.value.message and "${{inputs.x}}" in info.value.message

    # A reader reads (environment variable values masked) but does not register.
    reader = server.client(remote.tokens.create("reader").token)
    assert reader.components.get("train_model", "1").environment_variables == {"MODE": "***"}
    with pytest.raises(Forbidden):
        reader.components.create(files / "score.yml")

    # What the SDK never sends: a step component that is a file of the server, code from a server folder.
    with server.http(server.token) as http:
        answer = http.post("/api/v1/components", json={"spec": {"name": "p", "type": "pipeline",
                                                                 "jobs": {"a": {"component": "/etc/x.yml"}}}})  # fmt: skip
        assert answer.status_code == 422 and answer.json()["error"]["field"] == "jobs.a.component"
        answer = http.post("/api/v1/components", json={"spec": {"name": "c", "command": "ls", "code": "/etc"}})
        assert answer.status_code == 422 and answer.json()["error"]["field"] == "code"
