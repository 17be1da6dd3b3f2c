"""Offline free-text scrubbing: find direct identifiers in clinical notes and replace them.

Notes carry what a table's identifier columns hide: "Mr Smith (MRN 00123456) seen on
03/04/2021, call 020 7946 0958". Named-entity models find names best, but they need a
downloaded model and a network; this scrubber runs offline on patterns and a *supplied list* of
names (the hospital's patient and staff names), which is what a de-identification pipeline
usually has. Each recogniser is a registered regular expression with a label (``NAME``,
``DATE``, ``PHONE``, ``EMAIL``, ``ID``, ``URL``, ``IP``); user patterns add more.

All texts are joined with NUL separators and each recogniser runs once over the joined text
(in C, not a Python loop over notes); matches are mapped back to rows by offset. Where matches
overlap, the earliest wins, then the recogniser listed first, then the longest. A name list of
thousands compiles into one trie-shaped regular expression, so matching stays linear in the
text length instead of trying every name at every position.

Recall is that of the patterns: a name missing from the list, or a date written in words
("the third of March"), is not found. :class:`ScrubResult` lists every span found (position and
label, never the text) for audit.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from medsyn._registry import Registry
from medsyn.errors import InputError, Problem
from medsyn.privacy._keys import SecretKey
from medsyn.privacy._pseudonym import Pseudonymizer

__all__ = ["RECOGNIZERS", "Recognizer", "ScrubResult", "ScrubSpan", "Scrubber", "load_names"]

_SEP = "\x00"


@dataclass(frozen=True, slots=True)
class Recognizer:
    """One kind of identifier: a pattern, the label it is replaced by, and an optional check."""

    name: str
    label: str
    pattern: re.Pattern[str]
    description: str
    group: str | int = 0  # the part of the match that is the identifier (keyword-anchored patterns)
    check: Callable[[str], bool] | None = None  # rejects look-alikes the pattern cannot rule out


def _check_recognizer(name: str, entry: Recognizer) -> None:
    if not isinstance(entry, Recognizer) or entry.name != name or not entry.label.isupper():
        raise TypeError(f"recognizer '{name}' must be a Recognizer named '{name}' with an upper-case label")


RECOGNIZERS = Registry[Recognizer]("recognizer", check=_check_recognizer)


def _digits_between(low: int, high: int) -> Callable[[str], bool]:
    def check(text: str) -> bool:
        return low <= sum(c.isdigit() for c in text) <= high

    return check


def _phone_check(text: str) -> bool:
    if re.match(r"\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}(?!\d)", text):  # an IPv4 address, not a number
        return False
    return _digits_between(9, 15)(text) or re.fullmatch(r"\d{3}-\d{4}", text) is not None


_MONTHS = [  # a full name, or an abbreviation with an optional full stop ("Sept." but not "March.")
    r"Jan(?:uary|\.)?",
    r"Feb(?:ruary|\.)?",
    r"Mar(?:ch|\.)?",
    r"Apr(?:il|\.)?",
    "May",
    r"Jun(?:e|\.)?",
    r"Jul(?:y|\.)?",
    r"Aug(?:ust|\.)?",
    r"Sep(?:tember|t\.?|\.)?",
    r"Oct(?:ober|\.)?",
    r"Nov(?:ember|\.)?",
    r"Dec(?:ember|\.)?",
]
# Capitalised or upper-case month names only: "may" and "march" are also verbs in notes.
_MONTH = "(?:" + "|".join(_MONTHS + [m.upper() for m in _MONTHS]) + ")"
_DAY = r"\d{1,2}(?:st|nd|rd|th)?"
_DATE = (
    r"(?<![\w/.-])(?:"
    r"\d{4}[-/.]\d{1,2}[-/.]\d{1,2}(?:[T ]\d{1,2}:\d{2}(?::\d{2})?)?"  # 2021-03-04, 2021-03-04T08:15
    r"|\d{1,2}[-/.]\d{1,2}[-/.](?:\d{4}|\d{2})"  # 04/03/2021, 4.3.21
    rf"|{_DAY}(?:\s+of)?[\s-]+{_MONTH}(?:,?[\s-]+\d{{4}}|-\d{{2}})?"  # 3 March 2021, 03-Mar-21, 3rd of May
    rf"|{_MONTH}\s+{_DAY}(?:,?\s+\d{{4}})?"  # March 3, 2021
    rf"|{_MONTH}\s+\d{{4}}"  # March 2021
    r")(?![\w/]|[.-]\d)"
)
_RECORD_WORDS = (
    r"MRN|MR\s*#|medical\s+record(?:\s+(?:number|no\.?|#))?|record\s+(?:number|no\.?|#)|"
    r"patient\s+(?:id|number|no\.?)|hospital\s+(?:number|no\.?)|NHS\s+(?:number|no\.?)|"
    r"insurance\s+(?:number|no\.?|id)|policy\s+(?:number|no\.?)|member\s+id|subscriber\s+id|"
    r"account\s+(?:number|no\.?)|acct\.?|SSN|social\s+security\s+(?:number|no\.?)|encounter\s+(?:id|number)|"
    r"accession\s+(?:number|no\.?)|case\s+(?:number|no\.?)|chart\s+(?:number|no\.?)|health\s+card(?:\s+number)?"
)
_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"

_BUILTINS = [
    Recognizer(
        "email",
        "EMAIL",
        re.compile(r"(?<![\w.+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}(?!\w)"),
        "e-mail addresses",
    ),
    Recognizer(
        "url",
        "URL",
        re.compile(r"(?<!\w)(?:https?://|ftp://|www\.)[^\s\x00<>\"']*[^\s\x00<>\"'.,;:!?)\]]", re.IGNORECASE),
        "web addresses (http, https, ftp, www.)",
    ),
    Recognizer(
        "record_number",
        "ID",
        re.compile(
            rf"(?<!\w)(?:{_RECORD_WORDS})\s*(?:is|:|#|=|-)?\s*(?:#\s*)?"
            r"(?P<id>[A-Za-z]{0,4}[-/]?\d[A-Za-z0-9]*(?:[-/.][A-Za-z0-9]+|\s\d{3,}[A-Za-z0-9]*)*)(?![\w-])",
            re.IGNORECASE,
        ),
        "medical record, patient, hospital, NHS, insurance, policy, account and SSN numbers after their keyword",
        group="id",
        check=_digits_between(3, 40),
    ),
    Recognizer("ssn", "ID", re.compile(r"(?<![\w-])\d{3}-\d{2}-\d{4}(?![\w-])"), "US social security numbers"),
    Recognizer(
        "ip",
        "IP",
        re.compile(
            rf"(?<![\w.])(?:{_OCTET}\.){{3}}{_OCTET}(?![\w.])"
            r"|(?<![\w:])(?:[0-9A-Fa-f]{1,4}:){7}[0-9A-Fa-f]{1,4}(?![\w:])"
            r"|(?<![\w:])(?:[0-9A-Fa-f]{1,4}:){1,6}:(?:[0-9A-Fa-f]{1,4}(?::[0-9A-Fa-f]{1,4})*)?(?![\w:])"
        ),
        "IPv4 and IPv6 addresses",
    ),
    Recognizer(
        "date",
        "DATE",
        re.compile(_DATE),
        "dates: 2021-03-04, 04/03/2021, 4.3.21, 3 March 2021, March 3, 2021, 03-Mar-21, March 2021",
    ),
    Recognizer(
        "phone",
        "PHONE",
        re.compile(
            r"(?<![\w+/.-])(?:\+\d{1,3}[\s.-]?(?:\(\d{1,4}\)[\s.-]?)?\d{1,6}|(?:\(\d{1,4}\)[\s.-]?)?\d{2,6})"
            r"(?:[\s.-]\d{2,6}){1,5}(?![\w/-])"
            r"|(?<![\w+/.-])\+?\d{9,15}(?![\w/.-])"
            r"|(?<![\w/.-])\d{3}-\d{4}(?![\w/-])"
        ),
        "telephone numbers (international, national and 7-digit local forms)",
        check=_phone_check,
    ),
    Recognizer(
        "long_number",
        "ID",
        re.compile(r"(?<![\w,/-])(?<!\d\.)\d{7,}(?![\w,/-]|\.\d)"),
        "stand-alone runs of 7 or more digits (record, account or card numbers without a keyword)",
    ),
]
for _r in _BUILTINS:
    RECOGNIZERS.add(_r.name, _r)


_Trie = dict[str, "_Trie"]


def _trie_pattern(words: Iterable[str]) -> str:
    """One regular expression matching any of ``words`` (a trie, so matching is linear in the text)."""
    trie: _Trie = {}
    for word in words:
        node = trie
        for ch in word:
            node = node.setdefault(ch, {})
        node[""] = {}  # the end of a word

    def build(node: _Trie) -> str:
        children = sorted(ch for ch in node if ch)
        if not children:
            return ""
        alternatives = [(r"\s+" if ch.isspace() else re.escape(ch)) + build(node[ch]) for ch in children]
        body = alternatives[0] if len(alternatives) == 1 else "(?:" + "|".join(alternatives) + ")"
        return f"(?:{body})?" if "" in node else body

    return build(trie)


def load_names(path: str | Path) -> tuple[str, ...]:
    """Names from a text file, one per line (blank lines and ``#`` comments are skipped)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(Problem(str(path), "no such file", "a text file of names, one per line")) from None
    except UnicodeDecodeError:
        raise InputError(Problem(str(path), "not UTF-8 text", "a UTF-8 text file of names, one per line")) from None
    names = tuple(n for n in (line.split("#", 1)[0].strip() for line in text.splitlines()) if n)
    if not names:
        raise InputError(Problem(str(path), "no names", "a text file of names, one per line"))
    return names


@dataclass(frozen=True, slots=True)
class ScrubSpan:
    """One identifier found: its row, character span in the original text, label and recogniser."""

    row: int
    start: int
    end: int
    label: str
    recognizer: str

    def to_dict(self) -> dict[str, object]:
        return {"row": self.row, "start": self.start, "end": self.end, "label": self.label, "by": self.recognizer}


@dataclass(frozen=True, slots=True, eq=False)
class ScrubResult:
    """Scrubbed texts (aligned with the input) and the spans replaced, for audit."""

    texts: pd.Series
    spans: tuple[ScrubSpan, ...]

    def counts(self) -> dict[str, int]:
        """Spans replaced per label."""
        out: dict[str, int] = {}
        for span in self.spans:
            out[span.label] = out.get(span.label, 0) + 1
        return dict(sorted(out.items()))

    @property
    def rows_changed(self) -> int:
        return len({s.row for s in self.spans})

    def to_dict(self, *, spans: bool = False) -> dict[str, object]:
        out: dict[str, object] = {
            "found": len(self.spans),
            "rows_changed": self.rows_changed,
            "by_label": self.counts(),
        }
        if spans:
            out["spans"] = [s.to_dict() for s in self.spans]
        return out


Replacement = Literal["placeholder", "pseudonym"]


class Scrubber:
    """Find and replace direct identifiers in free text, offline.

    Parameters
    ----------
    names
        Names to remove (patients, relatives, staff), matched whole-word and case-insensitively;
        multi-word names match across any whitespace.
    recognizers
        Names of registered recognisers to run (``RECOGNIZERS.names()``); all by default.
    patterns
        Extra ``{label: regex}`` recognisers, e.g. ``{"STUDY_ID": r"STUDY-\\d{4}"}``.
    replacement
        ``"placeholder"``: ``[NAME]``, ``[DATE]`` …; ``"pseudonym"``: ``[NAME-1f3a9c2e07b4]``, the same
        token for the same text wherever the ``key`` is shared (so a note still says it is the
        same person).
    key
        Required for ``replacement="pseudonym"``.

    Examples
    --------
    >>> s = Scrubber(names=["Jane Doe"])
    >>> s.scrub_text("Jane Doe (MRN: 00123456) seen 03/04/2021, mail jd@example.org")
    '[NAME] (MRN: [ID]) seen [DATE], mail [EMAIL]'
    """

    def __init__(
        self,
        *,
        names: Iterable[str] = (),
        recognizers: Sequence[str] | None = None,
        patterns: Mapping[str, str] | None = None,
        replacement: Replacement = "placeholder",
        key: SecretKey | None = None,
        namespace: str = "scrub",
    ) -> None:
        problems: list[Problem] = []
        chosen: list[Recognizer] = []
        for name in RECOGNIZERS.names() if recognizers is None else recognizers:
            if name in RECOGNIZERS:
                chosen.append(RECOGNIZERS.get(name))
            else:
                problems.append(Problem(f"recognizer '{name}'", "unknown", f"one of {RECOGNIZERS.names()}"))
        order = {r.name: i for i, r in enumerate(_BUILTINS)}
        chosen.sort(key=lambda r: order.get(r.name, len(order)))
        name_list = sorted({" ".join(str(n).split()).lower() for n in names if str(n).strip()})
        short = [n for n in name_list if len(n) < 2]
        if short:
            problems.append(Problem("names", f"names shorter than 2 characters {short}", "names of 2+ characters"))
        if name_list and not short:
            trie = re.compile(rf"(?<!\w)(?:{_trie_pattern(name_list)})(?!\w)", re.IGNORECASE)
            chosen.insert(_name_position(chosen), Recognizer("name", "NAME", trie, "names from the supplied list"))
        for label, regex in (patterns or {}).items():
            if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", str(label)):
                problems.append(Problem(f"pattern label '{label}'", "not a word", "letters, digits and _"))
                continue
            try:
                compiled = re.compile(regex)
            except re.error as exc:
                problems.append(Problem(f"pattern '{label}'", f"invalid regular expression ({exc})", "a valid regex"))
                continue
            if compiled.match(""):
                problems.append(Problem(f"pattern '{label}'", "matches empty text", "a pattern that needs characters"))
                continue
            chosen.append(Recognizer(f"user:{label}", str(label).upper(), compiled, "user pattern"))
        if replacement not in ("placeholder", "pseudonym"):
            problems.append(Problem("replacement", repr(replacement), "'placeholder' or 'pseudonym'"))
        if replacement == "pseudonym" and not isinstance(key, SecretKey):
            problems.append(Problem("key", repr(key), "a SecretKey for replacement='pseudonym'"))
        if problems:
            raise InputError(problems)
        self.recognizers: tuple[Recognizer, ...] = tuple(chosen)
        self.n_names = len(name_list)
        self.replacement = replacement
        self.key = key
        self.namespace = namespace

    def __repr__(self) -> str:
        names = [r.name for r in self.recognizers]
        return f"Scrubber(recognizers={names}, names={self.n_names}, replacement={self.replacement!r})"

    def scrub_text(self, text: str) -> str:
        """Scrub one text."""
        return str(self.scrub([text]).texts.iloc[0])

    def scrub(self, texts: pd.Series | Sequence[str | None]) -> ScrubResult:
        """Scrub a column of texts; missing values stay missing, the index is kept."""
        series = texts if isinstance(texts, pd.Series) else pd.Series(list(texts), dtype=object)
        present = series.notna().to_numpy()
        values = [str(v).replace(_SEP, " ") for v in series[present].tolist()]
        joined = _SEP.join(values)
        lengths = np.fromiter((len(v) for v in values), dtype=np.int64, count=len(values))
        row_starts = np.concatenate(([0], np.cumsum(lengths + 1)[:-1])) if len(values) else np.zeros(0, np.int64)
        starts, ends, ranks = self._find(joined)
        keep = _resolve(starts, ends, ranks)
        starts, ends, ranks = starts[keep], ends[keep], ranks[keep]
        found = [joined[s:e] for s, e in zip(starts.tolist(), ends.tolist(), strict=True)]
        labels = [self.recognizers[r].label for r in ranks.tolist()]
        replacements = self._replacements(found, labels)
        pieces: list[str] = []
        cursor = 0
        for s, e, rep in zip(starts.tolist(), ends.tolist(), replacements, strict=True):
            pieces.append(joined[cursor:s])
            pieces.append(rep)
            cursor = e
        pieces.append(joined[cursor:])
        scrubbed = "".join(pieces).split(_SEP) if values else []
        values_out = series.to_numpy(dtype=object, copy=True)
        values_out[present] = scrubbed
        out = pd.Series(values_out, index=series.index, name=series.name, dtype=object)
        rows = np.searchsorted(row_starts, starts, side="right") - 1
        positions = np.flatnonzero(present)
        spans = tuple(
            ScrubSpan(int(positions[r]), int(s - row_starts[r]), int(e - row_starts[r]), lab, self.recognizers[k].name)
            for r, s, e, lab, k in zip(
                rows.tolist(), starts.tolist(), ends.tolist(), labels, ranks.tolist(), strict=True
            )
        )
        return ScrubResult(out, spans)

    def _find(self, joined: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        starts: list[int] = []
        ends: list[int] = []
        ranks: list[int] = []
        for rank, rec in enumerate(self.recognizers):
            for found in rec.pattern.finditer(joined):
                m = _checked(rec, found, joined)
                if m is None:
                    continue
                s, e = m.span(rec.group)
                cut = joined.find(_SEP, s, e)  # a user pattern may cross notes; never let it
                starts.append(s)
                ends.append(e if cut < 0 else cut)
                ranks.append(rank)
        return np.asarray(starts, np.int64), np.asarray(ends, np.int64), np.asarray(ranks, np.int64)

    def _replacements(self, found: list[str], labels: list[str]) -> list[str]:
        if self.replacement == "placeholder":
            return [f"[{label}]" for label in labels]
        assert self.key is not None  # checked in __init__
        out = [""] * len(found)
        frame = pd.DataFrame({"text": [" ".join(t.split()).lower() for t in found], "label": labels})
        for label, group in frame.groupby("label", sort=True):
            tokens = Pseudonymizer(self.key, namespace=f"{self.namespace}:{label}", length=12).pseudonymize(
                group["text"]
            )
            for i, token in zip(group.index.tolist(), tokens.tokens.tolist(), strict=True):
                out[i] = f"[{label}-{token}]"
        return out


def _checked(rec: Recognizer, m: re.Match[str], text: str) -> re.Match[str] | None:
    """``m`` if it passes the recogniser's check, else its longest shorter match that does.

    A phone number followed by a dose ("020 7946 0958 500 mg") first matches with the dose and
    fails the digit count; cutting the match at earlier ends finds the number itself.
    """
    current: re.Match[str] | None = m
    while current is not None:
        s, e = current.span(rec.group)
        if e > s and (rec.check is None or rec.check(current.group(rec.group))):
            return current
        if rec.check is None or e - 1 <= current.start():
            return None
        current = rec.pattern.match(text, current.start(), current.end() - 1)
    return None


def _name_position(chosen: list[Recognizer]) -> int:
    """Names rank after structured patterns (an e-mail holding a name is one e-mail) but before numbers."""
    for i, rec in enumerate(chosen):
        if rec.name in ("phone", "long_number") or rec.name.startswith("user:"):
            return i
    return len(chosen)


def _resolve(starts: np.ndarray, ends: np.ndarray, ranks: np.ndarray) -> np.ndarray:
    """Indices of non-overlapping spans: earliest first, then the higher-ranked recogniser, then longest.

    Rank before length: "2020-01-01 10 mg" is a date followed by a dose, not an 11-digit phone number.
    """
    if len(starts) == 0:
        return np.zeros(0, dtype=np.int64)
    order = np.lexsort((-(ends - starts), ranks, starts))
    keep: list[int] = []
    reach = -1
    for i in order.tolist():
        if starts[i] >= reach:
            keep.append(i)
            reach = int(ends[i])
    return np.asarray(keep, dtype=np.int64)
