"""The workspace's content-addressed object store: data files, folders and models by their SHA-256.

An object's key *is* the SHA-256 of its bytes, so a data set's version is its content: the
same file registered twice is one object, and an object that no longer hashes to its key has
been altered (``verify``). Folders (a WFDB record set, an image folder) are stored as *trees*: each
file is an object, and a small JSON manifest of (relative path, key, size) is the tree's object,
so a tree's key changes when any file in it, or any name, changes.

Writes are crash-safe: bytes go to a temporary file in ``objects/tmp``, are fsynced, then
renamed into place (a rename is atomic on POSIX). A process killed mid-copy leaves at most a
temporary file, which :meth:`ObjectStore.clean` removes; an object is either whole or absent.
Stored objects are read-only on disk.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from medsyn.errors import DataFormatError, InputError, Problem

__all__ = ["ObjectRef", "ObjectStore", "digest"]

_CHUNK = 1 << 20
_TREE_FORMAT = "medsyn-tree/1"
ObjectType = Literal["file", "tree"]


@dataclass(frozen=True, slots=True)
class ObjectRef:
    """A stored object: its key (SHA-256 hex), whether it is a file or a tree, and its size in bytes."""

    key: str
    type: ObjectType
    size: int


class ObjectStore:
    """Objects under ``root/ab/cdef…`` (the first two hex digits shard the folder)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._tmp = root / "tmp"

    def path(self, key: str) -> Path:
        """Where the object ``key`` lives (whether or not it exists)."""
        if len(key) != 64 or any(c not in "0123456789abcdef" for c in key):
            raise InputError(Problem("object key", repr(key), "64 lowercase hex digits (a SHA-256)"))
        return self.root / key[:2] / key[2:]

    def has(self, key: str) -> bool:
        return self.path(key).is_file()

    def put(self, source: Path) -> ObjectRef:
        """Store a file or a folder (as a tree); returns its reference. Storing twice is free."""
        if source.is_dir():
            return self._put_tree(source)
        if source.is_file():
            key, size = self._put_file(source)
            return ObjectRef(key, "file", size)
        raise InputError(Problem(str(source), "does not exist", "a file or folder to store"))

    def put_bytes(self, data: bytes) -> ObjectRef:
        """Store bytes held in memory (a manifest, a small model)."""
        key = hashlib.sha256(data).hexdigest()
        if not self.has(key):
            tmp = self._tmp_file()
            with tmp.open("wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            self._commit(tmp, key)
        return ObjectRef(key, "file", len(data))

    def read_tree(self, key: str) -> list[tuple[str, str, int]]:
        """The (relative path, key, size) entries of the tree ``key``."""
        try:
            manifest = json.loads(self.path(key).read_bytes())
            if manifest.get("format") != _TREE_FORMAT:
                raise ValueError(f"format {manifest.get('format')!r}")
            return [(e["path"], e["key"], int(e["size"])) for e in manifest["entries"]]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise DataFormatError(
                Problem(f"object {key[:12]}", f"not a readable tree manifest ({exc})", f"a {_TREE_FORMAT} manifest")
            ) from None

    def materialize(self, ref: ObjectRef, target: Path) -> Path:
        """Copy the object to ``target`` (a file, or a folder rebuilt from a tree); returns ``target``."""
        from medsyn._atomic import atomic_dir, atomic_path

        if ref.type == "file":
            with atomic_path(target) as tmp:
                shutil.copyfile(self.path(ref.key), tmp)
            return target
        with atomic_dir(target) as tmp_dir:
            for rel, key, _size in self.read_tree(ref.key):
                dest = tmp_dir / rel
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(self.path(key), dest)
        return target

    def verify(self, ref: ObjectRef) -> list[str]:
        """What is wrong with the object (missing or altered files); empty when it is intact."""
        keys = [ref.key] + ([k for _p, k, _s in self.read_tree(ref.key)] if ref.type == "tree" else [])
        problems = []
        for key in keys:
            p = self.path(key)
            if not p.is_file():
                problems.append(f"object {key[:12]} is missing ({p})")
            elif _sha256_file(p)[0] != key:
                problems.append(f"object {key[:12]} no longer hashes to its key: it was altered ({p})")
        return problems

    def clean(self) -> int:
        """Remove temporary files left by killed writers; returns how many were removed."""
        if not self._tmp.is_dir():
            return 0
        removed = 0
        for p in self._tmp.iterdir():
            p.unlink(missing_ok=True)
            removed += 1
        return removed

    def _put_file(self, source: Path) -> tuple[str, int]:
        tmp = self._tmp_file()
        h = hashlib.sha256()
        size = 0
        with source.open("rb") as src, tmp.open("wb") as dst:
            while chunk := src.read(_CHUNK):
                h.update(chunk)
                dst.write(chunk)
                size += len(chunk)
            dst.flush()
            os.fsync(dst.fileno())
        key = h.hexdigest()
        if self.has(key):
            tmp.unlink()
        else:
            self._commit(tmp, key)
        return key, size

    def _put_tree(self, folder: Path) -> ObjectRef:
        manifest, total = _manifest(folder, self._put_file)
        if total < 0:
            raise InputError(Problem(str(folder), "an empty folder", "a folder holding at least one file"))
        return ObjectRef(self.put_bytes(manifest).key, "tree", total)

    def _tmp_file(self) -> Path:
        self._tmp.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=self._tmp, suffix=".part")
        os.close(fd)
        return Path(name)

    def _commit(self, tmp: Path, key: str) -> None:
        dest = self.path(key)
        dest.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(tmp, 0o444)
        os.replace(tmp, dest)
        _fsync_dir(dest.parent)


def _sha256_file(path: Path) -> tuple[str, int]:
    h = hashlib.sha256()
    size = 0
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            h.update(chunk)
            size += len(chunk)
    return h.hexdigest(), size


def digest(path: Path) -> str:
    """The key ``path`` would get in the store (a file's SHA-256; a folder's tree key), without storing it."""
    if path.is_file():
        return _sha256_file(path)[0]
    return hashlib.sha256(_manifest(path, _sha256_file)[0]).hexdigest()


def _manifest(folder: Path, keyed: Callable[[Path], tuple[str, int]]) -> tuple[bytes, int]:
    """A folder's tree manifest, files keyed by ``keyed`` (stored or only hashed); total bytes (-1: empty)."""
    entries: list[dict[str, object]] = []
    total = 0
    for p in sorted(q for q in folder.rglob("*") if q.is_file()):
        key, size = keyed(p)
        entries.append({"path": p.relative_to(folder).as_posix(), "key": key, "size": size})
        total += size
    manifest = json.dumps({"format": _TREE_FORMAT, "entries": entries}, sort_keys=True, separators=(",", ":"))
    return manifest.encode(), total if entries else -1


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
