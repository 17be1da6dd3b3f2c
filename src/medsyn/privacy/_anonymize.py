"""``anonymize``: make a table k-anonymous (l-diverse, t-close, risk-limited) at the least loss of value.

This module is the boundary: it validates the request (columns, parameters, hierarchies), encodes
the quasi-identifiers, runs a method — ``optimal`` full-domain generalisation
(:mod:`medsyn.privacy._lattice`) or ``mondrian`` partitioning (:mod:`medsyn.privacy._mondrian`)
— and assembles an :class:`AnonymizationResult`: the released table, the chosen generalisation,
what was suppressed, loss and risk before and after, the models re-checked on the released
values, and a downstream-utility comparison when the schema names a target.

Direct identifiers (role ``identifier``) are removed from the release; suppressed records are
removed too (record suppression). A request that cannot be met within the suppression limit
raises :class:`AnonymizationInfeasible` saying what the best generalisation would still need.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from medsyn._registry import Registry
from medsyn.data.dataset import Provenance, TabularDataset, frame_digest
from medsyn.data.schema import FieldType, Role, Schema
from medsyn.errors import InputError, Problem
from medsyn.privacy._criteria import LVariant, Requirements, SensitiveCodes, TDistance
from medsyn.privacy._hierarchy import Hierarchy
from medsyn.privacy._hierarchy_build import HierarchySpec, default_hierarchy
from medsyn.privacy._lattice import EncodedTable, SearchStats, lattice_search
from medsyn.privacy._loss import LOSSES, LossReport, LossTables, loss_report
from medsyn.privacy._mondrian import MondrianColumn, MondrianStats, mondrian
from medsyn.privacy._release_checks import ModelCheck, RiskSummary, check_release, risk_summary
from medsyn.privacy._utility import UtilityReport, downstream_utility

__all__ = ["METHODS", "AnonymizationInfeasible", "AnonymizationResult", "anonymize"]


class AnonymizationInfeasible(InputError):
    """No generalisation meets the requirements within the suppression limit; says what would."""

    def __init__(self, problems: Sequence[Problem], *, checks: Sequence[ModelCheck], needed: int, allowed: int) -> None:
        super().__init__(list(problems))
        self.checks = tuple(checks)
        self.needed = needed
        self.allowed = allowed


@dataclass(frozen=True, eq=False)
class AnonymizationResult:
    """An anonymised table and everything a reviewer needs to judge it.

    ``levels`` (optimal method) is the chosen level per quasi-identifier and ``generalization``
    says in words what each became; ``checks`` re-measures every requested model on the
    released values; ``loss_before``/``loss_after`` and ``risk_before``/``risk_after`` compare
    the original and released tables.
    """

    dataset: TabularDataset
    method: str
    requirements: Requirements
    quasi_identifiers: tuple[str, ...]
    sensitive: tuple[str, ...]
    levels: Mapping[str, int] | None
    generalization: Mapping[str, str]
    records_in: int
    suppressed: int
    dropped_columns: tuple[str, ...]
    loss_before: LossReport
    loss_after: LossReport
    risk_before: RiskSummary
    risk_after: RiskSummary
    checks: tuple[ModelCheck, ...]
    utility: UtilityReport | None
    search: SearchStats | MondrianStats
    seconds: float
    loss: str = "ncp"
    hierarchies: Mapping[str, Hierarchy] = field(default_factory=dict)

    @property
    def satisfied(self) -> bool:
        """Every requested model holds on the released table."""
        return all(c.satisfied for c in self.checks)

    def to_dict(self) -> dict[str, object]:
        return {
            "method": self.method,
            "requirements": self.requirements.to_dict(),
            "requirements_text": self.requirements.describe(),
            "quasi_identifiers": list(self.quasi_identifiers),
            "sensitive": list(self.sensitive),
            "levels": None if self.levels is None else dict(self.levels),
            "generalization": dict(self.generalization),
            "hierarchies": {k: h.to_dict() for k, h in self.hierarchies.items()},
            "records_in": self.records_in,
            "records_out": len(self.dataset),
            "suppressed": self.suppressed,
            "dropped_columns": list(self.dropped_columns),
            "optimised_loss": self.loss,
            "loss_before": self.loss_before.to_dict(),
            "loss_after": self.loss_after.to_dict(),
            "risk_before": self.risk_before.to_dict(),
            "risk_after": self.risk_after.to_dict(),
            "checks": [c.to_dict() for c in self.checks],
            "satisfied": self.satisfied,
            "utility": None if self.utility is None else self.utility.to_dict(),
            "search": self.search.to_dict(),
            "seconds": self.seconds,
        }

    def __repr__(self) -> str:
        verdict = "satisfied" if self.satisfied else "NOT satisfied"
        return (
            f"AnonymizationResult({self.method}: {self.requirements.describe()} — {verdict}; "
            f"{len(self.dataset):,}/{self.records_in:,} records released, NCP {self.loss_after.ncp:.3f})"
        )


@dataclass(frozen=True, eq=False)
class _Request:
    """A validated request: the table, its encoded columns and what to enforce."""

    frame: pd.DataFrame
    schema: Schema
    qis: tuple[str, ...]
    sensitive: tuple[SensitiveCodes, ...]
    hierarchies: tuple[Hierarchy, ...]
    leaf_codes: np.ndarray
    req: Requirements
    loss: str
    strict: bool


@dataclass(frozen=True, eq=False)
class _Release:
    columns: dict[str, pd.Categorical]
    kept: np.ndarray
    levels: dict[str, int] | None
    generalization: dict[str, str]
    loss_before: LossReport
    loss_after: LossReport
    sizes_before: np.ndarray
    stats: SearchStats | MondrianStats


Method = Callable[[_Request], _Release]
METHODS = Registry[Method]("anonymization method")


@METHODS.register("optimal")
def _optimal(request: _Request) -> _Release:
    table = EncodedTable.build(request.hierarchies, request.leaf_codes, request.sensitive)
    result = lattice_search(table, request.req, loss=request.loss)
    if result.best is None or result.row_class is None:
        top = result.top
        raise _infeasible(request, needed=top.suppressed)
    best = result.best
    hs = request.hierarchies
    columns: dict[str, pd.Categorical] = {}
    generalization: dict[str, str] = {}
    for j, (name, h) in enumerate(zip(request.qis, hs, strict=True)):
        level = best.levels[j]
        generalization[name] = h.level_names[level]
        if level > 0:
            columns[name] = h.labels_of(h.table[level][request.leaf_codes[:, j]], level)
    kept = ~best.violating[result.row_class]
    leaf_counts = [np.bincount(request.leaf_codes[:, j], minlength=h.n_codes) for j, h in enumerate(hs)]
    tables = LossTables.build(hs, leaf_counts, table.n)
    k = request.req.min_class_size
    base = table.base
    before = loss_report(tables, base.levels, base.codes, base.sizes, np.zeros(len(base), dtype=bool), k=k)
    after = loss_report(tables, best.levels, best.classes.codes, best.classes.sizes, best.violating, k=k)
    return _Release(
        columns,
        kept,
        dict(zip(request.qis, best.levels, strict=True)),
        generalization,
        before,
        after,
        base.sizes,
        result.stats,
    )


@METHODS.register("mondrian")
def _mondrian(request: _Request) -> _Release:
    frame = request.frame
    cols = [MondrianColumn.from_hierarchy(h, request.leaf_codes[:, j]) for j, h in enumerate(request.hierarchies)]
    table = EncodedTable.build(request.hierarchies, request.leaf_codes, request.sensitive)
    whole = check_release(frame, (), [s.name for s in request.sensitive], request.req)
    if not all(c.satisfied for c in whole):
        raise _infeasible(request, needed=len(frame), checks=whole)
    out = mondrian(cols, request.req, request.sensitive, strict=request.strict)
    sizes = table.base.sizes.astype(np.float64)
    k = request.req.min_class_size
    before = LossReport(0.0, 0.0, float(sizes @ sizes), len(frame) / len(sizes) / k, len(sizes), len(frame), 0)
    kind = "ranges and sets" + ("" if request.strict else " (relaxed)")
    return _Release(
        out.released,
        np.ones(len(frame), dtype=bool),
        None,
        dict.fromkeys(request.qis, kind),
        before,
        out.loss,
        table.base.sizes,
        out.stats,
    )


def _infeasible(
    request: _Request, *, needed: int, checks: Sequence[ModelCheck] | None = None
) -> AnonymizationInfeasible:
    n = len(request.frame)
    req = request.req
    allowed = req.suppression_limit(n)
    whole = checks if checks is not None else check_release(request.frame, (), [s.name for s in request.sensitive], req)
    broken = "; ".join(f"{c.model} {c.achieved_text}" for c in whole if not c.satisfied)
    need_share = needed / n if n else 1.0
    fix = (
        f"Even fully generalised, {needed:,} record(s) ({need_share:.2%}) would have to be suppressed"
        + (f" — the whole table as one class reaches only: {broken}" if broken else "")
        + ". Relax the models, allow more suppression, or use fewer quasi-identifiers."
    )
    problem = Problem(
        "requirements",
        f"{req.describe()} cannot be met with at most {allowed:,} of {n:,} records suppressed",
        "a generalisation that satisfies every model within the suppression limit",
        fix,
    )
    return AnonymizationInfeasible([problem], checks=whole, needed=needed, allowed=allowed)


def _requirements(
    base: Requirements | None,
    k: int | None,
    l: float | None,  # noqa: E741
    t: float | None,
    max_suppression: float | None,
) -> Requirements:
    req = base if base is not None else Requirements()
    changes: dict[str, object] = {}
    for name, value in (("k", k), ("l", l), ("t", t), ("max_suppression", max_suppression)):
        if value is not None:
            changes[name] = value
    req = replace(req, **changes)  # type: ignore[arg-type]
    return replace(req, l_variant=LVariant(req.l_variant), t_distance=TDistance(req.t_distance))


def _validate(
    dataset: TabularDataset,
    req: Requirements,
    quasi_identifiers: Sequence[str] | None,
    sensitive: Sequence[str] | str | None,
    hierarchies: Mapping[str, Hierarchy | HierarchySpec] | None,
    method: str,
    loss: str,
    strict: bool,
) -> _Request:
    problems = list(req.problems())
    frame, schema = dataset.data, dataset.schema
    columns = [str(c) for c in frame.columns]
    if method not in METHODS:
        problems.append(Problem("method", repr(method), f"one of {METHODS.names()}"))
    if loss not in LOSSES:
        problems.append(Problem("loss", repr(loss), f"one of {LOSSES.names()}"))
    if method == "mondrian" and req.avg_risk is not None:
        problems.append(Problem("avg_risk", "with method 'mondrian'", "method 'optimal' (Mondrian cannot bound it)"))
    qis = (
        list(quasi_identifiers)
        if quasi_identifiers is not None
        else [f.name for f in schema.by_role(Role.QUASI_IDENTIFIER)]
    )
    if not qis:
        problems.append(
            Problem(
                "quasi_identifiers",
                "none given and none marked in the schema",
                "at least one column",
                "Pass quasi_identifiers= or mark fields 'role: quasi_identifier' in the schema YAML.",
            )
        )
    missing = [q for q in qis if q not in columns]
    if missing:
        problems.append(Problem(f"quasi_identifiers {missing}", "not columns of the data", f"some of {columns}"))
    if len(set(qis)) != len(qis):
        problems.append(Problem("quasi_identifiers", f"repeated names in {qis}", "each column once"))
    sens: list[str] = []
    if req.needs_sensitive:
        sens = (
            [sensitive]
            if isinstance(sensitive, str)
            else list(sensitive or [f.name for f in schema.by_role(Role.SENSITIVE)])
        )
        if not sens:
            problems.append(
                Problem(
                    "sensitive",
                    "none given and none marked in the schema",
                    "the sensitive column(s) that l-diversity / t-closeness protect",
                    "Pass sensitive= or mark fields 'role: sensitive' in the schema YAML.",
                )
            )
        absent = [s for s in sens if s not in columns]
        if absent:
            problems.append(Problem(f"sensitive {absent}", "not columns of the data", f"some of {columns}"))
        both = sorted(set(sens) & set(qis))
        if both:
            problems.append(Problem(f"sensitive {both}", "also quasi-identifiers", "separate columns"))
    n = len(frame)
    if n == 0:
        problems.append(Problem(dataset.name, "no records", "a table with records"))
    elif req.min_class_size > n:
        problems.append(Problem("k", f"{req.min_class_size} is larger than the data ({n:,} records)", f"k ≤ {n:,}"))
    extra = sorted(set(hierarchies or {}) - set(qis))
    if extra:
        problems.append(
            Problem(f"hierarchies {extra}", "given for columns that are not quasi-identifiers", f"some of {qis}")
        )
    built: list[Hierarchy] = []
    codes: list[np.ndarray] = []
    for name in qis:
        if name not in columns:
            continue
        values = frame[name]
        try:
            given = (hierarchies or {}).get(name)
            if given is None:
                h = default_hierarchy(values, schema[name] if name in schema.names else None)
            else:
                h = given.build(values) if isinstance(given, HierarchySpec) else given
            if values.isna().any():
                h = h.with_missing()
            codes.append(h.encode(values))
            built.append(h)
        except InputError as exc:
            problems.extend(exc.problems)
    if problems:
        raise InputError(problems)
    sensitive_codes = tuple(SensitiveCodes.encode(frame[s], name=s, distance=req.t_distance) for s in sens)
    leaf_codes = np.stack(codes, axis=1) if codes else np.zeros((n, 0), dtype=np.int32)
    return _Request(frame, schema, tuple(qis), sensitive_codes, tuple(built), leaf_codes, req, loss, strict)


def anonymize(
    dataset: TabularDataset,
    requirements: Requirements | None = None,
    *,
    k: int | None = None,
    l: float | None = None,  # noqa: E741  (the model's name)
    t: float | None = None,
    max_suppression: float | None = None,
    quasi_identifiers: Sequence[str] | None = None,
    sensitive: Sequence[str] | str | None = None,
    method: str = "optimal",
    hierarchies: Mapping[str, Hierarchy | HierarchySpec] | None = None,
    loss: str = "ncp",
    strict: bool = True,
    utility: bool = True,
    seed: int = 0,
) -> AnonymizationResult:
    """Anonymise a table: generalise its quasi-identifiers (and suppress records) until the models hold.

    Parameters
    ----------
    dataset
        The table; its schema's ``quasi_identifier``, ``sensitive``, ``identifier`` and ``target``
        roles are used where the arguments below are not given.
    requirements
        Every model and limit (:class:`Requirements`); default 5-anonymity, no suppression.
    k, l, t, max_suppression
        Shortcuts that override the same fields of ``requirements``.
    quasi_identifiers, sensitive
        Columns; default the schema's roles.
    method
        ``optimal`` (least-loss full-domain generalisation over the lattice) or ``mondrian``
        (multidimensional partitioning, for many quasi-identifiers or large tables).
    hierarchies
        Per column, a :class:`Hierarchy` or a :class:`HierarchySpec` from a YAML file; others are
        built automatically (:func:`default_hierarchy`).
    loss
        What ``optimal`` minimises: ``ncp`` (default), ``entropy`` or ``discernibility``.
    strict
        Mondrian: strict (never split equal values) or relaxed cuts.
    utility
        Compare a model's held-out score before and after, when the schema names a target.
    seed
        Seeds the utility model and its train/test split.

    Returns
    -------
    AnonymizationResult

    Raises
    ------
    InputError
        Unknown columns, k larger than the table, bad parameters, a hierarchy that does not
        cover a value (all problems at once).
    AnonymizationInfeasible
        No generalisation meets the models within the suppression limit.

    Examples
    --------
    >>> import pandas as pd
    >>> from medsyn.data import TabularDataset
    >>> frame = pd.DataFrame({"age": [31, 33, 35, 38, 52, 55, 57, 59], "sex": list("FMFMFMFM")})
    >>> result = anonymize(TabularDataset(frame), k=2, quasi_identifiers=["age", "sex"])
    >>> result.satisfied, result.levels
    (True, {'age': 2, 'sex': 0})
    >>> sorted(set(result.dataset.data["age"]))
    ['30-39', '50-59']
    """
    started = time.perf_counter()
    if not isinstance(dataset, TabularDataset):
        raise InputError(Problem("dataset", f"a {type(dataset).__name__}", "a TabularDataset (a table)"))
    req = _requirements(requirements, k, l, t, max_suppression)
    request = _validate(dataset, req, quasi_identifiers, sensitive, hierarchies, method, loss, strict)
    release = _release_with_retries(request, METHODS.get(method))
    identifiers = [f.name for f in dataset.schema.by_role(Role.IDENTIFIER) if f.name not in request.qis]
    frame = request.frame.drop(columns=identifiers)
    for name, column in release.columns.items():
        frame[name] = column
    released = frame.loc[release.kept].reset_index(drop=True)
    schema = _released_schema(request.schema.select(list(frame.columns)), release)
    source = dataset.provenance.source
    provenance = Provenance(
        source=f"anonymized:{source}", reader="medsyn.privacy.anonymize", digest=frame_digest(released)
    )
    out = TabularDataset(released, schema, provenance)
    sens_names = [s.name for s in request.sensitive]
    checks = check_release(released, request.qis, sens_names, req)
    kept_sizes = released.groupby(list(request.qis), dropna=False, observed=True, sort=False).size().to_numpy()
    report = None
    targets = [
        f.name for f in dataset.schema.by_role(Role.TARGET) if f.name in frame.columns and f.name not in request.qis
    ]
    if utility and targets:
        kept_rows = np.flatnonzero(release.kept)
        original = request.frame.drop(columns=identifiers).iloc[kept_rows].reset_index(drop=True)
        report = downstream_utility(original, released, target=targets[0], seed=seed)
    return AnonymizationResult(
        dataset=out,
        method=method,
        requirements=req,
        quasi_identifiers=request.qis,
        sensitive=tuple(sens_names),
        levels=release.levels,
        generalization=release.generalization,
        records_in=len(request.frame),
        suppressed=int((~release.kept).sum()),
        dropped_columns=tuple(identifiers),
        loss_before=release.loss_before,
        loss_after=release.loss_after,
        risk_before=risk_summary(release.sizes_before, req.min_class_size),
        risk_after=risk_summary(kept_sizes, req.min_class_size),
        checks=checks,
        utility=report,
        search=release.stats,
        seconds=time.perf_counter() - started,
        loss=loss,
        hierarchies=dict(zip(request.qis, request.hierarchies, strict=True)),
    )


def _release_with_retries(request: _Request, method: Method) -> _Release:
    """Run the method; with t-closeness and suppression, tighten t until the *released* table is t-close.

    The search measures t against the whole input's distribution; suppression shifts the
    released table's own distribution slightly, and a checker that only sees the release uses
    that one. Tightening t by the overshoot (at most three times) closes the gap.
    """
    release = method(request)
    req = request.req
    if req.t is None or request.req.suppression_limit(len(request.frame)) == 0:
        return release
    sens = [s.name for s in request.sensitive]
    for _ in range(3):
        frame = request.frame.copy()
        for name, column in release.columns.items():
            frame[name] = column
        kept = frame.loc[release.kept].reset_index(drop=True)
        checks = [c for c in check_release(kept, request.qis, sens, request.req) if c.model.startswith("t-closeness")]
        worst = max((c.achieved for c in checks), default=0.0)
        if worst <= req.t + 1e-12:
            return release
        tighter = replace(request.req, t=max(0.0, 2 * request.req.t - worst - 1e-9))  # type: ignore[operator]
        request = replace(request, req=tighter)
        release = method(request)
    return release


def _released_schema(schema: Schema, release: _Release) -> Schema:
    fields = []
    for f in schema:
        column = release.columns.get(f.name)
        if column is None:
            fields.append(f)
            continue
        categories = tuple(str(c) for c in column.categories)
        fields.append(
            replace(
                f,
                type=FieldType.CATEGORICAL,
                minimum=None,
                maximum=None,
                categories=categories if len(categories) <= 1000 else None,
                reason=f"generalised by medsyn anonymize ({release.generalization[f.name]})",
            )
        )
    return Schema(tuple(fields), ())
