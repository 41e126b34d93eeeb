"""Schemathesis over the server's own OpenAPI document: no server error, every answer as documented.

Each operation of the document gets generated requests, valid ones and invalid ones, sent with the
owner's token to a real server process. Checks: no 5xx; status codes, content types, headers and
bodies conform to the document; invalid data is refused; the declared authentication is enforced
(``ignored_auth`` sends each request without the token too).
"""

from __future__ import annotations

import os
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis import checks as st_checks
from schemathesis.config import SchemathesisConfig

from .conftest import Server, ServerFactory, deploy

EXAMPLES = int(os.environ.get("BATCHPOINT_FUZZ_EXAMPLES", "12"))
"""Examples per operation and mode; raise it for a nightly run (the CI default keeps the suite short)."""
CHECKS = [
    st_checks.not_a_server_error,
    st_checks.status_code_conformance,
    st_checks.content_type_conformance,
    st_checks.response_schema_conformance,
    st_checks.response_headers_conformance,
    st_checks.negative_data_rejection,
    st_checks.ignored_auth,
]


@pytest.fixture(scope="module")
def fuzz_server(server_factory: ServerFactory) -> Server:
    server = server_factory()
    client = server.client()
    client.batch_endpoints.create_from_file(None, name="fuzz-ep")
    deploy(client, server.project.parent / "local", "fuzz-ep", "dep")
    return server


def _config(server: Server) -> SchemathesisConfig:
    """Schemathesis applies the token itself, so that its negative cases can also leave it out."""
    return SchemathesisConfig.from_dict(
        {
            "auth": {"openapi": {"bearer": {"bearer": server.token}}},
            # HTTP APIs ignore query parameters they do not know; not counted as accepting bad data
            "generation": {"allow-extra-parameters": False},
        }
    )


def _run(server: Server, operation: Any, mode: GenerationMode) -> None:
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
    def run(case: Any) -> None:
        case.call_and_validate(base_url=server.url, checks=CHECKS, timeout=30)

    run()


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=["positive", "negative"])
def test_every_operation_conforms_to_the_document(fuzz_server: Server, mode: GenerationMode) -> None:
    headers = {"Authorization": f"Bearer {fuzz_server.token}"}
    document = schemathesis.openapi.from_url(
        f"{fuzz_server.url}/api/v1/openapi.json", config=_config(fuzz_server), headers=headers, timeout=30
    )
    failures = []
    operations = 0
    for result in document.get_all_operations():
        operation = result.ok()
        operations += 1
        if operation.path == "/health" and mode is GenerationMode.NEGATIVE:
            continue  # no parameter, no body: nothing to make invalid
        try:
            _run(fuzz_server, operation, mode)
        except (Exception, BaseExceptionGroup) as exc:  # one operation's failure must not hide the others'
            failures.append(f"{operation.label}: {type(exc).__name__}: {str(exc)[:1500]}")
    assert operations >= 60
    assert not failures, f"{len(failures)} of {operations} operations failed:\n" + "\n\n".join(failures)
