"""Consent filtering: drop the records whose patients did not consent to the declared purpose.

The consent columns are the schema fields with role ``consent`` (inferred from names such as
``consent``, ``consent_research``, ``opt_out``; set in a schema YAML otherwise), or the columns
a caller names. They work the same for every modality: tables carry them as columns, signal and
image datasets in their per-record attribute table.

How a cell is read (case and surrounding spaces ignored):

- ``yes``/``y``/``true``/``t``/``1`` (or a boolean ``True``, the number 1): consent to every purpose;
- ``no``/``n``/``false``/``f``/``0``: consent to none;
- a list of declared purposes separated by ``;``, ``,`` or ``|`` (``research; ai_development``;
  spaces and hyphens inside a name read as ``_``): consent to those purposes only;
- empty or missing: **no consent recorded**. The record is excluded unless another consent
  column grants the purpose — the conservative reading: absence of consent is not consent.

Anything else is an error that names the column, a few of the bad values and the accepted forms.

Two name conventions change the meaning of a column:

- an **opt-out** column (name contains ``opt_out``, ``opted_out``, ``withdrawn``, ``withdrawal``,
  ``revoked``, ``objection``, ``dissent``, ``refused`` or ``declined``) is read inverted: ``yes``
  means the patient opted out of every purpose, a list names the purposes opted out of, ``no``
  means no opt-out (consent to all);
- a **per-purpose** column (``consent_research``, ``research_consent``, ``opt_out_research``:
  the name minus the consent words is a declared purpose) speaks only about that purpose and
  must hold yes/no values; for any other purpose it is ignored.

When several columns apply, a refusal in any of them excludes the record; otherwise one grant
keeps it; otherwise it is excluded as "no consent recorded". A dataset with no consent column
is returned unchanged, and the result says so.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

import numpy as np
import pandas as pd

from medsyn.data.dataset import Dataset, Provenance, TabularDataset, frame_digest
from medsyn.data.schema import Role
from medsyn.errors import InputError, Problem

__all__ = [
    "NO_CONSENT_RECORDED",
    "OPTED_OUT",
    "PURPOSE_NOT_CONSENTED",
    "REFUSED",
    "ConsentFilter",
    "ConsentValue",
    "consent_scope",
    "filter_consent",
    "parse_consent_value",
]

D = TypeVar("D", bound=Dataset)

_TRUE = frozenset({"yes", "y", "true", "t", "1"})
_FALSE = frozenset({"no", "n", "false", "f", "0"})
_SEPARATORS = re.compile(r"[;,|]")
_INVERTED = re.compile(
    r"(^|_)(opt_?out|opted_?out|withdrawn|withdrawal|withdrew|revoked|objection|objected|dissent(ed)?|"
    r"refused|declined)($|_)"
)
#: Words in a column name that say "this is about consent", removed to find a purpose in the name.
_CONSENT_WORDS = frozenset(
    {
        "consent",
        "consents",
        "consented",
        "opt",
        "out",
        "optout",
        "opted",
        "withdrawn",
        "withdrawal",
        "withdrew",
        "revoked",
        "objection",
        "objected",
        "dissent",
        "dissented",
        "refused",
        "declined",
        "given",
        "status",
        "flag",
        "for",
        "to",
        "of",
        "yn",
        "patient",
    }
)
_ACCEPTED = "yes/no, true/false, y/n, t/f, 1/0, or declared purposes separated by ';', ',' or '|'"

#: Why a record was excluded (keys of :attr:`ConsentFilter.excluded_by_reason`).
OPTED_OUT = "opted_out"
REFUSED = "refused"
PURPOSE_NOT_CONSENTED = "purpose_not_consented"
NO_CONSENT_RECORDED = "no_consent_recorded"


def _name_key(name: str) -> str:
    key = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", str(name))
    return re.sub(r"[^0-9a-zA-Z]+", "_", key).strip("_").lower()


def _norm_purpose(text: str) -> str:
    return re.sub(r"[\s\-]+", "_", text.strip().lower())


@dataclass(frozen=True, slots=True)
class ConsentValue:
    """One parsed cell: consent to every purpose (``all``), or to the listed ``purposes`` only."""

    all: bool = False
    purposes: frozenset[str] = frozenset()

    def covers(self, purpose: str) -> bool:
        return self.all or purpose in self.purposes


class _BadValue(ValueError):
    pass


def parse_consent_value(value: object, purposes: Iterable[str]) -> ConsentValue | None:
    """Parse one consent cell; ``None`` means missing (no consent recorded).

    Raises :class:`ValueError` for a value in none of the accepted forms (see the module
    docstring), including a purpose that is not among ``purposes``.

    Examples
    --------
    >>> parse_consent_value("Yes", ["research"])
    ConsentValue(all=True, purposes=frozenset())
    >>> parse_consent_value("research | AI development", ["research", "ai_development"]).purposes == {
    ...     "research",
    ...     "ai_development",
    ... }
    True
    >>> parse_consent_value(" ", ["research"]) is None
    True
    """
    return _parse(value, {_norm_purpose(p): p for p in purposes})


def _parse(value: object, vocab: Mapping[str, str]) -> ConsentValue | None:
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, bool | np.bool_):
        return ConsentValue(all=bool(value))
    if isinstance(value, int | float | np.integer | np.floating):
        if isinstance(value, float | np.floating) and math.isnan(value):
            return None
        if value in (0, 1):
            return ConsentValue(all=bool(value))
        raise _BadValue(repr(value))
    if not isinstance(value, str):
        raise _BadValue(repr(value))
    text = value.strip().lower()
    if not text:
        return None
    if text in _TRUE:
        return ConsentValue(all=True)
    if text in _FALSE:
        return ConsentValue()
    tokens = [_norm_purpose(t) for t in _SEPARATORS.split(text)]
    tokens = [t for t in tokens if t]
    if not tokens or any(t not in vocab for t in tokens):
        raise _BadValue(repr(value))
    return ConsentValue(purposes=frozenset(vocab[t] for t in tokens))


@dataclass(frozen=True, slots=True)
class _Column:
    """How one consent column is read: inverted (opt-out)? about one purpose only?"""

    name: str
    inverted: bool
    purpose: str | None


def _read_column(name: str, vocab: Mapping[str, str]) -> _Column:
    key = _name_key(name)
    rest = "_".join(t for t in key.split("_") if t and t not in _CONSENT_WORDS)
    return _Column(name, bool(_INVERTED.search(key)), vocab.get(rest) if rest else None)


@dataclass(frozen=True, slots=True)
class ConsentFilter(Generic[D]):
    """What the consent filter did: the kept records, how many were dropped and why, from which columns.

    ``dataset`` has the same schema as the input and a provenance naming the filter; it *is*
    the input when no consent column applies (``columns`` empty).
    """

    dataset: D
    purpose: str
    columns: tuple[str, ...]
    kept: int
    excluded: int
    excluded_by_reason: Mapping[str, int] = field(default_factory=dict)
    ignored_columns: tuple[str, ...] = ()
    note: str = ""

    @property
    def column(self) -> str | None:
        """The (first) consent column used, or None when the dataset has none."""
        return self.columns[0] if self.columns else None

    def to_dict(self) -> dict[str, object]:
        return {
            "purpose": self.purpose,
            "columns": list(self.columns),
            "ignored_columns": list(self.ignored_columns),
            "kept": self.kept,
            "excluded": self.excluded,
            "excluded_by_reason": dict(self.excluded_by_reason),
            "note": self.note,
            "provenance": self.dataset.provenance.to_dict(),
        }


def _consent_columns(dataset: Dataset, columns: Sequence[str] | None, where: str) -> list[str]:
    if columns is None:
        return [f.name for f in dataset.schema.by_role(Role.CONSENT) if f.name in dataset.attributes.columns]
    missing = [c for c in columns if c not in dataset.attributes.columns]
    if missing:
        raise InputError(
            Problem(
                where, f"consent column(s) {missing} not found", f"among {list(map(str, dataset.attributes.columns))}"
            )
        )
    return list(columns)


_REASONS = ("", OPTED_OUT, REFUSED, PURPOSE_NOT_CONSENTED)


def _column_states(
    series: pd.Series, col: _Column, purpose: str, vocab: Mapping[str, str], where: str
) -> tuple[np.ndarray, np.ndarray]:
    """Per record: 1 grants ``purpose``, -1 refuses it, 0 says nothing; and the refusal's reason code.

    Each distinct value is parsed once, so a million rows cost as much as their few distinct values.
    """
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    states = np.zeros(len(uniques) + 1, dtype=np.int8)  # the last slot is for missing values (code -1)
    reasons = np.zeros(len(uniques) + 1, dtype=np.int8)
    bad: list[int] = []
    for i, raw in enumerate(uniques):
        try:
            parsed = _parse(raw, vocab)
        except _BadValue:
            bad.append(i)
            continue
        if parsed is None:
            continue
        if col.purpose is not None and parsed.purposes:
            bad.append(i)  # a per-purpose column holds yes/no only
            continue
        says = parsed.all if col.purpose is not None else parsed.covers(purpose)
        if says != col.inverted:
            states[i] = 1
        else:
            states[i] = -1
            reasons[i] = _REASONS.index(
                OPTED_OUT if col.inverted else REFUSED if not parsed.purposes else PURPOSE_NOT_CONSENTED
            )
    if bad:
        shown = ", ".join(f"{str(uniques[i])!r} ({int(np.count_nonzero(codes == i))} records)" for i in bad[:5])
        more = f" and {len(bad) - 5} more" if len(bad) > 5 else ""
        expected = "yes/no values (it is a per-purpose column)" if col.purpose is not None else _ACCEPTED
        raise InputError(
            Problem(
                f"{where}: consent column '{col.name}'",
                f"values not understood: {shown}{more}",
                expected,
                f"Declared purposes: {sorted(vocab.values())}. Fix the values, or correct the column's role "
                "in the schema.",
            )
        )
    return states[codes], reasons[codes]


def _evaluate(
    dataset: Dataset, purpose: str, purposes: Iterable[str], columns: Sequence[str] | None
) -> tuple[np.ndarray | None, list[str], list[str], dict[str, int]]:
    """The kept-record mask (None: no consent column applies), columns used/ignored, exclusion counts."""
    where = dataset.provenance.source
    vocab = {_norm_purpose(p): p for p in purposes}
    if purpose not in vocab.values():
        raise InputError(Problem("purpose", repr(purpose), f"one of the declared purposes {sorted(vocab.values())}"))
    names = _consent_columns(dataset, columns, where)
    used: list[str] = []
    ignored: list[str] = []
    n = len(dataset)
    reason = np.zeros(n, dtype=np.int8)  # the first refusal's reason code; 0: not refused
    granted = np.zeros(n, dtype=bool)
    for name in names:
        col = _read_column(name, vocab)
        if col.purpose is not None and col.purpose != purpose:
            ignored.append(name)
            continue
        states, codes = _column_states(dataset.attributes[name], col, purpose, vocab, where)
        used.append(name)
        first = (states == -1) & (reason == 0)
        reason[first] = codes[first]
        granted |= states == 1
    if not used:
        return None, used, ignored, {}
    kept = granted & (reason == 0)
    counts = {name: int(np.count_nonzero(reason == code)) for code, name in enumerate(_REASONS) if code}
    counts[NO_CONSENT_RECORDED] = int(np.count_nonzero(~granted & (reason == 0)))
    return kept, used, ignored, {k: v for k, v in sorted(counts.items()) if v}


def filter_consent(
    dataset: D, purpose: str, *, purposes: Iterable[str], columns: Sequence[str] | None = None
) -> ConsentFilter[D]:
    """Keep only the records whose patients consented to ``purpose``.

    Parameters
    ----------
    dataset
        Any dataset; its consent columns are read from its attribute table.
    purpose
        The declared purpose of the request (must be one of ``purposes``).
    purposes
        The declared purpose vocabulary (``policy.purposes``): list cells may only name these,
        and per-purpose columns are recognised by them.
    columns
        The consent columns to use instead of the fields with role ``consent``.

    Raises
    ------
    InputError
        An unknown purpose, a named column that does not exist, or a value in no accepted form.

    Examples
    --------
    >>> import pandas as pd
    >>> from medsyn.data import TabularDataset
    >>> consent = ["research", "no", "", "treatment; research", "treatment"]
    >>> ds = TabularDataset(pd.DataFrame({"age": [71, 64, 80, 55, 49], "consent": consent}))
    >>> result = filter_consent(ds, "research", purposes=["research", "treatment"])
    >>> result.kept, dict(result.excluded_by_reason)
    (2, {'no_consent_recorded': 1, 'purpose_not_consented': 1, 'refused': 1})
    """
    purposes = list(purposes)
    kept, used, ignored, reasons = _evaluate(dataset, purpose, purposes, columns)
    n = len(dataset)
    if kept is None:
        note = (
            f"no consent column applies to purpose '{purpose}' (ignored: {ignored}): all {n} records kept"
            if ignored
            else f"no consent column: all {n} records kept"
        )
        return ConsentFilter(dataset, purpose, (), n, 0, {}, tuple(ignored), note)
    positions = np.flatnonzero(kept)
    out = dataset.select(positions)
    parent = dataset.provenance
    if isinstance(out, TabularDataset):
        digest = frame_digest(out.attributes)
    else:
        h = hashlib.sha256(f"{parent.digest}|consent|{purpose}|".encode())
        h.update(positions.astype(np.int64).tobytes())
        digest = parent.digest if len(positions) == n else h.hexdigest()
    excluded = n - len(positions)
    note = f"consent for '{purpose}' from {used}: kept {len(positions)} of {n} records, excluded {excluded}"
    out.provenance = Provenance(
        source=f"consent[{purpose}]:{parent.source}",
        reader="medsyn.governance.consent",
        digest=digest,
        warnings=parent.warnings,
    )
    return ConsentFilter(out, purpose, tuple(used), len(positions), excluded, reasons, tuple(ignored), note)


def consent_scope(
    dataset: Dataset, purposes: Iterable[str], *, columns: Sequence[str] | None = None
) -> frozenset[str] | None:
    """The purposes for which at least one record has consent (for :class:`Resource.consent_scope`).

    ``None`` when the dataset has no consent column at all: consent is then not recorded in the
    data, and the catalog must take the scope from elsewhere (a registration option, the data
    sharing agreement).
    """
    purposes = list(purposes)
    if not _consent_columns(dataset, columns, dataset.provenance.source):
        return None
    scope = set()
    for purpose in purposes:
        kept, _, _, _ = _evaluate(dataset, purpose, purposes, columns)
        if kept is not None and kept.any():
            scope.add(purpose)
    return frozenset(scope)
