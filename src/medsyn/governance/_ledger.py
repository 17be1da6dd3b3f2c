"""The ledger: an append-only, hash-chained, Merkle-tree record of every governed action.

Each entry (who, what, why, under which rule, with which data in and out, and what came of it)
is stored as canonical JSON bytes and hashed twice: as a leaf of an RFC 6962 Merkle tree
(``SHA-256(0x00 ‖ body)``) and into a running chain (``SHA-256(previous chain ‖ leaf)``). The
chain makes each edit visible at the entry that was touched; the Merkle tree gives short
inclusion proofs for one entry and consistency proofs between two sizes; signed checkpoints
(tree heads signed with the workspace's Ed25519 key) pin the tree so that a rewrite or
truncation of everything they cover is caught too.

Appends run inside ``_db.write`` (``BEGIN IMMEDIATE``): the last chain hash is read while the
write lock is held, so two processes appending at once queue instead of forking the chain, and a
process killed mid-append leaves either the whole batch or none of it. The body records its own
``seq``, so moving rows around is caught even when their hashes are left intact.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, func, insert, select

from medsyn._atomic import atomic_path
from medsyn.errors import InputError, Problem
from medsyn.governance import _db, _merkle
from medsyn.governance._ledger_entry import ENTRY_FORMAT, LedgerEntry, canonical, now_utc
from medsyn.governance._ledger_verify import (
    EXPORT_FORMAT,
    EXPORT_TYPE,
    GENESIS,
    SQLITE_ROWS,
    Damage,
    LedgerChecker,
    LedgerProblem,
    LedgerTampered,
    Verification,
)
from medsyn.governance._proofs import ConsistencyProof, InclusionProof
from medsyn.governance._signing import Checkpoint, PublicKey, Signer

__all__ = ["ENTRY_FORMAT", "Ledger", "LedgerEntry", "Receipt", "StoredEntry"]

_CHUNK = 20_000
#: From this many entries ``verify`` uses several processes by default.
PARALLEL_FROM = 200_000

_E = _db.ledger_entries.c
_INSERT_COLUMNS = ("seq", "time", "actor", "action", "decision", "body", "leaf_hash", "chain_hash")
_INSERT = f"INSERT INTO {_db.ledger_entries.name} ({', '.join(_INSERT_COLUMNS)}) VALUES ({{marks}})"
_PLACEHOLDER = {"qmark": "?", "format": "%s", "pyformat": "%s"}
_C = _db.checkpoints.c


@dataclass(frozen=True, slots=True)
class Receipt:
    """Where an appended entry landed: its leaf index and hashes."""

    seq: int
    leaf_hash: bytes
    chain_hash: bytes

    def __repr__(self) -> str:
        return f"Receipt(seq={self.seq}, leaf={self.leaf_hash.hex()[:12]}…, chain={self.chain_hash.hex()[:12]}…)"


@dataclass(frozen=True, slots=True)
class StoredEntry:
    """An entry as read back, with its position and hashes."""

    seq: int
    entry: LedgerEntry
    body: bytes
    leaf_hash: bytes
    chain_hash: bytes

    @property
    def time(self) -> str:
        return self.entry.time

    def to_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            **self.entry.to_dict(),
            "leaf_hash": self.leaf_hash.hex(),
            "chain_hash": self.chain_hash.hex(),
        }


class Ledger:
    """The workspace ledger over a database ``engine`` (tables from :mod:`medsyn.governance._db`).

    ``signer`` (the workspace key) is needed to make checkpoints; to check them a ``public_key``
    is enough (the signer's is used when given). ``origin`` names the log inside signed
    checkpoints; by default ``medsyn/<first 16 hex of the key id>``.
    """

    def __init__(
        self,
        engine: Engine,
        signer: Signer | None = None,
        *,
        public_key: PublicKey | None = None,
        origin: str | None = None,
    ) -> None:
        self.engine = engine
        self.signer = signer
        self.public_key = signer.public_key if signer is not None else public_key
        if origin is not None and (not origin or any(c.isspace() or c == "+" for c in origin)):
            raise InputError(Problem("origin", repr(origin), "a non-empty name without spaces or '+'"))
        self._origin = origin
        self.origin = self._origin_of(self.public_key.key_id if self.public_key is not None else "")

    def _origin_of(self, key_id: str) -> str:
        """The origin given, else ``medsyn/<16 hex of the key id>``: a stored head names its key, so its
        signed text is known even when this ledger was opened without any key."""
        if self._origin is not None:
            return self._origin
        return f"medsyn/{key_id[:16]}" if key_id else "medsyn"

    def __repr__(self) -> str:
        return f"Ledger({self.engine.url!r}, origin={self.origin!r})"

    # ---- appending -------------------------------------------------------------------------

    def append(self, entry: LedgerEntry, *, conn: Connection | None = None) -> Receipt:
        """Append one entry durably; with ``conn`` (an open ``_db.write`` transaction) it commits with the caller's."""
        return self.append_many([entry], conn=conn)[0]

    def append_many(self, entries: Iterable[LedgerEntry], *, conn: Connection | None = None) -> list[Receipt]:
        """Append entries in one transaction: all land or none, and one commit (one fsync) covers them all."""
        entries = list(entries)
        if conn is not None:
            if not conn.in_transaction() or not conn.get_execution_options().get("medsyn_write"):
                raise RuntimeError("Ledger.append(conn=…) needs a write transaction opened with _db.write(engine)")
            return self._append(conn, entries)
        with _db.write(self.engine) as own:
            return self._append(own, entries)

    @staticmethod
    def _append(conn: Connection, entries: list[LedgerEntry]) -> list[Receipt]:
        """Hash and insert ``entries`` after the last stored one (the caller holds the write lock).

        Entries without a time get the batch's time: they commit together. The rows go to the
        driver's ``executemany`` as plain tuples, skipping SQLAlchemy's per-row processing.
        """
        if not entries:
            return []
        last = conn.execute(select(_E.seq, _E.chain_hash).order_by(_E.seq.desc()).limit(1)).first()
        seq, prev = (last[0] + 1, _bytes(last[1])) if last is not None else (0, GENESIS)
        sha = hashlib.sha256
        stamp = now_utc()
        rows: list[tuple[int, str, str, str, str, bytes, bytes, bytes]] = []
        receipts: list[Receipt] = []
        for entry in entries:
            fields = entry.to_dict()
            fields["time"] = entry.time or stamp
            fields["format"], fields["seq"] = ENTRY_FORMAT, seq
            body = canonical(fields)
            leaf = sha(b"\x00" + body).digest()
            chain = sha(prev + leaf).digest()
            user = str(entry.actor["user"])
            rows.append((seq, fields["time"], user, entry.action, entry.decision, body, leaf, chain))
            receipts.append(Receipt(seq, leaf, chain))
            prev, seq = chain, seq + 1
        mark = _PLACEHOLDER.get(conn.dialect.paramstyle)
        if mark is not None:
            conn.exec_driver_sql(_INSERT.format(marks=", ".join([mark] * 8)), rows)  # type: ignore[arg-type]
        else:
            conn.execute(insert(_db.ledger_entries), [dict(zip(_INSERT_COLUMNS, row, strict=True)) for row in rows])
        return receipts

    # ---- reading ---------------------------------------------------------------------------

    def size(self) -> int:
        """Number of entries (one past the highest seq)."""
        with _db.read(self.engine) as conn:
            return _size(conn)

    def entry(self, seq: int) -> StoredEntry:
        """Entry ``seq``; a seq that is not there raises InputError."""
        with _db.read(self.engine) as conn:
            row = conn.execute(select(_E.seq, _E.body, _E.leaf_hash, _E.chain_hash).where(_E.seq == seq)).first()
            if row is None:
                raise InputError(Problem(f"ledger entry {seq}", "no such entry", f"0 ≤ seq < {_size(conn)}"))
        return _stored(row)

    def entries(self, start: int = 0, stop: int | None = None, *, action: str | None = None) -> Iterator[StoredEntry]:
        """Entries with ``start <= seq < stop`` in order, read in chunks (optionally only one ``action``)."""
        after = start - 1
        while True:
            query = select(_E.seq, _E.body, _E.leaf_hash, _E.chain_hash).where(_E.seq > after)
            if stop is not None:
                query = query.where(_E.seq < stop)
            if action is not None:
                query = query.where(_E.action == action)
            with _db.read(self.engine) as conn:
                rows = conn.execute(query.order_by(_E.seq).limit(_CHUNK)).all()
            for row in rows:
                yield _stored(row)
            if len(rows) < _CHUNK:
                return
            after = rows[-1][0]

    def last(self, n: int, *, action: str | None = None) -> list[StoredEntry]:
        """The last ``n`` entries (of one ``action``), oldest first."""
        query = select(_E.seq, _E.body, _E.leaf_hash, _E.chain_hash)
        if action is not None:
            query = query.where(_E.action == action)
        with _db.read(self.engine) as conn:
            rows = conn.execute(query.order_by(_E.seq.desc()).limit(max(n, 0))).all()
        return [_stored(row) for row in reversed(rows)]

    def leaf_hashes(self, size: int | None = None) -> list[bytes]:
        """The stored leaf hashes of entries ``0 … size-1``; gaps raise :class:`LedgerTampered`."""
        with _db.read(self.engine) as conn:
            return _leaf_hashes(conn, _size(conn) if size is None else size)

    def root(self, size: int | None = None) -> bytes:
        """The Merkle root over the stored leaf hashes of the first ``size`` entries (all by default)."""
        return _merkle.root(self.leaf_hashes(size))

    def checkpoints(self) -> list[Checkpoint]:
        """Every stored signed tree head, smallest first."""
        with _db.read(self.engine) as conn:
            return self._checkpoints(conn)

    def latest_checkpoint(self) -> Checkpoint | None:
        heads = self.checkpoints()
        return heads[-1] if heads else None

    def _checkpoints(self, conn: Connection) -> list[Checkpoint]:
        rows = conn.execute(
            select(_C.tree_size, _C.root_hash, _C.time, _C.key_id, _C.signature).order_by(_C.tree_size)
        ).all()
        return [
            Checkpoint(self._origin_of(str(r[3])), int(r[0]), _bytes(r[1]), str(r[3]), _bytes(r[4]), time=str(r[2]))
            for r in rows
        ]

    # ---- checking --------------------------------------------------------------------------

    def verify(self, *, trusted: Checkpoint | None = None, workers: int | None = None) -> Verification:
        """Check everything in one pass (see :mod:`._ledger_verify`); damage is reported, not raised.

        ``trusted`` is a checkpoint kept outside the database (it catches truncation and rewrites
        after the stored checkpoints). ``workers`` > 1 spreads the hashing of a SQLite file over
        that many processes (:mod:`._ledger_parallel`, same findings); by default a ledger of
        :data:`PARALLEL_FROM` entries or more uses the cores that are idle now, up to 8.
        """
        with _db.read(self.engine) as conn:
            checker = LedgerChecker(self._checkpoints(conn), public_key=self.public_key, trusted=trusted)
            size = _size(conn)
            path = self.engine.url.database if conn.dialect.name == "sqlite" else None
            if workers is None:
                workers = _idle_cores() if size >= PARALLEL_FROM else 1
            if workers <= 1 or not path or path == ":memory:":
                _feed_rows(conn, checker)
                return checker.finish()
        from medsyn.governance._ledger_parallel import check_parallel

        check_parallel(checker, path, size, workers)
        return checker.finish()

    def ensure_valid(self, *, trusted: Checkpoint | None = None, workers: int | None = None) -> Verification:
        """:meth:`verify`, raising :class:`LedgerTampered` with every problem when the ledger does not verify."""
        return self.verify(trusted=trusted, workers=workers).raise_if_tampered()

    def checkpoint(self) -> Checkpoint:
        """Sign and store the current tree head, after checking what it is about to sign.

        Entries covered by the latest valid checkpoint are checked through its root (from their
        stored leaf hashes); entries after it are re-hashed from their bodies and their chain
        links checked. Signing a tampered ledger raises :class:`LedgerTampered` instead.
        """
        if self.signer is None:
            raise InputError(
                Problem("ledger", "opened without the workspace's private key", fix="Open it with its Signer")
            )
        with _db.read(self.engine) as conn:
            size = _size(conn)
            key = self.signer.public_key
            base = next((cp for cp in reversed(self._checkpoints(conn)) if cp.size <= size and cp.verify(key)), None)
            if base is not None and base.size == size:
                return base
            leaves = _leaf_hashes(conn, size)
            problems, root = self._check_tail(conn, leaves, base)
        if problems:
            raise LedgerTampered(problems)
        body_cp = Checkpoint(self.origin, size, root, self.signer.key_id, b"", time=now_utc())
        head = replace(body_cp, signature=self.signer.sign(body_cp.body()))
        with _db.write(self.engine) as conn:
            exists = conn.execute(select(_C.tree_size).where(_C.tree_size == size)).first()
            if exists is None:
                conn.execute(
                    insert(_db.checkpoints).values(
                        tree_size=size, root_hash=root, time=head.time, key_id=head.key_id, signature=head.signature
                    )
                )
        return head

    def _check_tail(
        self, conn: Connection, leaves: list[bytes], base: Checkpoint | None
    ) -> tuple[list[LedgerProblem], bytes]:
        """Problems that signing now would hide, and the root of ``leaves`` (one Merkle pass for both)."""
        start = base.size if base is not None else 0
        problems: list[LedgerProblem] = []
        frontier = _merkle.Frontier()
        frontier.extend(leaves[:start])
        if base is not None and frontier.root() != base.root:
            problems.append(
                LedgerProblem(Damage.ROOT, None, f"entries 0–{start - 1} no longer hash to the root signed at {start}")
            )
        frontier.extend(leaves[start:])
        checker = LedgerChecker()
        checker.frontier = _CountingFrontier(start)
        checker.expected = start
        if start:
            prev = conn.execute(select(_E.chain_hash).where(_E.seq == start - 1)).scalar_one()
            checker.prev_chain = _bytes(prev)
        _feed_rows(conn, checker, start=start)
        return problems + checker.problems, frontier.root()

    # ---- proofs ----------------------------------------------------------------------------

    def prove_inclusion(self, seq: int, size: int | None = None) -> InclusionProof:
        """Proof that entry ``seq`` is in the tree of ``size`` entries (default: all), with its body."""
        with _db.read(self.engine) as conn:
            size = _size(conn) if size is None else size
            _check_range(seq < size and seq >= 0, f"entry {seq}", f"0 ≤ seq < tree size {size}")
            leaves = _leaf_hashes(conn, size)
            body = conn.execute(select(_E.body).where(_E.seq == seq)).scalar_one()
            heads = {cp.size: cp for cp in self._checkpoints(conn)}
        path = _merkle.inclusion_proof(leaves, seq, size)
        root = _merkle.root_from_inclusion_proof(leaves[seq], seq, size, path)
        return InclusionProof(seq, size, leaves[seq], tuple(path), root, _bytes(body), heads.get(size))

    def prove_consistency(self, old_size: int, new_size: int | None = None) -> ConsistencyProof:
        """Proof that the tree of ``old_size`` entries is a prefix of the tree of ``new_size`` (default: all)."""
        with _db.read(self.engine) as conn:
            new_size = _size(conn) if new_size is None else new_size
            _check_range(0 <= old_size <= new_size, f"sizes {old_size} → {new_size}", "0 ≤ old ≤ new")
            leaves = _leaf_hashes(conn, new_size)
        path = _merkle.consistency_proof(leaves, old_size, new_size)
        if 0 < old_size < new_size:
            # the path yields both roots, except an old root of a power-of-two size, which it assumes
            power = old_size & (old_size - 1) == 0
            old_root = _merkle.subtree_root(leaves, 0, old_size) if power else b""
            found_old, new_root = _merkle.root_from_consistency_proof(old_size, new_size, old_root, path)
            old_root = old_root or found_old
        else:
            old_root = _merkle.subtree_root(leaves, 0, old_size)
            new_root = _merkle.subtree_root(leaves, 0, new_size)
        return ConsistencyProof(old_size, new_size, old_root, new_root, tuple(path))

    # ---- export ----------------------------------------------------------------------------

    def export(self, path: str | Path, format: str = "jsonl") -> Verification:
        """Write the whole ledger, its checkpoints and public key to one JSON-lines file, atomically.

        The file checks on its own with :func:`verify_export`. The ledger is verified while it is
        written; the returned :class:`Verification` says whether what was exported is intact.
        """
        if format != "jsonl":
            raise InputError(Problem("format", repr(format), "'jsonl'"))
        with _db.read(self.engine) as conn, atomic_path(path) as tmp, tmp.open("w", encoding="utf-8") as fh:
            heads = self._checkpoints(conn)
            key = self.public_key
            header = {
                "type": EXPORT_TYPE,
                "format": EXPORT_FORMAT,
                "origin": self.origin,
                "exported_at": now_utc(),
                "key_id": None if key is None else key.key_id,
                "public_key": None if key is None else _b64(key.raw),
                "verifier_key": None if key is None else key.vkey(self.origin),
                "checkpoints": [{**cp.to_dict(), "note": None if key is None else cp.to_note(key)} for cp in heads],
            }
            fh.write(json.dumps(header, sort_keys=True) + "\n")
            checker = LedgerChecker(heads, public_key=key)

            def write(rows: Sequence[Any]) -> None:
                for r in rows:
                    rec = {
                        "seq": r[0],
                        "time": r[1].decode(errors="replace"),
                        "actor": r[2].decode(errors="replace"),
                        "action": r[3].decode(errors="replace"),
                        "decision": r[4].decode(errors="replace"),
                        "body": r[5].decode(errors="replace"),
                        "leaf_hash": r[6].hex(),
                        "chain_hash": r[7].hex(),
                    }
                    fh.write(json.dumps(rec, ensure_ascii=False) + "\n")

            _feed_rows(conn, checker, also=write)
            fh.write(json.dumps({"type": "end", "size": checker.frontier.size, "root": checker.frontier.root().hex()}))
            fh.write("\n")
        return checker.finish()


class _CountingFrontier(_merkle.Frontier):
    """A frontier that only counts leaves: for checks whose Merkle root is computed elsewhere."""

    def __init__(self, start: int) -> None:
        super().__init__()
        self.size = start

    def append(self, leaf: bytes) -> None:
        self.size += 1

    def extend(self, leaves: Sequence[bytes]) -> None:
        self.size += len(leaves)


def _idle_cores() -> int:
    """Cores not busy now (count minus the 1-minute load), 1 to 8: extra processes on busy cores only slow down."""
    try:
        load = os.getloadavg()[0]
    except OSError:  # not available on this system
        load = 0.0
    return max(1, min(8, round((os.cpu_count() or 1) - load)))


def _bytes(value: object) -> bytes:
    """A stored value as bytes: text as UTF-8 (index columns, or a blob edited into text)."""
    if isinstance(value, str):
        return value.encode()
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    return str(value).encode()  # a number edited into a blob column


def _b64(raw: bytes) -> str:
    import base64

    return base64.b64encode(raw).decode()


def _check_range(ok: bool, where: str, expected: str) -> None:
    if not ok:
        raise InputError(Problem(where, "out of range", expected))


def _size(conn: Connection) -> int:
    top = conn.execute(select(func.max(_E.seq))).scalar()
    return 0 if top is None else int(top) + 1


def _stored(row: Any) -> StoredEntry:
    seq, body = int(row[0]), _bytes(row[1])
    _, entry = LedgerEntry.from_body(body, where=f"ledger entry {seq}")
    return StoredEntry(seq, entry, body, _bytes(row[2]), _bytes(row[3]))


def _leaf_hashes(conn: Connection, size: int) -> list[bytes]:
    """Stored leaf hashes of entries ``0 … size-1`` (a million in about a second); gaps raise LedgerTampered."""
    if conn.dialect.name == "sqlite":
        cursor = conn.connection.driver_connection.execute(  # type: ignore[union-attr]
            f"SELECT seq, CAST(leaf_hash AS BLOB) FROM {_db.ledger_entries.name} WHERE seq < ? ORDER BY seq", (size,)
        )
        rows: Sequence[Any] = cursor.fetchall()
    else:
        rows = [
            (r[0], _bytes(r[1]))
            for r in conn.execute(select(_E.seq, _E.leaf_hash).where(_E.seq < size).order_by(_E.seq))
        ]
    if len(rows) != size or (rows and rows[-1][0] != size - 1):
        have = {int(r[0]) for r in rows}
        missing = [i for i in range(size) if i not in have][:10]
        raise LedgerTampered(
            [LedgerProblem(Damage.MISSING, missing[0] if missing else None, f"entries {missing} … are missing")]
        )
    return [r[1] for r in rows]


def _feed_rows(
    conn: Connection, checker: LedgerChecker, *, start: int = 0, also: Callable[[Sequence[Any]], None] | None = None
) -> None:
    """Stream rows ``seq >= start`` in order through ``checker`` in chunks (one consistent snapshot).

    The index columns travel as UTF-8 bytes (the checker compares bytes): SQLite casts them in
    C; other databases give text that is encoded here.
    """
    if conn.dialect.name == "sqlite":
        # the driver's own cursor, in the same transaction: plain tuples, no per-row result processing
        cursor = conn.connection.driver_connection.execute(  # type: ignore[union-attr]
            SQLITE_ROWS, (-(2**63) if start == 0 else start, 2**63 - 1)
        )
        fetch: Callable[[int], Sequence[Any]] = cursor.fetchmany
        convert = False
    else:
        query = select(_E.seq, *[_E[c] for c in _INSERT_COLUMNS[1:]]).order_by(_E.seq)
        if start:
            query = query.where(_E.seq >= start)
        fetch = conn.execute(query, execution_options={"yield_per": _CHUNK}).fetchmany
        convert = True
    while True:
        rows = fetch(_CHUNK)
        if not rows:
            break
        if convert:
            rows = [(r[0], *(_bytes(v) for v in r[1:])) for r in rows]
        if also is not None:
            also(rows)
        checker.feed(rows)
