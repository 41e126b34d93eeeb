"""The capability matrix: what each parameter of an allowed call can reach, for every role.

Generated from the API schema like the authorization matrix: the test reads the server's OpenAPI
document, lists every request parameter (body fields, nested ones too, query parameters and
headers) and requires each to be classified here, either as inert or by what it names: a path, an
environment, code, a count, a duration or an identity. Every classified parameter has at least
one capability-raising value below (another tenant's upload, the datastore root, ``..``, an
interpreter-loading variable, a count past its bound, a far date...), sent by every role; the
answer must be the one ``docs/security.md`` gives, never a 5xx, and the files outside the jobs'
own folders must be unchanged afterwards.

Outcomes: ``"ok"`` is any 2xx; a number is that status. A role that the route's permission stops
gets that answer (403, or 404 for a job it may not know of) whatever the value, so each case names
only what roles that pass the permission check get.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from .conftest import Server, ServerFactory, deploy, upload_csv_folder, wait_for, write_inputs

EP = "cap-ep"
BLOB = "azureml://datastores/workspaceblobstore/paths"
ROLES = ("owner", "contributor", "reader", "scoped", "invoke")
KINDS = ("path", "environment", "code", "count", "duration", "identity")

# -- who passes each route's permission check (the authorization matrix checks these in depth) -------------
_PASS = None
GATES: dict[str, dict[str, int | None]] = {
    "read": {"owner": _PASS, "contributor": _PASS, "reader": _PASS, "scoped": 403, "invoke": 403},
    "write": {"owner": _PASS, "contributor": _PASS, "reader": 403, "scoped": 403, "invoke": 403},
    "admin": {"owner": _PASS, "contributor": 403, "reader": 403, "scoped": 403, "invoke": 403},
    "upload": {"owner": _PASS, "contributor": _PASS, "reader": 403, "scoped": _PASS, "invoke": _PASS},
    "ep_write": {"owner": _PASS, "contributor": _PASS, "reader": 403, "scoped": _PASS, "invoke": 403},
    "ep_invoke": {"owner": _PASS, "contributor": _PASS, "reader": 403, "scoped": _PASS, "invoke": _PASS},
    # the matrix's job was started by the contributor: the invoke-only token does not know of it
    "job_read": {"owner": _PASS, "contributor": _PASS, "reader": _PASS, "scoped": _PASS, "invoke": 404},
}
INVOKE = ("POST", "/api/v1/batch-endpoints/{endpoint_name}/jobs")
AZURE = ("POST", "/endpoints/batch/{endpoint_name}/jobs")
DEPLOY = ("POST", "/api/v1/batch-endpoints/{endpoint_name}/deployments")
DEPLOY_PATCH = ("PATCH", "/api/v1/batch-endpoints/{endpoint_name}/deployments/{name}")
ENDPOINT_PATCH = ("PATCH", "/api/v1/batch-endpoints/{endpoint_name}")
COMMAND_JOB = ("POST", "/api/v1/jobs")
ACTIONS: dict[tuple[str, str], str] = {
    INVOKE: "ep_invoke",
    AZURE: "ep_invoke",
    DEPLOY: "ep_write",
    DEPLOY_PATCH: "ep_write",
    ENDPOINT_PATCH: "ep_write",
    ("POST", "/api/v1/uploads"): "upload",
    ("POST", "/api/v1/models"): "write",
    ("POST", "/api/v1/environments"): "write",
    ("POST", "/api/v1/components"): "write",
    ("POST", "/api/v1/data"): "write",
    ("POST", "/api/v1/computes"): "write",
    ("PATCH", "/api/v1/computes/{name}"): "write",
    ("POST", "/api/v1/batch-endpoints"): "write",
    ("POST", "/api/v1/datastores"): "admin",
    ("POST", "/api/v1/tokens"): "admin",
    ("GET", "/api/v1/jobs"): "read",
    ("GET", "/api/v1/jobs/{name}/logs"): "job_read",
    COMMAND_JOB: "write",
}

# -- every request parameter of the API, classified (a new one fails the test until it is) ----------------
INERT = "inert"
_SPEC_INERT = ("description", "tags", "properties", "stage", "version", "os_type", "image", "inference_config", "build")
CLASSIFIED: dict[tuple[str, str], dict[str, str]] = {
    INVOKE: {
        "input": "path", "output_path": "path", "input_type": INERT, "overrides": "environment",
        "mini_batch_size": "count", "instance_count": "count", "deployment_name": "identity",
        "job_name": "identity", "experiment_name": "identity",
        # a pipeline deployment's named inputs and outputs: each path checked as input/output_path are
        "inputs": "path", "outputs": "path",
    },
    AZURE: {
        "header:azureml-model-deployment": "identity", "properties": INERT, "properties.InputData": "path",
        "properties.OutputData": "path", "properties.dataset": INERT, "properties.dataset.Path": "path",
        "properties.dataset.dataInputType": INERT, "properties.dataset.datasetName": "identity",
        "properties.dataset.datasetVersion": INERT, "properties.properties": "identity",
    },
    DEPLOY: {"spec": "code", "set_default": "identity"},
    DEPLOY_PATCH: {"spec": "code", "overrides": "environment", "set_default": "identity"},
    ENDPOINT_PATCH: {"spec": "identity", "overrides": "identity"},
    ("POST", "/api/v1/uploads"): {"query:name": "path"},
    ("POST", "/api/v1/models"): {"path": "path", "name": "identity", "type": INERT, "flavors": INERT},
    ("POST", "/api/v1/environments"): {
        "conda_file": "path", "pip_requirements": "path", "python_version": "environment", "name": "identity",
    },
    ("POST", "/api/v1/data"): {"path": "path", "name": "identity", "type": INERT},
    # spec: a component YAML whose code (and its steps' code) must be uploads or datastore URIs
    ("POST", "/api/v1/components"): {"spec": "code", "anonymous": INERT},
    ("POST", "/api/v1/computes"): {
        "max_instances": "count", "min_instances": "count", "address": "identity", "resources": "count",
        "idle_time_before_scale_down": "duration", "name": "identity", "type": INERT, "identity": INERT,
        "size": INERT, "tier": INERT, "location": INERT, "network_settings": INERT, "ssh_public_access_enabled": INERT,
    },
    ("PATCH", "/api/v1/computes/{name}"): {
        "max_instances": "count", "min_instances": "count", "address": "identity", "resources": "count",
    },
    ("POST", "/api/v1/batch-endpoints"): {
        "name": "identity", "auth_mode": INERT, "defaults": INERT, "defaults.deployment_name": "identity",
    },
    ("POST", "/api/v1/datastores"): {"root": "path", "name": "identity"},
    ("POST", "/api/v1/tokens"): {
        "role": "identity", "endpoint": "identity", "invoke_only": "identity", "grants": "path",
        "expires": "duration", "name": "identity",
    },
    ("GET", "/api/v1/jobs"): {
        "query:limit": "count", "query:endpoint_name": INERT, "query:deployment_name": INERT, "query:status": INERT,
        "query:experiment_name": INERT, "query:parent_job_name": INERT, "query:type": INERT,
    },
    ("GET", "/api/v1/jobs/{name}/logs"): {"query:file": "path"},
    COMMAND_JOB: {"spec": "code", "name": "identity"},
    # partial: the same job's committed part files (in its own parts/ folder, links refused) instead of its output.
    ("GET", "/api/v1/jobs/{name}/outputs/{output_name}"): {"query:partial": INERT},
}  # fmt: skip
for _params in CLASSIFIED.values():
    _params.update({k: INERT for k in _SPEC_INERT if k not in _params})
# Listing filters and limits of read-only routes that take no capability (checked to be inert).
INERT_QUERIES = ("name", "include_archived", "version", "force", "deployment_name", "limit")


@dataclass
class Case:
    op: tuple[str, str]
    param: str
    kind: str
    label: str
    send: Callable[[World, str, httpx.Client], httpx.Response]
    expect: dict[str, Any]
    """Outcome by role; ``*`` for every role that passes the permission check."""

    def expected(self, role: str) -> Any:
        gate = GATES[ACTIONS[self.op]][role]
        if gate is not None:
            return gate
        return self.expect.get(role, self.expect.get("*"))


@dataclass
class World:
    server: Server
    tokens: dict[str, str]
    uploads: dict[str, str]
    """Each role's own upload (a folder of two CSV files); ``other``: another application's."""
    job: str
    run: str
    """The MLflow run of ``job``."""
    jobs: list[str] = field(default_factory=list)


# -- request builders ----------------------------------------------------------------------------------------
def invoke(**body: Any) -> Callable[[World, str, httpx.Client], httpx.Response]:
    """An invoke of the role's own upload (unless ``input`` is given) with ``body``; placeholders:
    ``{own}`` the role's upload, ``{other}`` another application's, ``{role}`` the role's name."""

    def send(world: World, role: str, http: httpx.Client) -> httpx.Response:
        filled = {"input": "{own}", **body}
        filled = _fill(filled, world, role)
        return http.post(f"/api/v1/batch-endpoints/{EP}/jobs", json=filled)

    return send


def azure(input_uri: str, output_uri: str | None = None, **headers: str) -> Callable[..., httpx.Response]:
    def send(world: World, role: str, http: httpx.Client) -> httpx.Response:
        props: dict[str, Any] = {"InputData": {"d": {"JobInputType": "UriFolder", "Uri": input_uri}}}
        if output_uri is not None:
            props["OutputData"] = {"score": {"JobOutputType": "UriFolder", "Uri": output_uri}}
        return http.post(f"/endpoints/batch/{EP}/jobs", json=_fill({"properties": props}, world, role), headers=headers)

    return send


def post(path: str, body: Any = None, **params: Any) -> Callable[..., httpx.Response]:
    def send(world: World, role: str, http: httpx.Client) -> httpx.Response:
        return http.post(path, json=_fill(body, world, role), params=params or None)

    return send


def patch(path: str, body: Any) -> Callable[..., httpx.Response]:
    def send(world: World, role: str, http: httpx.Client) -> httpx.Response:
        return http.patch(path, json=_fill(body, world, role))

    return send


def get(path: str, **params: Any) -> Callable[..., httpx.Response]:
    def send(world: World, role: str, http: httpx.Client) -> httpx.Response:
        return http.get(path.replace("{job}", world.job), params=params)

    return send


def upload_named(name: str) -> Callable[..., httpx.Response]:
    def send(world: World, role: str, http: httpx.Client) -> httpx.Response:
        headers = {"Content-Type": "application/octet-stream"}
        return http.post("/api/v1/uploads", params={"name": name}, content=b"key,x\n", headers=headers)

    return send


def _fill(value: Any, world: World, role: str) -> Any:
    if isinstance(value, str):
        return (
            value.replace("{own}", world.uploads.get(role, world.uploads["contributor"]))
            .replace("{other}", world.uploads["other"])
            .replace("{role}", role)
            .replace("{job}", world.job)
            .replace("{run}", world.run)
            .replace("{workspace}", str(world.server.workspace))
        )
    if isinstance(value, dict):
        return {k: _fill(v, world, role) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, world, role) for v in value]
    return value


# -- the cases ----------------------------------------------------------------------------------------------
UNSCOPED_OK_SCOPED_403 = {"owner": "ok", "contributor": "ok", "scoped": 403, "invoke": 403}
ALL_422 = {"*": 422}
DATA_PLANE = {"owner": "ok", "contributor": "ok", "scoped": "ok", "invoke": 403}
_DEP = {"name": "bad", "type": "model", "code_configuration": {"code": "{other}", "scoring_script": "score.py"}}


def cases() -> list[Case]:
    # fmt: off
    c: list[Case] = []

    def add(op: tuple[str, str], param: str, kind: str, label: str, send: Any, expect: dict[str, Any]) -> None:
        c.append(Case(op, param, kind, label, send, expect))

    # invoke: input
    add(INVOKE, "input", "path", "another tenant's upload", invoke(input="{other}"), UNSCOPED_OK_SCOPED_403)
    add(INVOKE, "input", "path", "the datastore root", invoke(input=f"{BLOB}/"), UNSCOPED_OK_SCOPED_403)
    add(INVOKE, "input", "path", "the uploads folder", invoke(input=f"{BLOB}/uploads"), UNSCOPED_OK_SCOPED_403)
    add(INVOKE, "input", "path", "'..' out of the datastore", invoke(input=f"{BLOB}/../../.."), ALL_422)
    add(INVOKE, "input", "path", "encoded '..'", invoke(input=f"{BLOB}/%2e%2e/%2e%2e"), ALL_422)
    add(INVOKE, "input", "path", "a server path outside the roots", invoke(input="/etc"),
        {"owner": 422, "contributor": 422, "scoped": 403, "invoke": 403})
    add(INVOKE, "input", "path", "the workspace's metadata folder", invoke(input="{workspace}"),
        {"owner": 422, "contributor": 422, "scoped": 403, "invoke": 403})
    add(INVOKE, "input", "path", "a file: URI", invoke(input="file:///etc/passwd"), ALL_422)
    add(INVOKE, "input", "path", "a NUL character", invoke(input=f"{BLOB}/a\x00b"), ALL_422)
    add(INVOKE, "input", "path", "a glob over the server", invoke(input="/*/passwd"),
        {"owner": 422, "contributor": 422, "scoped": 403, "invoke": 403})
    # invoke: output_path
    add(INVOKE, "output_path", "path", "the datastore root", invoke(output_path=f"{BLOB}/"),
        {"owner": 409, "contributor": 409, "scoped": 403, "invoke": 403})
    add(INVOKE, "output_path", "path", "inside another tenant's upload", invoke(output_path="{other}/out"), {"*": 403})
    add(INVOKE, "output_path", "path", "the uploads folder", invoke(output_path=f"{BLOB}/uploads/x"), {"*": 403})
    add(INVOKE, "output_path", "path", "'..' out of the datastore", invoke(output_path=f"{BLOB}/../x"), ALL_422)
    add(INVOKE, "output_path", "path", "a server path outside the roots", invoke(output_path="/tmp/cap-out"),
        {"owner": 422, "contributor": 422, "scoped": 403, "invoke": 403})
    add(INVOKE, "output_path", "path", "a new datastore folder (not granted)",
        invoke(output_path=BLOB + "/results/{role}"), UNSCOPED_OK_SCOPED_403)
    # invoke: inputs / outputs (a pipeline deployment's named ones) and --set inputs.<name>.path
    outside = {"owner": 422, "contributor": 422, "scoped": 403, "invoke": 403}
    add(INVOKE, "inputs", "path", "a server path outside the roots",
        invoke(inputs={"x": {"type": "uri_folder", "path": "/etc"}}), outside)
    add(INVOKE, "inputs", "path", "'..' out of the datastore",
        invoke(inputs={"x": {"type": "uri_folder", "path": f"{BLOB}/../../.."}}), ALL_422)
    add(INVOKE, "inputs", "path", "another tenant's upload",
        invoke(inputs={"x": {"type": "uri_folder", "path": "{other}"}}), UNSCOPED_OK_SCOPED_403)
    add(INVOKE, "inputs", "path", "--set inputs.x.path outside the roots",
        invoke(overrides=[["inputs.x.path", "/etc"]]), outside)
    add(INVOKE, "outputs", "path", "a server path outside the roots",
        invoke(outputs={"s": {"type": "uri_folder", "path": "/tmp/cap-out"}}), outside)
    add(INVOKE, "outputs", "path", "the uploads folder", invoke(outputs={"s": {"path": f"{BLOB}/uploads/x"}}), {"*": 403})
    # invoke: overrides (environment, code, counts, durations)
    for var in ("PYTHONPATH", "LD_PRELOAD", "PYTHONSTARTUP", "BASH_ENV"):
        add(INVOKE, "overrides", "environment", f"environment_variables.{var}",
            invoke(overrides=[[f"environment_variables.{var}", "/tmp/nothing-here"]]), DATA_PLANE)
    add(INVOKE, "overrides", "environment", "the whole environment_variables map",
        invoke(overrides={"environment_variables": {"LD_PRELOAD": "/tmp/x.so"}}), DATA_PLANE)
    for key in ("code_configuration.code", "model", "environment", "output_action", "compute"):
        add(INVOKE, "overrides", "code", key, invoke(overrides=[[key, "{other}"]]), ALL_422)
    add(INVOKE, "overrides", "count", "max_concurrency_per_instance past the compute",
        invoke(overrides=[["max_concurrency_per_instance", 1024]]),
        {"owner": 422, "contributor": 422, "scoped": 422, "invoke": 403})
    add(INVOKE, "overrides", "count", "max_concurrency_per_instance above the deployment's",
        invoke(overrides=[["max_concurrency_per_instance", 2]]), DATA_PLANE)
    add(INVOKE, "overrides", "count", "retries above the deployment's",
        invoke(overrides=[["retry_settings.max_retries", 100]]), DATA_PLANE)
    add(INVOKE, "overrides", "count", "retries past the bound", invoke(overrides=[["retry_settings.max_retries", 10**6]]),
        ALL_422)
    add(INVOKE, "overrides", "duration", "timeout above the deployment's",
        invoke(overrides=[["retry_settings.timeout", 86400]]), DATA_PLANE)
    add(INVOKE, "overrides", "duration", "timeout past the bound", invoke(overrides=[["retry_settings.timeout", 10**9]]),
        ALL_422)
    add(INVOKE, "mini_batch_size", "count", "past the bound", invoke(mini_batch_size=10**9), ALL_422)
    add(INVOKE, "mini_batch_size", "count", "zero", invoke(mini_batch_size=0), ALL_422)
    add(INVOKE, "instance_count", "count", "past the bound", invoke(instance_count=10**6), ALL_422)
    add(INVOKE, "instance_count", "count", "above the deployment's", invoke(instance_count=2), DATA_PLANE)
    add(INVOKE, "deployment_name", "identity", "a deployment that does not exist", invoke(deployment_name="nope"),
        {"*": 404})
    add(INVOKE, "job_name", "identity", "an existing job's name", invoke(job_name="cap-existing"), {"*": 409})
    add(INVOKE, "job_name", "identity", "a path as a name", invoke(job_name="../../etc"), ALL_422)
    add(INVOKE, "experiment_name", "identity", "over the length bound", invoke(experiment_name="e" * 300), ALL_422)
    # the Azure data plane
    add(AZURE, "properties.InputData", "path", "another tenant's upload", azure("{other}"), UNSCOPED_OK_SCOPED_403)
    add(AZURE, "properties.InputData", "path", "an ARM path out of the datastore",
        azure("/subscriptions/s/resourceGroups/g/workspaces/w/datastores/workspaceblobstore/paths/../../.."), ALL_422)
    add(AZURE, "properties.OutputData", "path", "the datastore root", azure("{own}", f"{BLOB}/"),
        {"owner": 409, "contributor": 409, "scoped": 403, "invoke": 403})
    add(AZURE, "properties.dataset.Path", "path", "a server path",
        post(f"/endpoints/batch/{EP}/jobs", {"properties": {"dataset": {"dataInputType": "DataUrl", "Path": "/etc"}}}),
        {"owner": 422, "contributor": 422, "scoped": 403, "invoke": 403})
    add(AZURE, "properties.dataset.datasetName", "identity", "a data asset that does not exist",
        post(f"/endpoints/batch/{EP}/jobs", {"properties": {"dataset": {"datasetName": "nope"}}}), {"*": 404})
    add(AZURE, "header:azureml-model-deployment", "identity", "a deployment that does not exist",
        azure("{own}", **{"azureml-model-deployment": "nope"}), {"*": 404})
    add(AZURE, "properties.properties", "identity", "an experiment name over the bound",
        post(f"/endpoints/batch/{EP}/jobs", {"properties": {
            "InputData": {"d": {"JobInputType": "UriFolder", "Uri": "{own}"}},
            "properties": {"experimentName": "e" * 300}}}), ALL_422)
    # deployments: code and environment (contributors may deploy code; scoped tokens only their own files)
    add(DEPLOY, "spec", "code", "another tenant's upload as code", post(f"/api/v1/batch-endpoints/{EP}/deployments",
        {"spec": _DEP}), {"owner": 422, "contributor": 422, "scoped": 403})
    add(DEPLOY, "spec", "code", "a server folder as code", post(f"/api/v1/batch-endpoints/{EP}/deployments",
        {"spec": {**_DEP, "code_configuration": {"code": "/etc", "scoring_script": "passwd"}}}),
        {"owner": 422, "contributor": 422, "scoped": 403})
    add(DEPLOY, "set_default", "identity", "another endpoint's deployment", post(
        f"/api/v1/batch-endpoints/{EP}/deployments", {"spec": {**_DEP, "endpoint_name": "other-ep"}, "set_default": True}),
        ALL_422)
    add(DEPLOY_PATCH, "overrides", "environment", "an interpreter-loading variable", patch(
        f"/api/v1/batch-endpoints/{EP}/deployments/green",
        {"overrides": [["settings.environment_variables.LD_PRELOAD", "/tmp/nothing.so"]]}), {"*": "ok"})
    add(DEPLOY_PATCH, "overrides", "code", "code from a server path", patch(
        f"/api/v1/batch-endpoints/{EP}/deployments/green", {"overrides": [["code_configuration.code", "/etc"]]}),
        ALL_422)
    add(DEPLOY_PATCH, "spec", "code", "another tenant's upload as code", patch(
        f"/api/v1/batch-endpoints/{EP}/deployments/green", {"spec": {**_DEP, "name": "green"}}),
        {"owner": 422, "contributor": 422, "scoped": 403})
    add(DEPLOY_PATCH, "set_default", "identity", "a deployment of another endpoint", patch(
        f"/api/v1/batch-endpoints/{EP}/deployments/nope", {"set_default": True}), {"*": 404})
    add(ENDPOINT_PATCH, "overrides", "identity", "a default deployment that does not exist", patch(
        f"/api/v1/batch-endpoints/{EP}", {"overrides": [["defaults.deployment_name", "nope"]]}), {"*": 404})
    add(ENDPOINT_PATCH, "spec", "identity", "another endpoint's name", patch(
        f"/api/v1/batch-endpoints/{EP}", {"spec": {"name": "other-ep"}}), ALL_422)
    # command jobs: code (contributors may run code; never from a server folder outside the roots)
    add(COMMAND_JOB, "spec", "code", "a server folder as code",
        post("/api/v1/jobs", {"spec": {"command": "true", "code": "/etc"}}), ALL_422)
    add(COMMAND_JOB, "spec", "path", "an input outside the roots",
        post("/api/v1/jobs", {"spec": {"command": "true", "inputs": {"d": {"type": "uri_folder", "path": "/etc"}}}}),
        ALL_422)
    add(COMMAND_JOB, "name", "identity", "a job name over the bound",
        post("/api/v1/jobs", {"spec": {"command": "true"}, "name": "j" * 300}), ALL_422)
    # uploads
    for name in ("..", "../x", "a/b", ".hidden", "x" * 300):
        add(("POST", "/api/v1/uploads"), "query:name", "path", f"name {name[:20]!r}", upload_named(name), ALL_422)
    # registry specs that name files of the server
    for noun, key in (("models", "path"), ("data", "path"), ("environments", "conda_file"),
                      ("environments", "pip_requirements")):  # fmt: skip
        body = {"name": f"cap-{noun}", "version": "1", key: "/etc/passwd"}
        if noun == "models":
            body["type"] = "custom_model"
        add(("POST", f"/api/v1/{noun}"), key, "path", "a server file", post(f"/api/v1/{noun}", body), ALL_422)
        dotted = {**body, key: f"{BLOB}/../../metadata.db"}
        add(("POST", f"/api/v1/{noun}"), key, "path", "'..' out of the datastore", post(f"/api/v1/{noun}", dotted),
            ALL_422)
        add(("POST", f"/api/v1/{noun}"), "name", "identity", "a path as a name",
            post(f"/api/v1/{noun}", {**body, "name": "../x"}), ALL_422)
    # a model from what a job produced: only inside that job's output or its run's artifacts
    for label, uri in (("'..' out of a job's output", "azureml://jobs/{job}/outputs/score/paths/../../../.."),
                       ("'..' out of a run's artifacts", "runs:/{run}/../../../.."),
                       ("an output the job does not have", "azureml://jobs/{job}/outputs/nope"),
                       ("a job that does not exist", "azureml://jobs/no-such-job/outputs/score"),
                       ("a run that does not exist", f"runs:/{'0' * 32}/model")):  # fmt: skip
        expect = ALL_422 if "'..'" in label else {"*": 404}
        add(("POST", "/api/v1/models"), "path", "path", label,
            post("/api/v1/models", {"name": "cap-from-job", "type": "custom_model", "path": uri}), expect)
    _component = {"name": "cap-comp", "type": "command", "command": "cat passwd", "code": "/etc"}
    add(("POST", "/api/v1/components"), "spec", "code", "a server folder as code",
        post("/api/v1/components", {"spec": _component}), ALL_422)
    add(("POST", "/api/v1/components"), "spec", "code", "a server file as a step's component",
        post("/api/v1/components", {"spec": {"name": "cap-pipe", "type": "pipeline",
                                             "jobs": {"a": {"component": "/etc/passwd.yml"}}}}), ALL_422)
    add(("POST", "/api/v1/components"), "spec", "code", "a server folder as an inline step's code",
        post("/api/v1/components", {"spec": {"name": "cap-pipe", "type": "pipeline",
                                             "jobs": {"a": {"component": {**_component, "name": None}}}}}), ALL_422)
    add(("POST", "/api/v1/environments"), "python_version", "environment", "not a version",
        post("/api/v1/environments", {"name": "cap-env", "python_version": "3.11; rm -rf /"}), ALL_422)
    # computes
    add(("POST", "/api/v1/computes"), "max_instances", "count", "past the bound",
        post("/api/v1/computes", {"name": "cap-c", "type": "local", "max_instances": 10**9}), ALL_422)
    add(("POST", "/api/v1/computes"), "min_instances", "count", "above max_instances",
        post("/api/v1/computes", {"name": "cap-c", "type": "local", "min_instances": 5, "max_instances": 1}), ALL_422)
    add(("POST", "/api/v1/computes"), "resources", "count", "negative",
        post("/api/v1/computes", {"name": "cap-c", "type": "ray", "address": "local", "resources": {"CPU": -1}}),
        ALL_422)
    add(("POST", "/api/v1/computes"), "address", "identity", "not a Ray address",
        post("/api/v1/computes", {"name": "cap-c", "type": "ray", "address": "http://169.254.169.254/"}), ALL_422)
    add(("POST", "/api/v1/computes"), "idle_time_before_scale_down", "duration", "negative",
        post("/api/v1/computes", {"name": "cap-c", "type": "local", "idle_time_before_scale_down": -1}), ALL_422)
    add(("POST", "/api/v1/computes"), "name", "identity", "a path as a name",
        post("/api/v1/computes", {"name": "../x", "type": "local"}), ALL_422)
    for key, value in (("max_instances", 10**9), ("min_instances", -1), ("address", "ray://"), ("resources", {"x": -1})):
        add(("PATCH", "/api/v1/computes/{name}"), key, "count" if key != "address" else "identity", "out of bounds",
            patch("/api/v1/computes/cap-local", {key: value}), ALL_422)
    add(("POST", "/api/v1/batch-endpoints"), "name", "identity", "a path as a name",
        post("/api/v1/batch-endpoints", {"name": "../x"}), ALL_422)
    add(("POST", "/api/v1/batch-endpoints"), "defaults.deployment_name", "identity", "a path as a name",
        post("/api/v1/batch-endpoints", {"name": "cap-new", "defaults": {"deployment_name": "../x"}}), {"*": 404})
    # owner-only: datastores and tokens
    add(("POST", "/api/v1/datastores"), "root", "path", "a server folder outside the roots",
        post("/api/v1/datastores", {"name": "cap-ds", "root": "/etc"}), ALL_422)
    add(("POST", "/api/v1/datastores"), "root", "path", "the workspace folder",
        post("/api/v1/datastores", {"name": "cap-ds", "root": "{workspace}"}), ALL_422)
    add(("POST", "/api/v1/datastores"), "name", "identity", "a path as a name",
        post("/api/v1/datastores", {"name": "../x", "root": "/etc"}), ALL_422)
    for expires in ("999999w", "3651d", "0s"):
        add(("POST", "/api/v1/tokens"), "expires", "duration", f"expires {expires}",
            post("/api/v1/tokens", {"role": "reader", "expires": expires}), ALL_422)
    add(("POST", "/api/v1/tokens"), "role", "identity", "an unknown role",
        post("/api/v1/tokens", {"role": "root"}), ALL_422)
    add(("POST", "/api/v1/tokens"), "endpoint", "identity", "a path as an endpoint",
        post("/api/v1/tokens", {"role": "contributor", "endpoint": "../x"}), ALL_422)
    add(("POST", "/api/v1/tokens"), "invoke_only", "identity", "invoke-only without an endpoint",
        post("/api/v1/tokens", {"role": "contributor", "invoke_only": True}), ALL_422)
    add(("POST", "/api/v1/tokens"), "grants", "path", "'..' in a grant",
        post("/api/v1/tokens", {"role": "contributor", "endpoint": EP, "grants": [f"{BLOB}/../"]}), ALL_422)
    add(("POST", "/api/v1/tokens"), "grants", "path", "a grant to an unscoped token",
        post("/api/v1/tokens", {"role": "contributor", "grants": [f"{BLOB}/x/"]}), ALL_422)
    add(("POST", "/api/v1/tokens"), "name", "identity", "a name that is not one",
        post("/api/v1/tokens", {"role": "reader", "name": "a b/../c"}), ALL_422)
    # reading
    add(("GET", "/api/v1/jobs"), "query:limit", "count", "past the bound", get("/api/v1/jobs", limit=10**6), ALL_422)
    for file in ("../../../metadata.db", "/etc/passwd", "../../../../../../etc/passwd", "..%2f..%2fmetadata.db"):
        add(("GET", "/api/v1/jobs/{name}/logs"), "query:file", "path", f"file {file}",
            get("/api/v1/jobs/{job}/logs", file=file), {"*": (404, 422)})
    return c
    # fmt: on


# -- the world ----------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def world(server_factory: ServerFactory) -> World:
    server = server_factory({"BATCHPOINT_SERVER_MAX_ACTIVE_JOBS_PER_TOKEN": "1000"})
    owner = server.client()
    owner.batch_endpoints.create_from_file(None, name=EP)
    folder = server.project.parent / "cap-project"
    deploy(owner, folder, EP, "blue")
    _deploy_second(owner, folder)
    owner.computes.create("cap-local", type="local", max_instances=1)
    make = owner.tokens.create
    tokens = {
        "owner": server.token,
        "contributor": make("contributor", name="cap-contributor").token,
        "reader": make("reader", name="cap-reader").token,
        "scoped": make("contributor", name="cap-scoped", endpoint=EP).token,
        "invoke": make("contributor", name="cap-app", endpoint=EP, invoke_only=True).token,
        "other": make("contributor", name="cap-other-app", endpoint=EP, invoke_only=True).token,
    }
    uploads = {}
    for role in ("owner", "contributor", "scoped", "invoke", "other"):
        with server.http(tokens[role]) as http:
            uploads[role] = upload_csv_folder(http, f"{role}-in")
    with server.http(tokens["contributor"]) as http:
        existing = http.post(f"/api/v1/batch-endpoints/{EP}/jobs", json={"input": uploads["contributor"],
                                                                       "job_name": "cap-existing"})  # fmt: skip
        assert existing.status_code == 202, existing.text
        wait_for(lambda: http.get("/api/v1/jobs/cap-existing").json()["status"] == "Completed", 120)
        run = http.get("/api/v1/jobs/cap-existing").json()["run_id"]
    write_inputs(server.workspace / "datastores" / "workspaceblobstore" / "shared", 1)
    return World(server=server, tokens=tokens, uploads=uploads, job="cap-existing", run=run)


def _deploy_second(owner: Any, folder: Path) -> None:
    """A second, non-default deployment ``green`` for the PATCH cases."""
    from batchpoint.common import yamlio

    spec = yamlio.load_file(folder / "deployment.yml")
    spec["name"] = "green"
    path = folder / "green.yml"
    path.write_text(yamlio.dumps(spec))
    owner.batch_deployments.create_from_file(path)


def _snapshot(world: World) -> dict[str, tuple[int, int]]:
    """Every file of the workspace but the jobs' own folders, the staging and cache folders and the databases
    (the metadata database, and the MLflow tracking store that records each job as a run)."""
    root = world.server.workspace
    skip = ("jobs", "tmp", "cache")
    seen = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if rel.parts[0] in skip or rel.name.startswith(("metadata.db", "tracking.db")) or not path.is_file():
            continue
        stat = path.stat()
        seen[str(rel)] = (stat.st_size, stat.st_mtime_ns)
    return seen


def _schema_parameters(world: World) -> set[tuple[tuple[str, str], str]]:
    """(operation, parameter) for every body field (nested ones dotted), query parameter and header."""
    with world.server.http(world.server.token) as http:
        schema = http.get("/api/v1/openapi.json").json()
    components = schema["components"]["schemas"]

    def fields(node: dict[str, Any], prefix: str = "") -> list[str]:
        if "$ref" in node:
            node = components[node["$ref"].split("/")[-1]]
        found = [f for key in ("anyOf", "oneOf", "allOf") for sub in node.get(key, []) for f in fields(sub, prefix)]
        for name, sub in node.get("properties", {}).items():
            found.append(prefix + name)
            if prefix.count(".") < 2:
                found += fields(sub, prefix + name + ".")
        return found

    params = set()
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            op = (method.upper(), path)
            for parameter in operation.get("parameters", []):
                if parameter["in"] in ("query", "header"):
                    params.add((op, f"{parameter['in']}:{parameter['name']}"))
            body = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
            for name in fields(body) if body else []:
                params.add((op, name))
    return params


# -- the tests ----------------------------------------------------------------------------------------------
def test_every_parameter_of_the_api_is_classified_and_each_capability_has_cases(world: World) -> None:
    unclassified = []
    for op, param in sorted(_schema_parameters(world)):
        if op in CLASSIFIED:
            if param not in CLASSIFIED[op]:
                unclassified.append(f"{op[0]} {op[1]}: {param}")
        elif not (param.startswith("query:") and param.removeprefix("query:") in INERT_QUERIES):
            unclassified.append(f"{op[0]} {op[1]}: {param}")
    assert not unclassified, "parameters the capability matrix does not classify:\n" + "\n".join(unclassified)
    covered = {(case.op, case.param) for case in cases()}
    missing = [
        f"{op[0]} {op[1]}: {param} ({kind})"
        for op, params in CLASSIFIED.items()
        for param, kind in params.items()
        if kind != INERT and (op, param) not in covered
    ]
    assert not missing, "capability parameters without a capability-raising case:\n" + "\n".join(missing)
    assert {case.kind for case in cases()} == set(KINDS)


def test_each_role_and_capability_raising_value_is_answered_as_the_threat_model_says(world: World) -> None:
    before = _snapshot(world)
    mismatches = []
    checked = 0
    clients = {role: world.server.http(world.tokens[role]) for role in ROLES}
    try:
        for case in cases():
            for role in ROLES:
                expected = case.expected(role)
                response = case.send(world, role, clients[role])
                status = response.status_code
                if 200 <= status < 300 and response.request.method == "POST" and "/jobs" in response.request.url.path:
                    world.jobs.append(_job_name(response))
                ok = status < 500 and (
                    (expected == "ok" and 200 <= status < 300)
                    or status == expected
                    or (isinstance(expected, tuple) and status in expected)
                )
                if not ok:
                    mismatches.append(
                        f"{case.op[0]} {case.op[1]} {case.param} = {case.label} as {role}: expected {expected}, "
                        f"got {status} {response.text[:160]}"
                    )
                checked += 1
    finally:
        _end_jobs(world, clients["owner"])
        for http in clients.values():
            http.close()
    assert checked == len(cases()) * len(ROLES)
    assert not mismatches, f"{len(mismatches)} of {checked} answers differ:\n" + "\n".join(mismatches)
    with world.server.http(world.server.token) as owner:
        outputs = [_output_folder(owner.get(f"/api/v1/jobs/{name}").json()) for name in world.jobs]
    after = {k: v for k, v in _snapshot(world).items() if not any(k.startswith(o) for o in outputs if o)}
    assert after == before, "files outside the jobs' own folders changed"


def _output_folder(job: dict[str, Any]) -> str | None:
    """A job's output folder relative to the workspace, when the caller named one in the default datastore."""
    path = str(job["outputs"]["score"]["path"])
    return "datastores/workspaceblobstore/" + path.removeprefix(BLOB + "/") + "/" if path.startswith(BLOB) else None


def _job_name(response: httpx.Response) -> str:
    body = response.json()
    return str(body.get("name") or body["id"].rsplit("/", 1)[-1])


def _end_jobs(world: World, owner: httpx.Client) -> None:
    """Cancel the jobs the cases started and wait until they have ended (their files are their own)."""
    for name in world.jobs:
        owner.post(f"/api/v1/jobs/{name}/cancel")
    ended = ("Completed", "Failed", "Canceled")
    wait_for(lambda: all(owner.get(f"/api/v1/jobs/{n}").json()["status"] in ended for n in world.jobs), 120)


def test_job_list_filters_are_inert_for_every_role(world: World) -> None:
    """``experiment_name``, ``parent_job_name`` and ``type`` only narrow what a role may list already.

    Each filter, with a value that matches and one that does not, gets the same answer to the permission
    check as the plain listing (scoped and invoke-only tokens: 403, whatever they filter by), and a
    role that may list sees a subset of its unfiltered list, never a job it could not list otherwise.
    """
    filters = [
        {"experiment_name": EP}, {"experiment_name": "no-such-experiment"},
        {"parent_job_name": world.job}, {"parent_job_name": "../" + world.job},
        {"type": "batch"}, {"type": "command"},
        {"experiment_name": EP, "type": "batch", "parent_job_name": world.job},
    ]  # fmt: skip
    for role in ROLES:
        with world.server.http(world.tokens[role]) as http:
            plain = http.get("/api/v1/jobs", params={"limit": 1000})
            seen = {j["name"] for j in plain.json()} if plain.status_code == 200 else set()
            for params in filters:
                answer = http.get("/api/v1/jobs", params={**params, "limit": 1000})
                assert answer.status_code == plain.status_code, (role, params, answer.text)
                if answer.status_code == 200:
                    assert {j["name"] for j in answer.json()} <= seen, (role, params)
            if plain.status_code == 200:
                assert world.job in seen  # the filters below narrow a list that holds the job
                typed = http.get("/api/v1/jobs", params={"type": "batch", "experiment_name": EP}).json()
                assert world.job in {j["name"] for j in typed}
                assert http.get("/api/v1/jobs", params={"type": "command"}).json() == []
            else:
                assert plain.status_code == 403, (role, plain.text)
