"""The packaged PS3.15 Table E.1-1: complete, unaltered, and resolved as documented."""

from __future__ import annotations

import json
from collections import Counter
from importlib import resources

import pytest

from medsyn.errors import InputError, MedsynError
from medsyn.privacy.deid import Action, DeidOptions, _profile, load_profile

SOURCE_ROWS = 657  # rows of pymedphys/pymedphys _standard/e1_1.json (edition 2026d), the converted source
SOURCE_SHA256 = "e257bc5e1cfecb3156ad3b871c43e6d73581cba6e80df460f4a4a87694e89442"


def test_table_is_complete_and_matches_its_source() -> None:
    table = load_profile()
    assert len(table) == SOURCE_ROWS
    assert table.edition == "2026d"
    document = json.loads(resources.files("medsyn.privacy.deid").joinpath("table_e1_1.json").read_text("utf-8"))
    assert document["content_sha256"] == SOURCE_SHA256  # the source's own digest: no row altered or lost
    assert len({row.tag for row in table.rows}) == SOURCE_ROWS  # one row per tag
    basic = Counter(row.basic_profile for row in table.rows)
    assert basic == {"X": 417, "D": 93, "U": 55, "Z": 42, "X/D": 23, "X/Z": 11, "X/Z/D": 8, "Z/D": 6, "X/Z/U*": 2}
    columns = {column for row in table.rows for column in row.options}
    assert columns == set(document["option_columns"])  # all ten option columns are present


@pytest.mark.parametrize(
    ("tag", "name", "basic", "action"),
    [
        (0x00100010, "Patient's Name", "Z", Action.ZERO),
        (0x00100020, "Patient ID", "Z/D", Action.ZERO),
        (0x00100030, "Patient's Birth Date", "Z", Action.ZERO),
        (0x00100040, "Patient's Sex", "Z", Action.ZERO),
        (0x00101010, "Patient's Age", "X", Action.REMOVE),
        (0x00080020, "Study Date", "Z", Action.ZERO),
        (0x00080050, "Accession Number", "Z", Action.ZERO),
        (0x00080080, "Institution Name", "X/Z/D", Action.REMOVE),
        (0x00080090, "Referring Physician's Name", "Z", Action.ZERO),
        (0x0008103E, "Series Description", "X", Action.REMOVE),
        (0x00081140, "Referenced Image Sequence", "X/Z/U*", Action.REMOVE),
        (0x00080018, "SOP Instance UID", "U", Action.UID),
        (0x0020000D, "Study Instance UID", "U", Action.UID),
        (0x00200052, "Frame of Reference UID", "U", Action.UID),
        (0x00081155, "Referenced SOP Instance UID", "U", Action.UID),
        (0x00181000, "Device Serial Number", "X/Z/D", Action.REMOVE),
        (0x0040A730, "Content Sequence", "D", Action.DUMMY),
        (0x00020003, "Media Storage SOP Instance UID", "U", Action.UID),
        (0x60023000, "Overlay Data", "X", Action.REMOVE),
        (0x601E4000, "Overlay Comments", "X", Action.REMOVE),
        (0x50003000, "Curve Data", "X", Action.REMOVE),
    ],
)
def test_well_known_rows(tag: int, name: str, basic: str, action: Action) -> None:
    row = load_profile().row_for(tag)
    assert row is not None
    assert (row.name, row.basic_profile) == (name, basic)
    assert row.action(DeidOptions()) is action


def test_masks_cover_only_the_even_repeating_groups() -> None:
    table = load_profile()
    assert table.row_for(0x60203000) is None  # just past 6000-601E
    assert table.row_for(0x60013000) is None  # odd: private, not an overlay
    assert table.row_for(0x00280010) is None  # Rows: not listed, kept
    assert table.private_row.options == {"retain_safe_private": "C"}


def test_options_override_the_basic_profile() -> None:
    table = load_profile()
    assert table.action_for(0x00100040, DeidOptions(retain_patient_characteristics=True)) is Action.KEEP
    assert table.action_for(0x00101010, DeidOptions(retain_patient_characteristics=True)) is Action.KEEP
    assert table.action_for(0x00080020, DeidOptions(retain_dates=True)) is Action.CLEAN
    assert table.action_for(0x00080020, DeidOptions(retain_full_dates=True)) is Action.KEEP
    assert table.action_for(0x0008103E, DeidOptions(clean_descriptors=True)) is Action.CLEAN
    assert table.action_for(0x0020000D, DeidOptions(retain_uids=True)) is Action.KEEP
    assert table.action_for(0x00080080, DeidOptions(retain_institution_identity=True)) is Action.KEEP
    # two options on one row: Date of Last Calibration, Retain Device Identity K vs Modified Dates C
    both = DeidOptions(retain_device_identity=True, retain_dates=True)
    assert table.action_for(0x00181200, both) is Action.CLEAN
    assert table.action_for(0x00181200, DeidOptions(retain_device_identity=True)) is Action.KEEP


def test_option_validation_and_method_codes() -> None:
    with pytest.raises(InputError, match="exclude each other"):
        DeidOptions(retain_dates=True, retain_full_dates=True)
    with pytest.raises(InputError, match="True or False"):
        DeidOptions(retain_uids="yes")  # type: ignore[arg-type]
    codes = [c for c, _ in DeidOptions(retain_dates=True, clean_descriptors=True).method_codes()]
    assert codes == ["113100", "113107", "113105"]


def test_an_altered_table_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    document = json.loads(resources.files("medsyn.privacy.deid").joinpath("table_e1_1.json").read_text("utf-8"))
    document["rows"][0]["basic_profile"] = "K"  # Accession Number kept: must not load
    (tmp_path / "table_e1_1.json").write_text(json.dumps(document), encoding="utf-8")
    monkeypatch.setattr(_profile.resources, "files", lambda package: tmp_path)
    load_profile.cache_clear()
    try:
        with pytest.raises(MedsynError, match="altered"):
            load_profile()
    finally:
        monkeypatch.undo()
        load_profile.cache_clear()
    assert len(load_profile()) == SOURCE_ROWS


def test_deid_exports_exist_and_import_stays_light() -> None:
    import subprocess
    import sys

    import medsyn.privacy.deid as deid

    assert len(deid.__all__) == len(set(deid.__all__))
    assert all(getattr(deid, name) is not None for name in deid.__all__)
    code = "import sys, medsyn.privacy; print(sorted({'pydicom', 'wfdb', 'pyedflib'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]"
