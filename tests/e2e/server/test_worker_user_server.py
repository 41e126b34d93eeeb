"""A server run as root starts its jobs' workers as the unprivileged worker user, never as root.

The server's workspace lives in a folder that user can enter (pytest's ``tmp_path`` is 0700 under
/tmp/pytest-of-root), and the server gets ``BATCHPOINT_ENGINE_WORKER_USER`` unset: the default.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from batchpoint.common import yamlio
from batchpoint.executors import privileges
from batchpoint.executors.privileges import WorkerIdentity
from batchpoint.workspace import init_workspace

from .conftest import Server, _environment, kill_tree_of, read_predictions, write_inputs

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="workers change user only when batchpoint runs as root")

UID_SCORER = """
import os

def run(mini_batch):
    return [(os.path.basename(path), os.getuid(), os.geteuid()) for path in mini_batch]
"""


@pytest.fixture
def open_server(worker_user: WorkerIdentity) -> Iterator[Server]:
    root = Path(tempfile.mkdtemp(prefix="bp-worker-user-server-"))
    root.chmod(0o755)
    project = root / "project"
    project.mkdir()
    init_workspace(project)
    # "" is the default (the batchpoint user, else nobody), as an unset variable would be.
    server = Server(project, _environment(project, None, {privileges.WORKER_USER_VARIABLE: ""}))
    try:
        yield server.start()
    finally:
        server.stop()
        kill_tree_of(server.workspace)
        shutil.rmtree(root, ignore_errors=True)


def test_a_server_job_scores_in_workers_that_are_not_root(open_server: Server, worker_user: WorkerIdentity) -> None:
    client = open_server.client()
    client.batch_endpoints.create_from_file(None, name="uid-ep")
    folder = open_server.project.parent / "local"
    (folder / "model").mkdir(parents=True)
    (folder / "model" / "factor.txt").write_text("3")
    (folder / "code").mkdir()
    (folder / "code" / "score.py").write_text(UID_SCORER)
    spec = {
        "name": "blue",
        "endpoint_name": "uid-ep",
        "type": "model",
        "model": {"name": "m-uid", "path": "model"},
        "code_configuration": {"code": "code", "scoring_script": "score.py"},
        "settings": {"mini_batch_size": 2},
    }
    (folder / "deployment.yml").write_text(yamlio.dumps(spec))
    client.batch_deployments.create_from_file(folder / "deployment.yml", set_default=True)
    write_inputs(folder / "data", 4)
    job = client.batch_endpoints.invoke("uid-ep", input=str(folder / "data"))
    final = client.jobs.wait(job.name, timeout=120)
    assert final.status.value == "Completed", final.message
    dest = client.jobs.download(job.name, download_path=folder / "out")
    rows = read_predictions(dest / "named-outputs" / "score" / "predictions.csv")
    assert len(rows) == 4
    assert {(int(r[1]), int(r[2])) for r in rows} == {(worker_user.uid, worker_user.uid)}
