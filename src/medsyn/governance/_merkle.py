"""RFC 6962 / RFC 9162 Merkle tree hashing: roots, inclusion proofs and consistency proofs.

Pure functions over lists of 32-byte leaf hashes, so the ledger, an exported ledger and a
person checking a proof by hand all use the same code. The tree is the Certificate
Transparency one (RFC 9162 §2.1): ``leaf = SHA-256(0x00 ‖ data)``, ``node = SHA-256(0x01 ‖ left
‖ right)``, the root of the empty tree is ``SHA-256("")``, and a tree of ``n`` leaves splits at
the largest power of two below ``n``. Every function here is iterative (no recursion on the
tree size), so a million leaves costs a million node hashes and no deep call stack.

:class:`Frontier` keeps the O(log n) "right edge" of a growing tree: appending a leaf hash is
amortised one node hash, and the root at the current size is O(log n). Streaming a ledger
through it gives the roots at every checkpoint size on the way for free.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

__all__ = [
    "EMPTY_ROOT",
    "Frontier",
    "consistency_proof",
    "inclusion_proof",
    "leaf_hash",
    "node_hash",
    "root",
    "root_from_consistency_proof",
    "root_from_inclusion_proof",
    "subtree_root",
    "verify_consistency",
    "verify_inclusion",
]

_sha256 = hashlib.sha256

#: MTH({}) — the root of a tree with no leaves (RFC 9162 §2.1.1).
EMPTY_ROOT = _sha256(b"").digest()


class ProofError(ValueError):
    """A proof is malformed or does not lead to the expected root (kept internal: callers get False)."""


def leaf_hash(data: bytes) -> bytes:
    """SHA-256(0x00 ‖ data): the hash of one leaf."""
    return _sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 ‖ left ‖ right): the hash of an interior node."""
    return _sha256(b"\x01" + left + right).digest()


def _largest_power_of_two_below(n: int) -> int:
    """k with k < n <= 2k (n >= 2): where RFC 6962 splits a tree of n leaves."""
    return 1 << ((n - 1).bit_length() - 1)


def subtree_root(leaves: Sequence[bytes], start: int = 0, stop: int | None = None) -> bytes:
    """MTH(D[start:stop]) over leaf hashes, bottom-up, one level at a time.

    Pairing neighbours left to right and carrying an odd last node up unchanged builds exactly
    the RFC tree (split at the largest power of two below n), without recursion.
    """
    stop = len(leaves) if stop is None else stop
    if stop <= start:
        return EMPTY_ROOT
    level = list(leaves[start:stop])
    sha = _sha256
    while len(level) > 1:
        nxt = [sha(b"\x01" + level[i] + level[i + 1]).digest() for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    return level[0]


def root(leaves: Sequence[bytes]) -> bytes:
    """MTH(D[n]): the root of the tree whose leaf hashes are ``leaves``."""
    return subtree_root(leaves, 0, len(leaves))


class Frontier:
    """The right edge of a growing Merkle tree: a stack of perfect-subtree roots, largest first.

    After ``n`` appends the stack holds one root per set bit of ``n`` (a "compact range"), so
    memory is O(log n) and :meth:`root` folds at most log2(n) nodes.
    """

    __slots__ = ("_stack", "size")

    def __init__(self) -> None:
        self._stack: list[bytes] = []
        self.size = 0

    def append(self, leaf: bytes) -> None:
        """Add one leaf hash; merge equal-sized subtrees (one per trailing zero bit of the new size)."""
        stack = self._stack
        stack.append(leaf)
        self.size += 1
        n = self.size
        while not n & 1:
            right = stack.pop()
            stack[-1] = _sha256(b"\x01" + stack[-1] + right).digest()
            n >>= 1

    def extend(self, leaves: Sequence[bytes]) -> None:
        """Add many leaf hashes: whole aligned perfect subtrees are hashed level by level, then pushed.

        Same result as :meth:`append` per leaf, at list-comprehension speed for long runs.
        """
        i, n = 0, len(leaves)
        while i < n:
            size = self.size
            height = (size & -size).bit_length() - 1 if size else 62
            height = min(height, (n - i).bit_length() - 1)
            count = 1 << height
            node = leaves[i] if count == 1 else subtree_root(leaves, i, i + count)
            self.push(node, height)
            i += count

    def push(self, node: bytes, height: int) -> None:
        """Push the root of a perfect subtree of ``2**height`` leaves (the size must be a multiple of that)."""
        stack = self._stack
        stack.append(node)
        self.size += 1 << height
        n = self.size >> height
        while not n & 1:
            right = stack.pop()
            stack[-1] = _sha256(b"\x01" + stack[-1] + right).digest()
            n >>= 1

    def root(self) -> bytes:
        """MTH of the leaves appended so far."""
        stack = self._stack
        if not stack:
            return EMPTY_ROOT
        acc = stack[-1]
        for left in reversed(stack[:-1]):
            acc = _sha256(b"\x01" + left + acc).digest()
        return acc


def inclusion_proof(leaves: Sequence[bytes], index: int, size: int | None = None) -> list[bytes]:
    """PATH(index, D[size]) of RFC 9162 §2.1.3.1, deepest sibling first.

    Each step of the RFC's recursion keeps one half and emits the root of the other; the
    emitted roots are collected top-down and reversed. Costs one hash per leaf outside the
    path's own subtree (about ``size`` node hashes in all).
    """
    size = len(leaves) if size is None else size
    if not 0 <= index < size <= len(leaves):
        raise ValueError(f"leaf index {index} is outside a tree of size {size}")
    path: list[bytes] = []
    lo, hi, m = 0, size, index
    while hi - lo > 1:
        k = _largest_power_of_two_below(hi - lo)
        if m < k:
            path.append(subtree_root(leaves, lo + k, hi))
            hi = lo + k
        else:
            path.append(subtree_root(leaves, lo, lo + k))
            lo, m = lo + k, m - k
    path.reverse()
    return path


def consistency_proof(leaves: Sequence[bytes], old_size: int, new_size: int | None = None) -> list[bytes]:
    """PROOF(old_size, D[new_size]) of RFC 9162 §2.1.4.1 (empty when the sizes are equal or old is 0)."""
    new_size = len(leaves) if new_size is None else new_size
    if not 0 <= old_size <= new_size <= len(leaves):
        raise ValueError(f"cannot prove consistency from size {old_size} to size {new_size}")
    if old_size in (0, new_size):
        return []
    path: list[bytes] = []
    lo, hi, m, whole = 0, new_size, old_size, True
    while m != hi - lo:
        k = _largest_power_of_two_below(hi - lo)
        if m <= k:
            path.append(subtree_root(leaves, lo + k, hi))
            hi = lo + k
        else:
            path.append(subtree_root(leaves, lo, lo + k))
            lo, m, whole = lo + k, m - k, False
    if not whole:
        path.append(subtree_root(leaves, lo, hi))
    path.reverse()
    return path


def root_from_inclusion_proof(leaf: bytes, index: int, size: int, path: Sequence[bytes]) -> bytes:
    """The root that ``path`` leads to from ``leaf`` (RFC 9162 §2.1.3.2); raises ValueError if malformed."""
    if not 0 <= index < size:
        raise ProofError(f"leaf index {index} is outside a tree of size {size}")
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            raise ProofError("the proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("the proof is shorter than the tree is deep")
    return r


def verify_inclusion(leaf: bytes, index: int, size: int, path: Sequence[bytes], expected_root: bytes) -> bool:
    """Whether ``path`` proves that ``leaf`` is leaf ``index`` of the tree of ``size`` with ``expected_root``."""
    try:
        return root_from_inclusion_proof(leaf, index, size, path) == expected_root
    except ProofError:
        return False


def root_from_consistency_proof(
    old_size: int, new_size: int, old_root: bytes, path: Sequence[bytes]
) -> tuple[bytes, bytes]:
    """The (old root, new root) that ``path`` leads to (RFC 9162 §2.1.4.2); raises ValueError if malformed.

    ``old_root`` is only used where the RFC prepends it (old size a power of two); the caller
    compares both returned roots with the ones it trusts.
    """
    if not 0 < old_size < new_size:
        raise ProofError(f"a consistency path needs 0 < old size < new size, got {old_size} and {new_size}")
    proof = list(path)
    if not proof:
        raise ProofError("the consistency proof is empty")
    if old_size & (old_size - 1) == 0:
        proof.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = proof[0]
    for c in proof[1:]:
        if sn == 0:
            raise ProofError("the proof is longer than the trees are deep")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("the proof is shorter than the trees are deep")
    return fr, sr


def verify_consistency(old_size: int, new_size: int, old_root: bytes, new_root: bytes, path: Sequence[bytes]) -> bool:
    """Whether ``path`` proves the tree (old_size, old_root) is a prefix of (new_size, new_root)."""
    if old_size == new_size:
        return not path and old_root == new_root
    if old_size == 0:
        return not path and old_root == EMPTY_ROOT
    try:
        fr, sr = root_from_consistency_proof(old_size, new_size, old_root, path)
    except ProofError:
        return False
    return fr == old_root and sr == new_root
