"""Tampering done to the database file with ``sqlite3`` directly, as an attacker with file access would:
each edit, deletion, reordering or truncation is found and named by ``verify``; what cannot be
seen without an outside checkpoint is pinned down too."""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from medsyn.governance import _db
from medsyn.governance._ledger import Ledger, LedgerEntry
from medsyn.governance._ledger_verify import Damage, Verification
from medsyn.governance._signing import Checkpoint, Signer

SIZE, SIGNED = 50, 30  # 50 entries, the latest checkpoint at 30


def _entry(i: int) -> LedgerEntry:
    return LedgerEntry(
        actor={"user": f"user{i % 4}", "role": "scientist", "site": "H1"},
        action=("register", "anonymize", "synth.sample")[i % 3],
        purpose="research",
        inputs=[f"{i:064x}"],
        parameters={"i": i, "note": "x" * (i % 5)},
        decision="allow" if i % 7 else "deny",
        outcome="ok" if i % 7 else "refused",
    )


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    engine = _db.connect(f"sqlite:///{tmp_path}/ws.db")
    _db.metadata.create_all(engine)
    led = Ledger(engine, Signer.from_seed(bytes(32)))
    led.append_many([_entry(i) for i in range(10)])
    led.checkpoint()  # size 10
    led.append_many([_entry(i) for i in range(10, SIGNED)])
    led.checkpoint()  # size 30
    led.append_many([_entry(i) for i in range(SIGNED, 40)])
    led.append_many([_entry(i) for i in range(40, SIZE)])
    assert led.verify().ok
    yield led
    engine.dispose()


def sql(ledger: Ledger, *statements: str) -> None:
    """Edit the database file behind the ledger's back (the engine's pooled connections are closed first)."""
    ledger.engine.dispose()
    db = sqlite3.connect(str(ledger.engine.url.database))
    for statement in statements:
        db.execute(statement)
    db.commit()
    db.close()


def edit_body(seq: int, old: str, new: str) -> str:
    """SQL that replaces text inside one stored body (kept a BLOB, as the ledger stores it)."""
    edited = f"CAST(replace(CAST(body AS TEXT), '{old}', '{new}') AS BLOB)"
    return f"UPDATE ledger_entries SET body = {edited} WHERE seq = {seq}"


def rechain(ledger: Ledger, start: int) -> None:
    """What a careful attacker does after an edit: recompute every leaf and chain hash from ``start`` on."""
    ledger.engine.dispose()
    db = sqlite3.connect(str(ledger.engine.url.database))
    prev = bytes(32)
    if start:
        prev = db.execute("SELECT chain_hash FROM ledger_entries WHERE seq < ? ORDER BY seq DESC", (start,)).fetchone()[
            0
        ]
    for seq, body in db.execute(
        "SELECT seq, body FROM ledger_entries WHERE seq >= ? ORDER BY seq", (start,)
    ).fetchall():
        leaf = hashlib.sha256(b"\x00" + bytes(body)).digest()
        prev = hashlib.sha256(prev + leaf).digest()
        db.execute("UPDATE ledger_entries SET leaf_hash = ?, chain_hash = ? WHERE seq = ?", (leaf, prev, seq))
    db.commit()
    db.close()


def found(result: Verification) -> set[tuple[Damage, int | None]]:
    return {(p.kind, p.seq) for p in result.problems}


def test_editing_one_byte_of_a_body(ledger: Ledger) -> None:
    sql(ledger, edit_body(5, "user1", "userX"))
    result = ledger.verify()
    assert not result.ok
    assert (Damage.EDITED, 5) in found(result)
    assert any(p.kind is Damage.ROOT for p in result.problems)  # the checkpoints at 10 and 30 cover it
    assert "entry 5: the body does not hash to the stored leaf hash" in str(result.problems[0])


def test_editing_a_body_after_the_last_checkpoint(ledger: Ledger) -> None:
    sql(ledger, edit_body(44, '"i":44', '"i":45'))
    assert found(ledger.verify()) == {(Damage.EDITED, 44)}


def test_editing_hashes(ledger: Ledger) -> None:
    sql(ledger, "UPDATE ledger_entries SET leaf_hash = zeroblob(32) WHERE seq = 12")
    assert found(ledger.verify()) == {(Damage.EDITED, 12), (Damage.CHAIN, 12)}
    sql(
        ledger,
        "UPDATE ledger_entries SET leaf_hash = (SELECT leaf_hash FROM ledger_entries WHERE seq = 11) WHERE seq = 12",
    )
    assert (Damage.EDITED, 12) in found(ledger.verify())


def test_editing_a_chain_hash(ledger: Ledger) -> None:
    sql(ledger, "UPDATE ledger_entries SET chain_hash = randomblob(32) WHERE seq = 40")
    assert found(ledger.verify()) == {(Damage.CHAIN, 40), (Damage.CHAIN, 41)}


def test_editing_an_index_column(ledger: Ledger) -> None:
    sql(
        ledger,
        "UPDATE ledger_entries SET action = 'register' WHERE seq = 7",
        "UPDATE ledger_entries SET decision = 'allow' WHERE seq = 14",
        "UPDATE ledger_entries SET actor = 'mallory' WHERE seq = 33",
        "UPDATE ledger_entries SET time = '2000-01-01T00:00:00.000000Z' WHERE seq = 45",
    )
    result = ledger.verify()
    assert found(result) == {(Damage.COLUMN, 7), (Damage.COLUMN, 14), (Damage.COLUMN, 33), (Damage.COLUMN, 45)}
    assert "column 'actor' is 'mallory' but the hashed body says 'user1'" in str(result.problems[2])


def test_editing_a_body_and_recomputing_its_hashes(ledger: Ledger) -> None:
    """Caught by the chain at the next entry, and by the signed roots."""
    sql(ledger, edit_body(20, "research", "marketing"))
    db = sqlite3.connect(str(ledger.engine.url.database))
    body, prev = db.execute(
        "SELECT e.body, p.chain_hash FROM ledger_entries e, ledger_entries p WHERE e.seq = 20 AND p.seq = 19"
    ).fetchone()
    leaf = hashlib.sha256(b"\x00" + body).digest()
    db.execute(
        "UPDATE ledger_entries SET leaf_hash = ?, chain_hash = ? WHERE seq = 20",
        (leaf, hashlib.sha256(prev + leaf).digest()),
    )
    db.commit()
    db.close()
    result = ledger.verify()
    assert (Damage.CHAIN, 21) in found(result)
    assert sum(p.kind is Damage.ROOT for p in result.problems) == 1  # size 30 covers 20; size 10 does not


def test_rewriting_everything_from_an_entry_on(ledger: Ledger) -> None:
    """Every hash recomputed: only a signed root covering the entry can see it."""
    sql(ledger, edit_body(20, "research", "marketing"))
    rechain(ledger, 20)
    result = ledger.verify()
    assert [(p.kind, p.seq) for p in result.problems] == [(Damage.ROOT, None)]
    assert "at size 30" in result.problems[0].message


def test_rewriting_the_unsigned_tail_needs_an_outside_checkpoint(ledger: Ledger) -> None:
    """The documented limit: a tail rewritten after the last checkpoint verifies from the database alone;
    a checkpoint taken earlier and kept elsewhere catches it."""
    kept = ledger.checkpoint()  # size 50, e.g. saved by `medsyn ledger checkpoint` to a file
    note = kept.to_note(ledger.public_key)  # type: ignore[arg-type]
    sql(ledger, f"DELETE FROM ledger_checkpoints WHERE tree_size = {SIZE}")
    sql(ledger, edit_body(45, "research", "marketing"))
    rechain(ledger, 45)
    assert ledger.verify().ok
    outside = Checkpoint.from_note(note, ledger.public_key)  # type: ignore[arg-type]
    result = ledger.verify(trusted=outside)
    assert [p.kind for p in result.problems] == [Damage.ROOT]
    assert "the given checkpoint at size 50" in result.problems[0].message


def test_deleting_a_row(ledger: Ledger) -> None:
    sql(ledger, "DELETE FROM ledger_entries WHERE seq = 20")
    result = ledger.verify()
    assert {(Damage.MISSING, 20), (Damage.CHAIN, 21)} <= found(result)
    assert "entry 20: entry 20 is missing: rows were deleted" in [str(p) for p in result.problems]
    assert any(p.kind in (Damage.ROOT, Damage.TRUNCATED) for p in result.problems)


def test_deleting_rows_renumbering_and_rechaining(ledger: Ledger) -> None:
    """After the last checkpoint, with every hash redone: the bodies still say where they belong."""
    sql(ledger, "DELETE FROM ledger_entries WHERE seq = 40", "UPDATE ledger_entries SET seq = seq - 1 WHERE seq > 40")
    rechain(ledger, 40)
    result = ledger.verify()
    assert {p.kind for p in result.problems} == {Damage.MOVED}
    assert (Damage.MOVED, 40) in found(result)
    assert "the row holds entry 41" in result.problems[0].message


def test_swapping_two_rows(ledger: Ledger) -> None:
    sql(
        ledger,
        "UPDATE ledger_entries SET seq = -1 WHERE seq = 5",
        "UPDATE ledger_entries SET seq = 5 WHERE seq = 6",
        "UPDATE ledger_entries SET seq = 6 WHERE seq = -1",
    )
    result = ledger.verify()
    assert {(Damage.MOVED, 5), (Damage.MOVED, 6), (Damage.CHAIN, 5)} <= found(result)
    assert any(p.kind is Damage.ROOT for p in result.problems)


def test_swapping_rows_after_the_checkpoint_with_rechaining(ledger: Ledger) -> None:
    sql(
        ledger,
        "UPDATE ledger_entries SET seq = -1 WHERE seq = 45",
        "UPDATE ledger_entries SET seq = 45 WHERE seq = 46",
        "UPDATE ledger_entries SET seq = 46 WHERE seq = -1",
    )
    rechain(ledger, 45)
    assert found(ledger.verify()) == {(Damage.MOVED, 45), (Damage.MOVED, 46)}


def test_truncating_below_a_signed_checkpoint(ledger: Ledger) -> None:
    sql(ledger, "DELETE FROM ledger_entries WHERE seq >= 25")
    result = ledger.verify()
    assert [p.kind for p in result.problems] == [Damage.TRUNCATED]
    assert "covers 30 entries but only 25 are left" in result.problems[0].message


def test_truncating_the_unsigned_tail_needs_an_outside_checkpoint(ledger: Ledger) -> None:
    """Entries after the last checkpoint can be cut off unseen by the database alone (documented);
    a checkpoint kept outside, or the one in an earlier export, shows it."""
    kept = ledger.checkpoint()
    sql(
        ledger, f"DELETE FROM ledger_checkpoints WHERE tree_size = {SIZE}", "DELETE FROM ledger_entries WHERE seq >= 40"
    )
    alone = ledger.verify()
    assert alone.ok
    assert (alone.size, alone.latest_checkpoint, alone.unsigned_tail) == (40, SIGNED, 10)
    result = ledger.verify(trusted=kept)
    assert [p.kind for p in result.problems] == [Damage.TRUNCATED]
    assert "the given checkpoint covers 50 entries but only 40 are left" in result.problems[0].message


def test_deleting_checkpoints_and_the_entries_they_cover(ledger: Ledger, tmp_path: Path) -> None:
    ledger.export(tmp_path / "earlier.jsonl")
    sql(ledger, "DELETE FROM ledger_checkpoints", "DELETE FROM ledger_entries WHERE seq >= 15")
    assert ledger.verify().ok  # nothing left in the file to compare with
    from medsyn.governance._ledger_verify import verify_export

    assert verify_export(tmp_path / "earlier.jsonl").ok
    import json

    header = json.loads((tmp_path / "earlier.jsonl").read_text().splitlines()[0])
    earlier = Checkpoint.from_note(header["checkpoints"][-1]["note"], ledger.public_key)  # type: ignore[arg-type]
    assert [p.kind for p in ledger.verify(trusted=earlier).problems] == [Damage.TRUNCATED]


def test_editing_checkpoints(ledger: Ledger) -> None:
    sql(ledger, "UPDATE ledger_checkpoints SET signature = randomblob(64) WHERE tree_size = 10")
    result = ledger.verify()
    assert [p.kind for p in result.problems] == [Damage.SIGNATURE]
    assert "signature of checkpoint at size 10 does not verify" in result.problems[0].message
    sql(ledger, "UPDATE ledger_checkpoints SET root_hash = randomblob(32) WHERE tree_size = 30")
    assert [p.kind for p in ledger.verify().problems] == [Damage.SIGNATURE, Damage.SIGNATURE]
    sql(ledger, "UPDATE ledger_checkpoints SET key_id = 'abc' WHERE tree_size = 30")
    assert [p.kind for p in ledger.verify().problems] == [Damage.SIGNATURE, Damage.KEY]


def test_a_forged_checkpoint_without_the_key_is_still_checked_against_the_entries(ledger: Ledger) -> None:
    """Opened without any key, a checkpoint's root is still compared with the recomputed tree."""
    sql(ledger, "UPDATE ledger_checkpoints SET root_hash = randomblob(32) WHERE tree_size = 10")
    keyless = Ledger(ledger.engine, origin=ledger.origin)
    assert [p.kind for p in keyless.verify().problems] == [Damage.ROOT]


def test_inserting_a_row(ledger: Ledger) -> None:
    sql(
        ledger,
        "INSERT INTO ledger_entries SELECT 50, time, actor, action, decision, body, leaf_hash, chain_hash "
        "FROM ledger_entries WHERE seq = 3",
    )
    assert {(Damage.CHAIN, 50), (Damage.MOVED, 50)} <= found(ledger.verify())


def test_a_body_that_is_not_an_entry(ledger: Ledger) -> None:
    sql(ledger, "UPDATE ledger_entries SET body = X'00FF' WHERE seq = 2")
    result = ledger.verify()
    assert {(Damage.EDITED, 2), (Damage.MALFORMED, 2)} <= found(result)


def test_the_parallel_check_finds_exactly_what_the_one_process_pass_finds(ledger: Ledger) -> None:
    """Ranges of 8 entries on 2 worker processes: the same problems (a root mismatch may be listed
    a few entries later), the same root, the same checkpoints checked."""
    from medsyn.governance._ledger_parallel import check_parallel
    from medsyn.governance._ledger_verify import LedgerChecker

    def both() -> tuple[Verification, Verification]:
        one = ledger.verify(workers=1)
        checker = LedgerChecker(ledger.checkpoints(), public_key=ledger.public_key)
        check_parallel(checker, str(ledger.engine.url.database), ledger.size(), 2, chunk=8)
        return one, checker.finish()

    one, many = both()
    assert one.ok
    assert many == one
    sql(
        ledger,
        edit_body(3, "user3", "userX"),
        "DELETE FROM ledger_entries WHERE seq IN (14, 15, 16)",  # across the boundary at 16
        "UPDATE ledger_entries SET chain_hash = randomblob(32) WHERE seq = 23",  # the last of a range
        "UPDATE ledger_entries SET action = 'register' WHERE seq = 37",
        "UPDATE ledger_entries SET seq = -1 WHERE seq = 44",
        "UPDATE ledger_entries SET seq = 44 WHERE seq = 45",
        "UPDATE ledger_entries SET seq = 45 WHERE seq = -1",
    )
    one, many = both()
    assert not one.ok
    assert {Damage.EDITED, Damage.MISSING, Damage.CHAIN, Damage.COLUMN, Damage.MOVED, Damage.ROOT} <= {
        p.kind for p in one.problems
    }
    assert sorted(many.problems, key=str) == sorted(one.problems, key=str)
    assert (many.root, many.size, many.checkpoints_checked) == (one.root, one.size, one.checkpoints_checked)
