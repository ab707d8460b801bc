"""Model versions on disk: create, list, verify, promote, and what never happens on a crash."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from graph.settings import Settings
from ml.registry import (
    ModelRegistry,
    RegistryError,
    VersionInfo,
    code_version,
    default_root,
    fingerprint,
)


def _manifest(**overrides: Any) -> dict[str, Any]:
    manifest = {
        "kind": "gnn",
        "data_fingerprint": "0123456789abcdef",
        "feature_spec": {"customer_features": ["age"]},
        "calibration": {"method": "platt", "params": {"a": 1.0, "b": 0.0}},
        "metrics": {"roc_auc": 0.81},
    }
    manifest.update(overrides)
    return manifest


def _entries(root: Path) -> set[str]:
    return {p.name for p in root.iterdir()} if root.exists() else set()


def test_create_list_show_promote(tmp_path: Path) -> None:
    registry = ModelRegistry(tmp_path / "models")
    source = tmp_path / "report.md"
    source.write_text("# report\n")
    name = registry.create(_manifest(), {"weights.bin": b"\x00\x01", "report.md": source})
    assert name.endswith("-gnn-01234567")

    manifest = registry.show(name)
    assert manifest["version"] == name
    assert manifest["files"] == {
        "weights.bin": hashlib.sha256(b"\x00\x01").hexdigest(),
        "report.md": hashlib.sha256(b"# report\n").hexdigest(),
    }
    assert manifest["code_version"] and manifest["created_at"].endswith("+00:00")
    assert (registry.path(name) / "weights.bin").read_bytes() == b"\x00\x01"

    assert registry.promoted() is None
    registry.promote(name)
    assert registry.promoted() == name
    assert registry.list() == [VersionInfo(name, "gnn", manifest["created_at"], True, 0.81)]
    registry.demote()
    assert registry.promoted() is None and not registry.list()[0].promoted


def test_list_is_newest_first_and_skips_what_is_not_a_version(tmp_path: Path) -> None:
    registry = ModelRegistry(tmp_path)
    first = registry.create(_manifest(), {}, name="first")
    second = registry.create(_manifest(kind="baseline", metrics={}), {}, name="second")
    (tmp_path / ".tmp-leftover").mkdir()
    (tmp_path / "notes").mkdir()
    (tmp_path / "stray.txt").write_text("x")
    listed = registry.list()
    assert [v.name for v in listed] == [second, first]
    assert listed[0].kind == "baseline" and listed[0].roc_auc is None


def test_a_tampered_file_fails_verify_and_promote_naming_it(tmp_path: Path) -> None:
    registry = ModelRegistry(tmp_path)
    name = registry.create(_manifest(), {"weights.bin": b"abc", "report.json": b"{}"})
    (registry.path(name) / "weights.bin").write_bytes(b"abd")
    with pytest.raises(RegistryError, match=r"weights\.bin"):
        registry.verify(name)
    with pytest.raises(RegistryError, match=r"weights\.bin"):
        registry.promote(name)
    assert registry.promoted() is None


def test_a_missing_file_fails_verify_naming_it(tmp_path: Path) -> None:
    registry = ModelRegistry(tmp_path)
    name = registry.create(_manifest(), {"weights.bin": b"abc"})
    (registry.path(name) / "weights.bin").unlink()
    with pytest.raises(RegistryError, match=r"weights\.bin.*missing"):
        registry.verify(name)


@pytest.mark.parametrize(
    "key", ["kind", "data_fingerprint", "feature_spec", "calibration", "metrics"]
)
def test_a_missing_manifest_key_is_named(tmp_path: Path, key: str) -> None:
    manifest = _manifest()
    del manifest[key]
    with pytest.raises(RegistryError, match=key):
        ModelRegistry(tmp_path).create(manifest, {})
    assert _entries(tmp_path) == set()


@pytest.mark.parametrize("filename", ["../escape", "a/b", "manifest.json", ""])
def test_file_names_must_be_plain(tmp_path: Path, filename: str) -> None:
    with pytest.raises(RegistryError, match="files"):
        ModelRegistry(tmp_path).create(_manifest(), {filename: b"x"})


def test_a_failure_while_writing_leaves_no_version(tmp_path: Path) -> None:
    registry = ModelRegistry(tmp_path)
    files = {"weights.bin": b"abc", "report.md": tmp_path / "does-not-exist.md"}
    with pytest.raises(FileNotFoundError):
        registry.create(_manifest(), files)
    assert _entries(tmp_path) == set()
    assert registry.list() == []


def test_a_failure_at_the_final_rename_leaves_no_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    registry = ModelRegistry(tmp_path)

    def crash(src: Any, dst: Any) -> None:
        raise OSError("disk gone")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="disk gone"):
        registry.create(_manifest(), {"weights.bin": b"abc"})
    assert _entries(tmp_path) == set()


def test_a_manifest_that_is_not_json_leaves_no_version(tmp_path: Path) -> None:
    registry = ModelRegistry(tmp_path)
    with pytest.raises(RegistryError, match="JSON"):
        registry.create(_manifest(metrics={"roc_auc": float("nan")}), {"w": b"x"})
    assert _entries(tmp_path) == set()


def test_two_versions_in_the_same_second_get_distinct_names(tmp_path: Path) -> None:
    registry = ModelRegistry(tmp_path)
    names = [registry.create(_manifest(), {"w": bytes([i])}) for i in range(3)]
    assert len(set(names)) == 3
    # all three were made within a second or two; the later ones carry a suffix when they share
    # the first one's second
    stems = {n.rsplit("-gnn-", 1)[0] for n in names}
    if len(stems) == 1:
        assert names[1:] == [f"{names[0]}-2", f"{names[0]}-3"]
    assert {v.name for v in registry.list()} == set(names)


def test_an_explicit_name_that_is_taken_is_refused(tmp_path: Path) -> None:
    registry = ModelRegistry(tmp_path)
    registry.create(_manifest(), {}, name="v1")
    with pytest.raises(RegistryError, match="v1"):
        registry.create(_manifest(), {}, name="v1")


def test_unknown_versions_are_named(tmp_path: Path) -> None:
    registry = ModelRegistry(tmp_path)
    for call in (registry.show, registry.path, registry.verify, registry.promote):
        with pytest.raises(RegistryError, match="no model version named 'nope'"):
            call("nope")
    assert RegistryError.code == "MODEL_REGISTRY" and RegistryError.exit_code == 2


def test_a_promoted_pointer_to_a_missing_version_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "PROMOTED").write_text("gone\n")
    with pytest.raises(RegistryError, match="gone"):
        ModelRegistry(tmp_path).promoted()


def test_promote_replaces_the_pointer_and_leaves_no_temp_files(tmp_path: Path) -> None:
    registry = ModelRegistry(tmp_path)
    a = registry.create(_manifest(), {}, name="a")
    b = registry.create(_manifest(), {}, name="b")
    registry.promote(a)
    registry.promote(b)
    assert registry.promoted() == b
    assert _entries(tmp_path) == {"a", "b", "PROMOTED"}


def test_fingerprint_depends_on_values_dtype_shape_and_extra() -> None:
    a = np.arange(6, dtype=np.int64)
    base = fingerprint(a, extra={"as_of": 1})
    assert base == fingerprint(a.copy(), extra={"as_of": 1})
    assert base == fingerprint(a[::-1][::-1], extra={"as_of": 1})  # not C-contiguous in layout
    assert base != fingerprint(a.astype(np.int32), extra={"as_of": 1})
    assert base != fingerprint(a.reshape(2, 3), extra={"as_of": 1})
    assert base != fingerprint(a + 1, extra={"as_of": 1})
    assert base != fingerprint(a, extra={"as_of": 2})
    words = np.array(["active", "closed"], dtype=object)
    assert fingerprint(words) == fingerprint(np.array(["active", "closed"], dtype=object))
    assert fingerprint(words) != fingerprint(np.array(["active", "frozen"], dtype=object))


def test_code_version_starts_with_the_package_version() -> None:
    from importlib.metadata import version

    assert code_version().startswith(version("vouchgraph"))


def test_default_root_is_under_the_data_dir_unless_overridden(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings(None, tmp_path / "data", "vouchgraph", 30000, "neo4j", None, None)
    monkeypatch.delenv("VOUCHGRAPH_MODEL_DIR", raising=False)
    assert default_root(settings) == tmp_path / "data" / "models"
    monkeypatch.setenv("VOUCHGRAPH_MODEL_DIR", str(tmp_path / "elsewhere"))
    assert default_root(settings) == tmp_path / "elsewhere"


def test_manifest_on_disk_is_sorted_json(tmp_path: Path) -> None:
    registry = ModelRegistry(tmp_path)
    name = registry.create(_manifest(), {})
    text = (registry.path(name) / "manifest.json").read_text()
    assert list(json.loads(text)) == sorted(json.loads(text))
