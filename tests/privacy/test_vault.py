"""The re-identification vault: round trip, refusal of wrong secrets, detection of tampering."""

from __future__ import annotations

import base64
import json
import stat
from pathlib import Path

import pytest

from medsyn.errors import DataFormatError, InputError, PolicyDenied
from medsyn.privacy import Pseudonymizer, ReidentificationVault, SecretKey

PASS = "correct horse battery staple"
KEY = SecretKey(bytes(range(32)))


@pytest.fixture
def vault_file(tmp_path: Path) -> Path:
    path = tmp_path / "ids.vault"
    vault = ReidentificationVault.create(path, passphrase=PASS)
    tokens = Pseudonymizer(KEY, prefix="P-").pseudonymize(["MRN-001", "MRN-002", "MRN-001"])
    assert vault.add(tokens) == 2
    assert vault.add(tokens) == 0  # idempotent
    vault.save()
    return path


def test_round_trip_with_purpose_logged(vault_file: Path) -> None:
    assert stat.S_IMODE(vault_file.stat().st_mode) == 0o600
    raw = vault_file.read_text()
    assert "MRN-001" not in raw
    assert "P-" not in raw
    vault = ReidentificationVault.open(vault_file, passphrase=PASS)
    token = Pseudonymizer(KEY, prefix="P-").token("MRN-002")
    result = vault.reidentify([token, "P-unknown"], purpose="clinical follow-up of a finding")
    assert result.originals == ("MRN-002", None)
    assert result.found == 1
    assert result.purpose == "clinical follow-up of a finding"
    assert result.to_dict()["purpose"] == "clinical follow-up of a finding"
    # the look-up was saved to the file's encrypted access log
    again = ReidentificationVault.open(vault_file, passphrase=PASS)
    assert [(a.purpose, a.requested, a.found) for a in again.access_log] == [("clinical follow-up of a finding", 2, 1)]
    assert len(again) == 2
    assert again.namespaces == ["default"]


def test_wrong_secret_is_refused(vault_file: Path) -> None:
    with pytest.raises(PolicyDenied, match="wrong passphrase"):
        ReidentificationVault.open(vault_file, passphrase="not the passphrase")
    with pytest.raises(PolicyDenied, match="opens with its passphrase"):
        ReidentificationVault.open(vault_file, key=KEY)


def test_key_vaults(tmp_path: Path) -> None:
    path = tmp_path / "k.vault"
    vault = ReidentificationVault.create(path, key=KEY)
    vault.add_pairs("trial", ["t1"], ["x"])
    vault.save()
    assert ReidentificationVault.open(path, key=KEY).reidentify(["t1"], purpose="audit", namespace="trial").found == 1
    with pytest.raises(PolicyDenied):
        ReidentificationVault.open(path, key=SecretKey(bytes(range(1, 33))))
    with pytest.raises(PolicyDenied, match="vault key"):
        ReidentificationVault.open(path, passphrase=PASS)


def _edit(path: Path, field: str, change: object) -> None:
    doc = json.loads(path.read_text())
    doc[field] = change(doc[field]) if callable(change) else change
    path.write_text(json.dumps(doc))


def _flip_last_byte(text: str) -> str:
    data = bytearray(base64.b64decode(text))
    data[-1] ^= 1
    return base64.b64encode(bytes(data)).decode()


@pytest.mark.parametrize(
    ("field", "change", "error", "message"),
    [
        ("ciphertext", _flip_last_byte, DataFormatError, "modified"),
        ("nonce", _flip_last_byte, DataFormatError, "modified"),
        ("kdf", lambda kdf: {**kdf, "salt": base64.b64encode(b"0" * 16).decode()}, PolicyDenied, "wrong"),
        ("kdf", lambda kdf: {**kdf, "n": 2**30}, DataFormatError, "scrypt parameters"),
        ("ciphertext", "***", DataFormatError, "not base64"),
        ("format", "something-else", DataFormatError, "not a vault"),
    ],
)
def test_tampering_is_detected(
    vault_file: Path, field: str, change: object, error: type[Exception], message: str
) -> None:
    _edit(vault_file, field, change)
    with pytest.raises(error, match=message):
        ReidentificationVault.open(vault_file, passphrase=PASS)


def test_misuse_is_refused_clearly(vault_file: Path, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="already exists"):
        ReidentificationVault.create(vault_file, passphrase=PASS)
    with pytest.raises(InputError, match="at least 8"):
        ReidentificationVault.create(tmp_path / "new.vault", passphrase="short")
    with pytest.raises(InputError, match="exactly one"):
        ReidentificationVault.create(tmp_path / "new.vault", passphrase=PASS, key=KEY)
    with pytest.raises(InputError, match="no such vault"):
        ReidentificationVault.open(tmp_path / "absent.vault", passphrase=PASS)
    (tmp_path / "text.vault").write_text("hello")
    with pytest.raises(DataFormatError, match="not JSON"):
        ReidentificationVault.open(tmp_path / "text.vault", passphrase=PASS)
    vault = ReidentificationVault.open(vault_file, passphrase=PASS)
    with pytest.raises(InputError, match="purpose"):
        vault.reidentify(["x"], purpose=" ")
    with pytest.raises(InputError, match="namespace"):
        vault.reidentify(["x"], purpose="audit", namespace="other")
    with pytest.raises(InputError, match="another original"):
        vault.add_pairs("default", [Pseudonymizer(KEY, prefix="P-").token("MRN-001")], ["MRN-999"])
