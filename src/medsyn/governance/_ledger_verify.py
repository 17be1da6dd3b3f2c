"""Checking a ledger in one streaming pass: leaf hashes, the hash chain, positions, index columns,
the Merkle root and every signed checkpoint, with the problems it finds named by entry.

The same :class:`LedgerChecker` reads rows from the workspace database (``Ledger.verify``) and
from an exported file (:func:`verify_export`), so a data protection officer checks an export
with exactly the code the workspace uses. Rows arrive in ``seq`` order; per row the checker
hashes the body once (leaf hash), hashes the chain link once, and pushes the leaf onto a Merkle
:class:`~medsyn.governance._merkle.Frontier`, so the roots at every checkpoint size fall out of
the same pass at no extra cost. Nothing is decoded on the fast path: the canonical body's first
key is ``action`` and its last two are ``seq`` and ``time``, so the index columns are checked
by comparing bytes; only a row that fails is decoded, to say exactly what differs.

What cannot be seen from the rows alone: a rewrite of the whole tail after the last signed
checkpoint (every hash recomputed), and the removal of entries after it (truncation). A signed
checkpoint kept outside the database (``--checkpoint``) or an earlier export closes that gap.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from medsyn.errors import DataFormatError, MedsynError, Problem
from medsyn.governance._merkle import Frontier
from medsyn.governance._signing import Checkpoint, PublicKey

__all__ = [
    "EXPORT_TYPE",
    "GENESIS",
    "Damage",
    "LedgerChecker",
    "LedgerProblem",
    "LedgerTampered",
    "Verification",
    "verify_export",
]

#: The chain hash before the first entry.
GENESIS = bytes(32)
#: The ``type`` of an export's first line.
EXPORT_TYPE = "medsyn-ledger-export"
EXPORT_FORMAT = 1

#: (seq, time, actor, action, decision, body, leaf_hash, chain_hash); the four columns as UTF-8 bytes.
Row = tuple[int, bytes, bytes, bytes, bytes, bytes, bytes, bytes]

_MAX_PROBLEMS = 1000

#: The rows of positions ``? <= seq < ?`` in order, as the checker takes them (SQLite). CAST: a value
#: edited into another type (TEXT for BLOB) still arrives as bytes, and is caught by its hash.
SQLITE_ROWS = (
    "SELECT seq, CAST(time AS BLOB), CAST(actor AS BLOB), CAST(action AS BLOB), CAST(decision AS BLOB), "
    "CAST(body AS BLOB), CAST(leaf_hash AS BLOB), CAST(chain_hash AS BLOB) "
    "FROM ledger_entries WHERE seq >= ? AND seq < ? ORDER BY seq"
)


class Damage(StrEnum):
    """What kind of damage a :class:`LedgerProblem` reports."""

    EDITED = "edited"  # the body does not hash to the stored leaf hash
    CHAIN = "chain"  # the chain hash does not follow from the previous row's
    MISSING = "missing"  # seq numbers skipped: rows deleted
    MOVED = "moved"  # the body records another seq: rows reordered or renumbered
    COLUMN = "column"  # an index column (time, actor, action, decision) disagrees with the body
    MALFORMED = "malformed"  # the body is not a ledger entry at all
    ROOT = "root"  # the entries do not hash to a signed root
    TRUNCATED = "truncated"  # fewer entries than a signed checkpoint covers
    SIGNATURE = "signature"  # a checkpoint's signature does not verify
    KEY = "key"  # a checkpoint is signed by another key


@dataclass(frozen=True, slots=True)
class LedgerProblem:
    """One thing wrong with a ledger: what kind, at which entry (None: the ledger as a whole), and why."""

    kind: Damage
    seq: int | None
    message: str

    def __str__(self) -> str:
        where = "ledger" if self.seq is None else f"entry {self.seq}"
        return f"{where}: {self.message}"

    def to_problem(self) -> Problem:
        return Problem("ledger" if self.seq is None else f"ledger entry {self.seq}", self.message)

    def to_dict(self) -> dict[str, str | int | None]:
        return {"kind": self.kind.value, "seq": self.seq, "message": self.message}


class LedgerTampered(MedsynError):
    """The ledger does not verify: entries or checkpoints were edited, removed or reordered.

    Exit code 5, apart from bad input (2) and refusals (3), so scripts can tell "the evidence
    itself is damaged" from every other failure. HTTP 500: the server's own records are bad.
    """

    exit_code = 5
    http_status = 500

    def __init__(self, problems: Sequence[LedgerProblem], *, omitted: int = 0) -> None:
        self.problems = tuple(problems)
        shown = "\n".join(f"  - {p}" for p in self.problems[:20])
        more = len(self.problems) - 20 + omitted
        tail = f"\n  … and {more} more" if more > 0 else ""
        super().__init__(f"the ledger does not verify ({len(self.problems) + omitted} problems):\n{shown}{tail}")


@dataclass(frozen=True, slots=True)
class Verification:
    """The outcome of checking a ledger (``ok`` is False when there is any problem)."""

    ok: bool
    size: int
    root: bytes
    checkpoints: int
    checkpoints_checked: int
    signatures_checked: bool
    latest_checkpoint: int | None
    problems: tuple[LedgerProblem, ...]
    problems_omitted: int = 0

    def __repr__(self) -> str:
        return (
            f"Verification(ok={self.ok}, size={self.size}, root={self.root.hex()[:16]}…, "
            f"checkpoints={self.checkpoints_checked}/{self.checkpoints}, "
            f"problems={len(self.problems) + self.problems_omitted})"
        )

    @property
    def unsigned_tail(self) -> int:
        """Entries after the latest checkpoint: a truncation of these is invisible without an outside head."""
        return self.size - (self.latest_checkpoint or 0)

    def raise_if_tampered(self) -> Verification:
        if not self.ok:
            raise LedgerTampered(self.problems, omitted=self.problems_omitted)
        return self

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "size": self.size,
            "root": self.root.hex(),
            "checkpoints": self.checkpoints,
            "checkpoints_checked": self.checkpoints_checked,
            "signatures_checked": self.signatures_checked,
            "latest_checkpoint": self.latest_checkpoint,
            "unsigned_tail": self.unsigned_tail,
            "problems": [p.to_dict() for p in self.problems],
            "problems_omitted": self.problems_omitted,
        }


class LedgerChecker:
    """Feed rows in ``seq`` order with :meth:`feed`, then :meth:`finish` for the :class:`Verification`.

    ``checkpoints`` are the stored signed heads (their signatures are checked against
    ``public_key`` when one is given); ``trusted`` is a head from outside the database.
    """

    def __init__(
        self,
        checkpoints: Sequence[Checkpoint] = (),
        *,
        public_key: PublicKey | None = None,
        trusted: Checkpoint | None = None,
    ) -> None:
        self.frontier = Frontier()
        self.prev_chain = GENESIS
        self.expected = 0
        self.problems: list[LedgerProblem] = []
        self.omitted = 0
        self.checked = 0
        self._n_checkpoints = len(checkpoints)
        self._heads_of: dict[bytes, bytes] = {}
        self._users: dict[bytes, bytes] = {}
        self._verdicts: dict[bytes, bytes] = {}
        self._public_key = public_key
        heads: list[tuple[Checkpoint, str]] = []
        good_sizes = []
        for cp in checkpoints:
            if public_key is not None and not self._signed(cp, "checkpoint"):
                continue
            heads.append((cp, "checkpoint"))
            good_sizes.append(cp.size)
        if trusted is not None and (public_key is None or self._signed(trusted, "the given checkpoint")):
            heads.append((trusted, "the given checkpoint"))
        self.latest = max(good_sizes, default=None)
        self._heads = sorted(heads, key=lambda h: h[0].size)
        self._next = 0
        self._check_due()

    def _signed(self, cp: Checkpoint, label: str) -> bool:
        key = self._public_key
        assert key is not None
        if cp.key_id != key.key_id:
            self.add(
                Damage.KEY,
                None,
                f"{label} at size {cp.size} is signed by key {cp.key_id[:16]}…, "
                f"not the workspace key {key.key_id[:16]}…",
            )
            return False
        if not key.verify(cp.body(), cp.signature):
            self.add(Damage.SIGNATURE, None, f"the signature of {label} at size {cp.size} does not verify")
            return False
        return True

    def add(self, kind: Damage, seq: int | None, message: str) -> None:
        if len(self.problems) < _MAX_PROBLEMS:
            self.problems.append(LedgerProblem(kind, seq, message))
        else:
            self.omitted += 1

    def _due_size(self) -> int:
        return self._heads[self._next][0].size if self._next < len(self._heads) else -1

    def _check_due(self) -> None:
        size = self.frontier.size
        while self._next < len(self._heads) and self._heads[self._next][0].size == size:
            cp, label = self._heads[self._next]
            self._next += 1
            self.checked += 1
            if self.frontier.root() != cp.root:
                self.add(
                    Damage.ROOT,
                    None,
                    f"entries 0–{size - 1} do not hash to the root signed by {label} at size {size}: "
                    "an entry before it was changed, inserted or removed (even if its hashes were redone)",
                )

    def feed(self, rows: Iterable[Row]) -> None:
        """Check a run of consecutive rows: two SHA-256 per row here, the run's Merkle hashes after it.

        The index columns are compared with the body as bytes, relying on the canonical key
        order: the body starts ``{"action":…,"actor":{…,"user":…},"decision":…,`` and ends
        ``"seq":N,"time":"…"}``; the first ``},"decision":`` closes the actor object (its values
        are strings or lists of strings, whose quotes are escaped). A row that fails, or whose
        values need JSON escapes, is settled by decoding it (:meth:`_columns`).
        """
        sha = hashlib.sha256
        prev = self.prev_chain
        expected = self.expected
        leaves: list[bytes] = []
        push = leaves.append
        heads, users, verdicts = self._heads_of, self._users, self._verdicts
        for seq, time, actor, action, decision, body, leaf, chain in rows:
            if seq != expected:
                self._flush(leaves)
                leaves = []
                push = leaves.append
                self._gap(expected, seq)
                expected = seq
            computed = sha(b"\x00" + body).digest()
            if computed != leaf:
                self.add(Damage.EDITED, seq, "the body does not hash to the stored leaf hash: the entry was edited")
            if sha(prev + leaf).digest() != chain:
                self.add(
                    Damage.CHAIN,
                    seq,
                    "the chain hash does not follow from the previous entry's: "
                    "this entry or the one before it was edited, inserted, removed or moved",
                )
            prev = chain
            # index columns vs the body, as bytes; the needles for repeated values are built once
            head = heads.get(action)
            if head is None:
                head = heads[action] = b'{"action":"%b","actor":{' % action
            user = users.get(actor)
            if user is None:
                user = users[actor] = b'"user":"%b"}' % actor
            verdict = verdicts.get(decision)
            if verdict is None:
                verdict = verdicts[decision] = b',"decision":"%b",' % decision
            at = body.find(b'},"decision":') + 1
            if not (
                body.endswith(b',"seq":%d,"time":"%b"}' % (seq, time))
                and body.startswith(head)
                and at >= len(user)
                and body.startswith(user, at - len(user))
                and body.startswith(verdict, at)
            ):
                self._columns(seq, time, actor, action, decision, body)
            push(computed)
            expected += 1
        self._flush(leaves)
        self.prev_chain = prev
        self.expected = expected

    def _flush(self, leaves: list[bytes]) -> None:
        """Push a run of leaf hashes into the Merkle frontier, stopping at each checkpoint size to compare roots."""
        done = 0
        while done < len(leaves):
            due = self._due_size()
            room = due - self.frontier.size if due > self.frontier.size else len(leaves) - done
            take = min(room, len(leaves) - done)
            self.frontier.extend(leaves[done : done + take])
            done += take
            self._check_due()

    def _gap(self, expected: int, seq: int) -> None:
        if seq > expected:
            span = f"entry {expected} is" if seq == expected + 1 else f"entries {expected}–{seq - 1} are"
            self.add(Damage.MISSING, expected, f"{span} missing: rows were deleted")
        else:  # a negative seq in the database; a repeated or backward line in a file
            self.add(Damage.MOVED, seq, f"a row numbered {seq} where entry {expected} belongs: rows were renumbered")

    def head_sizes(self) -> list[int]:
        """The sizes at which a root is still to be compared."""
        return [cp.size for cp, _ in self._heads[self._next :]]

    def absorb(
        self,
        problems: Sequence[LedgerProblem],
        omitted: int,
        start: int,
        leaves: bytes,
        nodes: Sequence[tuple[int, bytes]],
    ) -> None:
        """Take in a range checked elsewhere (``_ledger_parallel``): its problems, then its subtree roots
        when they sit where the frontier stands (else its concatenated leaf hashes)."""
        for p in problems:
            self.add(p.kind, p.seq, p.message)
        self.omitted += omitted
        if nodes and self.frontier.size == start:
            for height, node in nodes:
                self.frontier.push(node, height)
                self._check_due()
        else:
            self._flush([leaves[i : i + 32] for i in range(0, len(leaves), 32)])

    def _columns(self, seq: int, time: bytes, actor: bytes, action: bytes, decision: bytes, body: bytes) -> None:
        """The slow path for a row whose columns did not match byte for byte: decode and name the difference."""
        try:
            data = json.loads(body)
            if not isinstance(data, dict):
                raise TypeError(type(data).__name__)
            stored_seq = data.get("seq")
            found = {
                "time": data.get("time"),
                "actor": (data.get("actor") or {}).get("user"),
                "action": data.get("action"),
                "decision": data.get("decision"),
            }
        except (ValueError, TypeError, AttributeError):
            self.add(Damage.MALFORMED, seq, "the body is not a ledger entry (not a JSON object with the entry fields)")
            return
        if stored_seq != seq:
            self.add(Damage.MOVED, seq, f"the row holds entry {stored_seq!r}: rows were reordered or renumbered")
        raw = {"time": time, "actor": actor, "action": action, "decision": decision}
        columns = {k: v.decode("utf-8", errors="replace") for k, v in raw.items()}
        for name, value in columns.items():
            if found[name] != value:
                self.add(Damage.COLUMN, seq, f"column {name!r} is {value!r} but the hashed body says {found[name]!r}")

    def finish(self) -> Verification:
        size = self.frontier.size
        for cp, label in self._heads[self._next :]:
            self.add(
                Damage.TRUNCATED,
                None,
                f"{label} covers {cp.size} entries but only {size} are left: "
                f"entries {size}–{cp.size - 1} were removed (or entries before them deleted)",
            )
        return Verification(
            ok=not self.problems and not self.omitted,
            size=size,
            root=self.frontier.root(),
            checkpoints=self._n_checkpoints,
            checkpoints_checked=self.checked,
            signatures_checked=self._public_key is not None,
            latest_checkpoint=self.latest,
            problems=tuple(self.problems),
            problems_omitted=self.omitted,
        )


def _unhex(value: object, where: str) -> bytes:
    try:
        return bytes.fromhex(str(value))
    except ValueError as exc:
        raise DataFormatError(Problem(where, f"{str(value)[:20]!r} is not hex", "a hex SHA-256")) from exc


def verify_export(path: str | Path, *, public_key: PublicKey | None = None) -> Verification:
    """Check an exported ledger (``Ledger.export``) without the workspace.

    The file carries the workspace's public key; pass ``public_key`` (from the key the workspace
    published) to check the signatures against a key you trust rather than the one in the file.
    A file that is not an export raises :class:`DataFormatError`; damage is reported, not raised.
    """
    path = Path(path)
    if not path.is_file():
        raise DataFormatError(Problem(str(path), "no such file", "a ledger export (JSON lines)"))
    with path.open("rb") as fh:
        first = fh.readline()
        try:
            header = json.loads(first)
        except ValueError as exc:
            raise DataFormatError(Problem(f"{path}:1", "not JSON", "the export header")) from exc
        if not isinstance(header, dict) or header.get("type") != EXPORT_TYPE:
            raise DataFormatError(Problem(f"{path}:1", "not a medsyn ledger export header", f"type {EXPORT_TYPE!r}"))
        if header.get("format") != EXPORT_FORMAT:
            raise DataFormatError(Problem(f"{path}:1", f"export format {header.get('format')!r}", str(EXPORT_FORMAT)))
        if public_key is None and header.get("public_key"):
            try:
                public_key = PublicKey(base64.b64decode(str(header["public_key"]), validate=True))
            except binascii.Error as exc:
                raise DataFormatError(Problem(f"{path}:1", "public_key is not base64")) from exc
        heads = header.get("checkpoints")
        if not isinstance(heads, list):
            raise DataFormatError(Problem(f"{path}:1", f"checkpoints {heads!r}"[:80], "a list of signed checkpoints"))
        checkpoints = [Checkpoint.from_dict(cp, where=f"{path}:1 checkpoint {i}") for i, cp in enumerate(heads)]
        checker = LedgerChecker(checkpoints, public_key=public_key)
        trailer: dict[str, Any] | None = None
        batch: list[Row] = []
        for lineno, line in enumerate(fh, start=2):
            where = f"{path}:{lineno}"
            try:
                rec = json.loads(line)
            except ValueError as exc:
                raise DataFormatError(Problem(where, "not JSON", "one entry per line")) from exc
            if trailer is not None:
                raise DataFormatError(Problem(where, "a line after the export's end line"))
            if rec.get("type") == "end":
                trailer = rec
                continue
            try:
                batch.append(
                    (
                        int(rec["seq"]),
                        str(rec["time"]).encode(),
                        str(rec["actor"]).encode(),
                        str(rec["action"]).encode(),
                        str(rec["decision"]).encode(),
                        str(rec["body"]).encode(),
                        _unhex(rec["leaf_hash"], where),
                        _unhex(rec["chain_hash"], where),
                    )
                )
            except (KeyError, TypeError, ValueError) as exc:
                raise DataFormatError(Problem(where, f"an entry line without a valid {exc}")) from exc
            if len(batch) >= 10_000:
                checker.feed(batch)
                batch = []
        checker.feed(batch)
    size, root = checker.frontier.size, checker.frontier.root()
    if trailer is None:
        checker.add(Damage.TRUNCATED, None, "the export has no end line: the file was cut short")
    elif trailer.get("size") != size or trailer.get("root") != root.hex():
        checker.add(
            Damage.ROOT,
            None,
            f"the end line says size {trailer.get('size')} root {str(trailer.get('root'))[:16]}…, "
            f"the entries give size {size} root {root.hex()[:16]}…",
        )
    return checker.finish()
