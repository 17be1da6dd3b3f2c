"""A ledger entry: what one governed action was, validated at the boundary, as canonical JSON bytes.

The body that the ledger hashes is the entry's fields plus ``format`` and ``seq`` in canonical
JSON: keys sorted, no whitespace, UTF-8 (no ``\\u`` escapes), no NaN or Infinity. Python's
encoder writes every value it accepts one way only, so decoding a body and encoding it again
gives the same bytes; the checker in :mod:`._ledger_verify` relies on the key order (``action``
first, ``seq`` and ``time`` last) to compare the index columns with a body without decoding it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from medsyn.errors import DataFormatError, InputError, Problem

__all__ = ["ACTOR_KEYS", "DECISIONS", "ENTRY_FORMAT", "OUTCOMES", "LedgerEntry", "canonical", "now_utc"]

#: The version of the entry body format (a ``format`` field in every body).
ENTRY_FORMAT = 1
DECISIONS = ("allow", "deny", "none")
OUTCOMES = ("ok", "refused", "failed", "started")
ACTOR_KEYS = ("user", "role", "site")


def now_utc() -> str:
    """UTC time in ISO 8601 with microseconds and a ``Z``: the ledger's timestamps."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def canonical(value: object) -> bytes:
    """Sorted keys, no whitespace, UTF-8, no NaN/Infinity: one byte string per value."""
    return _ENCODER.encode(value).encode()


_SCALARS = (str, bool, int, type(None))


def _freeze(value: object, where: str, problems: list[Problem]) -> Any:
    """``value`` as plain JSON data (mappings → dicts, tuples → lists), noting whatever JSON cannot hold."""
    if isinstance(value, _SCALARS):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            problems.append(Problem(where, repr(value), "a finite number"))
        return value
    if isinstance(value, list | tuple):
        return [_freeze(v, f"{where}[{i}]", problems) for i, v in enumerate(value)]
    if isinstance(value, Mapping):
        out = {}
        for k, v in value.items():
            if not isinstance(k, str):
                problems.append(Problem(where, f"key {k!r} of type {type(k).__name__}", "string keys"))
            out[str(k)] = _freeze(v, f"{where}.{k}", problems)
        return out
    problems.append(Problem(where, f"a {type(value).__name__}", "JSON: str, int, float, bool, None, list or dict"))
    return value


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """What happened: one governed action as the ledger records it.

    ``actor`` has ``user`` (required, at most 200 characters), ``role`` and ``site``, and may
    carry more facts about the person (strings or lists of strings, e.g. ``training``);
    ``inputs`` / ``outputs`` name data set versions; ``decision`` is the access policy's
    (``allow``, ``deny``, or ``none`` when no policy was asked) and ``rule`` the rule that
    decided; ``outcome`` is ``ok``, ``refused``, ``failed`` or ``started``; ``facts`` holds what
    the operation measured (k reached, ε charged, gate passed). ``time`` (ISO 8601 UTC) is set
    at append if empty. Invalid values raise :class:`~medsyn.errors.InputError` naming every bad
    field at once.
    """

    actor: Mapping[str, object]
    action: str
    purpose: str = ""
    legal_basis: str = ""
    inputs: Sequence[str] = ()
    outputs: Sequence[str] = ()
    parameters: Mapping[str, object] = field(default_factory=dict)
    decision: str = "none"
    rule: str = ""
    outcome: str = "ok"
    result_digest: str = ""
    reason: str = ""
    facts: Mapping[str, object] = field(default_factory=dict)
    time: str = ""

    def __post_init__(self) -> None:
        problems: list[Problem] = []
        actor = dict(self.actor) if isinstance(self.actor, Mapping) else {}
        if not isinstance(self.actor, Mapping):
            problems.append(Problem("actor", f"a {type(self.actor).__name__}", "a dict with user, role, site"))
        user = actor.get("user")
        if not isinstance(user, str) or not user:
            problems.append(Problem("actor.user", repr(user), "a non-empty name"))
        elif len(user) > 200:
            problems.append(Problem("actor.user", f"{len(user)} characters", "at most 200"))
        for key, value in actor.items():
            flat = isinstance(value, str) or (
                isinstance(value, list | tuple) and all(isinstance(v, str) for v in value)
            )
            if key != "user" and (
                not isinstance(key, str) or not flat or (key in ACTOR_KEYS and not isinstance(value, str))
            ):
                problems.append(Problem(f"actor.{key}", repr(value)[:80], "a string (or a list of strings)"))
        if not isinstance(self.action, str) or not 0 < len(self.action) <= 60:
            problems.append(Problem("action", repr(self.action), "a name of 1–60 characters, e.g. 'synth.sample'"))
        if self.decision not in DECISIONS:
            problems.append(Problem("decision", repr(self.decision), " | ".join(DECISIONS)))
        if self.outcome not in OUTCOMES:
            problems.append(Problem("outcome", repr(self.outcome), " | ".join(OUTCOMES)))
        for name in ("purpose", "legal_basis", "rule", "result_digest", "reason", "time"):
            if not isinstance(getattr(self, name), str):
                problems.append(Problem(name, repr(getattr(self, name))[:80], "a string"))
        for name in ("inputs", "outputs"):
            value = getattr(self, name)
            if isinstance(value, str) or not all(isinstance(v, str) for v in value):
                problems.append(Problem(name, repr(value)[:80], "a list of data set versions or names"))
        frozen = {}
        for name in ("parameters", "facts"):
            value = getattr(self, name)
            if not isinstance(value, Mapping):
                problems.append(Problem(name, f"a {type(value).__name__}", "a dict"))
            else:
                frozen[name] = _freeze(value, name, problems)
        if self.time and isinstance(self.time, str):
            try:
                parsed = datetime.fromisoformat(self.time.replace("Z", "+00:00"))
                if parsed.utcoffset() is None:
                    raise ValueError("no time zone")
            except ValueError:
                problems.append(
                    Problem("time", repr(self.time), "ISO 8601 with a time zone, e.g. 2025-01-31T12:00:00Z")
                )
        if problems:
            raise InputError(problems, location="ledger entry")
        # freeze to plain values, equal to what the canonical JSON gives back
        object.__setattr__(self, "actor", {"role": "", "site": "", **_freeze(actor, "actor", problems)})
        object.__setattr__(self, "inputs", tuple(self.inputs))
        object.__setattr__(self, "outputs", tuple(self.outputs))
        object.__setattr__(self, "parameters", frozen["parameters"])
        object.__setattr__(self, "facts", frozen["facts"])

    def to_dict(self) -> dict[str, Any]:
        """The entry's fields as JSON-ready values (no ``seq`` or ``format``)."""
        return {
            "actor": dict(self.actor),
            "action": self.action,
            "purpose": self.purpose,
            "legal_basis": self.legal_basis,
            "inputs": list(self.inputs),
            "outputs": list(self.outputs),
            "parameters": self.parameters,
            "decision": self.decision,
            "rule": self.rule,
            "outcome": self.outcome,
            "result_digest": self.result_digest,
            "reason": self.reason,
            "facts": self.facts,
            "time": self.time,
        }

    def canonical_bytes(self, seq: int) -> bytes:
        """The hashed body of this entry as leaf ``seq``: canonical JSON with ``format`` and ``seq`` added."""
        if not self.time:
            raise ValueError("an entry needs its time before it is hashed; Ledger.append sets it")
        return canonical({**self.to_dict(), "format": ENTRY_FORMAT, "seq": seq})

    @classmethod
    def from_body(cls, body: bytes, *, where: str = "ledger entry") -> tuple[int, LedgerEntry]:
        """Decode a stored body into (seq, entry); a body that is not one raises DataFormatError."""
        try:
            data = json.loads(body)
            if not isinstance(data, dict):
                raise TypeError(f"a JSON {type(data).__name__}")
            fmt = data.pop("format", None)
            if fmt != ENTRY_FORMAT:
                raise ValueError(f"entry format {fmt!r}; this medsyn reads format {ENTRY_FORMAT}")
            seq = data.pop("seq")
            return int(seq), cls(**data)
        except (ValueError, TypeError, KeyError, InputError) as exc:
            raise DataFormatError(Problem(where, f"not a ledger entry ({exc})", "the canonical entry JSON")) from exc
