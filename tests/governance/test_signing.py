"""The workspace key and signed checkpoints: 0600 key files, clear errors, and C2SP signed notes
byte-identical to the reference implementation's test vector."""

from __future__ import annotations

import base64
import hashlib
import os
import stat
from pathlib import Path

import pytest

from medsyn.errors import DataFormatError, InputError
from medsyn.governance._signing import (
    Checkpoint,
    PublicKey,
    Signer,
    checkpoint_body,
    generate_key,
    load_key,
    load_public_key,
    parse_note,
    signed_note,
)

# golang.org/x/mod/sumdb/note (and the signed_note crate) example: key, text and signed note
NOTE_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
NOTE_TEXT = b"If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
NOTE_SIGNED = (
    NOTE_TEXT.decode() + "\n"
    "\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
)


def _note_signer() -> Signer:
    seed = base64.b64decode(NOTE_SKEY.split("+", 4)[-1])
    assert seed[0] == 1
    return Signer.from_seed(seed[1:])


def test_signed_note_matches_the_reference_vector() -> None:
    signer = _note_signer()
    assert signer.public_key.note_key_hash("PeterNeumann").hex() == "c74f20a3"
    note = signed_note(NOTE_TEXT, "PeterNeumann", signer.public_key, signer.sign(NOTE_TEXT))
    assert note == NOTE_SIGNED
    body, sigs = parse_note(note)
    assert body == NOTE_TEXT
    assert sigs[0][0] == "PeterNeumann"
    assert signer.public_key.verify(body, sigs[0][2])
    assert signer.public_key.vkey("PeterNeumann").startswith("PeterNeumann+c74f20a3+")


def test_generate_and_load_round_trip_with_owner_only_mode(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "ledger-ed25519.pem"
    made = generate_key(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text().startswith("-----BEGIN PRIVATE KEY-----")
    loaded = load_key(path)
    assert loaded.key_id == made.key_id == hashlib.sha256(made.public_key.raw).hexdigest()
    assert loaded.public_key.verify(b"x", made.sign(b"x"))
    assert not loaded.public_key.verify(b"y", made.sign(b"x"))
    assert load_public_key(path) == made.public_key
    with pytest.raises(InputError, match="already exists"):
        generate_key(path)
    assert generate_key(path, overwrite=True).key_id != made.key_id


def test_public_key_files_pem_and_verifier_key(tmp_path: Path) -> None:
    signer = generate_key(tmp_path / "k.pem")
    (tmp_path / "pub.pem").write_text(signer.public_key.to_pem())
    (tmp_path / "pub.vkey").write_text(signer.public_key.vkey("medsyn/x") + "\n")
    assert load_public_key(tmp_path / "pub.pem") == signer.public_key
    assert load_public_key(tmp_path / "pub.vkey") == signer.public_key
    (tmp_path / "bad.vkey").write_text(signer.public_key.vkey("medsyn/x").replace("medsyn/x", "other", 1))
    with pytest.raises(DataFormatError, match="key hash does not match"):
        load_public_key(tmp_path / "bad.vkey")


@pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")
def test_a_key_readable_by_others_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "k.pem"
    generate_key(path)
    path.chmod(0o644)
    with pytest.raises(InputError, match=r"readable by others \(mode 0644\).*chmod 600"):
        load_key(path)


def test_missing_garbled_and_wrong_type_keys_raise_naming_the_file(tmp_path: Path) -> None:
    with pytest.raises(DataFormatError, match=r"nope\.pem: no such key file"):
        load_key(tmp_path / "nope.pem")
    garbled = tmp_path / "garbled.pem"
    garbled.write_text("-----BEGIN PRIVATE KEY-----\nnot base64 at all\n-----END PRIVATE KEY-----\n")
    garbled.chmod(0o600)
    with pytest.raises(DataFormatError, match=r"garbled\.pem: not a readable unencrypted PEM private key"):
        load_key(garbled)
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    other = tmp_path / "ec.pem"
    other.write_bytes(
        ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    other.chmod(0o600)
    with pytest.raises(DataFormatError, match="expected an Ed25519 private key"):
        load_key(other)


def test_checkpoint_body_is_the_tlog_checkpoint_format() -> None:
    root = bytes(range(32))
    assert checkpoint_body("example.com/log", 7, root) == (b"example.com/log\n7\n" + base64.b64encode(root) + b"\n")


def test_checkpoint_note_round_trip_and_tampering() -> None:
    signer = Signer.from_seed(bytes(32))
    root = hashlib.sha256(b"root").digest()
    unsigned = Checkpoint("medsyn/test", 42, root, signer.key_id, b"")
    cp = Checkpoint("medsyn/test", 42, root, signer.key_id, signer.sign(unsigned.body()), time="2025-01-01T00:00:00Z")
    assert cp.verify(signer.public_key)
    note = cp.to_note(signer.public_key)
    assert note.startswith("medsyn/test\n42\n")
    back = Checkpoint.from_note(note, signer.public_key)
    assert (back.origin, back.size, back.root, back.signature) == (cp.origin, cp.size, cp.root, cp.signature)
    assert Checkpoint.from_dict(cp.to_dict()) == cp

    with pytest.raises(InputError, match="signature does not match"):
        Checkpoint.from_note(note.replace("\n42\n", "\n43\n", 1), signer.public_key)
    stranger = Signer.from_seed(b"\x01" * 32)
    with pytest.raises(InputError, match="no signature by the workspace key"):
        Checkpoint.from_note(note, stranger.public_key)
    assert not cp.verify(stranger.public_key)
    with pytest.raises(DataFormatError, match="no blank line"):
        Checkpoint.from_note("medsyn/test\n42\n", signer.public_key)
    with pytest.raises(DataFormatError, match="signature line"):
        Checkpoint.from_note("medsyn/test\n42\nAAAA\n\n-- medsyn/test abc\n", signer.public_key)
    with pytest.raises(DataFormatError, match="no field 'root'"):
        Checkpoint.from_dict({"origin": "o", "size": 1})


def test_public_key_must_be_32_bytes() -> None:
    with pytest.raises(DataFormatError, match="31 bytes"):
        PublicKey(bytes(31))
