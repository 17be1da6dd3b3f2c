"""RFC 6962 / 9162 Merkle trees: the Certificate Transparency test vectors, and every proof checked
against a naive recursive reference written straight from the RFC's definitions."""

from __future__ import annotations

import hashlib
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from medsyn.governance import _merkle as m

# transparency-dev/merkle proof/verify_test.go: leaf inputs, roots of sizes 1..8, proofs
LEAVES = [
    bytes.fromhex(h)
    for h in ["", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"]
]
ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
INCLUSION = [  # (leaf index, tree size, path)
    (0, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (5, 8, ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (1, 5, ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
]  # fmt: skip
CONSISTENCY = [  # (old size, new size, path)
    (1, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (6, 8, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 5, ["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
    (6, 7, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
]  # fmt: skip
HASHES = [m.leaf_hash(x) for x in LEAVES]


# ---- a reference written from the RFC's recursive definitions (slow, obviously right) ----------


def _k(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def ref_mth(d: list[bytes]) -> bytes:
    if not d:
        return hashlib.sha256(b"").digest()
    if len(d) == 1:
        return d[0]
    k = _k(len(d))
    return hashlib.sha256(b"\x01" + ref_mth(d[:k]) + ref_mth(d[k:])).digest()


def ref_path(i: int, d: list[bytes]) -> list[bytes]:
    if len(d) == 1:
        return []
    k = _k(len(d))
    return [*ref_path(i, d[:k]), ref_mth(d[k:])] if i < k else [*ref_path(i - k, d[k:]), ref_mth(d[:k])]


def ref_subproof(mm: int, d: list[bytes], b: bool) -> list[bytes]:
    if mm == len(d):
        return [] if b else [ref_mth(d)]
    k = _k(len(d))
    if mm <= k:
        return [*ref_subproof(mm, d[:k], b), ref_mth(d[k:])]
    return [*ref_subproof(mm - k, d[k:], False), ref_mth(d[:k])]


# ---- vectors -------------------------------------------------------------------------------------


def test_empty_root_and_hash_prefixes() -> None:
    assert m.root([]).hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert m.leaf_hash(b"") == hashlib.sha256(b"\x00").digest()
    assert m.node_hash(b"a", b"b") == hashlib.sha256(b"\x01ab").digest()


@pytest.mark.parametrize("size", range(1, 9))
def test_roots_match_the_ct_vectors(size: int) -> None:
    assert m.root(HASHES[:size]).hex() == ROOTS[size - 1]
    frontier = m.Frontier()
    for h in HASHES[:size]:
        frontier.append(h)
    assert frontier.root().hex() == ROOTS[size - 1]


@pytest.mark.parametrize(("index", "size", "path"), INCLUSION)
def test_inclusion_proofs_match_the_vectors(index: int, size: int, path: list[str]) -> None:
    assert [p.hex() for p in m.inclusion_proof(HASHES, index, size)] == path
    proof = [bytes.fromhex(p) for p in path]
    root = bytes.fromhex(ROOTS[size - 1])
    assert m.verify_inclusion(HASHES[index], index, size, proof, root)


@pytest.mark.parametrize(("old", "new", "path"), CONSISTENCY)
def test_consistency_proofs_match_the_vectors(old: int, new: int, path: list[str]) -> None:
    assert [p.hex() for p in m.consistency_proof(HASHES, old, new)] == path
    proof = [bytes.fromhex(p) for p in path]
    assert m.verify_consistency(old, new, bytes.fromhex(ROOTS[old - 1]), bytes.fromhex(ROOTS[new - 1]), proof)


@pytest.mark.parametrize(("index", "size", "path"), INCLUSION)
def test_corrupted_inclusion_proofs_fail(index: int, size: int, path: list[str]) -> None:
    """The probes of transparency-dev's corruptInclusionProof: each must be refused."""
    proof = [bytes.fromhex(p) for p in path]
    root, leaf = bytes.fromhex(ROOTS[size - 1]), HASHES[index]
    some = bytes.fromhex("abacaba000000000000000000000000000000000000000000060061e00123456")
    probes = [
        (index - 1, size, root, leaf, proof),
        (index + 1, size, root, leaf, proof),
        (index ^ 2, size, root, leaf, proof),
        (index, size * 2, root, leaf, proof),
        (index, size // 2, root, leaf, proof),
        (index, size, root, b"WrongLeaf", proof),
        (index, size, m.EMPTY_ROOT, leaf, proof),
        (index, size, some, leaf, proof),
        (index, size, root, leaf, [*proof, b""]),
        (index, size, root, leaf, [*proof, root]),
        (index, size, root, leaf, [b"", *proof]),
        (index, size, root, leaf, [root, *proof]),
        (index, size, root, leaf, proof[:-1]),
    ]
    for i in range(len(proof)):
        flipped = list(proof)
        flipped[i] = bytes([flipped[i][0] ^ 8]) + flipped[i][1:]
        probes.append((index, size, root, leaf, flipped))
    if len(proof) > 1:
        probes.append((index, size, root, leaf, [proof[0], some, *proof[1:]]))
    for i, n, r, lf, p in probes:
        assert not m.verify_inclusion(lf, i, n, p, r), (i, n)


@pytest.mark.parametrize(("old", "new", "path"), CONSISTENCY)
def test_corrupted_consistency_proofs_fail(old: int, new: int, path: list[str]) -> None:
    proof = [bytes.fromhex(p) for p in path]
    r1, r2 = bytes.fromhex(ROOTS[old - 1]), bytes.fromhex(ROOTS[new - 1])
    probes = [
        (old - 1, new, r1, r2, proof),
        (old + 1, new, r1, r2, proof),
        (old ^ 2, new, r1, r2, proof),
        (old, new * 2, r1, r2, proof),
        (old, new // 2, r1, r2, proof),
        (old, new, b"WrongRoot", r2, proof),
        (old, new, r1, b"WrongRoot", proof),
        (old, new, r2, r1, proof),
        (old, new, r1, r2, []),
        (old, new, r1, r2, [*proof, b""]),
        (old, new, r1, r2, [*proof, r1]),
        (old, new, r1, r2, [*proof, r2]),
        (old, new, r1, r2, [b"", *proof]),
        (old, new, r1, r2, [r1, *proof]),
        (old, new, r1, r2, [r2, *proof]),
        (old, new, r1, r2, [proof[0], *proof]),
        (old, new, r1, r2, proof[:-1]),
    ]
    for i in range(len(proof)):
        flipped = list(proof)
        flipped[i] = bytes([flipped[i][0] ^ 16]) + flipped[i][1:]
        probes.append((old, new, r1, r2, flipped))
    for a, b, x, y, p in probes:
        assert not m.verify_consistency(a, b, x, y, p), (a, b)


def test_trivial_consistency_and_bad_ranges() -> None:
    r = bytes.fromhex(ROOTS[0])
    assert m.verify_consistency(1, 1, r, r, [])
    assert not m.verify_consistency(1, 1, r, m.EMPTY_ROOT, [])
    assert m.verify_consistency(0, 5, m.EMPTY_ROOT, bytes.fromhex(ROOTS[4]), [])
    assert not m.verify_consistency(0, 5, m.EMPTY_ROOT, r, [r])
    assert not m.verify_consistency(2, 1, r, r, [])
    assert m.consistency_proof(HASHES, 3, 3) == []
    assert m.consistency_proof(HASHES, 0, 3) == []
    with pytest.raises(ValueError, match="outside"):
        m.inclusion_proof(HASHES, 8, 8)
    with pytest.raises(ValueError, match="consistency"):
        m.consistency_proof(HASHES, 5, 3)


# ---- every size against the reference -------------------------------------------------------------


@pytest.mark.parametrize("n", range(1, 34))
def test_every_proof_of_small_trees_agrees_with_the_reference(n: int) -> None:
    d = [m.leaf_hash(i.to_bytes(4, "big")) for i in range(n)]
    root = ref_mth(d)
    assert m.root(d) == root
    for i in range(n):
        path = m.inclusion_proof(d, i)
        assert path == ref_path(i, d)
        assert m.root_from_inclusion_proof(d[i], i, n, path) == root
    for old in range(1, n):
        path = m.consistency_proof(d, old)
        assert path == ref_subproof(old, d, True)
        old_root = ref_mth(d[:old])
        assert m.verify_consistency(old, n, old_root, root, path)
        assert not m.verify_consistency(old, n, ref_mth(d[: old - 1]), root, path)


@settings(max_examples=30, deadline=None)
@given(st.integers(min_value=1, max_value=300), st.randoms(use_true_random=False))
def test_frontier_grown_in_any_runs_gives_every_root(n: int, rnd: random.Random) -> None:
    """As the checker grows it: single appends and runs of any length, roots checked after each."""
    d = [m.leaf_hash(i.to_bytes(4, "big")) for i in range(n)]
    frontier, cut = m.Frontier(), 0
    while cut < n:
        step = rnd.choice([1, 1, 2, 3, rnd.randint(1, n)])
        if step == 1:
            frontier.append(d[cut])
        else:
            frontier.extend(d[cut : cut + step])
        cut = min(n, cut + step)
        assert frontier.size == cut
        assert frontier.root() == m.subtree_root(d, 0, cut)
    assert frontier.root() == ref_mth(d)


def test_frontier_extend_matches_append_on_a_large_tree() -> None:
    d = [m.leaf_hash(i.to_bytes(4, "big")) for i in range(5000)]
    a, b = m.Frontier(), m.Frontier()
    for h in d[:1234]:
        a.append(h)
    b.extend(d[:1234])
    assert a.root() == b.root() == m.subtree_root(d, 0, 1234)
    b.extend(d[1234:])
    assert b.root() == m.root(d) == ref_mth(d)
