"""Free-text scrubbing: inserted identifiers always go, clinical text without identifiers stays."""

from __future__ import annotations

import itertools
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from medsyn.errors import InputError
from medsyn.privacy import RECOGNIZERS, Scrubber, SecretKey, load_names

KEY = SecretKey(bytes(range(32)))

# 3,000 made-up surnames (every pair of syllables, some with a first name) plus a few real ones
_SYLLABLES = [
    "ka", "lo", "mir", "den", "sto", "vak", "bre", "ton", "quil", "zan", "fer", "gus", "hal", "jor", "nev",
    "pra", "ris", "tul", "wex", "yor", "bal", "cor", "dun", "eth", "fin", "gar", "hob", "ing", "jas", "kel",
    "lun", "mor", "nad", "osk", "pel", "rud", "sev", "tam", "ulm", "vor", "wil", "xan", "yel", "zor", "ab",
    "ec", "id", "og", "ux", "ram", "sel", "tor", "vin", "wod",
]  # fmt: skip
SURNAMES = sorted({(a + b).capitalize() for a, b in itertools.permutations(_SYLLABLES, 2)})[:2900]
NAMES = [*SURNAMES, "Jane Doe", "Okonkwo", "María José García", "O'Brien", *[f"Ana {s}" for s in SURNAMES[:100]]]

CLINICAL_WORDS = [
    "patient", "presents", "with", "chest", "pain", "radiating", "to", "left", "arm", "BP", "120/80", "HR",
    "bpm", "no", "fever", "denies", "dyspnoea", "ECG", "shows", "sinus", "rhythm", "T2DM", "HbA1c", "7.2%",
    "follow-up", "in", "weeks", "may", "march", "discharged", "stable", "troponin", "<0.01", "eGFR", "mL/min",
    "on", "metformin", "and", "ramipril", "plan:", "repeat", "bloods", "CT", "head", "normal", "(see", "notes)",
    "Dr", "review", "ward", "round", ";", "-", "x-ray", "1/2", "ICU", "day", "3", "of", "admission", "Mr",
]  # fmt: skip
UNITS = ["mg", "mL", "mmol/L", "g/dL", "bpm", "mmHg", "units", "days", "kg", "cm", "%"]

word = st.sampled_from(CLINICAL_WORDS)
measurement = st.builds(
    lambda n, d, u: f"{n}{d} {u}",
    st.integers(0, 9999),
    st.sampled_from(["", ".5", ".25", ".0"]),
    st.sampled_from(UNITS),
)
clinical_text = st.lists(st.one_of(word, measurement), min_size=1, max_size=40).map(" ".join)


def _num(width: int) -> st.SearchStrategy[str]:
    """``width`` ASCII digits."""
    return st.integers(0, 10**width - 1).map(lambda v: f"{v:0{width}d}")


phone = st.one_of(
    st.builds(lambda a, b: f"+44 20 {a} {b}", _num(4), _num(4)),
    st.builds(lambda a, b: f"+44 (0)20 {a} {b}", _num(4), _num(4)),
    st.builds(lambda a, b, c: f"({a}) {b}-{c}", _num(3), _num(3), _num(4)),
    st.builds(lambda a, b, c: f"{a}-{b}-{c}", _num(3), _num(3), _num(4)),
    st.builds(lambda a, b, c: f"{a}.{b}.{c}", _num(3), _num(3), _num(4)),
    st.builds(lambda a, b: f"07{a} {b}", _num(3), _num(6)),
    st.builds(lambda a, b: f"+33 {a} {b[:2]} {b[2:4]} {b[4:6]} {b[6:]}", _num(1), _num(8)),
    st.builds(lambda a: f"+1{a}", _num(10)),
)
_word = st.text("abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=8)
email = st.builds(
    lambda a, b, host, tld: f"{a[0] if a[0].isalpha() else 'x'}{a}{'.' + b if b else ''}@{host}.{tld}",
    _word,
    st.one_of(st.just(""), _word),
    st.text("abcdefghijklmnopqrstuvwxyz", min_size=2, max_size=10),
    st.sampled_from(["org", "com", "nhs.uk", "fr"]),
)
_months = ["January", "Feb", "March", "Apr", "May", "June", "Jul", "August", "Sept", "Oct", "November", "DEC"]
_ymd = (st.integers(1900, 2030), st.integers(1, 12), st.integers(1, 28))
date = st.one_of(
    st.builds(lambda y, m, d: f"{y}-{m:02d}-{d:02d}", *_ymd),
    st.builds(lambda y, m, d: f"{d:02d}/{m:02d}/{y}", *_ymd),
    st.builds(lambda y, m, d: f"{d}.{m}.{y % 100:02d}", *_ymd),
    st.builds(lambda y, m, d: f"{y}-{m:02d}-{d:02d} {m:02d}:{d + 30:02d}", *_ymd),
    st.builds(lambda m, d, y: f"{d} {m} {y}", st.sampled_from(_months), st.integers(1, 28), st.integers(1900, 2030)),
    st.builds(lambda m, d, y: f"{m} {d}, {y}", st.sampled_from(_months), st.integers(1, 28), st.integers(1900, 2030)),
    st.builds(lambda m, d: f"{d:02d}-{m[:3]}-21", st.sampled_from(_months), st.integers(1, 28)),
)
record = st.builds(
    lambda kw, number: (kw, number),
    st.sampled_from(["MRN", "MRN:", "Medical record number", "NHS number", "Insurance ID:", "policy no.", "SSN"]),
    st.one_of(
        st.integers(6, 10).flatmap(_num),
        st.builds(lambda p, n: p + n, st.sampled_from(["AB", "XYZ", "K"]), st.integers(6, 9).flatmap(_num)),
    ),
)
url = st.builds(
    lambda host, path, q: f"https://{host}.org/{path}{q}",
    st.text("abcdefghijklmnopqrstuvwxyz", min_size=3, max_size=10),
    _word,
    st.one_of(st.just(""), st.integers(0, 99999).map(lambda v: f"?id={v}")),
)
ipv4 = st.builds(lambda *o: ".".join(map(str, o)), *[st.integers(0, 255)] * 4)
name = st.builds(
    lambda n, case: getattr(n, case)(), st.sampled_from(NAMES), st.sampled_from(["upper", "lower", "title"])
)

SCRUBBER = Scrubber(names=NAMES)


def test_clinical_vocabulary_holds_no_listed_name() -> None:
    lowered = {n.lower() for n in NAMES}
    assert not lowered & {w.lower() for w in CLINICAL_WORDS}
    assert len(NAMES) >= 2900


@settings(max_examples=150, deadline=None)
@given(clinical_text)
def test_text_without_identifiers_is_unchanged(text: str) -> None:
    result = SCRUBBER.scrub([text])
    assert result.texts.iloc[0] == text
    assert result.spans == ()


IDENTIFIERS = st.one_of(
    phone.map(lambda v: ("PHONE", v, v)),
    email.map(lambda v: ("EMAIL", v, v)),
    date.map(lambda v: ("DATE", v, v)),
    record.map(lambda kv: ("ID", f"{kv[0]} {kv[1]}", kv[1])),
    url.map(lambda v: ("URL", v, v)),
    ipv4.map(lambda v: ("IP", v, v)),
    name.map(lambda v: ("NAME", v, v)),
)


def _check_removed(words: list[str], ident: tuple[str, str, str], at: int) -> None:
    label, phrase, secret = ident
    tokens = list(words)
    tokens.insert(min(at, len(tokens)), phrase)
    text = " ".join(tokens)
    result = SCRUBBER.scrub([text])
    out = result.texts.iloc[0]
    assert secret.lower() not in out.lower()
    assert f"[{label}]" in out
    for span in result.spans:  # every span points at the text it replaced
        assert text[span.start : span.end].strip() == text[span.start : span.end]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.one_of(word, measurement), max_size=20), IDENTIFIERS, st.integers(0, 20))
def test_inserted_identifiers_are_always_removed(words: list[str], ident: tuple[str, str, str], at: int) -> None:
    _check_removed(words, ident, at)


@pytest.mark.slow
@settings(max_examples=3000, deadline=None)
@given(st.lists(st.one_of(word, measurement), max_size=40), IDENTIFIERS, st.integers(0, 40))
def test_inserted_identifiers_are_always_removed_many(words: list[str], ident: tuple[str, str, str], at: int) -> None:
    _check_removed(words, ident, at)


@pytest.mark.slow
@settings(max_examples=3000, deadline=None)
@given(clinical_text)
def test_text_without_identifiers_is_unchanged_many(text: str) -> None:
    assert SCRUBBER.scrub_text(text) == text


def test_examples_and_spans() -> None:
    notes = pd.Series(
        [
            "Jane Doe (MRN: 00123456) seen 03/04/2021 by Dr O'Brien; call +44 20 7946 0958 or jd@example.org.",
            None,
            "BP 120/80, HR 72, Hb 12.3 g/dL, platelets 250 000, 1234567.89 units. Troponin <0.01 on 3 March.",
            "Portal https://portal.example.org/p?id=77 from 192.168.0.12; NHS number 943 476 5919; ref 20190412001.",
        ],
        index=[10, 11, 12, 13],
    )
    result = SCRUBBER.scrub(notes)
    out = result.texts
    assert out.index.tolist() == [10, 11, 12, 13]
    assert out.iloc[1] is None
    assert out.iloc[0] == "[NAME] (MRN: [ID]) seen [DATE] by Dr [NAME]; call [PHONE] or [EMAIL]."
    assert (
        out.iloc[2] == "BP 120/80, HR 72, Hb 12.3 g/dL, platelets 250 000, 1234567.89 units. Troponin <0.01 on [DATE]."
    )
    assert out.iloc[3] == "Portal [URL] from [IP]; NHS number [ID]; ref [ID]."
    assert result.counts() == {"DATE": 2, "EMAIL": 1, "ID": 3, "IP": 1, "NAME": 2, "PHONE": 1, "URL": 1}
    first = [s for s in result.spans if s.row == 0]  # rows are positions in the input
    assert [notes.iloc[0][s.start : s.end] for s in first][:3] == ["Jane Doe", "00123456", "03/04/2021"]
    assert result.rows_changed == 3
    assert "spans" in result.to_dict(spans=True)


def test_pseudonym_replacement_is_consistent_and_keyed() -> None:
    s = Scrubber(names=["Jane Doe"], replacement="pseudonym", key=KEY)
    a, b = s.scrub(["Jane Doe came.", "JANE  DOE left."]).texts
    assert a.split()[0] == b.split()[0]
    assert a.startswith("[NAME-")
    other = Scrubber(names=["Jane Doe"], replacement="pseudonym", key=SecretKey(bytes(range(1, 33))))
    assert other.scrub_text("Jane Doe came.") != a


def test_user_patterns_and_recognizer_choice() -> None:
    s = Scrubber(patterns={"study_id": r"STU-\d{4}"}, recognizers=["email"])
    assert s.scrub_text("STU-1234 mailed a@b.org on 2020-01-01") == "[STUDY_ID] mailed [EMAIL] on 2020-01-01"
    assert "date" in RECOGNIZERS.names()
    assert len(RECOGNIZERS) >= 8
    with pytest.raises(InputError) as err:
        Scrubber(names=["x"], recognizers=["emial"], patterns={"bad": "(", "9x": "a", "empty": "a?"})
    text = str(err.value)
    for part in ("emial", "invalid regular expression", "9x", "empty text", "shorter than 2"):
        assert part in text
    with pytest.raises(InputError, match="SecretKey"):
        Scrubber(replacement="pseudonym")


def test_names_file(tmp_path: Path) -> None:
    path = tmp_path / "names.txt"
    path.write_text("# staff\nJane Doe\n\n  Okonkwo  # surgeon\n", encoding="utf-8")
    assert load_names(path) == ("Jane Doe", "Okonkwo")
    path.write_text("# nothing\n")
    with pytest.raises(InputError, match="no names"):
        load_names(path)
    with pytest.raises(InputError, match="no such file"):
        load_names(tmp_path / "absent.txt")


def test_many_notes_and_names_in_one_pass() -> None:
    notes = pd.Series(
        [f"{NAMES[i % len(NAMES)]} seen on 2020-01-{1 + i % 28:02d}, HR {60 + i % 30}" for i in range(5000)]
    )
    result = SCRUBBER.scrub(notes)
    assert result.counts() == {"DATE": 5000, "NAME": 5000}
    assert result.texts.str.startswith("[NAME] seen on [DATE], HR ").all()
