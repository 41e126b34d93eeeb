"""``create`` of an existing endpoint or deployment updates it (as ``az ml``): it reaches no more than ``update``.

For each kind of token: who may change an existing endpoint or deployment through ``POST`` (the
create routes), and that it is exactly who may through ``PATCH``. A token limited to one endpoint
creates no endpoints, so it cannot update another endpoint by "creating" it; a reader and an
invoke-only token change nothing.
"""

from __future__ import annotations

from pathlib import Path

from batchpoint.errors import BatchpointError

from .conftest import ServerFactory, deploy


def test_create_over_an_existing_name_is_allowed_exactly_where_update_is(
    server_factory: ServerFactory, tmp_path: Path
) -> None:
    server = server_factory()
    owner = server.client()
    for name in ("ep-a", "ep-b"):
        owner.batch_endpoints.create_from_file(None, name=name)
    spec = deploy(owner, tmp_path / "project", "ep-b", "dep")
    with server.http(server.token) as admin:
        tokens = {
            "contributor": {"role": "contributor"},
            "reader": {"role": "reader"},
            "scoped to ep-a": {"role": "contributor", "endpoint": "ep-a"},
            "invoke-only on ep-b": {"role": "contributor", "endpoint": "ep-b", "invoke_only": True},
        }
        minted = {k: admin.post("/api/v1/tokens", json=v).json()["token"] for k, v in tokens.items()}
    expected = {"contributor": True, "reader": False, "scoped to ep-a": False, "invoke-only on ep-b": False}
    for who, token in minted.items():
        with server.http(token) as http:
            created = http.post("/api/v1/batch-endpoints", json={"name": "ep-b", "description": f"by {who}"})
            patched = http.patch("/api/v1/batch-endpoints/ep-b", json={"overrides": [["description", f"by {who}"]]})
            assert (created.status_code < 300, patched.status_code < 300) == (expected[who],) * 2, (
                who, created.text, patched.text,
            )  # fmt: skip
            if not expected[who]:
                assert created.status_code == patched.status_code == 403, (who, created.text, patched.text)
        try:  # the deployment again, through the SDK (it uploads the model and code first)
            server.client(token).batch_deployments.create_from_file(spec)
            redeployed = True
        except BatchpointError as exc:
            redeployed = False
            assert exc.code in ("forbidden", "not_found"), (who, exc)
        assert redeployed == expected[who], who
    assert owner.batch_endpoints.get("ep-b").description == "by contributor"
