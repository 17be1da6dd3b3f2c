"""Art. 30(1) records of processing, (a)–(g), built from a real catalog and ledger entries written here."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine

from medsyn.errors import InputError
from medsyn.governance import _db
from medsyn.governance._catalog import describe, register
from medsyn.governance._ledger import LedgerEntry
from medsyn.governance._records import RecordsOfProcessing, records_of_processing
from medsyn.governance._workspace import DEFAULT_SECURITY_MEASURES
from tests.conftest import shared
from tests.governance.catalog_helpers import RESEARCH, Chain, build_chain, new_engine

ANA = {"user": "ana", "role": "data_steward", "site": "cleveland"}
BEN = {"user": "ben", "role": "researcher", "site": "leeds"}
CONTROLLER = {"name": "Cleveland Heart Institute", "contact": "privacy@chi.example", "dpo": ""}


def append(engine: Engine, entries: list[tuple[datetime, LedgerEntry]]) -> None:
    """Ledger rows as the ledger writes them: canonical body, RFC 6962 leaf hash, running chain hash."""
    with _db.write(engine) as conn:
        last = (
            conn.execute(_db.ledger_entries.select().order_by(_db.ledger_entries.c.seq.desc()).limit(1))
            .mappings()
            .first()
        )
        seq = 0 if last is None else int(last["seq"]) + 1
        chain = bytes(32) if last is None else bytes(last["chain_hash"])
        for when, entry in entries:
            stamped = LedgerEntry(**{**entry.to_dict(), "time": when.isoformat().replace("+00:00", "Z")})
            body = stamped.canonical_bytes(seq)
            leaf = hashlib.sha256(b"\x00" + body).digest()
            chain = hashlib.sha256(chain + leaf).digest()
            conn.execute(
                _db.ledger_entries.insert().values(
                    seq=seq,
                    time=stamped.time,
                    actor=stamped.actor["user"],
                    action=stamped.action,
                    decision=stamped.decision,
                    body=body,
                    leaf_hash=leaf,
                    chain_hash=chain,
                )
            )
            seq += 1


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> tuple[Engine, Chain, datetime]:
    tmp = tmp_path_factory.mktemp("records")
    engine = new_engine(tmp)
    chain = build_chain(tmp, engine)
    t0 = datetime.now(UTC) + timedelta(minutes=1)
    real, anon, syn = chain.real.version, chain.anonymised.version, chain.synthetic.version
    model, report = chain.model.version, chain.report.version

    def at(minutes: int) -> datetime:
        return t0 + timedelta(minutes=minutes)

    def export(who: str, version: str, minutes: int, **params: object) -> tuple[datetime, LedgerEntry]:
        parameters = {"recipient": who, **params}
        entry = LedgerEntry(
            actor=BEN, action="export", purpose="research", inputs=[version], parameters=parameters, decision="allow"
        )
        return at(minutes), entry

    lb = "art6-1-e,art9-2-j"

    def ok(
        minutes: int, actor: dict[str, str], action: str, purpose: str, **kw: object
    ) -> tuple[datetime, LedgerEntry]:
        fields: dict[str, object] = {"decision": "allow", "outcome": "ok", **kw}
        return at(minutes), LedgerEntry(actor=actor, action=action, purpose=purpose, **fields)  # type: ignore[arg-type]

    brazil = {"country": "BR", "safeguard": "standard contractual clauses"}
    append(
        engine,
        [
            ok(0, ANA, "workspace.init", "governance", decision="none"),
            ok(1, ANA, "register", "research", legal_basis=lb, outputs=[real]),
            ok(2, ANA, "anonymize", "research", legal_basis=lb, inputs=[real], outcome="started"),
            ok(3, ANA, "anonymize", "research", legal_basis=lb, inputs=[real], outputs=[anon]),
            ok(4, BEN, "synth.fit", "research", legal_basis="art6-1-e", inputs=[anon], outputs=[model]),
            ok(5, BEN, "synth.sample", "research", inputs=[model], outputs=[syn]),
            ok(6, BEN, "evaluate", "research", inputs=[anon, syn], outputs=[report]),
            ok(7, BEN, "read", "training", inputs=[real], decision="deny", rule="default-deny", outcome="refused"),
            export("Acme Analytics", syn, 8, country="us"),
            export("Tokyo University", anon, 9, country="JP"),
            export("Research Partner Ltda", anon, 10, transfer=brazil),
            export("Charité", syn, 11, country="DE"),
            export("Data Broker Pvt", real, 12, country="IN"),
            export("Someone", syn, 13),
            ok(60 * 24 * 40, BEN, "evaluate", "quality", inputs=[syn]),
        ],
    )
    return engine, chain, t0


def build(engine: Engine, **kwargs: object) -> RecordsOfProcessing:
    with _db.read(engine) as conn:
        return records_of_processing(
            conn,
            controller=CONTROLLER,
            security_measures=DEFAULT_SECURITY_MEASURES,
            workspace={"name": "cardio", "id": "w1", "site": "cleveland"},
            **kwargs,  # type: ignore[arg-type]
        )


def test_a_controller_and_b_purposes(world: tuple[Engine, Chain, datetime]) -> None:
    engine, _, t0 = world
    rec = build(engine, until=t0 + timedelta(days=30))
    assert rec.controller.name == "Cleveland Heart Institute"
    assert any("controller dpo not set" in n for n in rec.notes)
    purposes = {p.purpose: p for p in rec.purposes}
    assert set(purposes) == {"research", "training"}  # governance (workspace.init) is not a purpose of processing
    research = purposes["research"]
    assert research.operations == {
        "anonymize": 1,
        "evaluate": 1,
        "export": 6,
        "register": 1,
        "synth.fit": 1,
        "synth.sample": 1,
    }
    assert {"art6-1-e", "art9-2-j", "not-personal"} <= set(research.legal_bases)
    assert research.legal_basis_text[0].startswith("Art. 6(1)(e)")
    assert set(research.datasets) == {"heart", "heart-k5", "heart-copula", "heart-synthetic", "heart-scorecard"}
    assert research.sources == ("catalog", "ledger")
    training = purposes["training"]
    assert (training.refused, training.operations, training.sources) == (1, {}, ("ledger",))


def test_c_data_subjects_and_personal_data(world: tuple[Engine, Chain, datetime]) -> None:
    engine, _, _ = world
    rec = build(engine)
    (subjects,) = rec.data_subjects  # only the identifiable table is personal data
    assert subjects.category == "adult cardiology patients of the Cleveland Clinic"
    assert subjects.declared
    assert subjects.datasets == ("heart",)
    categories = {c.category: c for c in rec.data_categories}
    assert set(categories["Quasi-identifiers (demographics, dates, places)"].fields["heart"]) == {"age", "sex"}
    health = categories["Health data (diagnoses, measurements, outcomes)"]
    assert health.article == "Art. 9(1)"
    assert {"num", "chol", "thalach"} <= set(health.fields["heart"])
    assert "heart-k5" not in health.fields  # anonymised data is not personal data


def test_c_infers_subjects_race_and_children_from_a_real_trial(tmp_path: Path) -> None:
    engine = new_engine(tmp_path)
    trial = describe(
        shared("actg175_hiv_trial/ACTG175.csv"),
        **{**RESEARCH, "name": "actg175", "kind": "pseudonymised", "owner_site": "cleveland"},
    )  # type: ignore[arg-type]
    with _db.write(engine) as conn:
        register(conn, trial)
    rec = build(engine)
    (subjects,) = rec.data_subjects
    assert not subjects.declared
    assert subjects.category == "Patients whose records are in 'actg175'"
    assert subjects.notes == ("includes children: 'actg175' field 'age' starts at 12 years",)
    categories = {c.category: c for c in rec.data_categories}
    assert categories["Racial or ethnic origin"].fields == {"actg175": ("race",)}
    assert categories["Racial or ethnic origin"].article == "Art. 9(1)"
    assert "pidnum" in categories["Direct identifiers"].fields["actg175"]


def test_d_recipients(world: tuple[Engine, Chain, datetime]) -> None:
    engine, _, t0 = world
    rec = build(engine, until=t0 + timedelta(days=30))
    by_name = {r.name: r for r in rec.recipients}
    steward = by_name["data_steward at cleveland"]
    assert steward.personal_data
    assert steward.actions == {"anonymize": 2, "register": 1}
    researcher = by_name["researcher at leeds (another site)"]
    assert not researcher.personal_data  # ben's one request for identifiable data was refused
    assert researcher.actions == {"evaluate": 1, "synth.fit": 1, "synth.sample": 1}
    external = {r.name for r in rec.recipients if r.external}
    assert external == {
        "Acme Analytics",
        "Tokyo University",
        "Research Partner Ltda",
        "Charité",
        "Data Broker Pvt",
        "Someone",
    }
    assert by_name["Tokyo University"].datasets == ("heart-k5",)


def test_e_transfers(world: tuple[Engine, Chain, datetime]) -> None:
    engine, _, _ = world
    rec = build(engine)
    transfers = {t.country: t for t in rec.transfers}
    assert set(transfers) == {"US", "JP", "BR", "IN"}  # Germany is inside the EEA
    assert "Data Privacy Framework" in transfers["US"].adequacy
    assert transfers["JP"].adequacy == "Japan"
    assert transfers["BR"].safeguard == "standard contractual clauses"
    assert (transfers["IN"].safeguard, transfers["IN"].adequacy) == ("none recorded", "")
    assert [c for c, t in sorted(transfers.items()) if t.personal_data] == ["IN"]
    notes = " ".join(rec.transfer_notes)
    assert "Data Broker Pvt (IN): personal data, no Art. 45 adequacy decision and no safeguard recorded" in notes
    assert "not personal data only as long as the anonymisation holds" in notes
    assert "1 of 6 export(s) recorded no destination country" in notes
    assert "Acme" not in notes  # synthetic data, and the US has an adequacy decision (for DPF members)


def test_e_says_none_recorded_without_exports(world: tuple[Engine, Chain, datetime]) -> None:
    engine, _, t0 = world
    rec = build(engine, until=t0 + timedelta(minutes=7))
    assert rec.transfers == ()
    assert rec.transfer_notes == ("None recorded: no export in the period went to a country outside the EEA.",)


def test_f_erasure_and_g_security(world: tuple[Engine, Chain, datetime]) -> None:
    engine, chain, _ = world
    rec = build(engine)
    assert len(rec.erasure) == 5
    heart = next(e for e in rec.erasure if e.name == "heart")
    registered = datetime.fromisoformat(chain.real.registered_at).date()
    assert heart.erase_by == registered.replace(year=registered.year + 10).isoformat()
    assert heart.personal
    assert 3640 < (heart.days_left or 0) <= 3653
    assert not heart.overdue
    later = build(engine, now=datetime.now(UTC) + timedelta(days=366 * 11))
    assert all(e.overdue for e in later.erasure)
    assert rec.security_measures == DEFAULT_SECURITY_MEASURES
    evidence = " ".join(rec.security_evidence)
    assert "'heart-k5' (anonymised): k = 5" in evidence
    assert "1 request(s) refused" in evidence
    assert "Ledger: 15 entries in all, 15 in this period" in evidence


def test_the_period_filters_ledger_activity(world: tuple[Engine, Chain, datetime]) -> None:
    engine, _, t0 = world
    everything = build(engine)
    month = build(engine, until=t0 + timedelta(days=30))
    later = build(engine, since=(t0 + timedelta(days=31)).date().isoformat())
    assert (everything.ledger_entries, month.ledger_entries, later.ledger_entries) == (15, 14, 1)
    assert {p.purpose for p in everything.purposes} >= {"quality"}
    assert "quality" not in {p.purpose for p in month.purposes}
    assert {p.purpose: p.operations for p in later.purposes} == {"quality": {"evaluate": 1}, "research": {}}
    with pytest.raises(InputError, match="--since before --until"):
        build(engine, since="2025-02-01", until="2025-01-01")
    with pytest.raises(InputError, match="--since: 'last week'"):
        build(engine, since="last week")


def test_written_as_json_and_html(world: tuple[Engine, Chain, datetime], tmp_path: Path) -> None:
    engine, _, _ = world
    rec = build(engine)
    files = rec.write(tmp_path / "art30")
    data = json.loads(files.json.read_text(encoding="utf-8"))
    assert data == json.loads(rec.to_json())
    assert list(data)[5:13] == [
        "a_controller",
        "b_purposes",
        "c_data_subjects",
        "c_personal_data",
        "d_recipients",
        "e_transfers",
        "f_erasure",
        "g_security",
    ]
    html = files.html.read_text(encoding="utf-8")
    for letter in "abcdefg":
        assert f'<section id="{letter}">' in html
    assert "Cleveland Heart Institute" in html
    assert "Charité" in html
    assert "adult cardiology patients of the Cleveland Clinic" in html
    assert sorted(p.name for p in (tmp_path / "art30").iterdir()) == ["records.html", "records.json"]
