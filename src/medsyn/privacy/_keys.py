"""Managed secret keys: the one secret behind pseudonyms, date shifts and scrubbing tokens.

Keyed pseudonyms are only as private as their key: whoever holds it can recompute the token of
any guessed identifier. So the key is generated from the operating system's CSPRNG
(:mod:`secrets`), written to a file readable by its owner only (mode 0600), loaded with checks
that name the file when it is empty, short, garbled or readable by others, and never printed:
its ``repr`` and every report show a fingerprint instead. Sites that must link their tables
share the key file (or the ``MEDSYN_PSEUDONYM_KEY`` environment variable) and get the same
pseudonyms; everyone else gets unlinkable ones.

The file holds one line, ``medsyn-key:v1:<base64url>``; plain hex or base64 of at least 32
bytes (``openssl rand -hex 32``) is accepted too, so a key made by other tools can be used.
Each use derives its own sub-key (``derive("pseudonym:…")``, ``derive("dateshift:…")``), so a
token never doubles as a date offset.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
import secrets
import stat
from dataclasses import dataclass, field
from pathlib import Path

from medsyn._atomic import atomic_path
from medsyn.errors import InputError, Problem

__all__ = ["KEY_ENV_VAR", "SecretKey", "load_key"]

#: Environment variable that may hold a key (same text as a key file).
KEY_ENV_VAR = "MEDSYN_PSEUDONYM_KEY"

_PREFIX = "medsyn-key:v1:"
_KEY_BYTES = 32
_MIN_BYTES = 32  # HMAC-SHA-256 keys shorter than the hash output weaken it (RFC 2104 §3)
_HEX = re.compile(r"[0-9a-fA-F]+")
_B64 = re.compile(r"[A-Za-z0-9+/_-]+={0,2}")


@dataclass(frozen=True, slots=True)
class SecretKey:
    """A secret of at least 32 random bytes, with where it came from; ``repr`` never shows it.

    Examples
    --------
    >>> key = SecretKey.generate()
    >>> len(key.fingerprint), "material" in repr(key)
    (16, False)
    >>> key.derive("pseudonym:default") == key.derive("pseudonym:default")
    True
    """

    material: bytes = field(repr=False)
    source: str = "<memory>"

    def __post_init__(self) -> None:
        if not isinstance(self.material, bytes) or len(self.material) < _MIN_BYTES:
            size = len(self.material) if isinstance(self.material, bytes) else type(self.material).__name__
            raise InputError(
                Problem(self.source, f"a key of {size} bytes", f"at least {_MIN_BYTES} random bytes (256 bits)")
            )

    @classmethod
    def generate(cls) -> SecretKey:
        """A fresh key from the operating system's cryptographic random source."""
        return cls(secrets.token_bytes(_KEY_BYTES), "<generated>")

    @classmethod
    def from_text(cls, text: str, *, source: str = "<text>") -> SecretKey:
        """Parse the key-file text (``medsyn-key:v1:…``, hex or base64); errors name ``source``."""
        return cls(_decode(text, source), source)

    @classmethod
    def from_env(cls, variable: str = KEY_ENV_VAR) -> SecretKey:
        """Read the key from an environment variable holding key-file text."""
        text = os.environ.get(variable)
        if text is None:
            raise InputError(
                Problem(f"environment variable {variable}", "not set", "a key (the text of a medsyn key file)")
            )
        return cls.from_text(text, source=f"environment variable {variable}")

    @property
    def fingerprint(self) -> str:
        """16 hex digits that identify the key in reports without revealing it."""
        return hmac.new(self.material, b"medsyn key fingerprint", hashlib.sha256).hexdigest()[:16]

    def derive(self, purpose: str) -> bytes:
        """A 32-byte sub-key for one purpose (domain separation: HMAC(key, purpose))."""
        return hmac.new(self.material, b"medsyn/" + purpose.encode("utf-8"), hashlib.sha256).digest()

    def to_text(self) -> str:
        """The key-file line; treat it like the key itself."""
        return _PREFIX + base64.urlsafe_b64encode(self.material).decode("ascii").rstrip("=") + "\n"

    def save(self, path: str | Path, *, overwrite: bool = False) -> Path:
        """Write the key file atomically with mode 0600; an existing file is kept unless ``overwrite``."""
        path = Path(path)
        if path.exists() and not overwrite:
            raise InputError(
                Problem(str(path), "a key file already exists", "a new path", "Load it with load_key() instead.")
            )
        with atomic_path(path) as tmp:
            tmp.chmod(0o600)  # before the secret is written, so it is never readable by others
            tmp.write_text(self.to_text(), encoding="ascii")
        path.chmod(0o600)
        return path

    def __repr__(self) -> str:
        return f"SecretKey(fingerprint={self.fingerprint!r}, source={self.source!r})"


def load_key(path: str | Path, *, check_permissions: bool = True) -> SecretKey:
    """Load a key file, with an error naming the file when it cannot be used.

    Parameters
    ----------
    path
        A file written by :meth:`SecretKey.save` (or holding hex/base64 of >= 32 bytes).
    check_permissions
        On POSIX systems, refuse a file that group or others may read or write (like ``ssh``),
        with the ``chmod 600`` that fixes it.

    Raises
    ------
    InputError
        The file is missing, empty, too short, not a key, or too widely readable.
    """
    path = Path(path)
    problems: list[Problem] = []
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise InputError(
            Problem(str(path), "no such key file", "an existing key file", "Create one with --new-key.")
        ) from None
    except IsADirectoryError:
        raise InputError(Problem(str(path), "a folder", "a key file")) from None
    if check_permissions and os.name == "posix" and stat.S_IMODE(path.stat().st_mode) & 0o077:
        mode = oct(stat.S_IMODE(path.stat().st_mode))
        problems.append(
            Problem(str(path), f"key file mode {mode} lets others read it", "mode 0600", f"Run: chmod 600 {path}")
        )
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError:
        problems.append(Problem(str(path), "binary content", "one line of key text (medsyn-key:v1:…)"))
        raise InputError(problems) from None
    try:
        material = _decode(text, str(path))
    except InputError as exc:
        problems.extend(exc.problems)
    if problems:
        raise InputError(problems)
    return SecretKey(material, str(path))


def _decode(text: str, source: str) -> bytes:
    stripped = text.strip()
    if not stripped:
        raise InputError(
            Problem(source, "an empty key", "a key written by --new-key (medsyn-key:v1:…)", "Recreate the key file.")
        )
    body = stripped.removeprefix(_PREFIX)
    material: bytes | None = None
    if _HEX.fullmatch(body) and len(body) % 2 == 0:
        material = bytes.fromhex(body)
    elif _B64.fullmatch(body):
        try:
            material = base64.urlsafe_b64decode(body.replace("+", "-").replace("/", "_") + "=" * (-len(body) % 4))
        except (binascii.Error, ValueError):
            material = None
    if material is None:
        raise InputError(Problem(source, "text that is not a key", "medsyn-key:v1:<base64url>, or hex or base64"))
    if len(material) < _MIN_BYTES:
        raise InputError(
            Problem(
                source,
                f"a key of {len(material)} bytes",
                f"at least {_MIN_BYTES} random bytes",
                "Create a new key with --new-key.",
            )
        )
    return material
