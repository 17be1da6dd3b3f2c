"""What every evaluation metric receives: real, synthetic and holdout data, checked once.

:class:`EvalInputs` is built once per evaluation. It validates that the three datasets describe
the same thing (modality, columns, types; per-modality checks are registered by the signal and
image metric modules), records the handling of things that are not errors (a category the real
data never had, missing values that appear only in the synthetic data) as :class:`InputNote` s,
and caches what several metrics share: the numeric encoding, per-column codes, nearest-neighbour
queries, protected groups. Metrics never re-validate and never recompute a shared piece.

Bootstrap confidence intervals are *paired across metrics*: replicate ``b`` resamples the
synthetic records the same way for every metric (and likewise the real and holdout records), so
a scorecard can aggregate replicate ``b`` of each metric into replicate ``b`` of an axis score.
"""

from __future__ import annotations

import threading
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

import numpy as np
import pandas as pd

from medsyn.data.dataset import Dataset, Modality
from medsyn.data.schema import Field, FieldType, Role, Schema
from medsyn.errors import InputError, Problem
from medsyn.evaluate._encode import ColumnCodes, TableEncoding, column_codes, is_numeric_field, numeric_values
from medsyn.quality.tabular._common import AGE_BANDS, is_age_field

__all__ = ["VALIDATORS", "EvalInputs", "Group", "InputNote", "Side"]

T = TypeVar("T")
Side = Literal["real", "synthetic", "holdout"]
_SIDES: tuple[Side, ...] = ("real", "synthetic", "holdout")


@dataclass(frozen=True, slots=True)
class InputNote:
    """Something about the inputs that is handled, not refused, and must be stated in the report."""

    scope: str
    message: str
    severity: Literal["info", "warn"] = "warn"

    def to_dict(self) -> dict[str, str]:
        return {"scope": self.scope, "message": self.message, "severity": self.severity}


@dataclass(frozen=True, slots=True)
class Group:
    """One protected group: positions of its records in the real, synthetic and holdout data."""

    column: str
    label: str
    real: np.ndarray
    synthetic: np.ndarray
    holdout: np.ndarray | None

    @property
    def key(self) -> str:
        return f"{self.column}={self.label}"


#: Per-modality checks: ``check(inputs) -> (problems, notes)``; signal and image modules add theirs.
VALIDATORS: dict[Modality, Callable[[EvalInputs], tuple[list[Problem], list[InputNote]]]] = {}


@dataclass(eq=False)
class EvalInputs:
    """Real (training), synthetic and optional holdout data, validated and with shared caches.

    Build with :meth:`build`; metrics read :attr:`real`, :attr:`synthetic`, :attr:`holdout` and
    the cached helpers. ``target`` is the outcome column for utility and inference metrics,
    ``protected`` the columns whose groups per-group metrics split on.
    """

    real: Dataset
    synthetic: Dataset
    holdout: Dataset | None = None
    target: str | None = None
    protected: tuple[str, ...] = ()
    seed: int = 0
    n_bootstrap: int = 100
    notes: list[InputNote] = field(default_factory=list)
    _cache: dict[object, Any] = field(default_factory=dict, repr=False)
    _computing: dict[object, threading.Lock] = field(default_factory=dict, repr=False)
    _guard: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _parent: EvalInputs | None = field(default=None, repr=False)
    _positions: dict[Side, np.ndarray] = field(default_factory=dict, repr=False)

    # -- construction -------------------------------------------------------------------------
    @classmethod
    def build(
        cls,
        real: Dataset,
        synthetic: Dataset,
        holdout: Dataset | None = None,
        *,
        target: str | None = None,
        protected: Sequence[str] | None = None,
        seed: int = 0,
        n_bootstrap: int = 100,
    ) -> EvalInputs:
        """Validate the datasets against each other; raise one :class:`InputError` listing every problem."""
        problems: list[Problem] = []
        for name, data in (("synthetic", synthetic), ("holdout", holdout)):
            if data is not None and data.modality is not real.modality:
                problems.append(Problem(name, f"a {data.modality.value} dataset", f"{real.modality.value}, like real"))
        for name, data in (("real", real), ("synthetic", synthetic), ("holdout", holdout)):
            if data is not None and len(data) < 2:
                problems.append(Problem(name, f"{len(data)} record(s)", "at least 2 records"))
        if problems:
            raise InputError(problems, location="evaluation inputs")
        schema = real.schema
        if target is None:
            targets = schema.by_role(Role.TARGET)
            target = targets[0].name if len(targets) == 1 else None
        elif target not in schema:
            problems.append(Problem("--target", f"'{target}'", f"a column of the real data: {schema.names}"))
        if protected is None:
            protected = [f.name for f in schema.by_role(Role.PROTECTED)]
        for p in protected:
            if p not in schema:
                problems.append(Problem("protected", f"'{p}'", f"a column of the real data: {schema.names}"))
        if problems:
            raise InputError(problems, location="evaluation inputs")
        inputs = cls(real, synthetic, holdout, target, tuple(protected), seed, n_bootstrap)
        problems, notes = _check_attributes(inputs)
        check = VALIDATORS.get(real.modality)
        if check is not None:
            more_problems, more_notes = check(inputs)
            problems += more_problems
            notes += more_notes
        if problems:
            raise InputError(problems, location="evaluation inputs")
        inputs.notes.extend(notes)
        return inputs

    def restrict(self, real: np.ndarray, synthetic: np.ndarray, holdout: np.ndarray | None = None) -> EvalInputs:
        """The same evaluation on a subset of records (positions), sharing the encoding."""
        child = EvalInputs(
            self.real.select(real),
            self.synthetic.select(synthetic),
            None if self.holdout is None or holdout is None else self.holdout.select(holdout),
            self.target,
            self.protected,
            self.seed,
            self.n_bootstrap,
            _parent=self,
        )
        child._positions = {"real": np.asarray(real), "synthetic": np.asarray(synthetic)}
        if holdout is not None and self.holdout is not None:
            child._positions["holdout"] = np.asarray(holdout)
        return child

    # -- plain accessors ----------------------------------------------------------------------
    @property
    def modality(self) -> Modality:
        return self.real.modality

    @property
    def schema(self) -> Schema:
        return self.real.schema

    def data(self, side: Side) -> Dataset | None:
        return {"real": self.real, "synthetic": self.synthetic, "holdout": self.holdout}[side]

    def frame(self, side: Side) -> pd.DataFrame:
        """The attribute table of one side (for tables: the table itself)."""
        data = self.data(side)
        if data is None:
            raise InputError(Problem(side, "no dataset", f"a {side} dataset"))
        return data.attributes

    def frames(self) -> list[pd.DataFrame]:
        """Real, synthetic and (when given) holdout attribute tables, in that order."""
        return [self.frame(s) for s in _SIDES if self.data(s) is not None]

    def feature_fields(self) -> list[Field]:
        """Fields that take part in distances and distributions (identifiers and text left out)."""
        excluded = set(self.encoding().excluded)
        return [f for f in self.schema if f.name not in excluded]

    def rng(self, name: str) -> np.random.Generator:
        """A generator for one metric: same seed and name, same draws, independent of metric order."""
        return np.random.default_rng([self.seed, zlib.crc32(name.encode())])

    def memo(self, key: object, compute: Callable[[], T]) -> T:
        """Compute a shared piece once per evaluation (keys are tuples naming what it is).

        Safe from several threads (metrics split their loops over cores): a piece is computed by
        the first thread asking for it while the others wait; different pieces in parallel.
        """
        if key in self._cache:
            return self._cache[key]  # type: ignore[no-any-return]
        with self._guard:
            lock = self._computing.setdefault(key, threading.Lock())
        with lock:
            if key not in self._cache:
                self._cache[key] = compute()
        return self._cache[key]  # type: ignore[no-any-return]

    # -- shared encodings ---------------------------------------------------------------------
    def encoding(self) -> TableEncoding:
        """The numeric encoding of the attribute tables, fitted on the real one."""
        if self._parent is not None:
            return self._parent.encoding()
        return self.memo(("encoding",), lambda: TableEncoding.fit(self.frame("real"), self.schema, self.frames()[1:]))

    def matrix(self, side: Side) -> np.ndarray:
        """One side encoded (float32, rows × features)."""
        if self._parent is not None:
            rows: np.ndarray = self._parent.matrix(side)[self._positions[side]]
            return rows
        return self.memo(("matrix", side), lambda: self.encoding().transform(self.frame(side)))

    def codes(self, column: str, *, bins: int = 20) -> ColumnCodes:
        """Shared integer codes of one column over real, synthetic (and holdout)."""
        return self.memo(("codes", column, bins), lambda: column_codes(self.frames(), self.schema[column], bins=bins))

    # -- groups -------------------------------------------------------------------------------
    def groups(self, *, min_records: int = 20) -> tuple[list[Group], list[InputNote]]:
        """Protected groups with at least ``min_records`` real and synthetic records, and notes on the rest."""
        return self.memo(("groups", min_records), lambda: _groups(self, min_records))

    # -- bootstrap ----------------------------------------------------------------------------
    def resample(self, side: Side, b: int) -> np.ndarray:
        """Replicate ``b``'s resample of one side's positions (the same for every metric)."""
        n = len(self.frame(side))
        rng = np.random.default_rng([self.seed, 7919, _SIDES.index(side), b])
        # below 2³¹ the 32-bit draw gives the same positions as the 64-bit one, 30 % faster
        return rng.integers(0, n, n, dtype=np.int32 if n < 2**31 else np.int64)

    def bootstrap_mean(
        self, terms: np.ndarray, side: Side, *, level: float = 0.95
    ) -> tuple[tuple[float, float], tuple[float, ...]]:
        """Percentile CI and replicates of ``terms.mean()`` over resamples of ``side``'s records.

        ``terms`` holds one value per record of ``side`` (e.g. 1 when a synthetic record lies
        inside the real manifold), so the same resample applies to every metric of that side.
        """
        terms = np.asarray(terms, dtype=np.float64)
        reps = np.array([terms[self.resample(side, b)].mean() for b in range(self.n_bootstrap)])
        return percentile_ci(reps, level), tuple(float(v) for v in reps)


def percentile_ci(replicates: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    """The central ``level`` interval of bootstrap replicates."""
    alpha = (1 - level) / 2
    lo, hi = np.quantile(replicates, [alpha, 1 - alpha])
    return float(lo), float(hi)


# -- attribute-table validation --------------------------------------------------------------
def _kind(f: Field) -> str:
    if is_numeric_field(f):
        return "number" if f.type is not FieldType.DATETIME else "date"
    return "category" if f.type in (FieldType.CATEGORICAL, FieldType.BOOLEAN) else "text"


def _check_attributes(inputs: EvalInputs) -> tuple[list[Problem], list[InputNote]]:
    """Same columns and comparable types in every table; new categories and new gaps are noted."""
    problems: list[Problem] = []
    notes: list[InputNote] = []
    real = inputs.frame("real")
    schema = inputs.schema
    for side in ("synthetic", "holdout"):
        data = inputs.data(side)
        if data is None:
            continue
        frame = data.attributes
        missing = [c for c in schema.names if c not in frame.columns]
        extra = [c for c in map(str, frame.columns) if c not in schema]
        if missing:
            problems.append(Problem(f"{side} data", f"no column(s) {missing}", "every column of the real data"))
        if extra:
            problems.append(Problem(f"{side} data", f"column(s) {extra} the real data lacks", "the real columns only"))
        for f in schema:
            if f.name not in frame.columns or _kind(f) == "text":
                continue
            problems += _type_problems(side, f, real[f.name], frame[f.name])
            notes += _value_notes(side, f, real[f.name], frame[f.name])
    return problems, notes


def _type_problems(side: str, f: Field, real: pd.Series, other: pd.Series) -> list[Problem]:
    if not is_numeric_field(f):
        return []
    present = other.notna().to_numpy()
    parsed = np.isfinite(numeric_values(other))
    bad = present & ~parsed
    if bad.any():
        example = other[bad].iloc[0]
        return [
            Problem(
                f"{side} column '{f.name}'",
                f"{int(bad.sum())} value(s) that are not {_kind(f)}s (e.g. {example!r})",
                f"{_kind(f)}s like the real column ({real.dtype})",
            )
        ]
    return []


def _value_notes(side: str, f: Field, real: pd.Series, other: pd.Series) -> list[InputNote]:
    notes = []
    n_missing = int(other.isna().sum())
    if n_missing and not bool(real.isna().any()):
        notes.append(
            InputNote(
                f"{side} column '{f.name}'",
                f"{n_missing} missing value(s) where the real column has none; "
                "kept and compared as their own value (never dropped)",
            )
        )
    if not is_numeric_field(f):
        codes = column_codes([real.to_frame(), other.to_frame()], f)
        if codes.labels and codes.labels[-1] == "<other>":
            unseen = int((codes.codes[1] == len(codes.labels) - 1).sum())
            new = sorted(set(other.dropna().astype(str)) - set(real.dropna().astype(str)))[:5]
            notes.append(
                InputNote(
                    f"{side} column '{f.name}'",
                    f"{unseen} value(s) in categories the real data never had (e.g. {new}); counted as '<other>'",
                )
            )
    return notes


# -- protected groups -------------------------------------------------------------------------
def _group_codes(inputs: EvalInputs, f: Field) -> tuple[list[str], list[np.ndarray]]:
    frames = inputs.frames()
    if is_numeric_field(f) and is_age_field(f):
        edges = np.array([b for b, _ in AGE_BANDS[1:]])
        labels = [label for _, label in AGE_BANDS]
        out = []
        for fr in frames:
            x = numeric_values(fr[f.name])
            c = np.searchsorted(edges, x, side="right").astype(np.int64)
            c[~np.isfinite(x)] = -1
            out.append(c)
        return labels, out
    codes = column_codes(frames, f, bins=4)
    return list(codes.labels), list(codes.codes)


def _groups(inputs: EvalInputs, min_records: int) -> tuple[list[Group], list[InputNote]]:
    groups: list[Group] = []
    notes: list[InputNote] = []
    has_holdout = inputs.holdout is not None
    for name in inputs.protected:
        labels, codes = _group_codes(inputs, inputs.schema[name])
        for g, label in enumerate(labels):
            real, syn = np.flatnonzero(codes[0] == g), np.flatnonzero(codes[1] == g)
            if len(real) < min_records or len(syn) < min_records:
                if len(real) or len(syn):
                    notes.append(
                        InputNote(
                            f"group {name}={label}",
                            f"{len(real)} real and {len(syn)} synthetic records; below {min_records}, not measured",
                            "info",
                        )
                    )
                continue
            hold = np.flatnonzero(codes[2] == g) if has_holdout else None
            groups.append(Group(name, label, real, syn, hold))
    return groups, notes
