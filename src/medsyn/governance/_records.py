"""GDPR Art. 30(1) records of processing activities, generated from the catalog, the ledger and the workspace.

A controller must keep, and show the supervisory authority on request, a record of its
processing with seven items, (a)–(g). Most of them are already in a medsyn workspace, kept
as the work was done rather than written afterwards:

- (a) controller, joint controller, representative, DPO: the workspace config's ``controller``;
- (b) purposes: the purposes data sets are registered for and the purposes declared on each
  ledger entry, with the legal bases and how many operations ran for each;
- (c) categories of data subjects and of personal data: inferred from the registered data
  (modality, data dictionary roles: identifiers, quasi-identifiers, special-category health
  data, racial or ethnic origin …). Data-subject categories are taken from a
  ``Data subjects: …`` line in a data set's description where one was written, else inferred
  (and said to be);
- (d) recipients: the roles and sites that the ledger shows accessing personal data, and the
  recipients named by ``export`` entries;
- (e) transfers to third countries: ``export`` entries whose ``country`` lies outside the EEA,
  with the safeguard recorded (Art. 46) or the adequacy decision that covers it (Art. 45);
- (f) time limits for erasure: each data set's retention, as a date;
- (g) security measures: the config's description, plus what the workspace shows in force.

The record is a typed :class:`RecordsOfProcessing` (``to_dict``) written as ``records.json``
and a self-contained ``records.html``. It is evidence to review, not a legal opinion: every
inference is labelled as such in its notes.
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, func, select

from medsyn import __version__
from medsyn.errors import InputError, Problem
from medsyn.governance._catalog import LEGAL_BASES, DatasetRecord, legal_basis_text, list_datasets
from medsyn.governance._db import checkpoints, ledger_entries

if TYPE_CHECKING:
    from medsyn.governance._workspace import Workspace

__all__ = [
    "ADEQUACY",
    "EEA",
    "Controller",
    "DataCategory",
    "Erasure",
    "PurposeRecord",
    "Recipient",
    "RecordsFiles",
    "RecordsOfProcessing",
    "SubjectCategory",
    "Transfer",
    "parse_period_bound",
    "records_for_workspace",
    "records_of_processing",
]

#: EU member states (ISO 3166-1 alpha-2; Greece also as EL) and the EEA's Iceland, Liechtenstein, Norway.
# fmt: off
EEA: frozenset[str] = frozenset({
    "AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "EL", "HU", "IE",
    "IT", "LV", "LT", "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE",  # EU 27
    "IS", "LI", "NO",  # EEA
})
# fmt: on
#: Countries with an EU adequacy decision (Art. 45), and what each covers.
ADEQUACY: Mapping[str, str] = {
    "AD": "Andorra",
    "AR": "Argentina",
    "CA": "Canada (commercial organisations under PIPEDA)",
    "CH": "Switzerland",
    "FO": "Faroe Islands",
    "GB": "United Kingdom",
    "GG": "Guernsey",
    "IL": "Israel",
    "IM": "Isle of Man",
    "JE": "Jersey",
    "JP": "Japan",
    "KR": "Republic of Korea",
    "NZ": "New Zealand",
    "UY": "Uruguay",
    "US": "United States (only organisations certified under the EU-US Data Privacy Framework)",
}
#: Ledger actions that administer the workspace rather than process data.
ADMIN_ACTIONS = frozenset({"workspace.init", "catalog.show", "lineage.show", "ledger.verify", "records"})
_SUBJECTS = re.compile(r"data subjects?\s*:\s*(?P<text>[^\n]+)", re.IGNORECASE)
_ETHNIC = re.compile(r"race|ethnic", re.IGNORECASE)
_AGE = re.compile(r"^age($|_|\b)", re.IGNORECASE)
_RECIPIENT_KEYS = ("recipient", "destination", "to")
_SAFEGUARD_KEYS = ("safeguard", "transfer_mechanism", "mechanism")


# ---------------------------------------------------------------------- the result
@dataclass(frozen=True, slots=True)
class Controller:
    """Art. 30(1)(a): who is responsible, and whom to contact."""

    name: str
    contact: str
    dpo: str
    representative: str = ""
    joint_controllers: str = ""


@dataclass(frozen=True, slots=True)
class PurposeRecord:
    """Art. 30(1)(b): one purpose, its legal bases, the data sets and the operations run for it."""

    purpose: str
    legal_bases: tuple[str, ...]
    legal_basis_text: tuple[str, ...]
    datasets: tuple[str, ...]
    operations: Mapping[str, int]
    refused: int
    first: str | None
    last: str | None
    sources: tuple[str, ...]  # "catalog" and/or "ledger"


@dataclass(frozen=True, slots=True)
class SubjectCategory:
    """Art. 30(1)(c): a category of data subjects and the data sets holding data about them."""

    category: str
    datasets: tuple[str, ...]
    declared: bool
    notes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class DataCategory:
    """Art. 30(1)(c): a category of personal data, with the fields that hold it in each data set."""

    category: str
    article: str
    fields: Mapping[str, tuple[str, ...]]  # data set name -> fields


@dataclass(frozen=True, slots=True)
class Recipient:
    """Art. 30(1)(d): a role at a site, or an external recipient, to whom data were disclosed."""

    name: str
    external: bool
    site: str
    role: str
    users: int
    entries: int
    actions: Mapping[str, int]
    personal_data: bool
    datasets: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Transfer:
    """Art. 30(1)(e): exports to a country outside the EEA, and the safeguard relied on."""

    recipient: str
    country: str
    safeguard: str
    adequacy: str
    datasets: tuple[str, ...]
    exports: int
    first: str
    last: str
    #: whether any exported version is personal data (an unregistered version counts as personal)
    personal_data: bool = True


@dataclass(frozen=True, slots=True)
class Erasure:
    """Art. 30(1)(f): when one data set version must be erased."""

    name: str
    version: str
    kind: str
    personal: bool
    retention: str
    erase_by: str | None
    days_left: int | None

    @property
    def overdue(self) -> bool:
        return self.days_left is not None and self.days_left < 0


@dataclass(frozen=True, slots=True)
class RecordsFiles:
    json: Path
    html: Path


@dataclass(frozen=True, slots=True)
class RecordsOfProcessing:
    """The Art. 30(1) record of one workspace, for a period of ledger activity."""

    created: str
    period_start: str | None
    period_end: str | None
    workspace: Mapping[str, str]
    controller: Controller
    purposes: tuple[PurposeRecord, ...]
    data_subjects: tuple[SubjectCategory, ...]
    data_categories: tuple[DataCategory, ...]
    recipients: tuple[Recipient, ...]
    transfers: tuple[Transfer, ...]
    transfer_notes: tuple[str, ...]
    erasure: tuple[Erasure, ...]
    security_measures: tuple[str, ...]
    security_evidence: tuple[str, ...]
    ledger_entries: int
    notes: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, object]:
        """Plain data, keyed by the Art. 30(1) letter."""
        return {
            "title": "Records of processing activities (GDPR Art. 30(1))",
            "created": self.created,
            "medsyn_version": __version__,
            "period": {"start": self.period_start, "end": self.period_end},
            "workspace": dict(self.workspace),
            "a_controller": asdict(self.controller),
            "b_purposes": [_plain(p) for p in self.purposes],
            "c_data_subjects": [_plain(s) for s in self.data_subjects],
            "c_personal_data": [_plain(c) for c in self.data_categories],
            "d_recipients": [_plain(r) for r in self.recipients],
            "e_transfers": {"transfers": [_plain(t) for t in self.transfers], "notes": list(self.transfer_notes)},
            "f_erasure": [{**_plain(e), "overdue": e.overdue} for e in self.erasure],
            "g_security": {"measures": list(self.security_measures), "evidence": list(self.security_evidence)},
            "ledger_entries_in_period": self.ledger_entries,
            "notes": list(self.notes),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False)

    def to_html(self) -> str:
        """One self-contained HTML page (inline CSS), sections (a)–(g)."""
        import jinja2

        import medsyn

        env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(Path(medsyn.__file__).parent / "report" / "templates"),
            autoescape=jinja2.select_autoescape(["html"]),
            trim_blocks=True,
            lstrip_blocks=True,
        )
        return env.get_template("records.html").render(
            title="Records of processing activities",
            version=__version__,
            r=self,
            data=self.to_dict(),
            basis_text=legal_basis_text,
        )

    def write(self, folder: str | Path) -> RecordsFiles:
        """Write ``records.json`` and ``records.html`` into ``folder`` (created if needed), each atomically."""
        from medsyn._atomic import write_text

        out = Path(folder)
        files = RecordsFiles(json=out / "records.json", html=out / "records.html")
        write_text(files.json, self.to_json() + "\n")
        write_text(files.html, self.to_html())
        return files


def _plain(obj: object) -> dict[str, Any]:
    out = asdict(obj)  # type: ignore[call-overload]
    return {k: (list(v) if isinstance(v, tuple) else dict(v) if isinstance(v, Mapping) else v) for k, v in out.items()}


# ---------------------------------------------------------------------- inputs
def parse_period_bound(value: str | date | datetime | None, *, end: bool, location: str) -> datetime | None:
    """A period bound: a date (whole day; ``end`` takes its last instant) or an ISO datetime (UTC if naive)."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, date):
        parsed = datetime.combine(value, time.max if end else time.min)
    else:
        text = str(value).strip()
        try:
            if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
                parsed = datetime.combine(date.fromisoformat(text), time.max if end else time.min)
            else:
                parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise InputError(
                Problem(location, repr(text), "a date (2025-01-31) or an ISO 8601 time (2025-01-31T12:00:00Z)")
            ) from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class _Entry:
    seq: int
    time: datetime
    body: Mapping[str, Any]

    @property
    def action(self) -> str:
        return str(self.body.get("action") or "")

    @property
    def actor(self) -> Mapping[str, str]:
        actor = self.body.get("actor")
        return actor if isinstance(actor, Mapping) else {}

    @property
    def params(self) -> Mapping[str, Any]:
        params = self.body.get("parameters")
        return params if isinstance(params, Mapping) else {}

    @property
    def versions(self) -> list[str]:
        out: list[str] = []
        for key in ("inputs", "outputs"):
            for item in self.body.get(key) or ():
                out.append(str(item.get("version", "")) if isinstance(item, Mapping) else str(item))
        return [v for v in out if v]

    @property
    def allowed(self) -> bool:
        return self.body.get("decision") in ("allow", "none") and self.body.get("outcome") != "refused"


def _entries(conn: Connection, start: datetime | None, end: datetime | None) -> Iterator[_Entry]:
    query = select(ledger_entries.c.seq, ledger_entries.c.time, ledger_entries.c.body).order_by(ledger_entries.c.seq)
    for seq, when, body in conn.execute(query.execution_options(yield_per=2000)):
        moment = parse_period_bound(str(when), end=False, location=f"ledger entry {seq}: time")
        if moment is None or (start is not None and moment < start) or (end is not None and moment > end):
            continue
        try:
            data = json.loads(bytes(body).decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            continue  # ``medsyn ledger verify`` reports damaged entries; the record skips them
        if isinstance(data, dict):
            yield _Entry(int(seq), moment, data)


# ---------------------------------------------------------------------- sections
def _purposes(catalog: Sequence[DatasetRecord], entries: Sequence[_Entry]) -> tuple[PurposeRecord, ...]:
    names: dict[str, set[str]] = defaultdict(set)
    bases: dict[str, list[str]] = defaultdict(list)
    sources: dict[str, set[str]] = defaultdict(set)
    ops: dict[str, Counter[str]] = defaultdict(Counter)
    refused: Counter[str] = Counter()
    times: dict[str, list[datetime]] = defaultdict(list)
    for d in catalog:
        for p in d.purposes:
            names[p].add(d.name)
            sources[p].add("catalog")
            bases[p] += [c for c in d.legal_bases if c not in bases[p]]
    for e in entries:
        purpose = str(e.body.get("purpose") or "")
        if not purpose or e.action in ADMIN_ACTIONS:
            continue
        sources[purpose].add("ledger")
        times[purpose].append(e.time)
        outcome = e.body.get("outcome")
        if outcome == "refused" or e.body.get("decision") == "deny":
            refused[purpose] += 1
        elif outcome in ("ok", "failed"):  # a closing entry: one operation
            ops[purpose][e.action] += 1
        for raw in re.split(r"[;,]", str(e.body.get("legal_basis") or "")):
            code = raw.strip().lower()
            if code and code not in bases[purpose]:
                bases[purpose].append(code)
    out = []
    for p in sorted(sources):
        when = sorted(times[p])
        out.append(
            PurposeRecord(
                purpose=p,
                legal_bases=tuple(bases[p]),
                legal_basis_text=tuple(legal_basis_text(c) for c in bases[p]),
                datasets=tuple(sorted(names[p])),
                operations=dict(sorted(ops[p].items())),
                refused=refused[p],
                first=when[0].isoformat() if when else None,
                last=when[-1].isoformat() if when else None,
                sources=tuple(sorted(sources[p])),
            )
        )
    return tuple(out)


def _subjects(personal: Sequence[DatasetRecord]) -> tuple[SubjectCategory, ...]:
    groups: dict[tuple[str, bool], set[str]] = defaultdict(set)
    notes: dict[tuple[str, bool], set[str]] = defaultdict(set)
    for d in personal:
        m = _SUBJECTS.search(d.description)
        if m:
            key = (m["text"].strip().rstrip("."), True)
        else:
            what = {"tabular": "records", "signal": "signal recordings", "image": "images"}.get(d.modality, "data")
            key = (f"Patients whose {what} are in '{d.name}'", False)
        groups[key].add(d.name)
        for f in _fields(d):
            if _AGE.match(str(f["name"])) and f.get("unit") in (None, "", "years", "year", "y"):
                low = f.get("minimum")
                if isinstance(low, int | float) and low < 18:
                    notes[key].add(f"includes children: '{d.name}' field '{f['name']}' starts at {low:g} years")
    return tuple(
        SubjectCategory(text, tuple(sorted(ds)), declared, tuple(sorted(notes[(text, declared)])))
        for (text, declared), ds in sorted(groups.items())
    )


def _fields(d: DatasetRecord) -> list[dict[str, Any]]:
    fields = (d.schema or {}).get("fields")
    if not isinstance(fields, Mapping):
        return []
    out = []
    for name, spec in fields.items():
        if isinstance(spec, Mapping):
            roles = spec.get("role")
            role_list = [roles] if isinstance(roles, str) else list(roles or [])
            out.append({"name": str(name), "roles": role_list, **{k: spec.get(k) for k in ("unit", "minimum", "type")}})
    return out


def _data_categories(personal: Sequence[DatasetRecord]) -> tuple[DataCategory, ...]:
    cats: dict[tuple[str, str], dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    payload = {"signal": "Physiological signal recordings (ECG, EEG)", "image": "Medical images"}
    for d in personal:
        special = d.sensitivity == "special_category"
        if d.modality in payload:
            cats[(payload[d.modality], "Art. 9(1) health data" if special else "")][d.name].append("(the recordings)")
        for f in _fields(d):
            name, roles = f["name"], set(f["roles"])
            if "identifier" in roles:
                cats[("Direct identifiers", "")][d.name].append(name)
            if "quasi_identifier" in roles:
                cats[("Quasi-identifiers (demographics, dates, places)", "")][d.name].append(name)
            if _ETHNIC.search(name):
                cats[("Racial or ethnic origin", "Art. 9(1)")][d.name].append(name)
            if "protected" in roles:
                cats[("Protected characteristics (used for fairness analysis)", "")][d.name].append(name)
            if "consent" in roles:
                cats[("Consent records", "")][d.name].append(name)
            clinical = roles & {"sensitive", "target", "feature"}
            if clinical and "identifier" not in roles:
                label = "Health data (diagnoses, measurements, outcomes)" if special else "Other attributes"
                cats[(label, "Art. 9(1)" if special else "")][d.name].append(name)
    return tuple(
        DataCategory(cat, art, {ds: tuple(fields) for ds, fields in sorted(by_ds.items())})
        for (cat, art), by_ds in sorted(cats.items())
    )


def _recipients(entries: Sequence[_Entry], by_version: Mapping[str, DatasetRecord], site: str) -> tuple[Recipient, ...]:
    internal: dict[tuple[str, str], dict[str, Any]] = {}
    external: dict[str, dict[str, Any]] = {}
    for e in entries:
        if not e.allowed or e.action in ADMIN_ACTIONS:
            continue
        records = [by_version[v] for v in e.versions if v in by_version]
        names = {r.name for r in records}
        personal = any(r.is_personal for r in records)
        if _is_export(e):
            who = _first(e.params, _RECIPIENT_KEYS) or "unnamed recipient"
            slot = external.setdefault(who, _slot())
            slot["sites"].add(str(e.params.get("country") or ""))
        else:
            if not e.versions:
                continue
            role, where = str(e.actor.get("role") or "?"), str(e.actor.get("site") or "?")
            slot = internal.setdefault((role, where), _slot())
        slot["users"].add(str(e.actor.get("user") or ""))
        slot["entries"] += 1
        slot["actions"][e.action] += 1
        slot["personal"] = slot["personal"] or personal
        slot["datasets"] |= names
    out = [
        Recipient(
            name=f"{role} at {where}" + (" (another site)" if site and where != site else ""),
            external=False,
            site=where,
            role=role,
            users=len(s["users"]),
            entries=s["entries"],
            actions=dict(sorted(s["actions"].items())),
            personal_data=s["personal"],
            datasets=tuple(sorted(s["datasets"])),
        )
        for (role, where), s in sorted(internal.items())
    ]
    out += [
        Recipient(
            name=who,
            external=True,
            site=", ".join(sorted(c for c in s["sites"] if c)),
            role="",
            users=len(s["users"]),
            entries=s["entries"],
            actions=dict(sorted(s["actions"].items())),
            personal_data=s["personal"],
            datasets=tuple(sorted(s["datasets"])),
        )
        for who, s in sorted(external.items())
    ]
    return tuple(out)


def _slot() -> dict[str, Any]:
    return {"users": set(), "entries": 0, "actions": Counter(), "personal": False, "datasets": set(), "sites": set()}


def _is_export(e: _Entry) -> bool:
    return e.action == "export" or e.action.startswith("export.")


def _first(params: Mapping[str, Any], keys: Sequence[str]) -> str:
    for key in keys:
        value = params.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return ""


def _transfers(
    entries: Sequence[_Entry], by_version: Mapping[str, DatasetRecord]
) -> tuple[tuple[Transfer, ...], tuple[str, ...]]:
    groups: dict[tuple[str, str, str], dict[str, Any]] = {}
    exports = unknown_country = 0
    for e in entries:
        if not _is_export(e) or not e.allowed:
            continue
        exports += 1
        params = dict(e.params)
        nested = params.get("transfer")
        if isinstance(nested, Mapping):
            params = {**params, **nested}
        country = str(params.get("country") or "").strip().upper()
        if not country:
            unknown_country += 1
            continue
        if country in EEA:
            continue
        key = (_first(params, _RECIPIENT_KEYS) or "unnamed recipient", country, _first(params, _SAFEGUARD_KEYS))
        slot = groups.setdefault(key, {"datasets": set(), "times": [], "personal": False})
        slot["datasets"] |= {by_version[v].name if v in by_version else v[:12] for v in e.versions}
        slot["personal"] |= any(v not in by_version or by_version[v].is_personal for v in e.versions)
        slot["times"].append(e.time)
    transfers = tuple(
        Transfer(
            recipient=who,
            country=country,
            safeguard=safeguard or "none recorded",
            adequacy=ADEQUACY.get(country, ""),
            datasets=tuple(sorted(s["datasets"])),
            exports=len(s["times"]),
            first=min(s["times"]).isoformat(),
            last=max(s["times"]).isoformat(),
            personal_data=s["personal"],
        )
        for (who, country, safeguard), s in sorted(groups.items())
    )
    notes = []
    if not transfers:
        notes.append("None recorded: no export in the period went to a country outside the EEA.")
    for t in transfers:
        if not t.personal_data or t.safeguard != "none recorded":
            continue
        if not t.adequacy:
            notes.append(
                f"{t.recipient} ({t.country}): personal data, no Art. 45 adequacy decision and no safeguard "
                "recorded; an Art. 46 safeguard (e.g. standard contractual clauses) or an Art. 49 derogation "
                "is needed."
            )
        elif t.country == "US":
            notes.append(
                f"{t.recipient} (US): personal data; adequacy covers only recipients certified under the "
                "EU-US Data Privacy Framework: check the certification or record a safeguard."
            )
    if any(not t.personal_data for t in transfers):
        notes.append(
            "Exports of anonymised, synthetic or derived data are listed too: they are not personal data "
            "only as long as the anonymisation holds."
        )
    if unknown_country:
        notes.append(
            f"{unknown_country} of {exports} export(s) recorded no destination country; "
            "whether they left the EEA cannot be told (record `country` on exports)."
        )
    return transfers, tuple(notes)


def _erasure(catalog: Sequence[DatasetRecord], today: date) -> tuple[Erasure, ...]:
    rows = []
    for d in catalog:
        due = d.erase_by()
        rows.append(
            Erasure(
                name=d.name,
                version=d.version[:12],
                kind=d.kind,
                personal=d.is_personal,
                retention=d.retention,
                erase_by=due.isoformat() if due else None,
                days_left=(due - today).days if due else None,
            )
        )
    return tuple(sorted(rows, key=lambda e: (e.erase_by or "9999", e.name)))


def _evidence(conn: Connection, catalog: Sequence[DatasetRecord], entries: Sequence[_Entry]) -> tuple[str, ...]:
    out = [f"{len(catalog)} data set version(s) stored by content (SHA-256); an altered object is detected."]
    total = conn.execute(select(func.count()).select_from(ledger_entries)).scalar() or 0
    signed = conn.execute(select(func.count(), func.max(checkpoints.c.time)).select_from(checkpoints)).one()
    out.append(
        f"Ledger: {total} entries in all, {len(entries)} in this period; {signed[0]} signed checkpoint(s)"
        + (f", the last at {signed[1]}." if signed[1] else ".")
    )
    refused = sum(1 for e in entries if e.body.get("outcome") == "refused" or e.body.get("decision") == "deny")
    if refused:
        out.append(f"Access control in force: {refused} request(s) refused in this period.")
    kinds = Counter(d.kind for d in catalog)
    for kind in ("pseudonymised", "anonymised", "synthetic"):
        if kinds[kind]:
            out.append(f"{kinds[kind]} {kind} data set version(s).")
    for d in catalog:
        p = d.privacy
        facts = []
        if "k_reached" in p:
            facts.append(f"k = {p['k_reached']}")
        if isinstance(p.get("risk"), int | float):
            facts.append(f"highest re-identification risk {p['risk']:.3g}")
        if isinstance(p.get("epsilon_spent"), int | float):
            facts.append(f"ε spent {p['epsilon_spent']:.3g}")
        if facts:
            out.append(f"'{d.name}' ({d.kind}): " + ", ".join(facts) + ".")
    return tuple(out)


# ---------------------------------------------------------------------- entry points
def records_of_processing(
    conn: Connection,
    *,
    controller: Mapping[str, str],
    security_measures: Sequence[str],
    workspace: Mapping[str, str] | None = None,
    since: str | date | datetime | None = None,
    until: str | date | datetime | None = None,
    now: datetime | None = None,
) -> RecordsOfProcessing:
    """Build the Art. 30(1) record from the catalog and the ledger entries of a period.

    Parameters
    ----------
    controller
        Art. 30(1)(a): ``name``, ``contact``, ``dpo`` (and optionally ``representative``,
        ``joint_controllers``), as in the workspace config.
    security_measures
        Art. 30(1)(g): the organisation's description of its measures.
    workspace
        ``name``, ``id`` and ``site`` of the workspace (the site tells other sites' access apart).
    since, until
        The period of ledger activity counted (dates are whole days, inclusive). The catalog
        is taken as it stood at ``until``.
    """
    start = parse_period_bound(since, end=False, location="--since")
    end = parse_period_bound(until, end=True, location="--until")
    if start is not None and end is not None and start > end:
        raise InputError(Problem("period", f"{since} is after {until}", "--since before --until"))
    moment = now or datetime.now(UTC)
    ws = dict(workspace or {})
    catalog = [
        d
        for d in list_datasets(conn)
        if end is None or (parse_period_bound(d.registered_at, end=False, location="registered_at") or moment) <= end
    ]
    personal = [d for d in catalog if d.is_personal]
    by_version = {d.version: d for d in catalog}
    entries = list(_entries(conn, start, end))
    who = Controller(
        name=controller.get("name", ""),
        contact=controller.get("contact", ""),
        dpo=controller.get("dpo", ""),
        representative=controller.get("representative", ""),
        joint_controllers=controller.get("joint_controllers", ""),
    )
    notes = []
    missing = [k for k in ("name", "contact", "dpo") if not getattr(who, k)]
    if missing:
        notes.append(
            f"(a) incomplete: controller {', '.join(missing)} not set; add them under `controller:` "
            "in medsyn-workspace.yaml."
        )
    purposes = _purposes(catalog, entries)
    unknown_bases = sorted({c for p in purposes for c in p.legal_bases if c not in LEGAL_BASES})
    if unknown_bases:
        notes.append(f"(b) legal bases recorded in the ledger that are not GDPR codes: {unknown_bases}.")
    notes.append(
        "(c) categories are inferred from the data dictionaries of personal data sets (identifiable or "
        "pseudonymised) and their modality; data-subject categories come from a 'Data subjects: …' line "
        "in a data set's description where one was written."
    )
    if not personal:
        notes.append("No personal data set (identifiable or pseudonymised) is registered: (c) is empty.")
    transfers, transfer_notes = _transfers(entries, by_version)
    return RecordsOfProcessing(
        created=moment.isoformat(timespec="seconds"),
        period_start=start.isoformat() if start else None,
        period_end=end.isoformat() if end else None,
        workspace=ws,
        controller=who,
        purposes=purposes,
        data_subjects=_subjects(personal),
        data_categories=_data_categories(personal),
        recipients=_recipients(entries, by_version, ws.get("site", "")),
        transfers=transfers,
        transfer_notes=transfer_notes,
        erasure=_erasure(catalog, moment.date()),
        security_measures=tuple(security_measures),
        security_evidence=_evidence(conn, catalog, entries),
        ledger_entries=len(entries),
        notes=tuple(notes),
    )


def records_for_workspace(
    ws: Workspace, *, since: str | date | datetime | None = None, until: str | date | datetime | None = None
) -> RecordsOfProcessing:
    """:func:`records_of_processing` with the workspace's controller, measures and database."""
    from medsyn.governance._db import read

    with read(ws.engine) as conn:
        return records_of_processing(
            conn,
            controller=ws.config.controller,
            security_measures=ws.config.security_measures,
            workspace={"name": ws.config.name, "id": ws.config.id, "site": ws.config.site},
            since=since,
            until=until,
        )
