"""Keyed replacements shared by the DICOM, EDF and WFDB de-identifiers: UIDs, ids and date offsets.

Everything is derived from one :class:`~medsyn.privacy.SecretKey` by HMAC-SHA-256, so two runs
with the same key agree (the same study UID, patient pseudonym and date offset come out) and
nobody without the key can recompute or reverse them. Patient pseudonyms and date offsets reuse
the privacy engine's :class:`~medsyn.privacy._pseudonym.Pseudonymizer` and
:class:`~medsyn.privacy._dateshift.DateShifter`, so a patient's tabular and DICOM/EDF/WFDB data
get the same pseudonym and the same shift under the same key.

New UIDs follow PS3.5 B.2: ``2.25.`` and the decimal of a 128-bit number, here the first 16
bytes of HMAC(key, original UID). The same original UID maps to the same new UID in every file,
so references between instances (Referenced SOP Instance UID in an RT plan, a SEG's source
images) keep pointing at the right, renamed, instance.
"""

from __future__ import annotations

import hashlib
import hmac

from medsyn.privacy._dateshift import DateShifter
from medsyn.privacy._keys import SecretKey
from medsyn.privacy._pseudonym import Pseudonymizer

__all__ = ["DEFAULT_MAX_SHIFT_DAYS", "Keyring", "UidMap"]

#: Largest date shift in days (+/-), as in the tabular date shifter's default.
DEFAULT_MAX_SHIFT_DAYS = 365


class UidMap:
    """Replace UIDs by ``2.25.<int>`` UIDs derived from a key; the same input gives the same output.

    Examples
    --------
    >>> uids = UidMap(SecretKey(b"k" * 32))
    >>> new = uids("1.2.840.113619.2.1.1")
    >>> new.startswith("2.25."), new == uids("1.2.840.113619.2.1.1"), len(uids)
    (True, True, 1)
    """

    def __init__(self, key: SecretKey, *, namespace: str = "dicom") -> None:
        self._base = hmac.new(key.derive(f"dicom-uid:{namespace}"), digestmod=hashlib.sha256)
        self._seen: dict[str, str] = {}

    def __call__(self, uid: str) -> str:
        uid = uid.strip().rstrip("\x00")
        new = self._seen.get(uid)
        if new is None:
            h = self._base.copy()
            h.update(uid.encode("ascii", "replace"))
            new = "2.25." + str(int.from_bytes(h.digest()[:16], "big"))
            self._seen[uid] = new
        return new

    def __len__(self) -> int:
        """Distinct UIDs replaced so far (the pairs themselves are secret and stay inside)."""
        return len(self._seen)

    def __contains__(self, uid: object) -> bool:
        return isinstance(uid, str) and uid in self._seen


class Keyring:
    """The keyed helpers one run uses: UID map, patient pseudonyms and per-patient date offsets."""

    def __init__(self, key: SecretKey, *, max_shift_days: int = DEFAULT_MAX_SHIFT_DAYS) -> None:
        self.key = key
        self.uids = UidMap(key)
        self._pseudonyms = Pseudonymizer(key, prefix="P-")
        self._shifter = DateShifter(key, max_days=max_shift_days)
        self._offsets: dict[str, int] = {}

    @property
    def fingerprint(self) -> str:
        return self.key.fingerprint

    def pseudonym(self, value: str) -> str:
        """A stable pseudonym such as ``P-3f9a0c…`` (18 characters) for an identifier."""
        return self._pseudonyms.token(value)

    def date_offset(self, patient: str) -> int:
        """Days to add to every date of this patient (never 0), the same in every file and run."""
        offset = self._offsets.get(patient)
        if offset is None:
            offset = int(self._shifter.offsets([patient]).iloc[0])
            self._offsets[patient] = offset
        return offset
