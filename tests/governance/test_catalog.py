"""The catalog: describe real data, register versions, look them up, validate GDPR metadata with clear errors."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from medsyn.errors import InputError, UnknownNameError
from medsyn.governance import _db
from medsyn.governance._catalog import (
    AlreadyRegistered,
    DatasetRecord,
    describe,
    erase_by,
    get,
    list_datasets,
    parse_legal_basis,
    parse_retention,
    register,
    update_privacy,
)
from medsyn.governance._store import ObjectStore
from tests.governance.catalog_helpers import RESEARCH, describe_heart, ecg_folder, heart_csv, new_engine, write_json


def _locations(exc: InputError) -> set[str]:
    return {p.location for p in exc.problems}


def test_describe_a_real_table(tmp_path: Path) -> None:
    rec = describe_heart(description="Cleveland Clinic heart-disease patients")
    csv = heart_csv()
    assert rec.version == hashlib.sha256(csv.read_bytes()).hexdigest()
    assert rec.object_key == rec.version
    assert (rec.modality, rec.records, rec.object_type, rec.filename) == ("tabular", 303, "file", csv.name)
    assert rec.size_bytes == csv.stat().st_size
    assert rec.kind == "identifiable"
    assert rec.sensitivity == "special_category"
    assert rec.legal_bases == ("art6-1-e", "art9-2-j")
    assert rec.schema is not None
    fields = rec.schema["fields"]
    assert isinstance(fields, dict)
    assert set(fields["age"]["role"]) == {"protected", "quasi_identifier"}
    assert fields["num"]["role"] == "target"
    assert rec.problems() == []


def test_describe_a_real_ecg_folder_as_a_tree_with_the_store_key(tmp_path: Path) -> None:
    folder = ecg_folder(tmp_path)
    rec = describe(folder, **{**RESEARCH, "name": "ecg"})  # type: ignore[arg-type]
    assert (rec.modality, rec.records, rec.object_type) == ("signal", 3, "tree")
    stored = ObjectStore(tmp_path / "objects").put(folder)
    assert rec.version == stored.key  # the catalog version is the store key
    assert rec.size_bytes == stored.size
    assert rec.schema is not None
    assert "age" in rec.schema["fields"]


def test_register_get_and_round_trip(tmp_path: Path) -> None:
    engine = new_engine(tmp_path)
    rec = describe_heart()
    with _db.write(engine) as conn:
        register(conn, rec)
    with _db.read(engine) as conn:
        assert get(conn, "heart") == rec
        assert get(conn, f"heart@{rec.version[:6]}") == rec
        assert get(conn, rec.version[:10].upper()) == rec  # a bare prefix, any case
        assert get(conn, rec.version) == rec
    assert DatasetRecord.from_row(rec.to_row()) == rec
    assert rec.to_dict()["legal_basis_text"][1].startswith("Art. 9(2)(j)")  # type: ignore[index]


def test_the_same_content_twice_is_refused_naming_the_entry(tmp_path: Path) -> None:
    engine = new_engine(tmp_path)
    first = describe_heart()
    with _db.write(engine) as conn:
        register(conn, first)
    again = describe_heart(name="heart-copy")
    with pytest.raises(AlreadyRegistered) as err, _db.write(engine) as conn:
        register(conn, again)
    message = str(err.value)
    assert "already registered as 'heart'" in message
    assert first.registered_at[:19] in message
    assert err.value.existing == first
    with _db.read(engine) as conn:
        assert [r.name for r in list_datasets(conn)] == ["heart"]


def test_a_changed_file_is_a_new_version_and_the_name_resolves_to_the_latest(tmp_path: Path) -> None:
    engine = new_engine(tmp_path)
    old = describe_heart()
    lines = heart_csv().read_text().splitlines(keepends=True)
    edited = tmp_path / "heart_cleveland.csv"
    edited.write_text("".join(lines[:-10]))  # the same table, ten patients fewer
    new = describe(edited, **{**RESEARCH, "name": "heart"})  # type: ignore[arg-type]
    assert new.version != old.version
    assert new.records == 293
    with _db.write(engine) as conn:
        register(conn, old)
        register(conn, new)
    with _db.read(engine) as conn:
        assert get(conn, "heart").version == new.version
        assert get(conn, f"heart@{old.version[:8]}").version == old.version
        assert [r.version for r in list_datasets(conn, name="heart")] == [new.version, old.version]
        assert [r.version for r in list_datasets(conn, latest_only=True)] == [new.version]


def test_unknown_and_ambiguous_references_suggest(tmp_path: Path) -> None:
    engine = new_engine(tmp_path)
    rec = describe_heart()
    with _db.write(engine) as conn:
        register(conn, rec)
    with _db.read(engine) as conn:
        with pytest.raises(UnknownNameError, match=r"no data set 'hart'; did you mean 'heart'\?\nAvailable: heart"):
            get(conn, "hart")
        with pytest.raises(UnknownNameError, match="has no version starting with 'ffff'"):
            get(conn, "heart@ffff" if not rec.version.startswith("ffff") else "heart@0000")
        with pytest.raises(InputError, match="name@version with ≥ 4 hex digits"):
            get(conn, "heart@xyz")
        other = "0" * 8 if not rec.version.startswith("0" * 8) else "1" * 8
        with pytest.raises(UnknownNameError, match=f"no version starting with '{other}'"):
            get(conn, other)


def test_every_bad_field_is_named_at_once_before_reading(tmp_path: Path) -> None:
    with pytest.raises(InputError) as err:
        describe(
            tmp_path / "missing.csv",
            name="bad name!",
            kind="raw",
            sensitivity="secret",
            owner_site="",
            legal_basis="art6-1-z",
            purposes=["Research!"],
            retention="10 years",
        )
    assert _locations(err.value) >= {
        "name",
        "kind",
        "sensitivity",
        "owner_site",
        "legal_basis",
        "purposes",
        "retention",
        str(tmp_path / "missing.csv"),
    }
    text = str(err.value)
    assert "'raw'; expected one of ['identifiable', 'pseudonymised', 'anonymised', 'synthetic', 'derived']" in text
    assert "P10Y" in text  # the retention message shows the expected form


@pytest.mark.parametrize(
    ("overrides", "location", "phrase"),
    [
        ({"legal_basis": "art6-1-e"}, "legal_basis", "Art. 9(2) condition"),
        ({"legal_basis": "art9-2-j"}, "legal_basis", "Art. 6(1) basis as well"),
        ({"legal_basis": "not-personal"}, "legal_basis", "are personal data"),
        (
            {"legal_basis": "art6-1-a,art9-2-a", "purposes": ["research", "training"], "consent_scope": ["research"]},
            "purposes",
            "outside the consent scope",
        ),
        ({"legal_basis": "art6-1-a,art9-2-a"}, "consent_scope", "consented to"),
        ({"privacy": {"k_reach": 5}}, "privacy.k_reach", "Did you mean 'k_reached'?"),
        ({"purposes": []}, "purposes", "at least one purpose"),
    ],
)
def test_gdpr_consistency_checks(overrides: dict[str, object], location: str, phrase: str) -> None:
    with pytest.raises(InputError) as err:
        describe_heart(**overrides)
    assert location in _locations(err.value)
    assert phrase in str(err.value)


def test_not_personal_is_allowed_for_synthetic_data() -> None:
    rec = describe_heart(kind="synthetic", legal_basis="not-personal", sensitivity="internal")
    assert rec.legal_bases == ("not-personal",)
    assert rec.problems() == []


def test_legal_basis_forms() -> None:
    assert parse_legal_basis("Art. 6(1)(e), 9(2)(j)") == ("art6-1-e", "art9-2-j")
    assert parse_legal_basis(["6-1-f", "ART9-2-H", "art9.2.h"]) == ("art6-1-f", "art9-2-h")
    with pytest.raises(InputError, match=r"'art6-2-a'; expected an Art. 6\(1\)\(a\)–\(f\) basis"):
        parse_legal_basis("art6-2-a")
    with pytest.raises(InputError, match="Did you mean 'art6-1-e'"):
        parse_legal_basis("art6-1-ee")


def test_retention_forms_and_erase_by() -> None:
    today = date(2025, 6, 1)
    assert parse_retention("p10y", today=today) == "P10Y"
    assert parse_retention("P1Y6M", today=today) == "P1Y6M"
    assert parse_retention("2030-12-31", today=today) == "2030-12-31"
    for bad, phrase in [
        ("P", "ISO 8601 duration"),
        ("P0D", "longer than zero"),
        ("PT5H", "ISO 8601 duration"),
        ("2024-02-30", "real calendar date"),
        ("2025-05-31", "a date in the past"),
    ]:
        with pytest.raises(InputError, match=phrase):
            parse_retention(bad, today=today)
    assert erase_by("P1M", "2024-01-31T10:00:00+00:00") == date(2024, 2, 29)  # clamped to the month's end
    assert erase_by("P10Y", "2024-02-29T00:00:00+00:00") == date(2034, 2, 28)
    assert erase_by("P2W3D", "2024-12-25T00:00:00+00:00") == date(2025, 1, 11)
    assert erase_by("2030-01-01", "2024-12-25T00:00:00+00:00") == date(2030, 1, 1)


def test_update_privacy_merges_and_validates(tmp_path: Path) -> None:
    engine = new_engine(tmp_path)
    rec = describe_heart(kind="anonymised")
    with _db.write(engine) as conn:
        register(conn, rec)
        update_privacy(conn, rec.version, k_reached=5, risk=0.2)
        after = update_privacy(conn, rec.version, epsilon_spent=1.0, risk=0.1)
    assert after.privacy == {"k_reached": 5, "risk": 0.1, "epsilon_spent": 1.0}
    with _db.read(engine) as conn:
        assert get(conn, "heart").privacy == after.privacy
    with pytest.raises(InputError) as err, _db.write(engine) as conn:
        update_privacy(conn, rec.version, k_reached=2.5, risk=1.5, delta_spent=True)
    assert _locations(err.value) == {"privacy.k_reached", "privacy.risk", "privacy.delta_spent"}
    with pytest.raises(UnknownNameError), _db.write(engine) as conn:
        update_privacy(conn, "ab" * 32, k_reached=5)


def test_list_filters(tmp_path: Path) -> None:
    engine = new_engine(tmp_path)
    real = describe_heart()
    report = describe(
        write_json(tmp_path / "report.json", {"score": 0.9}),
        **{**RESEARCH, "name": "heart-report", "kind": "derived", "modality": "report", "owner_site": "leeds"},
    )  # type: ignore[arg-type]
    assert (report.records, report.schema, report.modality) == (None, None, "report")
    with _db.write(engine) as conn:
        register(conn, real)
        register(conn, report)
    with _db.read(engine) as conn:
        assert [r.name for r in list_datasets(conn, kind="derived")] == ["heart-report"]
        assert [r.name for r in list_datasets(conn, site="cleveland")] == ["heart"]
        with pytest.raises(InputError, match="'rare'"):
            list_datasets(conn, kind="rare")


def test_a_report_cannot_claim_a_record_level_kind(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="modality") as err:
        describe(
            write_json(tmp_path / "r.json", {}),
            **{**RESEARCH, "name": "r", "kind": "synthetic", "modality": "report"},
        )  # type: ignore[arg-type]
    assert "modality" in _locations(err.value)


def test_register_checks_the_operation_exists(tmp_path: Path) -> None:
    engine = new_engine(tmp_path)
    rec = replace(describe_heart(), operation_id="7d3c1b8e-0000-4000-8000-000000000000")
    with pytest.raises(InputError, match="operation_id") as err, _db.write(engine) as conn:
        register(conn, rec)
    assert "record_operation" in str(err.value)
    with pytest.raises(InputError, match="registered_by"), _db.write(engine) as conn:
        register(conn, replace(rec, operation_id=None, registered_by=""))
