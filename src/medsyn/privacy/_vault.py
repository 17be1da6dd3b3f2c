"""The re-identification vault: pseudonym → original, encrypted, opened only with its own secret.

Some studies must be able to go back from a pseudonym to the patient (a finding that needs
clinical follow-up, a withdrawal of consent). Keeping that map in a plain file would undo the
pseudonymisation, so the vault encrypts it with AES-256-GCM (authenticated: any change to the
file is detected) under a key derived from a passphrase with scrypt (memory-hard, so guessing
passphrases is slow) or from a separate vault key file. The vault's secret is distinct from the
pseudonym key on purpose: sites that share the pseudonym key to link records cannot read it.

Every look-up needs a stated ``purpose``; the look-up's result carries it, and the vault keeps an
encrypted access log (when, what purpose, how many pseudonyms) saved with it. Opening with the
wrong secret raises :class:`~medsyn.errors.PolicyDenied`; a modified file raises
:class:`~medsyn.errors.DataFormatError`. Files are written atomically.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType

from medsyn._atomic import atomic_path
from medsyn._deps import require
from medsyn.errors import DataFormatError, InputError, PolicyDenied, Problem
from medsyn.privacy._keys import SecretKey
from medsyn.privacy._pseudonym import Pseudonyms

__all__ = ["Reidentification", "ReidentificationVault", "VaultAccess"]

_FORMAT = "medsyn-reidentification-vault"
_VERSION = 1
_SCRYPT = {"n": 2**15, "r": 8, "p": 1}  # 32 MiB and ~0.1 s per open: slow for guessers, fine for people
_MIN_PASSPHRASE = 8


def _crypto(what: str) -> ModuleType:
    return require(what, "privacy", "the re-identification vault")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: object, where: str) -> bytes:
    try:
        return base64.b64decode(str(text), validate=True)
    except (binascii.Error, ValueError):
        raise DataFormatError(Problem(where, "a field that is not base64", "an unmodified vault file")) from None


@dataclass(frozen=True, slots=True)
class VaultAccess:
    """One entry of the vault's access log."""

    at: str
    purpose: str
    requested: int
    found: int

    def to_dict(self) -> dict[str, object]:
        return {"at": self.at, "purpose": self.purpose, "requested": self.requested, "found": self.found}


@dataclass(frozen=True, slots=True)
class Reidentification:
    """The originals behind some pseudonyms (``None`` where the vault has none), and why they were asked for."""

    purpose: str
    at: str
    namespace: str
    pseudonyms: tuple[str, ...]
    originals: tuple[str | None, ...]

    @property
    def found(self) -> int:
        return sum(o is not None for o in self.originals)

    def as_mapping(self) -> dict[str, str | None]:
        return dict(zip(self.pseudonyms, self.originals, strict=True))

    def to_dict(self) -> dict[str, object]:
        return {
            "purpose": self.purpose,
            "at": self.at,
            "namespace": self.namespace,
            "found": self.found,
            "pairs": [{"pseudonym": p, "original": o} for p, o in zip(self.pseudonyms, self.originals, strict=True)],
        }


class ReidentificationVault:
    """An encrypted pseudonym → original map, stored in one file.

    Use :meth:`create` for a new vault and :meth:`open` for an existing one; give exactly one
    of ``passphrase`` (8+ characters) or ``key`` (a :class:`~medsyn.privacy.SecretKey`, e.g. a
    separate vault key file).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "ids.vault"
    >>> vault = ReidentificationVault.create(path, passphrase="correct horse battery")
    >>> _ = vault.add_pairs("default", ["P-1f"], ["MRN-001"])
    >>> _ = vault.save()
    >>> again = ReidentificationVault.open(path, passphrase="correct horse battery")
    >>> again.reidentify(["P-1f"], purpose="clinical follow-up").originals
    ('MRN-001',)
    """

    def __init__(self, path: Path, kdf: dict[str, object], master: bytes) -> None:
        # private: use create() or open(), which validate the secret
        self.path = path
        self._kdf = kdf
        self._master = master
        self._entries: dict[str, dict[str, str]] = {}
        self._log: list[VaultAccess] = []
        self.created = datetime.now(UTC).isoformat(timespec="seconds")

    def __repr__(self) -> str:
        return f"ReidentificationVault({str(self.path)!r}, {len(self)} entries, {len(self._log)} accesses logged)"

    def __len__(self) -> int:
        return sum(len(m) for m in self._entries.values())

    # -- opening ----------------------------------------------------------------------------
    @classmethod
    def create(
        cls, path: str | Path, *, passphrase: str | None = None, key: SecretKey | None = None
    ) -> ReidentificationVault:
        """A new, empty vault for ``path`` (written by :meth:`save`); an existing file is refused."""
        path = Path(path)
        if path.exists():
            raise InputError(
                Problem(
                    str(path), "a vault file already exists", "a new path", "Open it with ReidentificationVault.open."
                )
            )
        _check_secret(passphrase, key)
        if key is not None:
            kdf: dict[str, object] = {"name": "key", "key_fingerprint": key.fingerprint}
        else:
            kdf = {"name": "scrypt", "salt": _b64(os.urandom(16)), **_SCRYPT}
        return cls(path, kdf, _master(kdf, passphrase, key, str(path)))

    @classmethod
    def open(
        cls, path: str | Path, *, passphrase: str | None = None, key: SecretKey | None = None
    ) -> ReidentificationVault:
        """Open and decrypt an existing vault.

        Raises
        ------
        PolicyDenied
            The passphrase or key is not this vault's.
        DataFormatError
            The file is not a vault, or it was modified (authentication failed).
        """
        path = Path(path)
        _check_secret(passphrase, key)
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise InputError(Problem(str(path), "no such vault file", "an existing vault")) from None
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise DataFormatError(Problem(str(path), "not a vault (not JSON)", f"a {_FORMAT} file")) from None
        if not isinstance(doc, dict) or doc.get("format") != _FORMAT or doc.get("version") != _VERSION:
            raise DataFormatError(Problem(str(path), "not a vault of a known version", f"{_FORMAT} v{_VERSION}"))
        missing = sorted({"kdf", "check", "nonce", "ciphertext"} - set(doc))
        if missing or not isinstance(doc["kdf"], dict):
            raise DataFormatError(Problem(str(path), f"missing fields {missing or ['kdf']}", "an unmodified vault"))
        kdf = doc["kdf"]
        if kdf.get("name") not in ("scrypt", "key"):
            raise DataFormatError(Problem(str(path), f"key derivation {kdf.get('name')!r}", "'scrypt' or 'key'"))
        if (kdf["name"] == "key") != (key is not None):
            wanted = "its vault key" if kdf["name"] == "key" else "its passphrase"
            raise PolicyDenied(f"{path}: this vault opens with {wanted}")
        master = _master(kdf, passphrase, key, str(path))
        if not hmac.compare_digest(_check_value(master), _unb64(doc["check"], str(path))):
            raise PolicyDenied(f"{path}: wrong passphrase or key for this vault; access refused")
        aesgcm = _crypto("cryptography.hazmat.primitives.ciphers.aead").AESGCM(_enc_key(master))
        exceptions = _crypto("cryptography.exceptions")
        nonce, sealed = _unb64(doc["nonce"], str(path)), _unb64(doc["ciphertext"], str(path))
        try:
            plain = aesgcm.decrypt(nonce, sealed, _aad(doc))
            payload = json.loads(zlib.decompress(plain))
        except (exceptions.InvalidTag, ValueError, zlib.error):
            raise DataFormatError(
                Problem(str(path), "contents fail authentication (the file was modified)", "an unmodified vault")
            ) from None
        vault = cls(path, kdf, master)
        vault._entries = {str(ns): {str(k): str(v) for k, v in m.items()} for ns, m in payload["entries"].items()}
        vault._log = [VaultAccess(**entry) for entry in payload["log"]]
        vault.created = str(payload.get("created", vault.created))
        return vault

    # -- content ----------------------------------------------------------------------------
    def add(self, pseudonyms: Pseudonyms) -> int:
        """Store the distinct (pseudonym, original) pairs of a pseudonymised column; returns how many were new."""
        return self.add_pairs(pseudonyms.namespace, pseudonyms.unique, pseudonyms.originals)

    def add_pairs(self, namespace: str, pseudonyms: Sequence[str], originals: Sequence[str]) -> int:
        """Store pairs under ``namespace``; a pseudonym already mapped to another original is refused."""
        if len(pseudonyms) != len(originals):
            raise InputError(
                Problem("pairs", f"{len(pseudonyms)} pseudonyms for {len(originals)} originals", "equal lengths")
            )
        table = self._entries.setdefault(namespace, {})
        clashes = [p for p, o in zip(pseudonyms, originals, strict=True) if table.get(p, o) != o]
        if clashes:
            raise InputError(
                Problem(
                    f"vault {self.path}, namespace '{namespace}'",
                    f"{len(clashes)} pseudonym(s) already mapped to another original",
                    "the key and length this vault was filled with",
                )
            )
        before = len(table)
        table.update(zip(pseudonyms, originals, strict=True))
        return len(table) - before

    @property
    def namespaces(self) -> list[str]:
        return sorted(self._entries)

    @property
    def access_log(self) -> tuple[VaultAccess, ...]:
        return tuple(self._log)

    def reidentify(
        self, pseudonyms: Sequence[str], *, purpose: str, namespace: str = "default", record: bool = True
    ) -> Reidentification:
        """Look pseudonyms up; the ``purpose`` is required, returned, and written to the access log.

        With ``record`` (the default) the vault file is saved at once, so the log entry is kept
        even if the caller stops right after the look-up.
        """
        if not isinstance(purpose, str) or len(purpose.strip()) < 3:
            raise InputError(Problem("purpose", repr(purpose), "why re-identification is needed (3+ characters)"))
        if namespace not in self._entries:
            raise InputError(Problem("namespace", repr(namespace), f"one of {self.namespaces}"))
        table = self._entries[namespace]
        tokens = tuple(str(p) for p in pseudonyms)
        originals = tuple(table.get(p) for p in tokens)
        result = Reidentification(
            purpose.strip(), datetime.now(UTC).isoformat(timespec="seconds"), namespace, tokens, originals
        )
        self._log.append(VaultAccess(result.at, result.purpose, len(tokens), result.found))
        if record:
            self.save()
        return result

    # -- writing ----------------------------------------------------------------------------
    def to_bytes(self) -> bytes:
        """The encrypted file content (a fresh nonce each time)."""
        header: dict[str, object] = {
            "format": _FORMAT,
            "version": _VERSION,
            "kdf": self._kdf,
            "check": _b64(_check_value(self._master)),
        }
        payload = {
            "created": self.created,
            "entries": self._entries,
            "log": [a.to_dict() for a in self._log],
        }
        plain = zlib.compress(json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))
        nonce = os.urandom(12)
        aesgcm = _crypto("cryptography.hazmat.primitives.ciphers.aead").AESGCM(_enc_key(self._master))
        sealed = aesgcm.encrypt(nonce, plain, _aad(header))
        doc = {**header, "nonce": _b64(nonce), "ciphertext": _b64(sealed)}
        return (json.dumps(doc, indent=1) + "\n").encode("ascii")

    def save(self, path: str | Path | None = None) -> Path:
        """Write the vault atomically (mode 0600) to ``path`` or where it was created/opened."""
        target = Path(path) if path is not None else self.path
        data = self.to_bytes()
        with atomic_path(target) as tmp:
            tmp.chmod(0o600)
            tmp.write_bytes(data)
        return target


def _check_secret(passphrase: str | None, key: SecretKey | None) -> None:
    if (passphrase is None) == (key is None):
        raise InputError(Problem("vault secret", "both or neither of passphrase and key", "exactly one of them"))
    if passphrase is not None and (not isinstance(passphrase, str) or len(passphrase) < _MIN_PASSPHRASE):
        raise InputError(Problem("passphrase", "too short", f"at least {_MIN_PASSPHRASE} characters"))
    if key is not None and not isinstance(key, SecretKey):
        raise InputError(Problem("key", f"a {type(key).__name__}", "a SecretKey"))


def _master(kdf: dict[str, object], passphrase: str | None, key: SecretKey | None, where: str) -> bytes:
    if key is not None:
        return key.derive("vault")
    assert passphrase is not None  # _check_secret ran
    scrypt_mod = _crypto("cryptography.hazmat.primitives.kdf.scrypt")
    try:
        n, r, p = int(kdf["n"]), int(kdf["r"]), int(kdf["p"])  # type: ignore[call-overload]
    except (KeyError, TypeError, ValueError):
        raise DataFormatError(Problem(where, "scrypt parameters missing", "an unmodified vault")) from None
    if not (2**14 <= n <= 2**20 and 1 <= r <= 32 and 1 <= p <= 16):
        raise DataFormatError(Problem(where, f"scrypt parameters n={n}, r={r}, p={p}", "the values medsyn writes"))
    salt = _unb64(kdf.get("salt", ""), where)
    derived: bytes = scrypt_mod.Scrypt(salt=salt, length=32, n=n, r=r, p=p).derive(passphrase.encode("utf-8"))
    return derived


def _enc_key(master: bytes) -> bytes:
    return hmac.new(master, b"medsyn vault encryption", hashlib.sha256).digest()


def _check_value(master: bytes) -> bytes:
    return hmac.new(master, b"medsyn vault check", hashlib.sha256).digest()[:16]


def _aad(doc: dict[str, object]) -> bytes:
    """The header is authenticated with the contents, so changing its parameters is detected too."""
    header = {k: doc[k] for k in ("format", "version", "kdf", "check")}
    return json.dumps(header, sort_keys=True, separators=(",", ":")).encode("utf-8")
