"""What a signal channel holds, from its name and unit: ECG lead, EEG electrode, or something else.

Readers use it to set a dataset's ``kind`` (``"ecg"``, ``"eeg"``); signal quality checks use it
to pick the channels a check applies to and to bring amplitudes to one unit (mV for ECG, µV for
EEG). Names are matched after normalising case, padding dots and reference suffixes, so
``"Fc5."``, ``"EEG Fpz-Cz"``, ``"MLII"`` and ``"aVR"`` are all recognised.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

__all__ = ["channel_kind", "dominant_kind", "unit_scale"]

_ECG_NAMES = frozenset(
    {
        "I",
        "II",
        "III",
        "AVR",
        "AVL",
        "AVF",
        "V",
        "V1",
        "V2",
        "V3",
        "V4",
        "V5",
        "V6",
        "V7",
        "V8",
        "V9",
        "V3R",
        "V4R",
        "V5R",
        "MLI",
        "MLII",
        "MLIII",
        "ML",
        "MCL",
        "MCL1",
        "MCL2",
        "MCL3",
        "MCL4",
        "MCL5",
        "MCL6",
        "CM5",
        "CC5",
        "CM2",
        "DI",
        "DII",
        "DIII",
        "X",
        "Y",
        "Z",
        "VX",
        "VY",
        "VZ",
        "LEADI",
        "LEADII",
        "LEADIII",
        "ECG",
        "EKG",
    }
)
_ECG_WORDS = re.compile(r"ECG|EKG")
_OTHER_WORDS = re.compile(r"EOG|EMG|RESP|PLETH|ABP|ART|CVP|PAP|SPO2|SAO2|PULSE|TEMP|ICP|CO2|FLOW|EVENT|STATUS|TRIG")
# 10-20 / 10-10 / 10-5 electrode names: prefix + (z | number), plus the usual references.
_EEG_ELECTRODE = re.compile(r"^(FP|AF|F|FC|FT|C|CP|T|TP|P|PO|O|I|N|NZ|A|M|FFC|FCC|CCP|CPP|PPO|POO|OI)(Z|\d{1,2}H?)$")
_EEG_SPECIAL = frozenset({"FPZ", "NZ", "IZ", "A1", "A2", "M1", "M2", "LPA", "RPA", "T3", "T4", "T5", "T6"})

#: Factors from a unit to millivolts; unknown or non-voltage units map to ``None``.
_TO_MV: dict[str, float] = {"v": 1e3, "mv": 1.0, "uv": 1e-3, "µv": 1e-3, "μv": 1e-3, "nv": 1e-6}


def _normalise(name: str) -> str:
    return re.sub(r"[\s._]+", "", name).upper()


def channel_kind(name: str, unit: str = "") -> str:
    """``"ecg"``, ``"eeg"`` or ``"other"`` for one channel, from its label and physical unit.

    Examples
    --------
    >>> channel_kind("MLII", "mV"), channel_kind("Fc5.", "uV"), channel_kind("PLETH", "NU")
    ('ecg', 'eeg', 'other')
    >>> channel_kind("EEG Fpz-Cz", "uV"), channel_kind("ECG lead II")
    ('eeg', 'ecg')
    """
    norm = _normalise(name)
    if _ECG_WORDS.search(norm):
        return "ecg"
    if norm.startswith("EEG"):
        return "eeg"
    if _OTHER_WORDS.search(norm):
        return "other"
    if norm in _ECG_NAMES:
        return "ecg"
    electrodes = [e for e in re.split(r"[-–/]", norm.removeprefix("EEG")) if e and e not in {"REF", "AVG", "LE", "AR"}]
    if electrodes and all(e in _EEG_SPECIAL or _EEG_ELECTRODE.match(e) for e in electrodes):
        return "eeg"
    return "other"


def dominant_kind(names: Sequence[str], units: Sequence[str] = ()) -> str:
    """The dataset kind for a set of channels: ``"ecg"`` or ``"eeg"`` when those are the majority of
    the ECG/EEG channels present, else ``"signal"``.

    Examples
    --------
    >>> dominant_kind(["II", "V", "PLETH", "RESP"]), dominant_kind(["Fp1", "Fp2", "ECG"])
    ('ecg', 'eeg')
    """
    padded = list(units) + [""] * (len(names) - len(units))
    kinds = [channel_kind(n, u) for n, u in zip(names, padded, strict=True)]
    ecg, eeg = kinds.count("ecg"), kinds.count("eeg")
    if ecg == 0 and eeg == 0:
        return "signal"
    return "ecg" if ecg >= eeg else "eeg"


def unit_scale(unit: str, target: str) -> float | None:
    """Factor that converts values in ``unit`` to ``target`` (``"mV"`` or ``"uV"``), or ``None``.

    Examples
    --------
    >>> unit_scale("uV", "mV"), unit_scale("mv", "uV"), unit_scale("NU", "mV")
    (0.001, 1000.0, None)
    """
    src = _TO_MV.get(unit.strip().lower())
    dst = _TO_MV.get(target.strip().lower())
    if src is None or dst is None:
        return None
    return src / dst
