"""The tabular generator: boundary checks, the table plan, exact conditions and constraints, once.

A tabular generator implements three small hooks on the *model table* (numbers and
categories only, see :mod:`._plan`): ``_fit``, ``_sample`` and the state pair. Everything a
user relies on is done here, the same way for every generator:

- ``fit`` validates the data (at least 2 rows, no all-missing column, constraints that agree
  with the schema and with each other), learns the plan, opens the privacy accountant when
  ``epsilon`` is set, and records the schema that conditions are checked against;
- ``sample`` checks conditions against that schema (unknown column, unseen category, value out
  of range, contradiction: one error listing each), translates them to the model table for
  generators that condition natively, and then *verifies* every row on the decoded table —
  rows that fail a condition or constraint are repaired where the constraint allows it or
  rejected and redrawn, with batch sizes from the observed acceptance rate. If the model
  yields no row after a bounded number of candidates, a clear error says so (never an
  endless loop, never a short result).
"""

from __future__ import annotations

import math
from abc import abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any, Literal, Self

import numpy as np
import pandas as pd

from medsyn.data.conditions import Condition, Conditions, ConditionsLike, Op
from medsyn.data.constraints import Constraint, FixedCombinations, check_consistent, parse_constraints
from medsyn.data.dataset import Dataset, Modality, Provenance, TabularDataset
from medsyn.data.schema import FieldType, Schema
from medsyn.errors import InputError, Problem
from medsyn.privacy import PrivacyAccountant, PrivacyGuarantee
from medsyn.synth._base import Generator
from medsyn.synth.tabular._plan import MISSING, ColumnPlan, ModelColumn, TablePlan

__all__ = ["TabularGenerator"]

ConstraintLike = Constraint | str | Mapping[str, object]
_MAX_BATCH = 1_000_000


class TabularGenerator(Generator):
    """Base class of table generators; subclasses implement ``_fit``, ``_sample`` and the state hooks."""

    #: accounting mode of a DP generator ("pure" or "zcdp"); ignored when ``epsilon`` is None
    dp_mode: str = "pure"

    # -- hooks ------------------------------------------------------------------------------
    @abstractmethod
    def _fit(self, table: pd.DataFrame, columns: list[ModelColumn], rng: np.random.Generator) -> None:
        """Learn from the model table (float64 numbers, Categorical categories, nothing missing)."""

    @abstractmethod
    def _sample(self, n: int, rng: np.random.Generator, conditions: Conditions) -> pd.DataFrame:
        """Draw at most ``n`` model-table rows (each counts as a candidate; natively rejected rows may be
        left out); ``conditions`` are on model columns and may be used natively."""

    @abstractmethod
    def _model_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]: ...

    @abstractmethod
    def _load_model_state(self, state: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> None: ...

    # -- fit --------------------------------------------------------------------------------
    # Generator.fit/sample take **kwargs so modality-agnostic callers type-check; a modality names
    # the keywords it accepts, so an unknown one is a TypeError instead of being silently ignored.
    def fit(  # type: ignore[override]
        self,
        data: Dataset | pd.DataFrame,
        /,
        *,
        constraints: Sequence[ConstraintLike] | None = None,
        seed: int | Literal["auto"] | None = "auto",
        progress: bool = False,
    ) -> Self:
        """Learn from ``data`` (a :class:`TabularDataset` or a DataFrame, whose schema is inferred).

        ``constraints`` add to those declared in the schema; all are kept with the model and hold
        on every sampled row. ``seed`` fixes the fit's own randomness; ``"auto"`` means 0 (the
        same model every time) except under differential privacy, where it means fresh entropy:
        anyone who knows the seed and the data could recompute and remove the noise.
        """
        ds = _as_tabular(data, self.name)
        schema = ds.schema
        frame = ds.data
        problems: list[Problem] = []
        if len(frame) < 2:
            problems.append(Problem("data", f"{len(frame)} row(s)", "at least 2 rows to learn from"))
        if problems:
            raise InputError(problems)
        rules = tuple(schema.constraints) + parse_constraints(constraints)
        check_consistent(rules, schema)
        epsilon = getattr(self, "epsilon", None)
        learned = [str(r) for r in rules if isinstance(r, FixedCombinations)]
        if epsilon is not None and learned:
            raise InputError(
                Problem(
                    f"constraints {learned}",
                    "combinations read from the data",
                    "rules that need nothing from the data under differential privacy",
                )
            )
        self.plan_ = TablePlan.learn(frame, schema, private=epsilon is not None)
        self.columns_ = self.plan_.model_columns
        if not self.columns_:
            raise InputError(Problem("data", "no column that can be modelled", "at least one non-identifier column"))
        self.constraints_ = tuple(c.fit(frame) for c in rules)
        self.schema_ = schema.with_constraints(self.constraints_)
        self.training_schema_ = _training_schema(self.schema_, self.plan_)
        self.n_training_ = len(frame)
        self.accountant_ = (
            PrivacyAccountant(float(epsilon), float(getattr(self, "delta", 0.0) or 0.0), mode=self.dp_mode)  # type: ignore[arg-type]
            if epsilon is not None
            else None
        )
        if seed == "auto":
            seed = None if epsilon is not None else 0
        rng = np.random.default_rng(seed)
        table = self.plan_.encode(frame, rng)
        self._show_progress = progress
        self._fit(table, self.columns_, rng)
        if self.accountant_ is not None:
            caveats = [w for w in self.plan_.warnings if "privacy guarantee" in w]
            if seed is not None:
                caveats.append(f"fitted with the fixed seed {seed}: whoever knows it and the data can undo the noise")
            self.privacy_: PrivacyGuarantee | None = replace(
                self.accountant_.guarantee(self.name), caveats=tuple(caveats)
            )
        else:
            self.privacy_ = None
        # counting rule-breaking training rows would be an unpaid query under DP
        self.warnings_ = list(self.plan_.warnings) + (
            [] if epsilon is not None else _violations(self.constraints_, frame)
        )
        self.fitted_ = True
        return self

    # -- sample -----------------------------------------------------------------------------
    def sample(  # type: ignore[override]  # named keywords, not **kwargs (see fit)
        self,
        n: int,
        /,
        *,
        conditions: ConditionsLike = None,
        constraints: Sequence[ConstraintLike] | None = None,
        seed: int | None = None,
        balance: str | Sequence[str] | Mapping[object, float] | None = None,
        max_candidates: int | None = None,
    ) -> TabularDataset:
        """Draw ``n`` synthetic rows satisfying every condition and constraint.

        Parameters
        ----------
        n
            Number of rows.
        conditions
            Text such as ``'sex == "F" and age >= 70'``, a mapping, or :class:`Conditions`.
        constraints
            Extra rules for this draw only (may include Python :class:`Predicate` s).
        seed
            Same seed, same rows.
        balance
            Share the ``n`` rows equally over the categories of a column (``"sex"``) or of a
            combination (``["sex", "death"]``), or by a mapping of condition text to share
            (``{'sex == "F" and age >= 70': 0.25, ...}``); each group is sampled under its condition.
        max_candidates
            Give up (with an error) after this many candidate rows; default
            ``max(200 000, 1000 × n)``.
        """
        self._check_fitted()
        if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 0:
            raise InputError(Problem("n", repr(n), "a whole number >= 0"))
        n = int(n)
        if balance is not None:
            return self._sample_balanced(n, balance, conditions, constraints, seed, max_candidates)
        conds = Conditions.parse(conditions).bind(self.training_schema_)
        for clause in conds:
            kind = self.plan_.plan(clause.column).kind
            if kind in ("identifier", "text"):
                raise InputError(
                    Problem(
                        f"condition '{clause}'", f"a condition on {kind} column '{clause.column}'", "a modelled column"
                    )
                )
        rules = self.constraints_ + parse_constraints(constraints)
        if constraints:
            check_consistent(rules, self.schema_)
        model_conds = self._model_conditions(conds)
        rng = np.random.default_rng(seed)
        limit = max_candidates if max_candidates is not None else max(200_000, 1000 * n)
        parts: list[pd.DataFrame] = []
        have = tried = 0
        batch = max(n, 1)
        repair = False
        while have < n:
            batch = min(batch, max(limit - tried, 1))
            model = self._sample(batch, rng, model_conds)
            frame = self.plan_.decode(model, rng, start=tried)
            tried += batch
            for rule in rules:
                valid = rule.is_valid(frame)
                if repair and not valid.all():
                    fixed = rule.repair(frame)
                    frame = fixed if fixed is not None else frame
                elif len(frame) and valid.mean() < 0.2:
                    repair = True  # rejection would waste most draws: repair from the next batch on
            ok = np.ones(len(frame), dtype=bool)
            for rule in rules:  # after every repair: a fix for one rule may break another
                ok &= rule.is_valid(frame)
            if conds:
                ok &= conds.mask(frame)
            kept = frame.loc[ok]
            parts.append(kept.head(n - have))
            have += min(len(kept), n - have)
            if have >= n:
                break
            if tried >= limit:
                raise InputError(
                    Problem(
                        "sample",
                        f"{have} of {n} rows satisfy {_describe(conds, rules)} after {tried:,} candidates "
                        f"(the model gives them probability < {max(have, 1) / tried:.1e})",
                        "conditions the training data supports",
                        fix="relax the conditions, or check how many training records meet them",
                    )
                )
            rate = have / tried
            batch = int(min(_MAX_BATCH, math.ceil((n - have) / max(rate, 1.0 / tried) * 1.25) + 16))
        out = pd.concat(parts, ignore_index=True) if parts else self.plan_.decode(self._empty(), rng)
        return TabularDataset(
            out.reset_index(drop=True),
            self.schema_,
            Provenance(source=f"synthetic:{self.name}", reader="medsyn.synth", warnings=tuple(self.warnings_)),
        )

    def _sample_balanced(
        self,
        n: int,
        balance: str | Sequence[str] | Mapping[object, float],
        conditions: ConditionsLike,
        constraints: Sequence[ConstraintLike] | None,
        seed: int | None,
        max_candidates: int | None,
    ) -> TabularDataset:
        from medsyn.synth._balance import balanced_groups, split_counts

        categories = {
            p.name: [str(_typed(c, p.kind)) for c in p.categories]
            for p in self.plan_.columns
            if p.kind in ("categorical", "boolean")
        }
        groups = balanced_groups(balance, categories)
        counts = split_counts(n, [share for _, share in groups])
        rng = np.random.default_rng(seed)
        extra = Conditions.parse(conditions)
        parts = [
            self.sample(
                k,
                conditions=group & extra,
                constraints=constraints,
                seed=int(rng.integers(2**63)),
                max_candidates=max_candidates,
            ).data
            for (group, _), k in zip(groups, counts, strict=True)
            if k
        ]
        out = pd.concat(parts, ignore_index=True) if parts else self.plan_.decode(self._empty(), rng)
        out = out.iloc[rng.permutation(len(out))].reset_index(drop=True)
        return TabularDataset(
            out,
            self.schema_,
            Provenance(source=f"synthetic:{self.name}", reader="medsyn.synth", warnings=tuple(self.warnings_)),
        )

    def _empty(self) -> pd.DataFrame:
        return pd.DataFrame(
            {
                c.name: pd.Categorical([], categories=list(c.categories)) if c.kind == "categorical" else np.zeros(0)
                for c in self.columns_
            }
        )

    def _model_conditions(self, conds: Conditions) -> Conditions:
        """Original-table clauses → model-table clauses that native samplers can honour.

        Values are drawn on a continuous scale and then rounded (whole numbers, recorded decimals)
        or floored (date-only columns), so bounds become the set of model values that decode
        inside them: ``age == 70`` becomes ``69.5 <= age < 70.5``; categories become the set of
        allowed categories; dates become days since 1970; a value clause on a column with missing values also fixes its
        indicator to "present". What cannot be expressed is left to the verification step.
        """
        out: list[Condition] = []
        for column in conds.columns:
            p = self.plan_.plan(column)
            clauses = conds.on(column)
            if any(c.op == Op.MISSING for c in clauses):
                if p.kind in ("numeric", "integer", "datetime") and p.has_missing:
                    out.append(Condition(f"{column}__missing", Op.IN, ("1",)))
                elif p.kind in ("categorical", "boolean") and p.has_missing:
                    out.append(Condition(column, Op.IN, (MISSING,)))
                continue
            if p.kind in ("categorical", "boolean"):
                allowed = conds.allowed(column, [_typed(c, p.kind) for c in p.categories])
                out.append(Condition(column, Op.IN, tuple(str(a) for a in allowed)))
                continue
            if p.kind not in ("numeric", "integer", "datetime"):
                continue
            if p.has_missing:
                out.append(Condition(f"{column}__missing", Op.IN, ("0",)))
            out += _preimage(column, clauses, p)
        return Conditions(tuple(out))

    # -- persistence ------------------------------------------------------------------------
    def _get_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        state, arrays = self._model_state()
        return (
            {
                "schema": self.schema_.to_dict(),
                "plan": self.plan_.to_dict(),
                "n_training": self.n_training_,
                "privacy": self.privacy_.to_dict() if self.privacy_ is not None else None,
                "warnings": self.warnings_,
                "model": state,
            },
            arrays,
        )

    def _set_state(self, state: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> None:
        self.schema_ = Schema.from_dict(state["schema"], source="model.json schema")
        self.constraints_ = self.schema_.constraints
        self.plan_ = TablePlan.from_dict(state["plan"])
        self.columns_ = self.plan_.model_columns
        self.training_schema_ = _training_schema(self.schema_, self.plan_)
        self.n_training_ = int(state["n_training"])
        self.privacy_ = PrivacyGuarantee.from_dict(state["privacy"]) if state.get("privacy") else None
        self.warnings_ = list(state.get("warnings", []))
        self._load_model_state(state["model"], arrays)


# -- helpers ------------------------------------------------------------------------------------
def _as_tabular(data: object, owner: str) -> TabularDataset:
    if isinstance(data, TabularDataset):
        return data
    if isinstance(data, pd.DataFrame):
        return TabularDataset(data)
    if isinstance(data, Dataset):
        raise InputError(
            Problem(f"{owner}.fit", f"a {data.modality.value} dataset", f"a {Modality.TABULAR.value} dataset")
        )
    raise InputError(Problem(f"{owner}.fit", f"a {type(data).__name__}", "a TabularDataset or a pandas DataFrame"))


def _training_schema(schema: Schema, plan: TablePlan) -> Schema:
    """The schema conditions are checked against: categories and ranges the model actually knows."""
    fields = []
    for f in schema:
        p = plan.plan(f.name)
        if p.kind in ("categorical", "boolean") and f.type != FieldType.BOOLEAN:
            f = replace(f, categories=p.categories)
        elif p.kind in ("numeric", "integer"):
            f = replace(f, minimum=p.low, maximum=p.high)
        elif p.kind == "constant":
            if isinstance(p.constant, float) and f.is_numeric:
                f = replace(f, minimum=p.constant, maximum=p.constant)
            elif f.type == FieldType.CATEGORICAL:
                f = replace(f, categories=(str(p.constant),))
        fields.append(f)
    return Schema(tuple(fields), schema.constraints)


def _preimage(column: str, clauses: list[Condition], p: ColumnPlan) -> list[Condition]:
    """Bounds on a decoded column → bounds on the model value that decodes inside them."""
    if p.kind == "integer":
        step, low_off, high_off = 1.0, -0.5, 0.5
    elif p.kind == "numeric" and p.decimals is not None:
        step = 10.0**-p.decimals
        low_off, high_off = -step / 2, step / 2
    elif p.kind == "datetime" and p.date_only:
        step, low_off, high_off = 1.0, 0.0, 1.0
    else:
        step = 0.0
    out: list[Condition] = []
    for c in clauses:
        if c.op == Op.IN and isinstance(c.value, tuple):
            values = [_days(x) for x in c.value]
            bounds = [(Op.GE, min(values)), (Op.LE, max(values))]
        elif c.op == Op.EQ:
            bounds = [(Op.GE, _days(c.value)), (Op.LE, _days(c.value))]
        elif c.op in (Op.GE, Op.GT, Op.LE, Op.LT):
            bounds = [(c.op, _days(c.value))]
        else:
            continue  # != and not in: left to the verification step
        for op, x in bounds:
            if not step:
                out.append(Condition(column, op, x))
                continue
            k = x / step
            if op in (Op.GE, Op.GT):
                grid = math.ceil(k - 1e-9) if op == Op.GE else math.floor(k + 1e-9) + 1
                out.append(Condition(column, Op.GE, grid * step + low_off))
            else:
                grid = math.floor(k + 1e-9) if op == Op.LE else math.ceil(k - 1e-9) - 1
                out.append(Condition(column, Op.LT, grid * step + high_off))
    return out


def _typed(category: str, kind: str) -> object:
    return {"True": True, "False": False}.get(category, category) if kind == "boolean" else category


def _days(value: object) -> float:
    if isinstance(value, pd.Timestamp):
        return float(value.as_unit("ns").value) / 86_400e9
    return float(value)  # type: ignore[arg-type]


def _describe(conds: Conditions, rules: Sequence[Constraint]) -> str:
    parts = ([f"the conditions '{conds}'"] if conds else []) + (
        [f"the constraints {[str(r) for r in rules]}"] if rules else []
    )
    return " and ".join(parts) or "the model"


def _violations(rules: Sequence[Constraint], frame: pd.DataFrame) -> list[str]:
    out = []
    for rule in rules:
        bad = int((~rule.is_valid(frame)).sum())
        if bad:
            out.append(f"{bad} training row(s) break the constraint '{rule}'; synthetic rows will not")
    return out
