"""The malicious-input corpus of reliability-security.md section 4, against a real server.

Every case must get a 4xx with a JSON error (naming the field where the request had one: every
422, 413 and 415 names it), zero 5xx, no traceback, and never the content of a planted canary.
At the end: nothing was written outside the workspace (tree diff), no marker file exists (no
pickle or YAML payload ran), and the server's log holds no canary either.
"""

from __future__ import annotations

import io
import os
import pickle
import secrets
import tarfile
import warnings
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from .conftest import Server, ServerFactory, deploy, write_inputs

MAX_UPLOAD = 8 * 1024 * 1024
MAX_EXTRACTED = 16 * 1024 * 1024
MAX_MEMBERS = 200
CANARY = "CANARY-" + secrets.token_hex(12)
MARKER_NAME = "pwned-marker"

# 4.1: names and path-like values that must never be accepted as a name
TRAVERSAL = [
    ".", "..", "../", "../../etc/passwd", "..%2f..%2fetc%2fpasswd", "%2e%2e%2f", "%2E%2E%2F%2E%2E%2F",
    "%252e%252e%252f", "..%252f..%252f", "..\\..\\windows\\win.ini", "\\..\\filename", "/etc/passwd",
    "//etc/passwd", "//proc/self/root/etc/passwd", "file:///etc/passwd", "file://./foo", "file:/etc/passwd",
    "file://localhost/etc/passwd", "C:\\Windows\\win.ini", "C:/x", "\\\\server\\share", "foo/../../bar",
    "foo/./../../bar", "....//....//etc", "..;/", "..%00/", "foo%00.csv", "foo\x00.csv", "%09..%2f", "%0a..%2f",
    "‥/", "．．／", "..∕", "name-with-/", "name\\with\\backslash", "-rf", "--help", "$(id)", "`id`", ";id",
    "|id", "&&id", "<script>alert(1)</script>", "a" * 4096, "", " ", "\r\n", "\x1b[31m", "x\r\nSet-Cookie: a=b",
]  # fmt: skip
# 4.2 and outside-the-roots locations for inputs, data and model paths
LOCATIONS = [
    "/etc", "/etc/passwd", "/", "/proc/self/root/etc", "/proc/self/environ", "file:///etc/passwd",
    "http://169.254.169.254/latest/meta-data/", "https://example.com/data", "s3://bucket/../other/",
    "http:///#/../../../../etc/", "http://host/root?a=../../../../etc", "mlflow-artifacts:/../../x", "models:/../../x",
    "runs:/../x", "http://allowed.example@127.0.0.1/", "gopher://127.0.0.1:6379/_", "ftp://127.0.0.1/x",
    "azureml://datastores/workspaceblobstore/paths/../../../etc", "azureml://datastores/workspaceblobstore/paths/..%2F..%2F..%2Fetc",
    "azureml://datastores/../paths/x", "azureml://datastores/nope/paths/x", "azureml://subscriptions/x/data/y",
    "relative/path", "./data", "../data", "~/data", "\\\\server\\share", "C:\\data", "/tmp",
]  # fmt: skip
PICKLE_TYPES = [
    "application/vnd.bentoml+pickle",
    "application/x-python-serialize",
    "application/x-pickle",
    "application/python-pickle",
    "application/vnd.bentoml.pickled",
    "application/octet-stream",
    "text/plain",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x",
    "application/xml",
]


@dataclass
class Case:
    """One attack: a request, and what the answer must (not) be."""

    id: str
    method: str
    path: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    statuses: tuple[int, ...] = (400, 401, 403, 404, 405, 409, 413, 415, 422)
    as_role: str = "owner"


@pytest.fixture(scope="module")
def env(server_factory: ServerFactory) -> dict[str, Any]:
    server = server_factory(
        {
            "BATCHPOINT_SERVER_MAX_UPLOAD_BYTES": str(MAX_UPLOAD),
            "BATCHPOINT_SERVER_MAX_EXTRACTED_BYTES": str(MAX_EXTRACTED),
            "BATCHPOINT_SERVER_MAX_ARCHIVE_MEMBERS": str(MAX_MEMBERS),
        }
    )
    root = server.project.parent
    outside = root / "outside"
    (outside / "data").mkdir(parents=True)
    (outside / "canary.txt").write_text(CANARY)
    (outside / "data" / "secret.csv").write_text(f"key,x\n{CANARY},1\n")
    owner = server.client()
    owner.batch_endpoints.create_from_file(None, name="atk-ep")
    deploy(owner, root / "local", "atk-ep", "dep")
    data = root / "local" / "data"
    write_inputs(data, 2)
    job = owner.batch_endpoints.invoke("atk-ep", input=str(data))
    assert owner.jobs.wait(job.name, timeout=120).status.value == "Completed"
    # another job's logs hold a canary: no request about the first job may read it
    other = server.workspace / "jobs" / "other-tenant" / "logs"
    other.mkdir(parents=True)
    (other / "secret.txt").write_text(CANARY)
    # links planted inside the allowed roots, pointing out of them
    store = server.workspace / "datastores" / "workspaceblobstore"
    (store / "evil-link").symlink_to(outside / "data")
    (store / "innocent").mkdir()
    (store / "innocent" / "a.csv").write_text("key,x\nk,1\n")
    (store / "innocent" / "leak.csv").symlink_to(outside / "data" / "secret.csv")
    http = server.http(server.token)
    uploads = {}
    for name, maker in (("model", _model_tar), ("code", _code_tar)):
        answer = http.post(
            "/api/v1/uploads", params={"name": name}, content=maker(), headers={"Content-Type": "application/gzip"}
        )
        assert answer.status_code == 201, answer.text
        uploads[name] = answer.json()["uri"]
    reader = owner.tokens.create("reader").token
    return {
        "server": server,
        "http": http,
        "reader": reader,
        "job": job.name,
        "outside": outside,
        "uploads": uploads,
        "before": snapshot(root, server.workspace),
    }


# -- archives ------------------------------------------------------------------------------------------
def _tar(members: list[tuple[tarfile.TarInfo, bytes | None]], mode: str = "w:gz") -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode=mode, format=tarfile.GNU_FORMAT) as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return buffer.getvalue()


def _file(name: str, data: bytes = b"x") -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    return info, data


def _special(name: str, kind: bytes, target: str = "") -> tuple[tarfile.TarInfo, None]:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = target
    return info, None


def _model_tar() -> bytes:
    return _tar([_file("factor.txt", b"3")])


def _code_tar() -> bytes:
    return _tar([_file("score.py", b"def init():\n    pass\n\ndef run(b):\n    return b\n")])


def _zip(entries: list[tuple[str, bytes, int]]) -> bytes:
    buffer = io.BytesIO()
    with warnings.catch_warnings(), zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        warnings.simplefilter("ignore")  # duplicate names are the point of one case
        for name, data, mode in entries:
            info = zipfile.ZipInfo(name)
            info.external_attr = mode << 16
            zf.writestr(info, data)
    return buffer.getvalue()


def _zip_bomb() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("zeros.bin", b"\0" * (MAX_EXTRACTED + 1024))
    return buffer.getvalue()


def _lying_zip_bomb() -> bytes:
    """A zip whose central directory understates the size: caught while reading."""
    data = bytearray(_zip_bomb())
    start = data.rfind(b"PK\x01\x02")
    data[start + 24 : start + 28] = (10).to_bytes(4, "little")  # uncompressed size in the central directory
    return bytes(data)


def _tar_bomb() -> bytes:
    return _tar([_file("zeros.bin", b"\0" * (MAX_EXTRACTED + 1024))])


def archive_cases(outside: Path) -> list[Case]:
    target = str(outside / "planted.txt")
    tars: dict[str, bytes] = {
        "tar-dotdot": _tar([_file("../evil.py")]),
        "tar-deep-dotdot": _tar([_file("a/../../evil.py")]),
        "tar-absolute": _tar([_file(target)]),
        "tar-absolute-etc": _tar([_file("/etc/evil")]),
        "tar-backslash": _tar([_file("..\\evil.py")]),
        "tar-drive": _tar([_file("C:evil.py")]),
        "tar-symlink-out": _tar([_special("link", tarfile.SYMTYPE, "/etc")]),
        "tar-symlink-then-file": _tar([_special("link", tarfile.SYMTYPE, str(outside)), _file("link/planted.txt")]),
        "tar-symlink-up": _tar([_special("up", tarfile.SYMTYPE, "../../")]),
        "tar-symlink-chain": _tar([_special("a", tarfile.SYMTYPE, "b"), _special("b", tarfile.SYMTYPE, str(outside))]),
        "tar-hardlink-out": _tar([_special("hard", tarfile.LNKTYPE, str(outside / "canary.txt"))]),
        "tar-hardlink-in": _tar([_file("a.txt"), _special("b.txt", tarfile.LNKTYPE, "a.txt")]),
        "tar-chardev": _tar([_special("tty", tarfile.CHRTYPE)]),
        "tar-blockdev": _tar([_special("disk", tarfile.BLKTYPE)]),
        "tar-fifo": _tar([_special("fifo", tarfile.FIFOTYPE)]),
        "tar-duplicate": _tar([_file("a.txt", b"1"), _file("a.txt", b"2")]),
        "tar-duplicate-case": _tar([_file("A.txt", b"1"), _file("a.txt", b"2")]),
        "tar-nfkc-dotdot": _tar([_file("‥/evil.py")]),
        "tar-fullwidth-dotdot": _tar([_file("．．/evil.py")]),
        "tar-too-many": _tar([_file(f"f{i}") for i in range(MAX_MEMBERS + 1)]),
        "tar-long-name": _tar([_file("a" * 5000)]),
        "tar-bomb": _tar_bomb(),
        "tar-corrupt": b"\x1f\x8b" + secrets.token_bytes(200),
        "tar-empty-name": _tar([_file("./")]),
        "tar-control-char": _tar([_file("evil\n.py")]),
    }
    zips: dict[str, bytes] = {
        "zip-dotdot": _zip([("../evil.py", b"x", 0o100644)]),
        "zip-absolute": _zip([(target, b"x", 0o100644)]),
        "zip-backslash": _zip([("..\\..\\evil.py", b"x", 0o100644)]),
        "zip-symlink": _zip([("link", b"/etc/passwd", 0o120777)]),
        "zip-device": _zip([("dev", b"", 0o020644)]),
        "zip-bomb": _zip_bomb(),
        "zip-lying-bomb": _lying_zip_bomb(),
        "zip-too-many": _zip([(f"f{i}", b"", 0o100644) for i in range(MAX_MEMBERS + 1)]),
        "zip-duplicate": _zip([("a.txt", b"1", 0o100644), ("a.txt", b"2", 0o100644)]),
        "zip-corrupt": b"PK\x03\x04" + secrets.token_bytes(100),
    }
    cases = [
        Case(
            f"archive-{name}",
            "POST",
            "/api/v1/uploads",
            {"params": {"name": "m"}, "content": data, "headers": {"Content-Type": media}},
        )  # fmt: skip
        for archives, media in ((tars, "application/gzip"), (zips, "application/zip"))
        for name, data in archives.items()
    ]
    cases.append(
        Case(
            "upload-over-cap",
            "POST",
            "/api/v1/uploads",
            {
                "params": {"name": "big"},
                "content": b"x" * (MAX_UPLOAD + 1),
                "headers": {"Content-Type": "application/octet-stream"},
            },
        )  # fmt: skip
    )
    cases.append(
        Case(
            "upload-empty",
            "POST",
            "/api/v1/uploads",
            {"params": {"name": "e"}, "content": b"", "headers": {"Content-Type": "application/octet-stream"}},
        )  # fmt: skip
    )
    return cases


# -- the corpus ----------------------------------------------------------------------------------------
def _pickle_payload(marker: Path) -> bytes:
    class Evil:
        def __reduce__(self) -> tuple[Any, ...]:
            return (os.system, (f"touch {marker}",))

    return pickle.dumps(Evil())


def build_cases(env: dict[str, Any]) -> list[Case]:
    outside: Path = env["outside"]
    marker = outside / MARKER_NAME
    job = env["job"]
    model_uri, code_uri = env["uploads"]["model"], env["uploads"]["code"]
    cases: list[Case] = []
    # "." and ".." as whole path segments are removed by every HTTP client before sending (RFC 3986, 5.2.4)
    names = [n for n in TRAVERSAL if n not in ("", ".", "..")]
    for i, name in enumerate(TRAVERSAL):
        cases.append(Case(f"model-name-{i}", "POST", "/api/v1/models", {"json": {"name": name, "path": model_uri}}))
        cases.append(
            Case(
                f"model-version-{i}",
                "POST",
                "/api/v1/models",
                {"json": {"name": "ok", "version": name, "path": model_uri}},
            )
        )
        if name:  # an empty job name means "none given": the server names the job
            cases.append(
                Case(
                    f"job-name-{i}",
                    "POST",
                    "/api/v1/batch-endpoints/atk-ep/jobs",
                    {"json": {"input": model_uri, "job_name": name}},
                )  # fmt: skip
            )
        cases.append(Case(f"upload-name-{i}", "POST", "/api/v1/uploads", {"params": {"name": name}, "content": b"x",
                                                                          "headers": {"Content-Type": "application/octet-stream"}}))  # fmt: skip
        cases.append(Case(f"log-file-{i}", "GET", f"/api/v1/jobs/{job}/logs", {"params": {"file": name or "."}}))
    for i, name in enumerate(names):
        quoted = quote(name, safe="")
        cases.append(Case(f"model-path-param-{i}", "GET", f"/api/v1/models/{quoted}/versions/1"))
        cases.append(Case(f"job-path-param-{i}", "GET", f"/api/v1/jobs/{quoted}"))
        cases.append(Case(f"output-name-param-{i}", "GET", f"/api/v1/jobs/{job}/outputs/{quoted}"))
    escapes = [
        *LOCATIONS,
        str(outside),
        str(outside / "data"),
        str(outside / "canary.txt"),
        f"{outside}/*.txt",
        str(env["server"].workspace),
        str(env["server"].workspace / "metadata.db"),
        str(env["server"].workspace / "datastores" / "workspaceblobstore" / ".." / ".." / "metadata.db"),
        "azureml://datastores/workspaceblobstore/paths/evil-link",
        "azureml://datastores/workspaceblobstore/paths/evil-link/secret.csv",
    ]
    # inside the allowed roots, but holding a link that leads out of them
    linked = [
        "azureml://datastores/workspaceblobstore/paths/innocent",
        str(env["server"].workspace / "datastores" / "workspaceblobstore" / "innocent"),
    ]
    for i, location in enumerate(escapes + linked):
        cases.append(
            Case(f"invoke-input-{i}", "POST", "/api/v1/batch-endpoints/atk-ep/jobs", {"json": {"input": location}})
        )
        cases.append(Case(f"model-path-{i}", "POST", "/api/v1/models", {"json": {"name": "m-loc", "path": location}}))
        cases.append(Case(f"data-path-{i}", "POST", "/api/v1/data", {"json": {"name": "d-loc", "path": location}}))
        if location in escapes:  # writing into a folder inside the roots is allowed
            cases.append(
                Case(
                    f"output-path-{i}",
                    "POST",
                    "/api/v1/batch-endpoints/atk-ep/jobs",
                    {"json": {"input": model_uri, "output_path": location}},
                )  # fmt: skip
            )
        cases.append(
            Case(
                f"azure-input-{i}",
                "POST",
                "/endpoints/batch/atk-ep/jobs",
                {"json": {"properties": {"InputData": {"d": {"JobInputType": "UriFolder", "Uri": location}}}}},
            )  # fmt: skip
        )
        spec = _deployment(model_uri, location)
        cases.append(
            Case(f"deploy-code-{i}", "POST", "/api/v1/batch-endpoints/atk-ep/deployments", {"json": {"spec": spec}})
        )
        spec = _deployment(location, code_uri)
        cases.append(
            Case(f"deploy-model-{i}", "POST", "/api/v1/batch-endpoints/atk-ep/deployments", {"json": {"spec": spec}})
        )
        cases.append(
            Case(f"env-conda-{i}", "POST", "/api/v1/environments", {"json": {"name": "e-loc", "conda_file": location}})
        )
        if location in escapes:  # a datastore over a folder inside the roots is allowed
            cases.append(
                Case(
                    f"datastore-root-{i}", "POST", "/api/v1/datastores", {"json": {"name": "ds-loc", "root": location}}
                )
            )
    for i, script in enumerate(["../score.py", "/etc/passwd", "..\\score.py", "a/../../x.py", "score.py\x00.txt"]):
        spec = _deployment(model_uri, code_uri, script=script)
        cases.append(
            Case(f"scoring-script-{i}", "POST", "/api/v1/batch-endpoints/atk-ep/deployments", {"json": {"spec": spec}})
        )
    cases += settings_cases(model_uri, code_uri)
    cases += body_cases(marker)
    cases += archive_cases(outside)
    cases += yaml_cases(env, marker)
    cases.append(
        Case(
            "reader-cannot-register",
            "POST",
            "/api/v1/models",
            {"json": {"name": "x", "path": model_uri}},
            as_role="reader",
        )
    )
    cases.append(
        Case("url-model-source", "POST", "/api/v1/models", {"json": {"name": "x", "path": "http://127.0.0.1:1/"}})
    )
    return cases


def _deployment(model: str, code: str, script: str = "score.py", **settings: Any) -> dict[str, Any]:
    return {
        "name": "atk-dep",
        "endpoint_name": "atk-ep",
        "model": {"path": model},
        "code_configuration": {"code": code, "scoring_script": script},
        "settings": settings,
    }


def settings_cases(model_uri: str, code_uri: str) -> list[Case]:
    bad_settings: list[dict[str, Any]] = [
        {"mini_batch_size": 0}, {"mini_batch_size": -1}, {"mini_batch_size": 10**12},
        {"retry_settings": {"max_retries": 10**9}}, {"retry_settings": {"timeout": 0}},
        {"retry_settings": {"timeout": -5}}, {"error_threshold": -2}, {"instance_count": 0},
        {"instance_count": 10**6}, {"max_concurrency_per_instance": 0}, {"output_action": "bogus"},
        {"output_file_name": "../x.csv"}, {"output_file_name": "/etc/passwd"}, {"logging_level": "verbose"},
        {"environment_variables": "PATH=/x"}, {"unknown_setting": 1},
    ]  # fmt: skip
    cases = [
        Case(
            f"deploy-setting-{i}",
            "POST",
            "/api/v1/batch-endpoints/atk-ep/deployments",
            {"json": {"spec": _deployment(model_uri, code_uri, **s)}},
        )  # fmt: skip
        for i, s in enumerate(bad_settings)
    ]
    invoke_bad: list[dict[str, Any]] = [
        {"mini_batch_size": 0}, {"mini_batch_size": 10**12}, {"instance_count": 0}, {"instance_count": -3},
        {"overrides": [["retry_settings.max_retries", 10**9]]}, {"overrides": [["retry_settings.timeout", 0]]},
        {"overrides": [["error_threshold", -7]]}, {"overrides": [["output_file_name", "../../x.csv"]]},
        {"overrides": [["compute", "other"]]}, {"overrides": [["code_configuration.code", "/etc"]]},
        {"overrides": {"mini_batch_size": "many"}}, {"input_type": "mltable"}, {"experiment_name": "x" * 300},
        {"deployment_name": "no-such-deployment"},
    ]  # fmt: skip
    cases += [
        Case(f"invoke-setting-{i}", "POST", "/api/v1/batch-endpoints/atk-ep/jobs", {"json": {"input": model_uri, **b}})
        for i, b in enumerate(invoke_bad)
    ]
    return cases


def body_cases(marker: Path) -> list[Case]:
    payload = _pickle_payload(marker)
    routes = [
        "/api/v1/models",
        "/api/v1/batch-endpoints/atk-ep/jobs",
        "/endpoints/batch/atk-ep/jobs",
        "/api/v1/tokens",
    ]
    cases = [
        Case(
            f"content-type-{r}-{t}",
            "POST",
            route,
            {"content": payload, "headers": {"Content-Type": media}},
            statuses=(415,),
        )
        for r, route in enumerate(routes)
        for t, media in enumerate(PICKLE_TYPES)
    ]
    cases.append(Case("pickle-to-upload", "POST", "/api/v1/uploads", {"params": {"name": "p"}, "content": payload,
                      "headers": {"Content-Type": "application/x-python-pickle"}}, statuses=(415,)))  # fmt: skip
    cases.append(
        Case("no-content-type", "POST", "/api/v1/models", {"content": b'{"name": "x"}', "headers": {}}, statuses=(415,))
    )
    json_post = {"headers": {"Content-Type": "application/json"}}
    bodies = {
        "over-cap": b'{"name": "' + b"a" * (1024 * 1024) + b'"}',
        "deep-array": b"[" * 100_000 + b"]" * 100_000,
        "deep-object": b'{"a":' * 5000 + b"1" + b"}" * 5000,
        "huge-number": b'{"name": "x", "path": "p", "properties": {"n": 1e999999}}',
        "nan": b'{"name": "x", "path": "p", "properties": {"n": NaN}}',
        "infinity": b'{"name": "x", "path": "p", "properties": {"n": -Infinity}}',
        "duplicate-keys": b'{"name": "x", "name": "y", "path": "p"}',
        "invalid-utf8": b'{"name": "\xff\xfe"}',
        "utf16-bom": '{"name": "x"}'.encode("utf-16"),
        "utf8-bom": b'\xef\xbb\xbf{"name": "x"}',
        "not-json": b"name=x&path=y",
        "truncated": b'{"name": ',
        "big-int": b'{"name": "x", "path": "p", "version": ' + b"9" * 5000 + b"}",
        "array-top": b"[1, 2, 3]",
        "million-items": b"[" + b"1," * 400_000 + b"1]",
    }
    cases += [
        Case(f"body-{name}", "POST", "/api/v1/models", {"content": body, **json_post}) for name, body in bodies.items()
    ]

    def chunks() -> Any:
        for _ in range(3):
            yield b" " * (512 * 1024)

    cases.append(
        Case("body-chunked-over-cap", "POST", "/api/v1/models", {"content": chunks(), **json_post}, statuses=(413,))
    )
    return cases


def yaml_cases(env: dict[str, Any], marker: Path) -> list[Case]:
    http: httpx.Client = env["http"]
    evil = f'!!python/object/apply:os.system ["touch {marker}"]'
    documents = {
        "yaml-apply": f"flavors: {evil}\n",
        "yaml-new": "flavors: !!python/object/new:os.system [id]\n",
        "yaml-name": "flavors: !!python/name:os.system\n",
        "yaml-bomb": "a: &a [x, x, x, x, x, x, x, x, x]\n"
        + "".join(f"{c}: &{c} [{', '.join([f'*{p}'] * 30)}]\n" for p, c in zip("abcdefgh", "bcdefghi", strict=True)),
        "yaml-duplicate": "flavors: {}\nflavors: {}\n",
    }
    cases = []
    for name, text in documents.items():
        answer = http.post(
            "/api/v1/uploads", params={"name": name}, content=_tar([_file("MLmodel", text.encode())]),
            headers={"Content-Type": "application/gzip"},
        )  # fmt: skip
        assert answer.status_code == 201, answer.text
        uri = answer.json()["uri"]
        cases.append(
            Case(
                f"{name}-mlmodel",
                "POST",
                "/api/v1/models",
                {"json": {"name": "y", "path": uri, "type": "mlflow_model"}},
            )
        )
        conda = http.post(
            "/api/v1/uploads", params={"name": "conda.yml"}, content=text.encode(),
            headers={"Content-Type": "application/octet-stream"},
        )  # fmt: skip
        cases.append(
            Case(
                f"{name}-conda",
                "POST",
                "/api/v1/environments",
                {"json": {"name": "e", "conda_file": conda.json()["uri"]}},
            )
        )
        pipeline = http.post(
            "/api/v1/uploads", params={"name": "pipe"}, content=_tar([_file("pipeline.yml", text.encode())]),
            headers={"Content-Type": "application/gzip"},
        )  # fmt: skip
        spec = {"name": "pipe-dep", "endpoint_name": "atk-ep", "type": "pipeline",
                "component": pipeline.json()["uri"] + "/pipeline.yml"}  # fmt: skip
        cases.append(
            Case(f"{name}-pipeline", "POST", "/api/v1/batch-endpoints/atk-ep/deployments", {"json": {"spec": spec}})
        )
    return cases


# -- checks --------------------------------------------------------------------------------------------
def snapshot(root: Path, workspace: Path) -> dict[str, tuple[int, int, int]]:
    """Every file and folder under ``root`` but the workspace and the server logs: (size, mtime, mode)."""
    found = {}
    for dirpath, dirnames, filenames in os.walk(root):
        if Path(dirpath) == workspace.parent:
            dirnames[:] = [d for d in dirnames if d != workspace.name]
        for name in [*dirnames, *filenames]:
            path = Path(dirpath) / name
            if name.endswith(".log") and path.parent == workspace.parent:
                continue
            info = path.lstat()
            found[str(path.relative_to(root))] = (info.st_size, info.st_mtime_ns, info.st_mode)
    return found


def test_attack_corpus(env: dict[str, Any]) -> None:
    cases = build_cases(env)
    assert len(cases) >= 200
    assert len({c.id for c in cases}) == len(cases)
    failures = []
    seen: Counter[int] = Counter()
    for case in cases:
        headers = dict(case.kwargs.get("headers", {}))
        headers["Authorization"] = f"Bearer {env['server'].token if case.as_role == 'owner' else env['reader']}"
        response = env["http"].request(case.method, case.path, **{**case.kwargs, "headers": headers})
        seen[response.status_code] += 1
        problem = _judge(case, response)
        if problem:
            failures.append(f"{case.id}: {problem}")
    assert not failures, f"{len(failures)} of {len(cases)} cases failed:\n" + "\n".join(failures)
    print(f"attack corpus: {len(cases)} cases, answers {dict(sorted(seen.items()))}")
    assert seen[422] > len(cases) // 2, "most attacks should reach validation, not miss a route"


def _judge(case: Case, response: httpx.Response) -> str | None:
    body = response.text
    if response.status_code >= 500:
        return f"server error {response.status_code}: {body[:300]}"
    if response.status_code not in case.statuses:
        return f"answered {response.status_code}: {body[:300]}"
    if "Traceback" in body or 'File "/' in body:
        return "a traceback in the answer"
    if CANARY in body:
        return "the canary leaked"
    try:
        error = response.json()["error"]
    except (ValueError, KeyError, TypeError):
        return f"not a JSON error: {body[:200]}"
    if not (error.get("code") and error.get("message")):
        return f"an error without code or message: {error}"
    if response.status_code in (413, 415, 422) and not (error.get("field") or error.get("file")):
        return f"the error names no field: {error}"
    return None


def test_nothing_written_outside_the_workspace_and_nothing_ran(env: dict[str, Any]) -> None:
    """Runs after the corpus (file order): the tree outside the workspace is as it was."""
    server: Server = env["server"]
    assert snapshot(server.project.parent, server.workspace) == env["before"]
    assert not (env["outside"] / MARKER_NAME).exists()
    assert CANARY not in server.log.read_text()
    assert [job.name for job in server.client().jobs.list()] == [env["job"]], "an attack started a job"
