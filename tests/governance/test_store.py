"""The content-addressed object store: keys are content, writes are atomic, alterations are found."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from medsyn.errors import InputError
from medsyn.governance._store import ObjectStore, digest


def test_file_key_is_its_sha256_and_storing_twice_is_one_object(tmp_path: Path) -> None:
    src = tmp_path / "a.csv"
    src.write_bytes(b"age,sex\n70,F\n")
    store = ObjectStore(tmp_path / "objects")
    ref = store.put(src)
    assert ref.key == hashlib.sha256(src.read_bytes()).hexdigest() == digest(src)
    assert ref.type == "file"
    assert ref.size == src.stat().st_size
    assert store.put(src) == ref
    assert store.path(ref.key).read_bytes() == src.read_bytes()
    assert not os.access(store.path(ref.key), os.W_OK) or os.geteuid() == 0  # read-only on disk
    assert store.verify(ref) == []
    assert list((tmp_path / "objects" / "tmp").iterdir()) == []


def test_tree_key_changes_with_any_file_or_name(tmp_path: Path) -> None:
    folder = tmp_path / "rec"
    (folder / "sub").mkdir(parents=True)
    (folder / "100.hea").write_text("100 2 360 650000\n")
    (folder / "sub" / "100.dat").write_bytes(bytes(range(256)))
    store = ObjectStore(tmp_path / "objects")
    ref = store.put(folder)
    assert ref.type == "tree"
    assert ref.key == digest(folder)
    assert ref.size == 256 + 17
    (folder / "100.hea").write_text("100 2 360 650001\n")
    assert digest(folder) != ref.key
    (folder / "100.hea").write_text("100 2 360 650000\n")
    (folder / "100.hea").rename(folder / "101.hea")
    assert digest(folder) != ref.key
    out = store.materialize(ref, tmp_path / "copy")
    assert (out / "100.hea").read_text() == "100 2 360 650000\n"
    assert (out / "sub" / "100.dat").stat().st_size == 256


def test_altered_or_missing_objects_are_reported(tmp_path: Path) -> None:
    src = tmp_path / "a.bin"
    src.write_bytes(b"x" * 1000)
    store = ObjectStore(tmp_path / "objects")
    ref = store.put(src)
    target = store.path(ref.key)
    target.chmod(0o644)
    target.write_bytes(b"y" * 1000)
    assert "altered" in store.verify(ref)[0]
    target.unlink()
    assert "missing" in store.verify(ref)[0]


def test_bad_keys_and_inputs_are_clear_errors(tmp_path: Path) -> None:
    store = ObjectStore(tmp_path / "objects")
    with pytest.raises(InputError, match="64 lowercase hex"):
        store.path("../../etc/passwd")
    with pytest.raises(InputError, match="does not exist"):
        store.put(tmp_path / "nope.csv")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="empty folder"):
        store.put(tmp_path / "empty")


def test_clean_removes_leftovers_of_killed_writers(tmp_path: Path) -> None:
    store = ObjectStore(tmp_path / "objects")
    (tmp_path / "objects" / "tmp").mkdir(parents=True)
    (tmp_path / "objects" / "tmp" / "x.part").write_bytes(b"half")
    assert store.clean() == 1
    assert store.clean() == 0
