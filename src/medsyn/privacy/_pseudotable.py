"""Pseudonymise a table in one call: keyed identifiers, shifted dates, scrubbed notes, a vault.

This is the step between the hospital's extract and a research copy: identifier columns (the
schema's ``identifier`` role by default) become keyed pseudonyms, every date of a patient moves
by that patient's secret offset, free-text columns lose names, numbers and addresses, and,
when asked, the pseudonym → original pairs go into an encrypted re-identification vault.
Quasi-identifiers (age, sex, postcode) are left as they are: measuring and reducing their risk
is anonymisation's job, not pseudonymisation's, and the report says so.

The input is never changed; the result holds a new :class:`~medsyn.data.TabularDataset` and a
:class:`PseudonymizationReport` that records what was done without a single secret or original
value (the key appears as its fingerprint).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import pandas as pd

from medsyn.data.dataset import Provenance, TabularDataset, frame_digest
from medsyn.data.schema import FieldType, Role, Schema
from medsyn.errors import InputError, Problem
from medsyn.privacy._dateshift import DateShift, DateShifter
from medsyn.privacy._keys import SecretKey
from medsyn.privacy._pseudonym import Pseudonymizer, Pseudonyms
from medsyn.privacy._scrub import Scrubber, ScrubResult
from medsyn.privacy._vault import ReidentificationVault

__all__ = ["PseudonymizationReport", "PseudonymizationResult", "pseudonymize_table"]


@dataclass(frozen=True, slots=True)
class PseudonymizationReport:
    """What pseudonymisation did to a table (counts and settings; no secrets, no originals)."""

    source: str
    rows: int
    key_fingerprint: str
    namespace: str
    pseudonymized: tuple[tuple[str, Pseudonyms], ...]
    date_shift: DateShift | None
    scrubbed: tuple[tuple[str, ScrubResult], ...]
    vault: str | None
    vault_entries_added: int
    warnings: tuple[str, ...]

    def to_dict(self) -> dict[str, object]:
        return {
            "source": self.source,
            "rows": self.rows,
            "key_fingerprint": self.key_fingerprint,
            "namespace": self.namespace,
            "pseudonymized": {col: p.to_dict() for col, p in self.pseudonymized},
            "date_shift": self.date_shift.to_dict() if self.date_shift is not None else None,
            "scrubbed": {col: s.to_dict() for col, s in self.scrubbed},
            "scrub_spans": {col: [span.to_dict() for span in s.spans] for col, s in self.scrubbed},
            "vault": self.vault,
            "vault_entries_added": self.vault_entries_added,
            "warnings": list(self.warnings),
        }


@dataclass(frozen=True, slots=True, eq=False)
class PseudonymizationResult:
    """The pseudonymised table and its report."""

    dataset: TabularDataset
    report: PseudonymizationReport

    def to_dict(self) -> dict[str, object]:
        return self.report.to_dict()


def pseudonymize_table(
    dataset: TabularDataset | pd.DataFrame,
    *,
    key: SecretKey,
    columns: Sequence[str] | None = None,
    namespace: str = "default",
    length: int = 16,
    prefix: str = "",
    date_shift: DateShifter | None = None,
    patient_column: str | None = None,
    date_columns: Sequence[str] | None = None,
    scrubber: Scrubber | None = None,
    text_columns: Sequence[str] | None = None,
    vault: ReidentificationVault | None = None,
) -> PseudonymizationResult:
    """Pseudonymise identifiers, shift dates per patient and scrub free text.

    Parameters
    ----------
    dataset
        The table (a DataFrame gets an inferred schema).
    key
        The pseudonym key (see :func:`load_key`); the same key and ``namespace`` give the same
        tokens in every table and at every site.
    columns
        Columns to replace by pseudonyms; default: every field with the ``identifier`` role.
    namespace, length, prefix
        Token settings, as for :class:`Pseudonymizer`.
    date_shift
        A :class:`DateShifter`; shifts ``date_columns`` (default: the schema's datetime fields)
        by the offset of each row's ``patient_column`` (default: the only identifier column).
    scrubber, text_columns
        Scrub ``text_columns`` (default: the schema's text fields) with ``scrubber`` (default:
        every built-in recogniser, no names). Either one turns scrubbing on.
    vault
        Add every (pseudonym, original) pair to this vault; save it afterwards with ``vault.save()``.

    Raises
    ------
    InputError
        Every unknown or unsuitable column, collected into one error.

    Examples
    --------
    >>> import pandas as pd
    >>> from medsyn.privacy import SecretKey
    >>> df = pd.DataFrame({"mrn": ["A1", "A2", "A1"], "admit": ["2020-01-01", "2020-03-01", "2020-01-05"]})
    >>> out = pseudonymize_table(df, key=SecretKey(b"k" * 32), columns=["mrn"], prefix="P-",
    ...                          date_shift=DateShifter(SecretKey(b"k" * 32)), date_columns=["admit"])
    >>> out.dataset.data["mrn"].nunique(), out.report.date_shift.dates_shifted
    (2, 3)
    """
    if isinstance(dataset, pd.DataFrame):
        dataset = TabularDataset(dataset)
    if not isinstance(dataset, TabularDataset):
        raise InputError(Problem("dataset", f"a {type(dataset).__name__}", "a TabularDataset or a DataFrame"))
    schema, frame = dataset.schema, dataset.data
    pseudonymizer = Pseudonymizer(key, namespace=namespace, length=length, prefix=prefix)
    problems: list[Problem] = []
    id_cols = [f.name for f in schema.by_role(Role.IDENTIFIER)] if columns is None else list(columns)
    problems += _unknown(id_cols, schema, "columns")
    dates: list[str] = []
    if date_shift is not None:
        if patient_column is None:
            candidates = [f.name for f in schema.by_role(Role.IDENTIFIER)]
            if len(candidates) == 1:
                patient_column = candidates[0]
            else:
                problems.append(
                    Problem(
                        "patient_column", "not given", f"the patient id column, one of {candidates or schema.names}"
                    )
                )
        else:
            problems += _unknown([patient_column], schema, "patient_column")
        dates = [f.name for f in schema.by_type(FieldType.DATETIME)] if date_columns is None else list(date_columns)
        problems += _unknown(dates, schema, "date_columns")
        if not dates:
            problems.append(Problem("date_columns", "no datetime fields in the schema", "date_columns=[...]"))
    texts: list[str] = []
    if scrubber is not None or text_columns is not None:
        texts = [f.name for f in schema.by_type(FieldType.TEXT)] if text_columns is None else list(text_columns)
        problems += _unknown(texts, schema, "text_columns")
        if not texts:
            problems.append(Problem("text_columns", "no text fields in the schema", "text_columns=[...]"))
    overlap = (set(id_cols) & set(dates)) | (set(id_cols) & set(texts)) | (set(dates) & set(texts))
    if overlap:
        problems.append(Problem("columns", f"{sorted(overlap)} given for two treatments", "each column once"))
    if problems:
        raise InputError(problems)

    out = frame.copy()
    shift_info: DateShift | None = None
    if date_shift is not None:
        assert patient_column is not None
        shifted, shift_info = date_shift.shift(frame, patient_column=patient_column, date_columns=dates)
        for col in dates:
            out[col] = shifted[col]
    done: list[tuple[str, Pseudonyms]] = []
    for col in id_cols:
        tokens = pseudonymizer.pseudonymize(frame[col], name=f"column '{col}'")
        out[col] = tokens.tokens
        done.append((col, tokens))
    scrubbed: list[tuple[str, ScrubResult]] = []
    if texts:
        active = scrubber if scrubber is not None else Scrubber()
        for col in texts:
            result = active.scrub(frame[col])
            out[col] = result.texts
            scrubbed.append((col, result))
    added = sum(vault.add(tokens) for _, tokens in done) if vault is not None else 0

    new_schema = _output_schema(schema, id_cols, dates, texts)
    provenance = Provenance(
        source=dataset.provenance.source,
        reader="pseudonymize",
        digest=frame_digest(out),
        warnings=dataset.provenance.warnings,
    )
    report = PseudonymizationReport(
        dataset.provenance.source,
        len(frame),
        key.fingerprint,
        namespace,
        tuple(done),
        shift_info,
        tuple(scrubbed),
        str(vault.path) if vault is not None else None,
        added,
        _warnings(schema, id_cols, dates, texts, shift_info),
    )
    return PseudonymizationResult(TabularDataset(out, new_schema, provenance), report)


def _unknown(names: Sequence[str], schema: Schema, option: str) -> list[Problem]:
    problems = [
        Problem(f"{option}: '{n}'", "not a column of the table", f"one of {schema.names}")
        for n in names
        if n not in schema
    ]
    if len(set(names)) != len(names):
        problems.append(Problem(option, f"repeated names {sorted(names)}", "each column once"))
    return problems


def _output_schema(schema: Schema, ids: Sequence[str], dates: Sequence[str], texts: Sequence[str]) -> Schema:
    out = schema
    for col in ids:
        fld = schema[col]
        out = out.replace_field(
            replace(
                fld,
                type=FieldType.IDENTIFIER,
                minimum=None,
                maximum=None,
                categories=None,
                reason="pseudonymised (keyed HMAC-SHA-256)",
            )
        )
    for col in dates:  # the real date range would hint at the offsets
        out = out.replace_field(replace(schema[col], minimum=None, maximum=None, reason="shifted per patient"))
    for col in texts:
        out = out.replace_field(replace(schema[col], categories=None, reason="scrubbed of direct identifiers"))
    return out


def _warnings(
    schema: Schema, ids: Sequence[str], dates: Sequence[str], texts: Sequence[str], shift: DateShift | None
) -> tuple[str, ...]:
    notes: list[str] = []
    left = [f.name for f in schema.by_role(Role.IDENTIFIER) if f.name not in ids and f.name not in dates]
    if left:
        notes.append(f"identifier column(s) {left} were left as they are")
    unscrubbed = [f.name for f in schema.by_type(FieldType.TEXT) if f.name not in texts]
    if unscrubbed:
        notes.append(f"free-text column(s) {unscrubbed} were not scrubbed and may name people")
    unshifted = [f.name for f in schema.by_type(FieldType.DATETIME) if f.name not in dates]
    if unshifted:
        notes.append(f"date column(s) {unshifted} keep their real dates")
    if shift is not None and shift.dates_blanked:
        notes.append(f"{shift.dates_blanked} date(s) of rows without a patient id were blanked")
    quasi = [f.name for f in schema.by_role(Role.QUASI_IDENTIFIER) if f.name not in ids and f.name not in dates]
    if quasi:
        notes.append(
            f"quasi-identifiers {quasi} are unchanged: pseudonymised data is still personal data; "
            "measure and reduce re-identification risk before release"
        )
    return tuple(notes)
