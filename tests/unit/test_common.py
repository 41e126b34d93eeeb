from __future__ import annotations

from pathlib import Path

import pytest

from batchpoint.common import names, overrides, refs, yamlio
from batchpoint.errors import InvalidInput, UnsafePath, WorkspaceNotFound
from batchpoint.workspace import find_workspace, init_workspace


def test_python_tags_are_refused(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    doc = tmp_path / "evil.yml"
    doc.write_text(f'name: x\nrun: !!python/object/apply:os.system ["touch {marker}"]\n')
    with pytest.raises(InvalidInput, match="unsupported YAML tag"):
        yamlio.load_file(doc)
    assert not marker.exists()


def test_duplicate_keys_and_alias_bombs_are_refused() -> None:
    with pytest.raises(InvalidInput, match="duplicate key 'a'"):
        yamlio.loads("a: 1\na: 2\n")
    bomb = "a: &a [x, x]\n" + "".join(
        f"l{i}: &l{i} [*{'a' if i == 0 else f'l{i - 1}'}, *{'a' if i == 0 else f'l{i - 1}'}]\n" for i in range(150)
    )
    with pytest.raises(InvalidInput, match="alias"):
        yamlio.loads(bomb)


def test_malformed_yaml_names_file_and_line(tmp_path: Path) -> None:
    doc = tmp_path / "bad.yml"
    doc.write_text("name: x\n  broken: [\n")
    with pytest.raises(InvalidInput) as info:
        yamlio.load_file(doc)
    assert "bad.yml" in str(info.value) and "line" in str(info.value)


@pytest.mark.parametrize("bad", ["..", "../x", "a/b", "a\\b", "a\x00b", "x" * 300, ""])
def test_unsafe_asset_names_are_refused(bad: str) -> None:
    with pytest.raises(InvalidInput):
        names.asset_name(bad)


@pytest.mark.parametrize("good", ["abc", "my-endpoint", "A1-b2"])
def test_endpoint_names(good: str) -> None:
    assert names.endpoint_name(good) == good


@pytest.mark.parametrize("bad", ["ab", "1abc", "abc-", "a" * 33, "a_b", "a..b"])
def test_bad_endpoint_names(bad: str) -> None:
    with pytest.raises(InvalidInput):
        names.endpoint_name(bad)


@pytest.mark.parametrize(
    ("text", "name", "version"),
    [
        ("azureml:m:3", "m", "3"),
        ("azureml:m@latest", "m", None),
        ("m:2", "m", "2"),
        ("m@latest", "m", None),
        ("azureml:batch-cluster", "batch-cluster", None),
    ],
)
def test_references(text: str, name: str, version: str | None) -> None:
    ref = refs.parse(text, "model")
    assert (ref.name, ref.version) == (name, version)


def test_reference_errors_name_the_field() -> None:
    with pytest.raises(InvalidInput) as info:
        refs.parse("azureml:m@newest", "model")
    assert info.value.field == "model"
    with pytest.raises(UnsafePath):
        refs.parse("azureml:m:..", "model")


def test_overrides_are_typed_and_nested() -> None:
    data: dict[str, object] = {"settings": {"mini_batch_size": 10}}
    overrides.apply(
        data, overrides.parse_pairs(["settings.mini_batch_size=20", "settings.retry_settings.timeout=5", "x=true"])
    )
    assert data == {"settings": {"mini_batch_size": 20, "retry_settings": {"timeout": 5}}, "x": True}


def test_workspace_is_found_walking_up(tmp_path: Path) -> None:
    init_workspace(tmp_path)
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    assert find_workspace(start=deep) == tmp_path / ".batchpoint"


def test_missing_workspace_tells_how_to_create_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BATCHPOINT_WORKSPACE", raising=False)
    with pytest.raises(WorkspaceNotFound) as info:
        find_workspace(start=tmp_path)
    assert "batchpoint init" in str(info.value)
