from __future__ import annotations

import dataclasses

import pytest

from proxy.model_store import (
    DEFAULT_MODEL,
    ModelStoreError,
    ensure_default_model,
    locate_parts,
    sha256_file,
)


def test_parts_are_found_through_metadata_without_import():
    import sys

    parts = locate_parts()
    assert [p.name for p in parts] == [f"part{i:02d}.bin" for i in range(1, 7)]
    assert not any(name.startswith("pandas_sns") for name in sys.modules)


def test_default_model_is_assembled_and_verified(tmp_path):
    path = ensure_default_model(tmp_path)
    assert path.stat().st_size == DEFAULT_MODEL.size
    assert sha256_file(path) == DEFAULT_MODEL.sha256
    # Cached: a second call reuses the verified file.
    assert ensure_default_model(tmp_path) == path


def test_mismatch_fails_clearly_and_leaves_nothing(tmp_path):
    tampered = dataclasses.replace(DEFAULT_MODEL, sha256="0" * 64, filename="x.gguf")
    with pytest.raises(ModelStoreError, match="does not match"):
        ensure_default_model(tmp_path, tampered)
    assert list(tmp_path.iterdir()) == []


def test_a_changed_file_is_not_trusted(tmp_path):
    path = ensure_default_model(tmp_path)
    with path.open("r+b") as f:
        f.seek(1000)
        f.write(b"\x00\x01\x02")
    # The marker no longer matches, so the file is rebuilt from the verified chunks.
    assert ensure_default_model(tmp_path) == path
    assert sha256_file(path) == DEFAULT_MODEL.sha256
