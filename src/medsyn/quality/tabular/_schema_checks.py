"""Values that break the data dictionary: out of range, unknown category, wrong type, wrong unit.

Each column is reduced to its distinct values first (``pd.factorize``), so string parsing and
category look-ups cost one operation per distinct value, not per row.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from medsyn.data.dataset import Dataset, Modality
from medsyn.data.schema import Field, FieldType
from medsyn.metric import METRICS, Detail, Direction, ItemResult, Metric, MetricKind, MetricResult, Status, Threshold
from medsyn.quality.tabular._common import factorized, float_values, is_identifier, is_text, table, worst

__all__ = ["PLAUSIBLE_BY_UNIT", "MixedTypes", "SchemaViolations"]

#: Physiologically plausible ranges by unit (inclusive), for fields whose unit is one of these.
PLAUSIBLE_BY_UNIT: dict[str, tuple[float, float]] = {
    "years": (0.0, 120.0),
    "kg": (0.2, 400.0),
    "g": (200.0, 400_000.0),
    "cm": (20.0, 250.0),
    "m": (0.2, 2.5),
    "kg/m²": (8.0, 100.0),
    "kg/m2": (8.0, 100.0),
    "mmHg": (0.0, 350.0),
    "bpm": (0.0, 350.0),
    "°C": (20.0, 46.0),
    "%": (0.0, 100.0),
    "days": (0.0, 45_000.0),
}

_BOOLEAN_WORDS = frozenset({"0", "1", "0.0", "1.0", "true", "false", "yes", "no", "y", "n", "t", "f"})


@dataclass(frozen=True, slots=True)
class _Finding:
    kind: str
    rows: int
    examples: str
    why: str


def _examples(values: pd.Index | np.ndarray, limit: int = 5) -> str:
    shown = [f"{v:g}" if isinstance(v, float) else repr(str(v)) for v in list(values)[:limit]]
    return ", ".join(shown) + (" …" if len(values) > limit else "")


def _numeric_findings(frame: pd.DataFrame, f: Field) -> tuple[list[_Finding], int]:
    out: list[_Finding] = []
    s = frame[f.name]
    if pd.api.types.is_numeric_dtype(s):
        x = float_values(s)
    else:
        shared = factorized(frame, f.name)
        codes, uniques = shared.codes, shared.uniques
        parsed = pd.to_numeric(pd.Series(np.asarray(uniques, dtype=object)), errors="coerce").to_numpy(dtype=float)
        bad = np.flatnonzero(np.isnan(parsed))
        if len(bad):
            rows = int(np.isin(codes, bad).sum())
            out.append(
                _Finding(
                    "wrong_type",
                    rows,
                    _examples(uniques[bad]),
                    f"{rows} values are not numbers although '{f.name}' is {f.type.value}",
                )
            )
        x = np.full(len(s), np.nan)
        known = codes >= 0
        x[known] = parsed[codes[known]]
    finite = np.isfinite(x)
    n = int(finite.sum())
    if f.type is FieldType.INTEGER:
        frac = finite & (x != np.round(np.where(finite, x, 0.0)))
        if frac.any():
            out.append(
                _Finding(
                    "not_integer",
                    int(frac.sum()),
                    _examples(np.unique(x[frac])),
                    f"{int(frac.sum())} values have decimals although '{f.name}' holds whole numbers",
                )
            )
    for kind, limit, test, word in (
        ("below_minimum", f.minimum, np.less, "below the allowed minimum"),
        ("above_maximum", f.maximum, np.greater, "above the allowed maximum"),
    ):
        if limit is not None:
            hit = finite & test(x, limit, where=finite, out=np.zeros(len(x), dtype=bool))
            if hit.any():
                out.append(
                    _Finding(
                        kind, int(hit.sum()), _examples(np.unique(x[hit])), f"{int(hit.sum())} values {word} {limit:g}"
                    )
                )
    plausible = PLAUSIBLE_BY_UNIT.get(f.unit or "")
    if plausible is not None:
        lo, hi = plausible
        hit = finite & ((x < lo) | (x > hi))
        if hit.any():
            out.append(
                _Finding(
                    "implausible_for_unit",
                    int(hit.sum()),
                    _examples(np.unique(x[hit])),
                    f"{int(hit.sum())} values outside {lo:g}–{hi:g} {f.unit}, impossible for a "
                    f"measurement in {f.unit} (a unit or typing error?)",
                )
            )
    return out, n


def _categorical_findings(frame: pd.DataFrame, f: Field) -> tuple[list[_Finding], int]:
    s = frame[f.name]
    if is_text(s):
        shared = factorized(frame, f.name)
        codes, uniques = shared.codes, shared.uniques
    else:
        codes, found = pd.factorize(s)
        uniques = np.asarray(found, dtype=object)
    n = int((codes >= 0).sum())
    text = pd.Index(uniques).astype(str)
    if f.type is FieldType.BOOLEAN:
        allowed = text.str.strip().str.lower().isin(_BOOLEAN_WORDS)
        why = "are not yes/no values"
    else:
        assert f.categories is not None
        allowed = text.isin(f.categories)
        why = "are not among the allowed categories"
    bad = np.flatnonzero(~np.asarray(allowed))
    if not len(bad):
        return [], n
    rows = int(np.isin(codes, bad).sum())
    return [_Finding("unknown_category", rows, _examples(text[bad]), f"{rows} values {why} of '{f.name}'")], n


@METRICS.register("schema_violations")
class SchemaViolations(Metric):
    """Share of filled cells that break the data dictionary (range, categories, type, unit).
    A value outside a field's allowed range or category list, text in a numeric field, decimals
    in a whole-number field, or a value impossible for the field's unit (an age over 120 years,
    a weight over 400 kg) is an entry or export error that silently corrupts analyses. Every
    problem is listed per column with examples of the offending values.
    """

    name = "schema_violations"
    title = "Values breaking the data dictionary"
    modality = Modality.TABULAR
    kind = MetricKind.QUALITY
    direction = Direction.MINIMIZE
    ideal = 0.0
    default_threshold = Threshold(warn=0.0, fail=0.01)

    def _compute(self, real: Dataset, synthetic: Dataset | None) -> MetricResult:
        frame, schema = table(real)
        items: list[ItemResult] = []
        checked = bad_cells = 0
        for f in schema:
            if is_identifier(f):
                continue
            if f.is_numeric:
                findings, n = _numeric_findings(frame, f)
            elif f.type is FieldType.BOOLEAN or (f.type is FieldType.CATEGORICAL and f.categories is not None):
                findings, n = _categorical_findings(frame, f)
            else:
                continue
            checked += n
            bad_rows = max((x.rows for x in findings), default=0)
            bad_cells += bad_rows
            for x in findings:
                share = x.rows / n if n else 0.0
                status = Status.FAIL if x.kind in {"wrong_type", "implausible_for_unit"} else self.judge(share)
                details: dict[str, Detail] = {
                    "column": f.name,
                    "problem": x.kind,
                    "rows": x.rows,
                    "examples": x.examples,
                }
                items.append(
                    ItemResult(
                        "column",
                        f"{f.name}: {x.kind}",
                        share,
                        worst([status, Status.WARN]),
                        f"{x.why} (e.g. {x.examples})",
                        details,
                    )
                )
        value = bad_cells / checked if checked else 0.0
        status = worst([self.judge(value), *(i.status for i in items)])
        if items:
            cols = sorted({str(i.details["column"]) for i in items})
            reason = (
                f"{bad_cells} values in {len(cols)} columns break the data dictionary "
                f"({', '.join(cols[:6])}{' …' if len(cols) > 6 else ''}): {items[0].note}"
            )
        else:
            reason = f"all {checked} checked values fit the data dictionary (ranges, categories, types, units)"
        return self.result(
            value, reason, status=status, items=items, details={"checked_values": checked, "bad_values": bad_cells}
        )


@METRICS.register("mixed_types")
class MixedTypes(Metric):
    """Text columns that mix numbers with other values, such as '250.83' beside 'V27' or '?'.
    A column of numbers with a few stray tokens ('?', 'n/a', '>90') is read as text, so its
    numbers are lost to every analysis until the tokens are cleaned; a code list mixing numeric
    and lettered codes must at least be treated as categories, never as numbers. The value is
    the share of text columns that mix types; a column whose minority kind is at most
    ``stray_share`` of its values warns.

    Parameters
    ----------
    stray_share
        Largest share of the minority kind for which a column warns (values are "stray").
    threshold
        Not used: the verdict comes from the columns.
    """

    name = "mixed_types"
    title = "Mixed types within a column"
    modality = Modality.TABULAR
    kind = MetricKind.QUALITY
    direction = Direction.MINIMIZE
    ideal = 0.0
    default_threshold = None

    def __init__(self, *, stray_share: float = 0.2, threshold: Threshold | None = None) -> None:
        super().__init__(threshold=threshold)
        self.stray_share = stray_share

    def applies_to(self, data: Dataset) -> str | None:
        frame, _ = table(data)
        if not any(pd.api.types.is_object_dtype(frame[c]) or pd.api.types.is_string_dtype(frame[c]) for c in frame):
            return "no text column: every column is stored with a single type"
        return None

    def _compute(self, real: Dataset, synthetic: Dataset | None) -> MetricResult:
        frame, _ = table(real)
        items: list[ItemResult] = []
        n_text = 0
        for col in frame.columns:
            s = frame[col]
            if not (pd.api.types.is_object_dtype(s) or pd.api.types.is_string_dtype(s)):
                continue
            n_text += 1
            shared = factorized(frame, str(col))
            if len(shared.uniques) == 0:
                continue
            counts = shared.counts()
            raw = shared.uniques
            python_kind = pd.api.types.infer_dtype(raw, skipna=True)
            numeric = pd.to_numeric(pd.Series(raw).astype(str), errors="coerce").notna().to_numpy()
            n = int(counts.sum())
            num_share = float(counts[numeric].sum()) / n
            if 0.0 < num_share < 1.0:
                minority = min(num_share, 1 - num_share)
                stray = raw[~numeric] if num_share >= 0.5 else raw[numeric]
                stray_counts = counts[~numeric] if num_share >= 0.5 else counts[numeric]
                top = stray[np.argsort(-stray_counts, kind="stable")]
                status = Status.WARN if minority <= self.stray_share else Status.INFO
                kind = "numbers" if num_share >= 0.5 else "text"
                note = (
                    f"mostly {kind} ({max(num_share, 1 - num_share):.1%}) with {minority:.1%} of values of "
                    f"another kind, e.g. {_examples(top)}"
                )
                items.append(
                    ItemResult(
                        "column",
                        str(col),
                        minority,
                        status,
                        note,
                        {"numeric_share": num_share, "python_types": python_kind, "distinct_values": len(raw)},
                    )
                )
            elif python_kind.startswith("mixed"):
                items.append(
                    ItemResult(
                        "column",
                        str(col),
                        0.0,
                        Status.WARN,
                        f"values stored as different Python types ({python_kind})",
                        {"numeric_share": num_share, "python_types": python_kind},
                    )
                )
        value = len(items) / n_text if n_text else 0.0
        status = worst(i.status for i in items)
        flagged = [i for i in items if i.status is Status.WARN]
        if flagged:
            reason = f"{len(flagged)} text columns are mostly one type with stray values of another: " + "; ".join(
                f"'{i.key}' {i.note}" for i in flagged[:3]
            )
        elif items:
            reason = f"{len(items)} text columns mix numeric and lettered codes (treat them as categories)"
        else:
            reason = f"none of {n_text} text columns mixes numbers with other values"
        return self.result(value, reason, status=status, items=items, details={"text_columns": n_text})
