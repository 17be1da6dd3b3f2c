"""Inclusion and consistency proofs of the ledger, as values that travel as JSON and check themselves.

An :class:`InclusionProof` shows that one entry is leaf ``seq`` of the tree of ``tree_size``
entries with a given root; a :class:`ConsistencyProof` shows that the tree of ``old_size``
entries is a prefix of the tree of ``new_size`` entries (nothing was changed or removed between
two tree heads). Both follow RFC 9162 §2.1.3 and §2.1.4. A proof only means something against a
root the checker trusts: a signed checkpoint, passed to :meth:`verify`. Without one, ``verify``
only shows the proof is internally consistent with its own ``root`` field.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from medsyn.errors import DataFormatError, Problem
from medsyn.governance import _merkle
from medsyn.governance._signing import Checkpoint, PublicKey

__all__ = ["ConsistencyProof", "InclusionProof", "proof_from_dict"]


def _hexes(values: object, where: str) -> tuple[bytes, ...]:
    if not isinstance(values, list):
        raise DataFormatError(Problem(where, f"a {type(values).__name__}", "a list of hex hashes"))
    try:
        return tuple(bytes.fromhex(str(v)) for v in values)
    except ValueError as exc:
        raise DataFormatError(Problem(where, "a value that is not hex", "hex SHA-256 hashes")) from exc


def _trusted_root(root: bytes | Checkpoint | None, size: int, public_key: PublicKey | None, own: bytes) -> bytes | None:
    """The root to check against: a given root, a checkpoint (signature checked when a key is given), or our own."""
    if root is None:
        return own
    if isinstance(root, Checkpoint):
        if root.size != size:
            return None
        if public_key is not None and not root.verify(public_key):
            return None
        return root.root
    return root


@dataclass(frozen=True, slots=True)
class InclusionProof:
    """Entry ``seq`` (whose leaf hash is ``leaf_hash``) is in the tree of ``tree_size`` entries with ``root``."""

    seq: int
    tree_size: int
    leaf_hash: bytes
    path: tuple[bytes, ...]
    root: bytes
    body: bytes | None = None
    checkpoint: Checkpoint | None = None

    def __repr__(self) -> str:
        return f"InclusionProof(seq={self.seq}, tree_size={self.tree_size}, path={len(self.path)} hashes)"

    def verify(self, root: bytes | Checkpoint | None = None, *, public_key: PublicKey | None = None) -> bool:
        """Check the path against ``root`` (bytes or a checkpoint of the same size), else the own root field.

        When the proof carries the entry's ``body``, it must hash to ``leaf_hash`` too.
        """
        target = _trusted_root(root, self.tree_size, public_key, self.root)
        if target is None:
            return False
        if self.body is not None and _merkle.leaf_hash(self.body) != self.leaf_hash:
            return False
        return _merkle.verify_inclusion(self.leaf_hash, self.seq, self.tree_size, self.path, target)

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": "inclusion",
            "seq": self.seq,
            "tree_size": self.tree_size,
            "leaf_hash": self.leaf_hash.hex(),
            "path": [p.hex() for p in self.path],
            "root": self.root.hex(),
            "body": None if self.body is None else self.body.decode(),
            "checkpoint": None if self.checkpoint is None else self.checkpoint.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, where: str = "proof") -> InclusionProof:
        try:
            body = data.get("body")
            cp = data.get("checkpoint")
            return cls(
                seq=int(data["seq"]),
                tree_size=int(data["tree_size"]),
                leaf_hash=bytes.fromhex(str(data["leaf_hash"])),
                path=_hexes(data["path"], f"{where}: path"),
                root=bytes.fromhex(str(data["root"])),
                body=None if body is None else str(body).encode(),
                checkpoint=None if cp is None else Checkpoint.from_dict(cp, where=f"{where}: checkpoint"),
            )
        except KeyError as exc:
            raise DataFormatError(Problem(where, f"no field {exc.args[0]!r}", "an inclusion proof")) from exc
        except (TypeError, ValueError) as exc:
            raise DataFormatError(Problem(where, f"a malformed field ({exc})", "an inclusion proof")) from exc


@dataclass(frozen=True, slots=True)
class ConsistencyProof:
    """The tree of ``old_size`` entries (``old_root``) is a prefix of the tree of ``new_size`` (``new_root``)."""

    old_size: int
    new_size: int
    old_root: bytes
    new_root: bytes
    path: tuple[bytes, ...]

    def __repr__(self) -> str:
        return f"ConsistencyProof({self.old_size} → {self.new_size}, path={len(self.path)} hashes)"

    def verify(
        self,
        old_root: bytes | Checkpoint | None = None,
        new_root: bytes | Checkpoint | None = None,
        *,
        public_key: PublicKey | None = None,
    ) -> bool:
        """Check the path between two trusted heads (bytes or checkpoints), else the proof's own roots."""
        old = _trusted_root(old_root, self.old_size, public_key, self.old_root)
        new = _trusted_root(new_root, self.new_size, public_key, self.new_root)
        if old is None or new is None:
            return False
        return _merkle.verify_consistency(self.old_size, self.new_size, old, new, self.path)

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": "consistency",
            "old_size": self.old_size,
            "new_size": self.new_size,
            "old_root": self.old_root.hex(),
            "new_root": self.new_root.hex(),
            "path": [p.hex() for p in self.path],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, where: str = "proof") -> ConsistencyProof:
        try:
            return cls(
                old_size=int(data["old_size"]),
                new_size=int(data["new_size"]),
                old_root=bytes.fromhex(str(data["old_root"])),
                new_root=bytes.fromhex(str(data["new_root"])),
                path=_hexes(data["path"], f"{where}: path"),
            )
        except KeyError as exc:
            raise DataFormatError(Problem(where, f"no field {exc.args[0]!r}", "a consistency proof")) from exc
        except (TypeError, ValueError) as exc:
            raise DataFormatError(Problem(where, f"a malformed field ({exc})", "a consistency proof")) from exc


def proof_from_dict(data: dict[str, Any], *, where: str = "proof") -> InclusionProof | ConsistencyProof:
    """Read either kind of proof from its JSON form (``type`` says which)."""
    kind = data.get("type") if isinstance(data, dict) else None
    if kind == "inclusion":
        return InclusionProof.from_dict(data, where=where)
    if kind == "consistency":
        return ConsistencyProof.from_dict(data, where=where)
    raise DataFormatError(Problem(where, f"type {kind!r}", "'inclusion' or 'consistency'"))
