"""Keys and keyed pseudonyms: stable where the key is shared, unlinkable elsewhere, no half-usable keys."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from medsyn.data import Field, FieldType, Role, Schema, TabularDataset, read
from medsyn.errors import InputError
from medsyn.privacy import (
    KEY_ENV_VAR,
    DateShifter,
    Pseudonymizer,
    ReidentificationVault,
    Scrubber,
    SecretKey,
    canonical_values,
    load_key,
    pseudonymize_table,
)
from tests.conftest import shared

KEY = SecretKey(bytes(range(32)), "test key")


# -- keys ---------------------------------------------------------------------------------------
def test_generated_key_round_trips_through_a_private_file(tmp_path: Path) -> None:
    key = SecretKey.generate()
    path = key.save(tmp_path / "site.key")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    loaded = load_key(path)
    assert loaded.material == key.material
    assert loaded.fingerprint == key.fingerprint
    assert key.material.hex() not in repr(loaded)
    assert key.fingerprint in repr(loaded)
    with pytest.raises(InputError, match="already exists"):
        key.save(path)
    assert SecretKey.generate().material != key.material


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty key"),
        (b"   \n", "empty key"),
        (b"medsyn-key:v1:c2hvcnQ\n", "a key of 5 bytes"),
        (b"abcd", "a key of 2 bytes"),
        (b"this is not a key!", "not a key"),
        (b"\xff\xfe\x00binary", "binary content"),
    ],
)
def test_unusable_key_files_are_refused_naming_the_file(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "bad.key"
    path.write_bytes(content)
    path.chmod(0o600)
    with pytest.raises(InputError, match=message) as info:
        load_key(path)
    assert str(path) in str(info.value)


def test_missing_and_open_key_files(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"no such key file.*--new-key"):
        load_key(tmp_path / "absent.key")
    path = tmp_path / "open.key"
    path.write_text(SecretKey.generate().to_text())
    path.chmod(0o644)
    if os.name == "posix":
        with pytest.raises(InputError, match="chmod 600"):
            load_key(path)
    assert len(load_key(path, check_permissions=False).material) == 32


def test_foreign_key_formats_and_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    hex_key = tmp_path / "openssl.key"
    hex_key.write_text(bytes(range(32)).hex() + "\n")
    hex_key.chmod(0o600)
    assert load_key(hex_key).material == KEY.material
    monkeypatch.setenv(KEY_ENV_VAR, KEY.to_text())
    assert SecretKey.from_env().material == KEY.material
    monkeypatch.delenv(KEY_ENV_VAR)
    with pytest.raises(InputError, match=KEY_ENV_VAR):
        SecretKey.from_env()
    with pytest.raises(InputError, match="at least 32"):
        SecretKey(b"short")


# -- pseudonyms ---------------------------------------------------------------------------------
def test_tokens_are_stable_across_sites_sharing_the_key(tmp_path: Path) -> None:
    path = KEY.save(tmp_path / "shared.key")
    site_a = Pseudonymizer(load_key(path), prefix="P-")
    site_b = Pseudonymizer(load_key(path), prefix="P-")
    ids = pd.Series(["MRN001", "MRN002", "MRN001", None])
    a, b = site_a.pseudonymize(ids), site_b.pseudonymize(ids.iloc[::-1])
    assert a.tokens.iloc[0] == a.tokens.iloc[2] == b.tokens.iloc[1]
    assert a.tokens.iloc[3] is None
    assert a.n_missing == 1
    assert a.n_distinct == 2
    assert a.tokens.iloc[0].startswith("P-")
    assert len(a.tokens.iloc[0]) == 2 + 16
    # the same token from a fresh instance, and per value
    assert site_a.token("MRN001") == a.tokens.iloc[0]


def test_other_keys_and_namespaces_do_not_link() -> None:
    values = [f"id{i}" for i in range(100)]
    base = Pseudonymizer(KEY).pseudonymize(values).tokens
    other_key = Pseudonymizer(SecretKey(bytes(range(1, 33)))).pseudonymize(values).tokens
    other_ns = Pseudonymizer(KEY, namespace="trial-b").pseudonymize(values).tokens
    assert not set(base) & set(other_key)
    assert not set(base) & set(other_ns)


def test_values_read_differently_get_one_token() -> None:
    p = Pseudonymizer(KEY)
    tokens = p.pseudonymize(pd.Series([10056, 10056.0, " 10056", "10056 "], dtype=object)).tokens
    assert tokens.nunique() == 1
    assert canonical_values([np.int64(7), 7.5, "ab "]) == ["7", "7.5", "ab"]
    assert p.token("AB12") != p.token("ab12")  # case is kept


def test_no_collisions_on_1e5_values_and_short_tokens_are_refused() -> None:
    values = np.arange(100_000)
    result = Pseudonymizer(KEY).pseudonymize(values)
    assert result.n_distinct == 100_000
    assert result.tokens.nunique() == 100_000
    # 8 hex digits = 32 bits: under this key, ids 114340 and 160392 share a token; that is refused, not merged
    with pytest.raises(InputError, match="colliding pseudonyms"):
        Pseudonymizer(KEY, length=8).pseudonymize(np.arange(114_340, 160_393))


def test_bad_settings_are_listed_together() -> None:
    with pytest.raises(InputError, match="3 problems") as info:
        Pseudonymizer(KEY, namespace="", length=4, prefix="P ")
    assert {p.location for p in info.value.problems} == {"namespace", "length", "prefix"}
    with pytest.raises(InputError, match="SecretKey"):
        Pseudonymizer(b"raw bytes" * 4)  # type: ignore[arg-type]


# -- a whole table ------------------------------------------------------------------------------
def _clinic() -> TabularDataset:
    frame = pd.DataFrame(
        {
            "mrn": ["A1", "A2", "A1", "A3"],
            "admit": ["2020-01-01", "2020-02-10", "2020-03-01", "2021-07-04"],
            "note": ["Jane Doe called 020 7946 0958.", "stable", None, "email jd@example.org"],
            "age": [70, 81, 70, 45],
        }
    )
    schema = Schema(
        (
            Field("mrn", FieldType.IDENTIFIER, (Role.IDENTIFIER,)),
            Field("admit", FieldType.DATETIME, (Role.QUASI_IDENTIFIER,)),
            Field("note", FieldType.TEXT),
            Field("age", FieldType.INTEGER, (Role.QUASI_IDENTIFIER,), minimum=45, maximum=81),
        )
    )
    return TabularDataset(frame, schema)


def test_pseudonymize_table_does_every_step_and_reports_no_secret(tmp_path: Path) -> None:
    ds = _clinic()
    before = ds.data.copy()
    vault = ReidentificationVault.create(tmp_path / "ids.vault", passphrase="correct horse battery")
    result = pseudonymize_table(
        ds,
        key=KEY,
        prefix="P-",
        date_shift=DateShifter(KEY, max_days=30),
        scrubber=Scrubber(names=["Jane Doe"]),
        vault=vault,
    )
    pd.testing.assert_frame_equal(ds.data, before)  # the input is untouched
    out = result.dataset.data
    assert out["mrn"].str.startswith("P-").all()
    assert out["mrn"].nunique() == 3
    assert out["mrn"].iloc[0] == out["mrn"].iloc[2]
    gap = pd.to_datetime(out["admit"].iloc[2]) - pd.to_datetime(out["admit"].iloc[0])
    assert gap == pd.Timedelta(days=60)  # same patient: interval kept
    assert out["note"].iloc[0] == "[NAME] called [PHONE]."
    assert pd.isna(out["note"].iloc[2])
    assert out["age"].tolist() == [70, 81, 70, 45]
    assert result.dataset.schema["admit"].minimum is None
    report = result.report.to_dict()
    text = str(report)
    for secret in ("A1", "Jane", "7946", KEY.material.hex()):
        assert secret not in text
    assert report["key_fingerprint"] == KEY.fingerprint
    assert report["vault_entries_added"] == 3
    assert len(vault) == 3
    assert any("quasi-identifiers ['age']" in w for w in result.report.warnings)
    token = out["mrn"].iloc[1]
    assert vault.reidentify([token], purpose="test", record=False).originals == ("A2",)


def test_pseudonymize_table_collects_every_bad_option() -> None:
    with pytest.raises(InputError) as info:
        pseudonymize_table(
            _clinic(),
            key=KEY,
            columns=["mrn", "nope"],
            date_shift=DateShifter(KEY),
            patient_column="patient",
            date_columns=["admit", "when"],
            text_columns=["mrn"],
        )
    found = " ".join(str(p) for p in info.value.problems)
    for name in ("nope", "patient", "when", "two treatments"):
        assert name in found


@pytest.mark.slow  # 100k encounters; the ACTG 175 test below is its small twin
@pytest.mark.shared_data
def test_real_encounters_keep_their_patient_linkage() -> None:
    path = shared("diabetes_130us_hospitals/dataset_diabetes.zip/dataset_diabetes/diabetic_data.csv")
    ds = read(path)
    assert isinstance(ds, TabularDataset)
    result = pseudonymize_table(ds, key=KEY)
    out, real = result.dataset.data, ds.data
    assert {c for c, _ in result.report.pseudonymized} == {"encounter_id", "patient_nbr"}
    # one token per patient: the encounters-per-patient structure survives exactly
    assert out["patient_nbr"].nunique() == real["patient_nbr"].nunique() == 71_518
    pd.testing.assert_series_equal(
        out.groupby("patient_nbr").size().sort_values().reset_index(drop=True),
        real.groupby("patient_nbr").size().sort_values().reset_index(drop=True),
    )
    assert not set(out["patient_nbr"].head(100)) & set(real["patient_nbr"].astype(str))


@pytest.mark.shared_data
def test_real_trial_ids_from_two_reads_link() -> None:
    path = shared("actg175_hiv_trial/ACTG175.csv")
    ds = read(path)
    assert isinstance(ds, TabularDataset)
    first = pseudonymize_table(ds, key=KEY, columns=["pidnum"]).dataset.data["pidnum"]
    frame = pd.read_csv(path, dtype={"pidnum": str})  # another site reads the ids as text
    second = Pseudonymizer(KEY).pseudonymize(frame["pidnum"]).tokens
    assert first.tolist() == second.tolist()
