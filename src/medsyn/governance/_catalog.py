"""The data catalog: every registered data set version with what a DPO and an auditor need to know about it.

A catalog entry (:class:`DatasetRecord`) is one *version* of a data set: its identity is the
SHA-256 of its content (a file's bytes, or a folder's tree manifest, as in the object store),
so the same bytes are one entry however often they are registered, and a changed file is a new
version under the same name. Each entry says what the data is (modality, data dictionary,
record count), how far it is from the patients (:class:`DatasetKind`), how sensitive it is
(:class:`~medsyn.governance._access.Sensitivity`, the same ordered levels the access policy
decides on), whose it is (owner site), why it may be processed (GDPR legal basis and purposes,
the purposes its patients consented to), how long it may be kept (retention) and the privacy
figures reached on it (k, ε spent, risk). The vocabularies themselves live in
:mod:`medsyn.governance._catalog_terms` and are re-exported here.

Functions here take a SQLAlchemy ``Connection`` opened by the caller (a write transaction from
:func:`medsyn.governance._db.write` to register), so registering a data set, drawing its lineage
and appending the ledger entry that records it commit together or not at all.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, select

from medsyn.errors import DataFormatError, InputError, Problem, UnknownNameError
from medsyn.governance._access import Sensitivity
from medsyn.governance._catalog_terms import (
    ARTEFACT_MODALITIES,
    CONSENT_BASES,
    KINDS,
    LEGAL_BASES,
    PERSONAL_KINDS,
    PRIVACY_FIGURES,
    SENSITIVITIES,
    DatasetKind,
    erase_by,
    figure_problems,
    legal_basis_text,
    parse_legal_basis,
    parse_retention,
    purpose_problems,
)
from medsyn.governance._db import datasets, operations

if TYPE_CHECKING:
    from medsyn.data.schema import Schema

__all__ = [
    "ARTEFACT_MODALITIES",
    "KINDS",
    "LEGAL_BASES",
    "PERSONAL_KINDS",
    "PRIVACY_FIGURES",
    "SENSITIVITIES",
    "AlreadyRegistered",
    "DatasetKind",
    "DatasetRecord",
    "Sensitivity",
    "describe",
    "erase_by",
    "get",
    "legal_basis_text",
    "list_datasets",
    "parse_legal_basis",
    "parse_retention",
    "register",
    "update_privacy",
]


_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,199}$")
_SITE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,99}$")
_HEX = re.compile(r"^[0-9a-f]+$")
_MIN_BARE_PREFIX = 8
_MIN_NAMED_PREFIX = 4


class AlreadyRegistered(InputError):
    """This exact content (version) is already in the catalog; ``existing`` is its entry."""

    def __init__(self, existing: DatasetRecord) -> None:
        self.existing = existing
        super().__init__(
            Problem(
                f"data set version {existing.version[:12]}",
                f"is already registered as '{existing.name}' (on {existing.registered_at[:19]}"
                f" by {existing.registered_by or 'unknown'})",
                "content not yet in the catalog",
                f"Use '{existing.name}@{existing.version[:12]}'; identical bytes are one catalog entry.",
            )
        )


@dataclass(frozen=True, slots=True)
class DatasetRecord:
    """One catalog entry: a data set version and its governance metadata (a row of ``datasets``).

    ``kind`` is a :class:`DatasetKind` value, ``sensitivity`` a label of :data:`SENSITIVITIES`
    and ``legal_basis`` comma-separated codes of :data:`LEGAL_BASES` (``art6-1-e,art9-2-j``),
    kept as plain strings so they read the same in the database, JSON, policies and messages.
    Nothing is checked when a record is built (rows read back are trusted);
    :meth:`problems` checks, and :func:`describe` and :func:`register` call it.
    """

    version: str
    name: str
    modality: str
    kind: str
    sensitivity: str
    owner_site: str
    legal_basis: str
    purposes: tuple[str, ...]
    retention: str
    consent_scope: tuple[str, ...] = ()
    privacy: Mapping[str, float | str] = field(default_factory=dict)
    schema: Mapping[str, object] | None = None
    object_key: str = ""
    object_type: str = "file"
    filename: str = ""
    size_bytes: int = 0
    records: int | None = None
    registered_at: str = ""
    registered_by: str = ""
    operation_id: str | None = None
    description: str = ""

    @classmethod
    def placeholder(
        cls, *, name: str, kind: str, sensitivity: str = "special_category", owner_site: str = ""
    ) -> DatasetRecord:
        """A resource outside the catalog (a vault, a key) described just enough for a policy decision."""
        return cls(
            version="",
            name=name,
            modality="other",
            kind=kind,
            sensitivity=sensitivity,
            owner_site=owner_site,
            legal_basis="",
            purposes=(),
            retention="",
        )

    @property
    def ref(self) -> str:
        """A short reference that :func:`get` resolves: ``name@first-12-hex``."""
        return f"{self.name}@{self.version[:12]}"

    @property
    def legal_bases(self) -> tuple[str, ...]:
        """The legal-basis codes, in order."""
        return tuple(c for c in self.legal_basis.split(",") if c)

    @property
    def sensitivity_level(self) -> Sensitivity:
        """The sensitivity as the policy's ordered level (``public`` < … < ``special_category``)."""
        return Sensitivity.parse(self.sensitivity)

    @property
    def is_personal(self) -> bool:
        """Personal data under GDPR: identifiable or pseudonymised."""
        return self.kind in PERSONAL_KINDS

    def erase_by(self) -> date | None:
        """The date this version must be erased by (retention from its registration); None if unknown."""
        return erase_by(self.retention, self.registered_at)

    def problems(self, *, today: date | None = None) -> list[Problem]:
        """Everything wrong with the metadata, each naming its field (empty when valid)."""
        out: list[Problem] = []
        if not (len(self.version) == 64 and _HEX.match(self.version)):
            out.append(Problem("version", repr(self.version), "a SHA-256 in 64 lowercase hex digits"))
        if not _NAME.match(self.name or ""):
            out.append(Problem("name", repr(self.name), "letters, digits, _ . - (≤ 200 characters, no '@')"))
        if self.kind not in KINDS:
            out.append(Problem("kind", repr(self.kind), f"one of {list(KINDS)}"))
        if self.sensitivity not in SENSITIVITIES:
            out.append(Problem("sensitivity", repr(self.sensitivity), f"one of {list(SENSITIVITIES)}"))
        if not _SITE.match(self.owner_site or ""):
            out.append(Problem("owner_site", repr(self.owner_site), "a site name: letters, digits, _ . - (≤ 100)"))
        data_modalities = ("tabular", "signal", "image")
        if self.modality in ARTEFACT_MODALITIES and self.kind != DatasetKind.DERIVED:
            out.append(Problem("modality", repr(self.modality), f"one of {data_modalities} for {self.kind} data"))
        elif self.modality not in data_modalities + ARTEFACT_MODALITIES:
            out.append(
                Problem("modality", repr(self.modality), f"one of {list(data_modalities + ARTEFACT_MODALITIES)}")
            )
        out += purpose_problems("purposes", self.purposes, required=True)
        out += purpose_problems("consent_scope", self.consent_scope, required=False)
        if self.kind in KINDS and self.sensitivity in SENSITIVITIES:
            out += _basis_problems(self)
        try:
            parse_retention(self.retention, today=today)
        except InputError as exc:
            out += exc.problems
        out += figure_problems(self.privacy)
        if self.object_type not in ("file", "tree"):
            out.append(Problem("object_type", repr(self.object_type), "'file' or 'tree'"))
        if self.size_bytes < 0:
            out.append(Problem("size_bytes", str(self.size_bytes), "a size ≥ 0"))
        if self.records is not None and self.records < 0:
            out.append(Problem("records", str(self.records), "a count ≥ 0"))
        if not self.registered_by.strip():
            out.append(Problem("registered_by", "empty", "the user who registers the data set"))
        return out

    # ------------------------------------------------------------------ serialisation
    def _stored_as_is(self) -> dict[str, object]:
        """The fields that JSON and the database row hold unchanged."""
        return {
            "object_key": self.object_key,
            "object_type": self.object_type,
            "filename": self.filename,
            "size_bytes": self.size_bytes,
            "records": self.records,
            "registered_at": self.registered_at,
            "registered_by": self.registered_by,
            "operation_id": self.operation_id,
            "description": self.description,
        }

    def to_dict(self) -> dict[str, object]:
        """Plain data for JSON (the CLI's ``--json``, reports); legal bases also as text."""
        due = self.erase_by()
        return {
            "version": self.version,
            "name": self.name,
            "ref": self.ref,
            "modality": self.modality,
            "kind": str(self.kind),
            "sensitivity": str(self.sensitivity),
            "owner_site": self.owner_site,
            "legal_basis": list(self.legal_bases),
            "legal_basis_text": [legal_basis_text(c) for c in self.legal_bases],
            "purposes": list(self.purposes),
            "consent_scope": list(self.consent_scope),
            "retention": self.retention,
            "erase_by": due.isoformat() if due else None,
            "privacy": dict(self.privacy),
            "schema": dict(self.schema) if self.schema is not None else None,
            **self._stored_as_is(),
        }

    def to_row(self) -> dict[str, object]:
        """The ``datasets`` row (lists and mappings as JSON text)."""
        return {
            "version": self.version,
            "name": self.name,
            "modality": self.modality,
            "kind": str(self.kind),
            "sensitivity": str(self.sensitivity),
            "owner_site": self.owner_site,
            "legal_basis": self.legal_basis,
            "purposes": json.dumps(list(self.purposes)),
            "retention": self.retention,
            "consent_scope": json.dumps(list(self.consent_scope)),
            "privacy": json.dumps(dict(self.privacy), sort_keys=True, allow_nan=False),
            "schema": "" if self.schema is None else json.dumps(self.schema, ensure_ascii=False),
            **self._stored_as_is(),
        }

    @classmethod
    def from_row(cls, row: Mapping[Any, Any]) -> DatasetRecord:
        """Rebuild from a ``datasets`` row (trusted: written by :meth:`to_row`)."""
        schema_text = str(row["schema"] or "")
        return cls(
            version=str(row["version"]),
            name=str(row["name"]),
            modality=str(row["modality"]),
            kind=str(row["kind"]),
            sensitivity=str(row["sensitivity"]),
            owner_site=str(row["owner_site"]),
            legal_basis=str(row["legal_basis"] or ""),
            purposes=tuple(json.loads(str(row["purposes"]))),
            retention=str(row["retention"]),
            consent_scope=tuple(json.loads(str(row["consent_scope"]))),
            privacy=json.loads(str(row["privacy"] or "{}")),
            schema=json.loads(schema_text) if schema_text else None,
            object_key=str(row["object_key"]),
            object_type=str(row["object_type"]),
            filename=str(row["filename"]),
            size_bytes=int(row["size_bytes"]),
            records=None if row["records"] is None else int(row["records"]),
            registered_at=str(row["registered_at"]),
            registered_by=str(row["registered_by"]),
            operation_id=None if row["operation_id"] is None else str(row["operation_id"]),
            description=str(row["description"] or ""),
        )


# ---------------------------------------------------------------------- GDPR consistency
def _basis_problems(rec: DatasetRecord) -> list[Problem]:
    """GDPR consistency: personal data need an Art. 6 basis, special categories an Art. 9(2) condition."""
    codes = rec.legal_bases
    unknown = [c for c in codes if c not in LEGAL_BASES]
    if unknown:
        return [
            Problem("legal_basis", repr(c), "a code such as art6-1-e or art9-2-j (see LEGAL_BASES)") for c in unknown
        ]
    out: list[Problem] = []
    if not codes:
        return [Problem("legal_basis", "empty", "an Art. 6(1) basis (e.g. art6-1-e), or not-personal")]
    if "not-personal" in codes:
        if rec.kind in PERSONAL_KINDS:
            out.append(
                Problem(
                    "legal_basis",
                    f"not-personal for {rec.kind} data",
                    "an Art. 6(1) basis: identifiable and pseudonymised data are personal data (Art. 4(1), 4(5))",
                )
            )
        elif len(codes) > 1:
            out.append(Problem("legal_basis", f"not-personal together with {list(codes)}", "either alone"))
        return out
    if not any(c.startswith("art6-") for c in codes):
        out.append(Problem("legal_basis", repr(",".join(codes)), "an Art. 6(1) basis as well (e.g. art6-1-e)"))
    special = rec.sensitivity == Sensitivity.SPECIAL_CATEGORY.label and rec.kind in PERSONAL_KINDS
    if special and not any(c.startswith("art9-") for c in codes):
        out.append(
            Problem(
                "legal_basis",
                repr(",".join(codes)),
                "an Art. 9(2) condition too for special-category (health) data, e.g. art9-2-j for research",
            )
        )
    if CONSENT_BASES & set(codes):
        if not rec.consent_scope:
            out.append(
                Problem(
                    "consent_scope",
                    "empty",
                    "the purposes the data subjects consented to (the legal basis is consent)",
                )
            )
        else:
            outside = [p for p in rec.purposes if p not in rec.consent_scope]
            if outside:
                out.append(
                    Problem(
                        "purposes",
                        f"{outside} outside the consent scope {list(rec.consent_scope)}",
                        "under consent (Art. 6(1)(a) / 9(2)(a)) only the purposes consented to",
                    )
                )
    return out


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


# ---------------------------------------------------------------------- describe / register
def describe(
    path: str | Path,
    *,
    name: str,
    kind: str,
    sensitivity: str,
    owner_site: str,
    legal_basis: str | Sequence[str],
    purposes: Sequence[str],
    retention: str,
    consent_scope: Sequence[str] | None = None,
    description: str = "",
    schema: str | Path | Schema | None = None,
    fmt: str | None = None,
    modality: str | None = None,
    privacy: Mapping[str, float | str] | None = None,
    registered_by: str = "",
    operation_id: str | None = None,
    read_options: Mapping[str, object] | None = None,
) -> DatasetRecord:
    """Describe a file or folder as a catalog entry: read it, hash it, validate the metadata.

    Parameters
    ----------
    path
        A data file or folder medsyn reads (table, WFDB/EDF/DICOM, image folder); for a
        ``derived`` artefact with ``modality`` ``report`` or ``model``, any file or folder.
    name, kind, sensitivity, owner_site, legal_basis, purposes, retention, consent_scope
        The governance metadata (see the module docstring, :data:`KINDS`,
        :data:`SENSITIVITIES`, :data:`LEGAL_BASES` and :func:`parse_retention`).
    schema, fmt, read_options
        As for :func:`medsyn.data.read`: data-dictionary overrides (a YAML path) or a whole
        :class:`~medsyn.data.Schema`, a reader name, reader options. The resulting
        dictionary is stored with the entry.
    privacy
        Figures already measured on this data (:data:`PRIVACY_FIGURES`).

    Returns
    -------
    DatasetRecord
        Not yet registered: pass it to :func:`register`. Its version is the content digest
        the object store will give it.

    Raises
    ------
    InputError
        Every invalid metadata field, named, in one error (before the data is read);
        ``DataFormatError`` when the data cannot be read.
    """
    from medsyn.governance._store import digest

    path = Path(path)
    problems: list[Problem] = []
    parsed_kind = _parse_enum_kind(kind, problems)
    try:
        level = Sensitivity.parse(sensitivity, location="sensitivity").label
    except InputError as exc:
        problems += exc.problems
        level = Sensitivity.SPECIAL_CATEGORY.label
    try:
        codes = ",".join(parse_legal_basis(legal_basis))
    except InputError as exc:
        problems += exc.problems
        codes = ""
    artefact = modality in ARTEFACT_MODALITIES
    draft = DatasetRecord(
        version="0" * 64,
        name=name,
        modality=modality or "tabular",
        kind=parsed_kind or DatasetKind.IDENTIFIABLE.value,
        sensitivity=level,
        owner_site=owner_site,
        legal_basis=codes,
        purposes=tuple(purposes),
        retention=str(retention).strip(),
        consent_scope=tuple(consent_scope or ()),
        privacy=dict(privacy or {}),
        registered_by="-",  # checked by register(); describe may run before the actor is known
        description=description,
    )
    # the draft's own checks, minus those that would only repeat a parse failure reported above
    skip = (
        {p.location for p in problems} | {"version"} | ({"legal_basis", "modality"} if parsed_kind is None else set())
    )
    problems += [p for p in draft.problems() if p.location not in skip]
    if not path.exists():
        problems.append(Problem(str(path), "does not exist", "a data file or folder to register"))
    if problems:
        raise InputError(_unique(problems))

    object_type = "tree" if path.is_dir() else "file"
    files = [p for p in path.rglob("*") if p.is_file()] if path.is_dir() else [path]
    if not files:
        raise DataFormatError(Problem(str(path), "an empty folder", "a folder holding at least one file"))
    records: int | None = None
    schema_dict: Mapping[str, object] | None = None
    if artefact:
        found_modality = str(modality)
    else:
        from medsyn.data import read

        options: dict[str, Any] = dict(read_options or {})
        ds = read(path, format=fmt, schema=schema, **options)
        found_modality = ds.modality.value
        if modality is not None and modality != found_modality:
            raise InputError(Problem("modality", repr(modality), f"'{found_modality}', what {path.name} holds"))
        records = len(ds)
        schema_dict = json.loads(ds.schema.to_json())
    version = digest(path)
    return replace(
        draft,
        version=version,
        retention=parse_retention(draft.retention),
        modality=found_modality,
        schema=schema_dict,
        object_key=version,
        object_type=object_type,
        filename=path.name,
        size_bytes=sum(p.stat().st_size for p in files),
        records=records,
        registered_at=_now(),
        registered_by=registered_by,
        operation_id=operation_id,
    )


def _unique(problems: Iterable[Problem]) -> list[Problem]:
    seen: set[Problem] = set()
    return [p for p in problems if not (p in seen or seen.add(p))]  # type: ignore[func-returns-value]


def _parse_enum_kind(kind: str, problems: list[Problem]) -> str | None:
    try:
        return DatasetKind(str(kind).strip().lower()).value
    except ValueError:
        problems.append(Problem("kind", repr(kind), f"one of {list(KINDS)}"))
        return None


def register(conn: Connection, record: DatasetRecord) -> DatasetRecord:
    """Insert ``record`` into the catalog (in the caller's write transaction); returns it.

    The same version again raises :class:`AlreadyRegistered` (naming the existing entry);
    the same name with new content is a new version.
    """
    problems = record.problems()
    if record.operation_id is not None:
        found = conn.execute(select(operations.c.id).where(operations.c.id == record.operation_id)).first()
        if found is None:
            problems.append(
                Problem(
                    "operation_id",
                    f"{record.operation_id!r} is not a recorded operation",
                    "the id of an operation recorded first (record_operation does both)",
                )
            )
    if problems:
        raise InputError(problems)
    existing = _by_version(conn, record.version)
    if existing is not None:
        raise AlreadyRegistered(existing)
    if not record.registered_at:
        record = replace(record, registered_at=_now())
    conn.execute(datasets.insert().values(**record.to_row()))
    return record


def _by_version(conn: Connection, version: str) -> DatasetRecord | None:
    row = conn.execute(select(datasets).where(datasets.c.version == version)).mappings().first()
    return None if row is None else DatasetRecord.from_row(row)


# ---------------------------------------------------------------------- lookup
def get(conn: Connection, ref: str) -> DatasetRecord:
    """Resolve ``ref``: a name (its latest version), ``name@version-prefix`` or a bare version prefix (≥ 8 hex).

    A name wins over a version prefix that looks the same. Unknown or ambiguous references
    raise :class:`UnknownNameError` with suggestions.
    """
    ref = ref.strip()
    if "@" in ref:
        name, _, prefix = ref.partition("@")
        prefix = prefix.lower()
        if len(prefix) < _MIN_NAMED_PREFIX or not _HEX.match(prefix):
            raise InputError(
                Problem("data set reference", repr(ref), f"name@version with ≥ {_MIN_NAMED_PREFIX} hex digits")
            )
        rows = _prefix_rows(conn, prefix, name=name)
        if not rows:
            versions = _versions_of(conn, name)
            if not versions:
                raise _unknown_name(conn, name)
            listed = ", ".join(f"{v.version[:12]} ({v.registered_at[:10]})" for v in versions[:10])
            raise UnknownNameError(f"data set '{name}' has no version starting with '{prefix}'\nIts versions: {listed}")
        return _one(rows, ref)
    latest = _versions_of(conn, ref)
    if latest:
        return latest[0]
    low = ref.lower()
    if len(low) >= _MIN_BARE_PREFIX and _HEX.match(low):
        rows = _prefix_rows(conn, low)
        if rows:
            return _one(rows, ref)
        raise UnknownNameError(f"no data set named '{ref}' and no version starting with '{low}'")
    raise _unknown_name(conn, ref)


def _prefix_rows(conn: Connection, prefix: str, *, name: str | None = None) -> list[DatasetRecord]:
    query = select(datasets).where(datasets.c.version.startswith(prefix, autoescape=True))
    if name is not None:
        query = query.where(datasets.c.name == name)
    return [DatasetRecord.from_row(r) for r in conn.execute(query.limit(20)).mappings()]


def _versions_of(conn: Connection, name: str) -> list[DatasetRecord]:
    query = (
        select(datasets).where(datasets.c.name == name).order_by(datasets.c.registered_at.desc(), datasets.c.version)
    )
    return [DatasetRecord.from_row(r) for r in conn.execute(query).mappings()]


def _one(rows: list[DatasetRecord], ref: str) -> DatasetRecord:
    if len(rows) == 1:
        return rows[0]
    listed = ", ".join(r.ref for r in rows)
    raise UnknownNameError(f"'{ref}' matches {len(rows)} data set versions: {listed}\nGive more hex digits.")


def _unknown_name(conn: Connection, name: str) -> UnknownNameError:
    names = list(conn.execute(select(datasets.c.name).distinct().order_by(datasets.c.name)).scalars())
    close = difflib.get_close_matches(name, names, n=1)
    hint = f"; did you mean '{close[0]}'?" if close else ""
    shown = ", ".join(names[:20]) + (f" … ({len(names)})" if len(names) > 20 else "") if names else "(none registered)"
    return UnknownNameError(f"no data set '{name}'{hint}\nAvailable: {shown}")


def list_datasets(
    conn: Connection,
    *,
    kind: str | None = None,
    site: str | None = None,
    name: str | None = None,
    latest_only: bool = False,
) -> list[DatasetRecord]:
    """Catalog entries, by name then newest first; filters are exact matches."""
    query = select(datasets).order_by(datasets.c.name, datasets.c.registered_at.desc(), datasets.c.version)
    if kind is not None:
        problems: list[Problem] = []
        parsed = _parse_enum_kind(kind, problems)
        if problems:
            raise InputError(problems)
        query = query.where(datasets.c.kind == parsed)
    if site is not None:
        query = query.where(datasets.c.owner_site == site)
    if name is not None:
        query = query.where(datasets.c.name == name)
    out = [DatasetRecord.from_row(r) for r in conn.execute(query).mappings()]
    if latest_only:
        seen: set[str] = set()
        out = [r for r in out if not (r.name in seen or seen.add(r.name))]  # type: ignore[func-returns-value]
    return out


def update_privacy(conn: Connection, version: str, **figures: float | str) -> DatasetRecord:
    """Merge privacy ``figures`` into a version's entry (a figure given again replaces the old value).

    Totals are the caller's to compute: ``epsilon_spent`` is stored as given, not added.
    """
    record = _by_version(conn, version)
    if record is None:
        raise UnknownNameError(f"no data set version {version[:12]!r} in the catalog")
    problems = figure_problems(figures)
    if problems:
        raise InputError(problems)
    merged = {**record.privacy, **figures}
    conn.execute(
        datasets.update()
        .where(datasets.c.version == version)
        .values(privacy=json.dumps(merged, sort_keys=True, allow_nan=False))
    )
    return replace(record, privacy=merged)
