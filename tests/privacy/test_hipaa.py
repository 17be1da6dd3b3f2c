"""HIPAA Safe Harbor screen: each of the 18 identifiers, the special rules, and no noise on clinical data."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from medsyn.data import Field, FieldType, ImageDataset, Role, Schema, TabularDataset, read
from medsyn.errors import InputError
from medsyn.privacy import HipaaIdentifier, SafeHarborCertainty, safe_harbor_check
from tests.conftest import shared

N = 40


def _identified_table() -> pd.DataFrame:
    """One column per Safe Harbor identifier, with made-up values of the right shape."""
    i = np.arange(N)
    return pd.DataFrame(
        {
            "first_name": [f"Name{c}" for c in i],
            "street_address": [f"{10 + c} Main Street" for c in i],
            "zip_code": [f"{10000 + 7 * c:05d}" for c in i],
            "admission_date": [f"2020-01-{1 + c % 28:02d}" for c in i],
            "phone": [f"(555) 123-{1000 + c}" for c in i],
            "fax": [f"555-987-{1000 + c}" for c in i],
            "email": [f"person{c}@example.org" for c in i],
            "ssn": [f"{100 + c:03d}-45-{6000 + c}" for c in i],
            "mrn": [f"M{900000 + c}" for c in i],
            "member_id": [f"HP{c:06d}" for c in i],
            "account_number": [f"AC{c:08d}" for c in i],
            "license_number": [f"LIC{c:05d}" for c in i],
            "vin": [f"1HGCM82633A{100000 + c}" for c in i],
            "device_serial": [f"SN-{c:07d}" for c in i],
            "website": [f"https://example.org/p/{c}" for c in i],
            "ip_address": [f"192.168.1.{c}" for c in i],
            "fingerprint": [f"{c:032x}" for c in i],
            "photo": [f"faces/{c}.jpg" for c in i],
            "encounter_id": 5000 + i,
        }
    )


EXPECTED = {
    "first_name": "A",
    "street_address": "B",
    "zip_code": "B",
    "admission_date": "C",
    "phone": "D",
    "fax": "E",
    "email": "F",
    "ssn": "G",
    "mrn": "H",
    "member_id": "I",
    "account_number": "J",
    "license_number": "K",
    "vin": "L",
    "device_serial": "M",
    "website": "N",
    "ip_address": "O",
    "fingerprint": "P",
    "photo": "Q",
    "encounter_id": "R",
}


def test_every_identifier_category_is_found() -> None:
    report = safe_harbor_check(_identified_table())
    found = {(f.column, f.category.letter) for f in report.findings if f.certainty is SafeHarborCertainty.IDENTIFIER}
    assert set(EXPECTED.items()) <= found
    assert len(report.categories()) == 18
    assert not report.passed
    assert report.for_column("email")[0].category is HipaaIdentifier.EMAIL


def test_findings_never_quote_values() -> None:
    df = _identified_table()
    text = json.dumps(safe_harbor_check(df).to_dict())
    for column in ("email", "ssn", "first_name", "ip_address"):
        assert str(df[column].iloc[3]) not in text


def test_values_alone_are_evidence() -> None:
    df = pd.DataFrame(
        {
            "contact": [f"p{i}@mail.example.com" for i in range(N)],
            "misc": [f"+1 555 010 {1000 + i}" for i in range(N)],
            "note": [f"{i % 28 + 1:02d}/03/2019" for i in range(N)],
        }
    )
    by_column = {f.column: f for f in safe_harbor_check(df).findings}
    assert by_column["contact"].category is HipaaIdentifier.EMAIL
    assert by_column["contact"].certainty is SafeHarborCertainty.IDENTIFIER
    assert by_column["contact"].evidence == "values"
    assert by_column["misc"].category is HipaaIdentifier.TELEPHONE  # a phone pattern without a phone name
    assert by_column["misc"].certainty is SafeHarborCertainty.POSSIBLE
    assert by_column["note"].category is HipaaIdentifier.DATES


def test_three_digit_zip_codes() -> None:
    fine = pd.DataFrame({"zip3": ["100", "021", "945"] * 10})
    assert safe_harbor_check(fine).findings == ()
    sparse = pd.DataFrame({"zip3": ["100", "036", "890"] * 10})
    (finding,) = safe_harbor_check(sparse).findings
    assert finding.certainty is SafeHarborCertainty.IDENTIFIER
    assert "036" in finding.reason
    assert "000" in finding.fix


@pytest.mark.parametrize(
    ("values", "certainty"),
    [
        (["[70-80)", "[80-90)", "90+"], None),
        (["[70-80)", "[80-90)", "[90-100)"], SafeHarborCertainty.POSSIBLE),
        (["[80-90)", "[90-95)", "[95-100)"], SafeHarborCertainty.IDENTIFIER),
        ([45, 67, 89], None),
        ([45, 67, 93], SafeHarborCertainty.IDENTIFIER),
    ],
)
def test_ages_over_89(values: list[object], certainty: SafeHarborCertainty | None) -> None:
    findings = safe_harbor_check(pd.DataFrame({"age": values * 10})).findings
    if certainty is None:
        assert findings == ()
    else:
        (finding,) = findings
        assert finding.category is HipaaIdentifier.DATES
        assert finding.certainty is certainty


def test_dates_and_years() -> None:
    df = pd.DataFrame(
        {
            "visit": pd.date_range("2020-01-01", periods=N, freq="D"),
            "year_of_birth": [1920 + i for i in range(N)],
            "admission_year": [2015] * N,
        }
    )
    by_column = {f.column: f for f in safe_harbor_check(df).findings}
    assert by_column["visit"].category is HipaaIdentifier.DATES
    assert "reveal an age over 89" in by_column["year_of_birth"].reason
    assert "admission_year" not in by_column  # a year alone is allowed


def test_schema_identifier_role_is_evidence() -> None:
    df = pd.DataFrame({"token": [f"t{i % 5}" for i in range(N)], "x": [i % 7 for i in range(N)]})
    schema = Schema((Field("token", FieldType.TEXT, (Role.IDENTIFIER,)), Field("x", FieldType.INTEGER)))
    (finding,) = safe_harbor_check(TabularDataset(df, schema)).findings
    assert (finding.column, finding.category, finding.evidence) == ("token", HipaaIdentifier.OTHER, "schema")


def test_clinical_columns_raise_nothing() -> None:
    rng = np.random.default_rng(0)
    df = pd.DataFrame(
        {
            "sex": rng.choice(["F", "M"], 500),
            "race": rng.choice(["Caucasian", "AfricanAmerican", "Asian"], 500),
            "state": rng.choice(["CA", "NY", "TX"], 500),
            "payer_code": rng.choice(["MC", "HM", "SP"], 500),
            "systolic": rng.normal(130, 15, 500),
            "num_medications": rng.integers(1, 40, 500),
            "drug_name": rng.choice(["Metformin", "Insulin Glargine"], 500),
            "stage": rng.choice(["I", "II", "III"], 500),
        }
    )
    report = safe_harbor_check(df)
    assert report.findings == ()
    assert report.passed


def test_mostly_unique_codes_are_worth_a_look() -> None:
    df = pd.DataFrame({"ref": [f"X{i:05d}" for i in range(200)], "lab": np.linspace(1, 2, 200)})
    (finding,) = safe_harbor_check(df).findings
    assert finding.column == "ref"
    assert finding.certainty is SafeHarborCertainty.POSSIBLE  # floats ("lab") are measurements, never codes


def test_dataset_attributes_are_checked() -> None:
    images = ImageDataset.from_arrays(
        [np.zeros((2, 2))] * 2, pd.DataFrame({"file": ["a.png", "b.png"], "patient_name": ["Ann Lee", "Bo Chan"]})
    )
    assert [f.column for f in safe_harbor_check(images).findings] == ["patient_name"]


def test_bad_input() -> None:
    with pytest.raises(InputError, match="DataFrame"):
        safe_harbor_check([1, 2, 3])  # type: ignore[arg-type]
    with pytest.raises(InputError, match="sample_size"):
        safe_harbor_check(pd.DataFrame({"a": [1]}), sample_size=0)


@pytest.mark.shared_data
def test_real_tables() -> None:
    diabetes = read(shared("diabetes_130us_hospitals/dataset_diabetes.zip/dataset_diabetes/diabetic_data.csv"))
    found = {f.column: (f.category.letter, f.certainty) for f in safe_harbor_check(diabetes).findings}
    assert found == {
        "encounter_id": ("R", SafeHarborCertainty.IDENTIFIER),
        "patient_nbr": ("H", SafeHarborCertainty.IDENTIFIER),
        "age": ("C", SafeHarborCertainty.POSSIBLE),  # one band "[90-100)" rather than "90 or older"
    }
    actg = read(shared("actg175_hiv_trial/ACTG175.csv"))
    assert {f.column for f in safe_harbor_check(actg).findings} == {"pidnum", "unnamed_0"}
