"""Every noun registered in ``nouns.py`` is reachable through every face: services, SDK, remote client, routes, CLI."""

from __future__ import annotations

from pathlib import Path

import pytest

from batchpoint import Client
from batchpoint.cli.main import GROUPS
from batchpoint.client.remote import RemoteServices
from batchpoint.nouns import NOUNS, load
from batchpoint.server.routes import all_routers

NAMES = [n.attr for n in NOUNS]


@pytest.fixture(scope="module")
def embedded(tmp_path_factory: pytest.TempPathFactory) -> Client:
    from batchpoint.workspace import init_workspace

    project = tmp_path_factory.mktemp("nouns")
    init_workspace(project)
    return Client(Path(project))


@pytest.mark.parametrize("attr", NAMES)
def test_the_embedded_services_and_the_sdk_build_each_noun(embedded: Client, attr: str) -> None:
    entry = next(n for n in NOUNS if n.attr == attr)
    assert isinstance(getattr(embedded.services, attr), load(entry.service))
    operations = getattr(embedded, attr)
    assert isinstance(operations, load(entry.operations))
    assert getattr(embedded, attr) is operations  # built once


@pytest.mark.parametrize("attr", NAMES)
def test_the_remote_client_and_the_server_offer_each_noun(attr: str) -> None:
    entry = next(n for n in NOUNS if n.attr == attr)
    remote = RemoteServices("http://127.0.0.1:9", None)
    try:
        assert entry.remote is not None and isinstance(getattr(remote, attr), load(entry.remote))
    finally:
        remote.close()
    assert entry.routes is not None
    mounted = [router for router, _ in all_routers()]
    assert load(entry.routes).router in mounted


@pytest.mark.parametrize("attr", NAMES)
def test_the_cli_has_each_nouns_group(attr: str) -> None:
    entry = next(n for n in NOUNS if n.attr == attr)
    assert entry.cli is not None
    assert GROUPS[entry.cli.name].module == entry.cli.module


def test_an_unknown_attribute_is_an_attribute_error(embedded: Client) -> None:
    with pytest.raises(AttributeError):
        _ = embedded.services.no_such_noun
    with pytest.raises(AttributeError):
        _ = embedded.no_such_noun  # type: ignore[attr-defined]
