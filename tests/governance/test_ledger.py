"""The ledger API: entries, hashing as specified, atomic appends, checkpoints, proofs and exports."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest
from sqlalchemy import Engine

from medsyn.errors import DataFormatError, InputError
from medsyn.governance import _db, _merkle
from medsyn.governance._ledger import Ledger, LedgerEntry
from medsyn.governance._ledger_verify import Damage, LedgerTampered, verify_export
from medsyn.governance._proofs import ConsistencyProof, InclusionProof, proof_from_dict
from medsyn.governance._signing import Signer


def make_engine(tmp_path: Path) -> Engine:
    engine = _db.connect(f"sqlite:///{tmp_path}/ws.db")
    _db.metadata.create_all(engine)
    return engine


def entry(i: int = 0, **kw: object) -> LedgerEntry:
    fields: dict[str, object] = {
        "actor": {"user": f"user{i % 3}", "role": "scientist", "site": "H1"},
        "action": "synth.sample" if i % 2 else "anonymize",
        "purpose": "research",
        "legal_basis": "GDPR 9(2)(j)",
        "inputs": [f"{i:064x}"],
        "outputs": [f"{i + 1:064x}"],
        "parameters": {"n": i, "eps": 0.5, "cols": ["age", "sex"]},
        "decision": "allow",
        "rule": "r1",
        "outcome": "ok",
        "result_digest": hashlib.sha256(str(i).encode()).hexdigest(),
    }
    fields.update(kw)
    return LedgerEntry(**fields)  # type: ignore[arg-type]


@pytest.fixture
def ledger(tmp_path: Path) -> Ledger:
    return Ledger(make_engine(tmp_path), Signer.from_seed(bytes(32)))


def test_hashes_follow_the_specification(ledger: Ledger) -> None:
    receipts = ledger.append_many([entry(i) for i in range(5)])
    assert [r.seq for r in receipts] == [0, 1, 2, 3, 4]
    prev = bytes(32)
    for r in receipts:
        stored = ledger.entry(r.seq)
        assert stored.leaf_hash == r.leaf_hash == hashlib.sha256(b"\x00" + stored.body).digest()
        assert stored.chain_hash == r.chain_hash == hashlib.sha256(prev + r.leaf_hash).digest()
        prev = r.chain_hash
    assert ledger.root() == _merkle.root([r.leaf_hash for r in receipts])
    assert ledger.root(3) == _merkle.root([r.leaf_hash for r in receipts[:3]])


def test_body_is_canonical_json_with_format_and_seq(ledger: Ledger) -> None:
    ledger.append(entry(1, parameters={"b": 1, "a": [1.5, None, "é"]}))
    stored = ledger.entry(0)
    data = json.loads(stored.body)
    assert data["format"] == 1
    assert data["seq"] == 0
    assert list(data) == sorted(data)
    assert b" " not in stored.body.replace(b"GDPR 9(2)(j)", b"")
    assert "é".encode() in stored.body  # UTF-8, not \\u escapes
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", stored.time)
    assert stored.entry.parameters == {"b": 1, "a": [1.5, None, "é"]}
    # the same entry built with keys in another order hashes the same
    e1 = entry(1, parameters={"x": {"b": 2, "a": 1}}, time="2025-01-01T00:00:00Z")
    e2 = entry(1, parameters={"x": {"a": 1, "b": 2}}, time="2025-01-01T00:00:00Z")
    assert e1.canonical_bytes(7) == e2.canonical_bytes(7)
    assert LedgerEntry.from_body(e1.canonical_bytes(7)) == (7, e1)


def test_entry_round_trips_including_actor_extras_and_facts(ledger: Ledger) -> None:
    e = entry(2, actor={"user": "ann", "role": "dpo", "site": "H2", "training": ("gcp", "gdpr")}, facts={"k": 5})
    ledger.append(e)
    got = ledger.entry(0).entry
    assert got.actor == {"user": "ann", "role": "dpo", "site": "H2", "training": ["gcp", "gdpr"]}
    assert got.facts == {"k": 5}
    assert got.inputs == e.inputs
    assert ledger.verify().ok


def test_invalid_entries_name_every_bad_field() -> None:
    with pytest.raises(InputError) as info:
        LedgerEntry(
            actor={"role": "x", "site": 3},  # type: ignore[dict-item]
            action="",
            decision="maybe",
            outcome="done",
            inputs="abc",
            parameters={"bad": float("nan"), "set": {1, 2}, 3: "int key"},  # type: ignore[dict-item]
            time="yesterday",
        )
    text = str(info.value)
    for where in ("actor.user", "actor.site", "action", "decision", "outcome", "inputs", "parameters.bad",
                  "parameters.set", "key 3", "time"):  # fmt: skip
        assert where in text, where
    assert "allow | deny | none" in text


def test_empty_ledger(ledger: Ledger) -> None:
    assert ledger.size() == 0
    assert ledger.root() == _merkle.EMPTY_ROOT
    result = ledger.verify()
    assert result.ok
    assert result.size == 0
    assert list(ledger.entries()) == []
    with pytest.raises(InputError, match="no such entry"):
        ledger.entry(0)


def test_reading_ranges_filters_and_last(ledger: Ledger) -> None:
    ledger.append_many([entry(i) for i in range(10)])
    assert [s.seq for s in ledger.entries(3, 6)] == [3, 4, 5]
    assert [s.seq for s in ledger.entries(action="synth.sample")] == [1, 3, 5, 7, 9]
    assert [s.seq for s in ledger.last(3)] == [7, 8, 9]
    assert [s.seq for s in ledger.last(2, action="anonymize")] == [6, 8]
    assert ledger.entry(4).to_dict()["leaf_hash"] == ledger.entry(4).leaf_hash.hex()


def test_append_in_a_callers_transaction_commits_or_rolls_back_with_it(ledger: Ledger) -> None:
    with _db.write(ledger.engine) as conn:
        receipt = ledger.append(entry(0), conn=conn)
    assert receipt.seq == 0

    def fail_after_appending() -> None:
        with _db.write(ledger.engine) as conn:
            ledger.append_many([entry(1), entry(2)], conn=conn)
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        fail_after_appending()
    assert ledger.size() == 1
    with pytest.raises(RuntimeError, match="write transaction"), _db.read(ledger.engine) as conn:
        ledger.append(entry(3), conn=conn)
    assert ledger.verify().ok


def test_checkpoints_are_signed_stored_and_checked(ledger: Ledger, tmp_path: Path) -> None:
    ledger.append_many([entry(i) for i in range(7)])
    cp = ledger.checkpoint()
    assert (cp.size, cp.root) == (7, ledger.root())
    assert cp.verify(ledger.signer.public_key)  # type: ignore[union-attr]
    assert ledger.checkpoint() == cp  # nothing new: the same head
    ledger.append_many([entry(i) for i in range(7, 12)])
    cp2 = ledger.checkpoint()
    assert [c.size for c in ledger.checkpoints()] == [7, 12]
    assert ledger.latest_checkpoint() == cp2
    result = ledger.verify()
    assert result.ok
    assert (result.checkpoints, result.checkpoints_checked, result.latest_checkpoint) == (2, 2, 12)
    assert result.signatures_checked
    # without a key, signatures cannot be checked but roots still are
    keyless = Ledger(ledger.engine)
    result = keyless.verify()
    assert result.ok
    assert not result.signatures_checked
    assert result.checkpoints_checked == 2
    # its heads still carry the origin they were signed under, so they check with the key elsewhere
    assert keyless.checkpoints()[-1].verify(ledger.signer.public_key)  # type: ignore[union-attr]
    with pytest.raises(InputError, match="private key"):
        keyless.checkpoint()


def test_checkpoint_refuses_to_sign_a_tampered_tail(ledger: Ledger) -> None:
    ledger.append_many([entry(i) for i in range(5)])
    ledger.checkpoint()
    ledger.append_many([entry(i) for i in range(5, 9)])
    import sqlite3

    db = sqlite3.connect(str(ledger.engine.url.database))
    db.execute("UPDATE ledger_entries SET body = replace(body, 'user1', 'userX') WHERE seq = 7")
    db.commit()
    db.close()
    with pytest.raises(LedgerTampered, match="entry 7"):
        ledger.checkpoint()
    assert LedgerTampered.exit_code == 5


def test_inclusion_and_consistency_proofs(ledger: Ledger) -> None:
    ledger.append_many([entry(i) for i in range(13)])
    old = ledger.checkpoint()
    ledger.append_many([entry(i) for i in range(13, 21)])
    new = ledger.checkpoint()
    key = ledger.signer.public_key  # type: ignore[union-attr]
    for seq in (0, 6, 12, 20):
        proof = ledger.prove_inclusion(seq)
        assert proof.tree_size == 21
        assert proof.checkpoint == new
        assert proof.verify(new, public_key=key)
        assert not proof.verify(old, public_key=key)  # another size
        back = proof_from_dict(json.loads(json.dumps(proof.to_dict())))
        assert isinstance(back, InclusionProof)
        assert back.verify(new.root)
    proof = ledger.prove_inclusion(5, size=13)
    assert proof.verify(old, public_key=key)
    forged = InclusionProof(proof.seq, proof.tree_size, proof.leaf_hash, proof.path, proof.root, b"{}")
    assert not forged.verify(old.root)  # the body no longer matches its leaf hash

    cons = ledger.prove_consistency(13)
    assert (cons.old_root, cons.new_root) == (old.root, new.root)
    assert cons.verify(old, new, public_key=key)
    back_c = proof_from_dict(json.loads(json.dumps(cons.to_dict())))
    assert isinstance(back_c, ConsistencyProof)
    assert back_c.verify(old.root, new.root)
    assert not back_c.verify(new.root, old.root)
    with pytest.raises(InputError, match="out of range"):
        ledger.prove_inclusion(21)
    with pytest.raises(InputError, match="out of range"):
        ledger.prove_consistency(30)
    with pytest.raises(DataFormatError, match="'inclusion' or 'consistency'"):
        proof_from_dict({"type": "x"})


def test_export_checks_on_its_own(ledger: Ledger, tmp_path: Path) -> None:
    ledger.append_many([entry(i) for i in range(9)])
    ledger.checkpoint()
    ledger.append(entry(9))
    out = tmp_path / "out" / "ledger.jsonl"
    written = ledger.export(out)
    assert written.ok
    result = verify_export(out)
    assert result.ok
    assert (result.size, result.root, result.checkpoints_checked) == (10, ledger.root(), 1)
    lines = out.read_text().splitlines()
    assert json.loads(lines[0])["checkpoints"][0]["note"].startswith(ledger.origin)

    # an edited body, a cut-short file, another key
    edited = tmp_path / "edited.jsonl"
    edited.write_text("\n".join([*lines[:3], lines[3].replace("user2", "user9"), *lines[4:]]) + "\n")
    assert {p.kind for p in verify_export(edited).problems} >= {Damage.EDITED, Damage.ROOT}
    cut = tmp_path / "cut.jsonl"
    cut.write_text("\n".join(lines[:-3]) + "\n")
    assert {p.kind for p in verify_export(cut).problems} == {Damage.TRUNCATED}
    stranger = Signer.from_seed(b"\x07" * 32).public_key
    assert [p.kind for p in verify_export(out, public_key=stranger).problems] == [Damage.KEY]
    not_export = tmp_path / "x.jsonl"
    not_export.write_text('{"a": 1}\n')
    with pytest.raises(DataFormatError, match="not a medsyn ledger export"):
        verify_export(not_export)
    with pytest.raises(InputError, match="'jsonl'"):
        ledger.export(tmp_path / "y.csv", format="csv")


def test_ensure_valid_raises_with_every_problem(ledger: Ledger) -> None:
    ledger.append_many([entry(i) for i in range(4)])
    assert ledger.ensure_valid().ok
    import sqlite3

    db = sqlite3.connect(str(ledger.engine.url.database))
    db.execute("UPDATE ledger_entries SET action = 'other' WHERE seq = 2")
    db.commit()
    db.close()
    with pytest.raises(LedgerTampered) as info:
        ledger.ensure_valid()
    assert "entry 2: column 'action' is 'other' but the hashed body says 'anonymize'" in str(info.value)
