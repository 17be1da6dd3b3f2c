"""The workspace's Ed25519 key and the signed checkpoints (tree heads) of its ledger.

A checkpoint says "the ledger of origin O had N entries and Merkle root R". Its signed text is
the C2SP ``tlog-checkpoint`` body (https://c2sp.org/tlog-checkpoint), three lines, each ending
in a newline::

    <origin>
    <tree size, decimal>
    <root hash, standard base64>

and the Ed25519 signature is over exactly those bytes (UTF-8). Written out, a checkpoint is a
C2SP ``signed-note`` (https://c2sp.org/signed-note): the body, a blank line, and one line
``— <key name> <base64(key hash[4] ‖ signature[64])>`` where the key name is the origin and the
key hash is ``SHA-256(name ‖ 0x0A ‖ 0x01 ‖ public key)[:4]``. Any signed-note tool (Go's
``golang.org/x/mod/sumdb/note``, sigsum, transparency-dev) can check such a file with the
verifier key :meth:`PublicKey.vkey` prints. The checkpoint's ``time`` is *not* signed: it says
when the head was taken, for people, and proves nothing.

The private key is a PKCS#8 PEM file readable by its owner only (mode 0600). medsyn refuses to
use a key file others can read, as ssh does, because whoever reads it can sign a rewritten
ledger. ``key_id`` (the hex SHA-256 of the raw 32-byte public key) names the key in the database
and in exports.

``cryptography`` is imported only when a key is generated, loaded or a signature checked.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from medsyn._atomic import atomic_path
from medsyn.errors import DataFormatError, InputError, Problem

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

__all__ = [
    "Checkpoint",
    "PublicKey",
    "Signer",
    "checkpoint_body",
    "generate_key",
    "load_key",
    "load_public_key",
    "parse_note",
    "signed_note",
]

_EM_DASH = "\u2014"
_ED25519_TYPE = b"\x01"


def _ed25519() -> Any:
    """The Ed25519 module, imported when first needed (``cryptography`` is a core dependency)."""
    from cryptography.hazmat.primitives.asymmetric import ed25519

    return ed25519


@dataclass(frozen=True, slots=True)
class PublicKey:
    """An Ed25519 public key (32 raw bytes) that checks checkpoint signatures."""

    raw: bytes

    def __post_init__(self) -> None:
        if len(self.raw) != 32:
            raise DataFormatError(Problem("public key", f"{len(self.raw)} bytes", "32 bytes of an Ed25519 key"))

    @property
    def key_id(self) -> str:
        """Hex SHA-256 of the raw public key: how the database and exports name this key."""
        return hashlib.sha256(self.raw).hexdigest()

    def verify(self, message: bytes, signature: bytes) -> bool:
        """Whether ``signature`` is this key's Ed25519 signature of ``message``."""
        from cryptography.exceptions import InvalidSignature

        key = _ed25519().Ed25519PublicKey.from_public_bytes(self.raw)
        try:
            key.verify(signature, message)
        except InvalidSignature:
            return False
        return True

    def note_key_hash(self, name: str) -> bytes:
        """The 4-byte signed-note key hash for this key under ``name``."""
        return hashlib.sha256(name.encode() + b"\n" + _ED25519_TYPE + self.raw).digest()[:4]

    def vkey(self, name: str) -> str:
        """The signed-note verifier key ``name+hash+base64(0x01 ‖ key)`` other tools accept."""
        b64 = base64.b64encode(_ED25519_TYPE + self.raw).decode()
        return f"{name}+{self.note_key_hash(name).hex()}+{b64}"

    def to_pem(self) -> str:
        """SubjectPublicKeyInfo PEM, for handing the key to a data protection officer."""
        from cryptography.hazmat.primitives import serialization

        key = _ed25519().Ed25519PublicKey.from_public_bytes(self.raw)
        pem: bytes = key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        return pem.decode()


class Signer:
    """The workspace's private Ed25519 key: signs checkpoints. Made by :func:`generate_key` / :func:`load_key`."""

    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        from cryptography.hazmat.primitives import serialization

        self._key = private_key
        raw = private_key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        self.public_key = PublicKey(raw)

    @classmethod
    def from_seed(cls, seed: bytes) -> Signer:
        """A signer from a 32-byte Ed25519 seed (tests, and keys kept in a vault)."""
        return cls(_ed25519().Ed25519PrivateKey.from_private_bytes(seed))

    @property
    def key_id(self) -> str:
        return self.public_key.key_id

    def sign(self, message: bytes) -> bytes:
        """The 64-byte Ed25519 signature of ``message``."""
        signature: bytes = self._key.sign(message)
        return signature

    def __repr__(self) -> str:
        return f"Signer(key_id={self.key_id[:16]}…)"


def generate_key(path: str | Path, *, overwrite: bool = False) -> Signer:
    """Make a new Ed25519 key and save it as PKCS#8 PEM with mode 0600 (written atomically).

    Refuses to replace an existing key unless ``overwrite``: a lost key cannot sign again, and
    the checkpoints it signed then need the old public key to be checked.
    """
    from cryptography.hazmat.primitives import serialization

    path = Path(path)
    if path.exists() and not overwrite:
        raise InputError(
            Problem(str(path), "a key file already exists", "no file", "Pass overwrite=True to replace it on purpose")
        )
    key = _ed25519().Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    with atomic_path(path) as tmp:  # mkstemp makes the file 0600 before any key byte is written
        os.chmod(tmp, 0o600)
        tmp.write_bytes(pem)
    return Signer(key)


def _check_private(path: Path) -> None:
    if os.name != "posix":
        return
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise InputError(
            Problem(
                str(path),
                f"the private key is readable by others (mode {mode:04o})",
                "mode 0600 (owner only)",
                f"Run: chmod 600 {path}",
            )
        )


def load_key(path: str | Path) -> Signer:
    """Load the workspace's private key; missing, garbled, non-Ed25519 or group/world-readable files raise."""
    from cryptography.hazmat.primitives import serialization

    path = Path(path)
    if not path.is_file():
        raise DataFormatError(
            Problem(str(path), "no such key file", "the workspace's Ed25519 key (PEM)", "Check --workspace")
        )
    _check_private(path)
    data = path.read_bytes()
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise DataFormatError(
            Problem(str(path), f"not a readable unencrypted PEM private key ({exc})", "a PKCS#8 Ed25519 key")
        ) from exc
    if not isinstance(key, _ed25519().Ed25519PrivateKey):
        raise DataFormatError(Problem(str(path), f"a {type(key).__name__}", "an Ed25519 private key"))
    return Signer(key)


def load_public_key(path: str | Path) -> PublicKey:
    """A public key from a PEM file (public or private) or a signed-note verifier key ``name+hash+base64``."""
    from cryptography.hazmat.primitives import serialization

    path = Path(path)
    if not path.is_file():
        raise DataFormatError(Problem(str(path), "no such file", "an Ed25519 public key (PEM or verifier key)"))
    text = path.read_text(encoding="utf-8", errors="replace").strip()
    if "-----BEGIN" not in text:
        return _parse_vkey(text, where=str(path))
    try:
        if "PRIVATE KEY" in text:
            _check_private(path)
            key: Any = serialization.load_pem_private_key(text.encode(), password=None).public_key()
        else:
            key = serialization.load_pem_public_key(text.encode())
    except (ValueError, TypeError) as exc:
        raise DataFormatError(Problem(str(path), f"not a readable PEM key ({exc})", "an Ed25519 key")) from exc
    if not isinstance(key, _ed25519().Ed25519PublicKey):
        raise DataFormatError(Problem(str(path), f"a {type(key).__name__}", "an Ed25519 public key"))
    return PublicKey(key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw))


def _parse_vkey(text: str, *, where: str) -> PublicKey:
    parts = text.split("+", 2)
    try:
        if len(parts) != 3:
            raise ValueError("not three '+'-separated parts")
        blob = base64.b64decode(parts[2], validate=True)
        if blob[:1] != _ED25519_TYPE:
            raise ValueError("not an Ed25519 (type 0x01) key")
        key = PublicKey(blob[1:])
        if key.note_key_hash(parts[0]).hex() != parts[1].lower():
            raise ValueError("its key hash does not match the key")
    except (ValueError, binascii.Error, InputError) as exc:
        raise DataFormatError(
            Problem(where, f"not a verifier key ({exc})", "PEM, or name+hash+base64 as signed-note tools print")
        ) from exc
    return key


def checkpoint_body(origin: str, size: int, root: bytes) -> bytes:
    """The signed bytes of a checkpoint: ``origin\\nsize\\nbase64(root)\\n`` (C2SP tlog-checkpoint)."""
    return f"{origin}\n{size}\n{base64.b64encode(root).decode()}\n".encode()


def signed_note(body: bytes, name: str, public_key: PublicKey, signature: bytes) -> str:
    """A C2SP signed note: ``body``, a blank line, and the signature line of ``name``."""
    blob = base64.b64encode(public_key.note_key_hash(name) + signature).decode()
    return f"{body.decode()}\n{_EM_DASH} {name} {blob}\n"


def parse_note(text: str, *, where: str = "checkpoint") -> tuple[bytes, list[tuple[str, bytes, bytes]]]:
    """Split a signed note into its body and its (name, key hash, signature) lines; malformed notes raise."""
    body, sep, sigs = text.rpartition("\n\n")
    if not sep or not body:
        raise DataFormatError(Problem(where, "no blank line before the signatures", "a signed note (C2SP)"))
    lines = [line for line in sigs.split("\n") if line]
    found: list[tuple[str, bytes, bytes]] = []
    for line in lines:
        parts = line.split(" ")
        if len(parts) != 3 or parts[0] != _EM_DASH:
            raise DataFormatError(Problem(where, f"signature line {line[:60]!r}", "'— <name> <base64>'"))
        try:
            blob = base64.b64decode(parts[2], validate=True)
        except binascii.Error as exc:
            raise DataFormatError(Problem(where, f"signature of {parts[1]!r} is not base64")) from exc
        if len(blob) < 5:
            raise DataFormatError(Problem(where, f"signature of {parts[1]!r} is {len(blob)} bytes", "4 + 64 bytes"))
        found.append((parts[1], blob[:4], blob[4:]))
    if not found:
        raise DataFormatError(Problem(where, "no signature lines", "at least one '— <name> <base64>' line"))
    return (body + "\n").encode(), found


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A signed tree head: the ledger ``origin`` had ``size`` entries with Merkle ``root``."""

    origin: str
    size: int
    root: bytes
    key_id: str
    signature: bytes
    time: str = ""

    def __repr__(self) -> str:
        return (
            f"Checkpoint(origin={self.origin!r}, size={self.size}, root={self.root.hex()[:16]}…, "
            f"key={self.key_id[:16]}…, time={self.time!r})"
        )

    def body(self) -> bytes:
        """The signed bytes (see the module docstring)."""
        return checkpoint_body(self.origin, self.size, self.root)

    def verify(self, public_key: PublicKey) -> bool:
        """Whether ``public_key`` is the key named by ``key_id`` and signed this head."""
        return public_key.key_id == self.key_id and public_key.verify(self.body(), self.signature)

    def to_note(self, public_key: PublicKey) -> str:
        """This checkpoint as a C2SP signed note (the key is needed for the note's 4-byte key hash)."""
        return signed_note(self.body(), self.origin, public_key, self.signature)

    @classmethod
    def from_note(cls, text: str, public_key: PublicKey, *, where: str = "checkpoint") -> Checkpoint:
        """Parse a signed-note checkpoint and check its signature by ``public_key``; raises if it does not hold."""
        body, sigs = parse_note(text, where=where)
        lines = body.decode("utf-8", errors="replace").split("\n")
        if len(lines) < 4:
            raise DataFormatError(Problem(where, "fewer than three body lines", "origin, size, base64 root"))
        origin, size_text, root_text = lines[0], lines[1], lines[2]
        try:
            size = int(size_text)
            root = base64.b64decode(root_text, validate=True)
        except (ValueError, binascii.Error) as exc:
            raise DataFormatError(
                Problem(where, f"size {size_text!r} / root {root_text!r}", "decimal, base64")
            ) from exc
        if size < 0 or len(root) != 32 or size_text != str(size):
            raise DataFormatError(Problem(where, f"size {size_text!r}, root of {len(root)} bytes", "n >= 0, 32 bytes"))
        want = public_key.note_key_hash(origin)
        mine = [sig for name, khash, sig in sigs if name == origin and khash == want]
        if not mine:
            raise InputError(
                Problem(
                    where,
                    f"no signature by the workspace key (key id {public_key.key_id[:16]}…) for {origin!r}",
                    fix="Check that the checkpoint comes from this workspace",
                )
            )
        head = cls(origin=origin, size=size, root=root, key_id=public_key.key_id, signature=mine[0])
        if len(mine[0]) != 64 or not public_key.verify(body, mine[0]):
            raise InputError(Problem(where, "the signature does not match the checkpoint", "a valid Ed25519 signature"))
        return head

    def to_dict(self) -> dict[str, str | int]:
        return {
            "origin": self.origin,
            "size": self.size,
            "root": self.root.hex(),
            "key_id": self.key_id,
            "signature": base64.b64encode(self.signature).decode(),
            "time": self.time,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, where: str = "checkpoint") -> Checkpoint:
        """Inverse of :meth:`to_dict`; a missing or malformed field raises naming it."""
        try:
            return cls(
                origin=str(data["origin"]),
                size=int(data["size"]),
                root=bytes.fromhex(str(data["root"])),
                key_id=str(data["key_id"]),
                signature=base64.b64decode(str(data["signature"]), validate=True),
                time=str(data.get("time", "")),
            )
        except KeyError as exc:
            raise DataFormatError(
                Problem(where, f"no field {exc.args[0]!r}", "origin, size, root, key_id, signature")
            ) from exc
        except (ValueError, binascii.Error, TypeError) as exc:
            raise DataFormatError(Problem(where, f"a malformed field ({exc})")) from exc
