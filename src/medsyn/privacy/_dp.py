"""Differentially private releases of counts, histograms, means and quantiles, through OpenDP.

Each release is built as an OpenDP measurement (a transformation chain plus a noise mechanism),
calibrated by OpenDP's own binary search so that its privacy map meets the requested ε (and δ),
charged to the data set's :class:`~medsyn.privacy.PrivacyBudget` *before* the data is touched,
and only then run. A refused charge (:class:`~medsyn.errors.PrivacyBudgetExceeded`) releases
nothing. The charged ε is the value of OpenDP's privacy map, not our own formula.

What OpenDP's guarantee covers, and what it does not (each :class:`DPRelease` lists caveats):

- Neighbouring data sets differ by one person, who is assumed to contribute at most
  ``rows_per_person`` rows (1 by default: one row per patient). Tables with several encounters per
  patient must say how many, or the guarantee is weaker than stated.
- Bounds (means, quantiles) and categories (histograms) must come from outside the data: the
  schema or the caller. A schema *inferred* from this very data took them from its minimum,
  maximum and distinct values, which is not private; the release then says so.
- The noise comes from OpenDP's cryptographically secure sampler and cannot be seeded (a seeded
  sampler would let anyone who knows the seed subtract the noise).

``mechanism="laplace"`` (pure ε-DP; discrete Laplace on counts) or ``"gaussian"`` (ρ-zCDP,
reported as (ε, δ)-DP at the given δ; it composes better when many releases share a budget
kept in ``zcdp`` mode). Quantiles use the exponential mechanism (OpenDP's
``make_private_quantile``). OpenDP is imported on first use (it takes seconds).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Literal, cast

import numpy as np
import pandas as pd

from medsyn._deps import require
from medsyn.data.conditions import Conditions, ConditionsLike
from medsyn.data.dataset import TabularDataset
from medsyn.data.schema import Field, FieldType
from medsyn.errors import InputError, Problem
from medsyn.privacy._accountant import PrivacyAccountant
from medsyn.privacy._budget import PrivacyBudget, charge
from medsyn.privacy._pseudonym import canonical_values

__all__ = ["DPRelease", "Mechanism", "NoiseTerm", "dp_count", "dp_histogram", "dp_mean", "dp_quantiles"]

Mechanism = Literal["laplace", "gaussian"]
Budget = PrivacyBudget | PrivacyAccountant
_OTHER = "(other or missing)"
_MISSING = "\x00missing"  # a value no category can equal: missing rows count in the last bin
_INFERRED = "inferred from this data (minimum, maximum and categories of an inferred schema are not private)"


@dataclass(frozen=True, slots=True)
class NoiseTerm:
    """The noise added to one released quantity."""

    quantity: str
    distribution: str
    scale: float
    sensitivity: float | None  # None for selection mechanisms, whose score sensitivity is internal

    @property
    def std(self) -> float:
        """Standard deviation of the noise (Laplace: √2·scale; Gaussian: scale; NaN for selection)."""
        if "laplace" in self.distribution:
            return math.sqrt(2.0) * self.scale
        if "gaussian" in self.distribution:
            return self.scale
        return math.nan

    def to_dict(self) -> dict[str, object]:
        return {
            "quantity": self.quantity,
            "distribution": self.distribution,
            "scale": self.scale,
            "sensitivity": self.sensitivity,
        }


@dataclass(frozen=True, slots=True)
class DPRelease:
    """A differentially private statistic with what it cost and how it was made."""

    statistic: str
    column: str | None
    labels: tuple[str, ...]
    values: tuple[float, ...]
    epsilon: float
    delta: float
    rho: float
    mechanism: str
    noise: tuple[NoiseTerm, ...]
    bounds: tuple[float, float] | None
    where: str
    rows_per_person: int
    dataset: str
    caveats: tuple[str, ...] = ()

    @property
    def value(self) -> float:
        """The released number (the first, for releases of several)."""
        return self.values[0]

    def as_mapping(self) -> dict[str, float]:
        return dict(zip(self.labels, self.values, strict=True))

    def to_dict(self) -> dict[str, object]:
        return {
            "statistic": self.statistic,
            "column": self.column,
            "values": dict(zip(self.labels, self.values, strict=True)),
            "epsilon": self.epsilon,
            "delta": self.delta,
            "rho": self.rho,
            "mechanism": self.mechanism,
            "noise": [n.to_dict() for n in self.noise],
            "bounds": list(self.bounds) if self.bounds is not None else None,
            "where": self.where,
            "rows_per_person": self.rows_per_person,
            "dataset": self.dataset,
            "caveats": list(self.caveats),
        }

    def __str__(self) -> str:
        what = f"{self.statistic} of '{self.column}'" if self.column else self.statistic
        if self.where:
            what += f" where {self.where}"
        delta = f", δ={self.delta:.3g}" if self.delta else ""
        shown = ", ".join(f"{label}: {value:.6g}" for label, value in zip(self.labels, self.values, strict=True))
        text = f"{what} = {shown}  [(ε={self.epsilon:.4g}{delta})-DP, {self.mechanism}]"
        return text + "".join(f"\n  caveat: {c}" for c in self.caveats)


# -- shared plumbing ---------------------------------------------------------------------------
def _opendp() -> ModuleType:
    dp = require("opendp.prelude", "privacy", "differentially private releases")
    dp.enable_features("contrib")
    return dp


@dataclass(frozen=True, slots=True)
class _Request:
    frame: pd.DataFrame
    field: Field | None
    accountant: PrivacyAccountant
    dataset: str
    where: str
    rows_per_person: int


def _prepare(
    data: TabularDataset | pd.DataFrame,
    *,
    budget: Budget,
    epsilon: float,
    delta: float,
    mechanism: str,
    column: str | None,
    where: ConditionsLike,
    rows_per_person: int,
    mechanisms: Sequence[str] = ("laplace", "gaussian"),
) -> _Request:
    """Check every argument at once, select the rows, and resolve the accountant."""
    problems: list[Problem] = []
    if isinstance(data, pd.DataFrame):
        data = TabularDataset(data)
    if not isinstance(data, TabularDataset):
        raise InputError(Problem("data", f"a {type(data).__name__}", "a TabularDataset or a pandas DataFrame"))
    if not isinstance(budget, (PrivacyBudget, PrivacyAccountant)):
        problems.append(Problem("budget", f"a {type(budget).__name__}", "a PrivacyBudget or PrivacyAccountant"))
    if isinstance(epsilon, bool) or not isinstance(epsilon, (int, float)) or not (0 < epsilon < math.inf):
        problems.append(Problem("epsilon", repr(epsilon), "a finite number > 0"))
    if mechanism not in mechanisms:
        problems.append(Problem("mechanism", repr(mechanism), " or ".join(repr(m) for m in mechanisms)))
    if mechanism == "gaussian" and not (isinstance(delta, (int, float)) and 0 < delta < 1):
        problems.append(Problem("delta", repr(delta), "a number in (0, 1) for the Gaussian mechanism, e.g. 1e-6"))
    if mechanism != "gaussian" and delta:
        problems.append(Problem("delta", repr(delta), f"0 for the {mechanism} mechanism (δ applies to 'gaussian')"))
    if isinstance(rows_per_person, bool) or not isinstance(rows_per_person, int) or rows_per_person < 1:
        problems.append(Problem("rows_per_person", repr(rows_per_person), "an integer >= 1"))
    if column is not None and column not in data.schema:
        problems.append(Problem(f"column '{column}'", "not in the data", f"one of {data.schema.names}"))
    conditions = Conditions()
    try:
        conditions = Conditions.parse(where, source="where").bind(data.schema, source="where")
    except InputError as exc:
        problems.extend(exc.problems)
    if problems:
        raise InputError(problems)
    if isinstance(budget, PrivacyBudget):
        budget.check_data(data)
        accountant, dataset = budget.accountant, budget.dataset
    else:
        accountant, dataset = budget, data.name
    frame = data.data.loc[conditions.mask(data.data)] if conditions else data.data
    return _Request(
        frame,
        data.schema[column] if column is not None else None,
        accountant,
        dataset,
        str(conditions),
        rows_per_person,
    )


def _inferred(field: Field) -> bool:
    return bool(field.reason and field.reason.startswith("type:"))


def _resolve_bounds(field: Field, bounds: tuple[float, float] | None) -> tuple[tuple[float, float], tuple[str, ...]]:
    if bounds is not None:
        try:
            lo, hi = (float(b) for b in bounds)
        except (TypeError, ValueError):
            raise InputError(Problem("bounds", repr(bounds), "(lower, upper) numbers")) from None
        caveats: tuple[str, ...] = ()
    elif field.minimum is not None and field.maximum is not None:
        lo, hi = field.minimum, field.maximum
        caveats = (f"bounds of '{field.name}' {_INFERRED}",) if _inferred(field) else ()
    else:
        raise InputError(
            Problem(
                f"column '{field.name}'",
                "no bounds in the schema",
                "bounds=(lower, upper), or minimum/maximum in the schema YAML",
            )
        )
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise InputError(Problem(f"bounds of '{field.name}'", f"({lo:g}, {hi:g})", "finite lower < upper"))
    return (lo, hi), caveats


def _numbers(request: _Request) -> np.ndarray:
    assert request.field is not None
    fld = request.field
    if fld.type not in (FieldType.NUMERIC, FieldType.INTEGER, FieldType.BOOLEAN):
        raise InputError(Problem(f"column '{fld.name}'", f"a {fld.type.value} column", "a numeric column"))
    values: np.ndarray = pd.to_numeric(request.frame[fld.name], errors="coerce").to_numpy(dtype=float)
    finite: np.ndarray = values[np.isfinite(values)]
    return finite  # missing values are left out (filtering keeps the sensitivity)


def _calibrate_and_run(
    dp: ModuleType,
    request: _Request,
    *,
    build: Callable[[float, bool], object],
    epsilon: float,
    delta: float,
    gaussian: bool,
    what: str,
    payload: object,
) -> tuple[object, float, float, float, float]:
    """Find the noise scale for (ε, δ), charge the budget, then (and only then) run on the data.

    ``build(t, gaussian)`` returns the measurement at scale parameter ``t``. Returns the output,
    the scale parameter, and the charged ε, δ and ρ (ρ = 0 where no zCDP form is charged).
    """
    d_in = request.rows_per_person
    if gaussian:

        def approx(t: float) -> object:
            return dp.c.make_fix_delta(dp.c.make_zCDP_to_approxDP(build(t, True)), delta)

        t = _search(dp, approx, d_in, (epsilon, delta), d_in * math.sqrt(2 * math.log(1.25 / delta)) / epsilon)
        measurement = build(t, True)
        eps_used, delta_used = approx(t).map(d_in)  # type: ignore[attr-defined]
        rho = float(measurement.map(d_in))  # type: ignore[attr-defined]
        charge(request.accountant, what, epsilon=float(eps_used), delta=float(delta_used), rho=rho)
    else:
        t = _search(dp, lambda s: build(s, False), d_in, epsilon, d_in / epsilon)
        measurement = build(t, False)
        eps_used, delta_used = float(measurement.map(d_in)), 0.0  # type: ignore[attr-defined]
        rho = float(dp.c.make_pureDP_to_zCDP(measurement).map(d_in))
        charge(request.accountant, what, epsilon=eps_used, rho=rho if request.accountant.mode == "zcdp" else None)
    output = measurement(payload)  # type: ignore[operator]
    return output, t, float(eps_used), float(delta_used), rho


def _search(dp: ModuleType, make: Callable[[float], object], d_in: int, d_out: object, guess: float) -> float:
    """OpenDP's search for the smallest noise scale whose privacy map meets ``d_out``.

    Bounds around the textbook scale (``guess``) cut the search from about 1,100 measurement
    builds to about 60; OpenDP's own unbounded search is the fallback.
    """
    try:
        return float(dp.binary_search_param(make, d_in=d_in, d_out=d_out, bounds=(guess / 100, guess * 100)))
    except (ValueError, dp.OpenDPException):  # the boundary is outside the bounds, or a bound overflows
        return float(dp.binary_search_param(make, d_in=d_in, d_out=d_out))


def _what(statistic: str, column: str | None, request: _Request, mechanism: str) -> str:
    text = f"{statistic} of '{column}'" if column else statistic
    if request.where:
        text += f" where {request.where}"
    return f"{text} ({mechanism})"


# -- releases ----------------------------------------------------------------------------------
def dp_count(
    data: TabularDataset | pd.DataFrame,
    *,
    budget: Budget,
    epsilon: float,
    column: str | None = None,
    where: ConditionsLike = None,
    mechanism: Mechanism = "laplace",
    delta: float = 0.0,
    rows_per_person: int = 1,
) -> DPRelease:
    """A differentially private count of rows (or of non-missing values of ``column``).

    Parameters
    ----------
    data
        The table.
    budget
        The data set's :class:`PrivacyBudget` (or a bare accountant); charged before release.
    epsilon, delta
        The release's privacy loss; ``delta`` only with ``mechanism="gaussian"``.
    column
        Count the non-missing values of this column instead of rows.
    where
        Count only rows meeting a condition, e.g. ``"sex == 'F' and age >= 70"``.
    rows_per_person
        Most rows one person contributes (the sensitivity of the count).

    Examples
    --------
    >>> import pandas as pd
    >>> from medsyn.privacy import PrivacyBudget
    >>> budget = PrivacyBudget("demo", 1.0)
    >>> r = dp_count(pd.DataFrame({"age": range(1000)}), budget=budget, epsilon=0.5)
    >>> abs(r.value - 1000) < 100, r.epsilon
    (True, 0.5)
    """
    request = _prepare(
        data,
        budget=budget,
        epsilon=epsilon,
        delta=delta,
        mechanism=mechanism,
        column=column,
        where=where,
        rows_per_person=rows_per_person,
    )
    dp = _opendp()
    present = request.frame[column].notna().to_numpy() if column is not None else np.ones(len(request.frame), bool)
    payload = present[present].astype(np.int32)
    space = dp.vector_domain(dp.atom_domain(T=dp.i32)), dp.symmetric_distance()
    counter = space >> dp.t.then_count()

    def build(t: float, gaussian: bool) -> object:
        return counter >> (dp.m.then_gaussian(scale=t) if gaussian else dp.m.then_laplace(scale=t))

    gaussian = mechanism == "gaussian"
    output, t, eps, dlt, rho = _calibrate_and_run(
        dp,
        request,
        build=build,
        epsilon=float(epsilon),
        delta=float(delta),
        gaussian=gaussian,
        what=_what("count", column, request, mechanism),
        payload=payload,
    )
    noise = NoiseTerm("count", f"discrete {mechanism}", t, float(counter.map(rows_per_person)))
    return DPRelease(
        "count",
        column,
        ("count",),
        (float(cast(int, output)),),
        eps,
        dlt,
        rho,
        mechanism,
        (noise,),
        None,
        request.where,
        rows_per_person,
        request.dataset,
    )


def dp_histogram(
    data: TabularDataset | pd.DataFrame,
    *,
    column: str,
    budget: Budget,
    epsilon: float,
    categories: Sequence[str] | None = None,
    where: ConditionsLike = None,
    mechanism: Mechanism = "laplace",
    delta: float = 0.0,
    rows_per_person: int = 1,
) -> DPRelease:
    """Differentially private counts per category of ``column``, plus one bin for everything else.

    The categories come from ``categories`` or the schema, never from the values: a category
    list read from the data would reveal a rare value. Values outside the list and missing
    values are counted in a last bin, ``(other or missing)``. Booleans without categories use
    ``False``/``True`` (bool columns) or ``0``/``1`` (0/1 columns).
    """
    request = _prepare(
        data,
        budget=budget,
        epsilon=epsilon,
        delta=delta,
        mechanism=mechanism,
        column=column,
        where=where,
        rows_per_person=rows_per_person,
    )
    assert request.field is not None
    fld = request.field
    series = request.frame[column]
    caveats: tuple[str, ...] = ()
    if categories is not None:
        cats = tuple(str(c) for c in categories)
    elif fld.categories is not None:
        cats = fld.categories
        caveats = (f"categories of '{column}' {_INFERRED}",) if _inferred(fld) else ()
    elif fld.type is FieldType.BOOLEAN and (
        pd.api.types.is_bool_dtype(series) or pd.api.types.is_numeric_dtype(series)
    ):
        cats = ("False", "True") if pd.api.types.is_bool_dtype(series) else ("0", "1")
    else:
        raise InputError(
            Problem(f"column '{column}'", "no categories in the schema", "categories=[...] or categories in the schema")
        )
    if len(set(cats)) != len(cats) or not cats:
        raise InputError(Problem(f"categories of '{column}'", repr(cats), "distinct category names"))
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    text = np.asarray([*canonical_values(uniques), _MISSING], dtype=object)
    payload = text[codes]  # missing (code -1) maps to the last entry, which is no category
    dp = _opendp()
    space = dp.vector_domain(dp.atom_domain(T=str)), dp.symmetric_distance()
    gaussian = mechanism == "gaussian"
    metric = dp.L2Distance[int] if gaussian else dp.L1Distance[int]
    counter = space >> dp.t.then_count_by_categories(categories=list(cats), MO=metric)

    def build(t: float, gauss: bool) -> object:
        return counter >> (dp.m.then_gaussian(scale=t) if gauss else dp.m.then_laplace(scale=t))

    output, t, eps, dlt, rho = _calibrate_and_run(
        dp,
        request,
        build=build,
        epsilon=float(epsilon),
        delta=float(delta),
        gaussian=gaussian,
        what=_what(f"histogram over {len(cats)} categories", column, request, mechanism),
        payload=payload,
    )
    noise = NoiseTerm("count per category", f"discrete {mechanism}", t, float(counter.map(rows_per_person)))
    return DPRelease(
        "histogram",
        column,
        (*cats, _OTHER),
        tuple(float(v) for v in cast("list[int]", output)),
        eps,
        dlt,
        rho,
        mechanism,
        (noise,),
        None,
        request.where,
        rows_per_person,
        request.dataset,
        caveats,
    )


def dp_mean(
    data: TabularDataset | pd.DataFrame,
    *,
    column: str,
    budget: Budget,
    epsilon: float,
    bounds: tuple[float, float] | None = None,
    where: ConditionsLike = None,
    mechanism: Mechanism = "laplace",
    delta: float = 0.0,
    rows_per_person: int = 1,
) -> DPRelease:
    """A differentially private mean of ``column``: a noisy clamped sum over a noisy count.

    Values are clamped to ``bounds`` (or the schema's minimum/maximum). The sum and the count
    get noise in proportion to their sensitivities, so each takes half the budget; the mean
    is their ratio, clamped to the bounds (post-processing, free of privacy cost). Missing
    values are left out.
    """
    request = _prepare(
        data,
        budget=budget,
        epsilon=epsilon,
        delta=delta,
        mechanism=mechanism,
        column=column,
        where=where,
        rows_per_person=rows_per_person,
    )
    assert request.field is not None
    (lo, hi), caveats = _resolve_bounds(request.field, bounds)
    payload = _numbers(request)
    dp = _opendp()
    space = dp.vector_domain(dp.atom_domain(T=float, nan=False)), dp.symmetric_distance()
    summer = space >> dp.t.then_clamp((lo, hi)) >> dp.t.then_sum()
    counter = space >> dp.t.then_count()
    sum_sens = float(summer.map(1))

    def build(t: float, gaussian: bool) -> object:
        noise = dp.m.then_gaussian if gaussian else dp.m.then_laplace
        return dp.c.make_composition([summer >> noise(scale=t * sum_sens), counter >> noise(scale=t)])

    gaussian = mechanism == "gaussian"
    output, t, eps, dlt, rho = _calibrate_and_run(
        dp,
        request,
        build=build,
        epsilon=float(epsilon),
        delta=float(delta),
        gaussian=gaussian,
        what=_what(f"mean in [{lo:g}, {hi:g}]", column, request, mechanism),
        payload=payload,
    )
    noisy_sum, noisy_count = (float(v) for v in cast("list[float]", output))
    if noisy_count < 1:
        mean = (lo + hi) / 2
        caveats += ("the noisy count was below 1; the mean shown is the middle of the bounds",)
    else:
        mean = min(hi, max(lo, noisy_sum / noisy_count))
    terms = (
        NoiseTerm("sum", mechanism, t * sum_sens, float(summer.map(rows_per_person))),
        NoiseTerm("count", f"discrete {mechanism}", t, float(counter.map(rows_per_person))),
    )
    return DPRelease(
        "mean",
        str(column),
        ("mean", "sum", "count"),
        (mean, noisy_sum, noisy_count),
        eps,
        dlt,
        rho,
        mechanism,
        terms,
        (lo, hi),
        request.where,
        rows_per_person,
        request.dataset,
        caveats,
    )


def dp_quantiles(
    data: TabularDataset | pd.DataFrame,
    *,
    column: str,
    budget: Budget,
    epsilon: float,
    alphas: Sequence[float] = (0.5,),
    bounds: tuple[float, float] | None = None,
    candidates: Sequence[float] | None = None,
    where: ConditionsLike = None,
    rows_per_person: int = 1,
) -> DPRelease:
    """Differentially private quantiles of ``column`` by the exponential mechanism.

    Each quantile is chosen among ``candidates`` (default: every integer within the bounds for
    an integer column with at most 2,000 of them, else 1,001 evenly spaced points), scored by
    how far its rank is from ``alpha``; ε is shared equally by the quantiles (one noise scale
    for all, found by OpenDP's search on their composition).
    """
    request = _prepare(
        data,
        budget=budget,
        epsilon=epsilon,
        delta=0.0,
        mechanism="exponential",
        column=column,
        where=where,
        rows_per_person=rows_per_person,
        mechanisms=("exponential",),
    )
    assert request.field is not None
    levels = tuple(float(a) for a in alphas)
    if not levels or any(not 0 <= a <= 1 for a in levels):
        raise InputError(Problem("alphas", repr(alphas), "one or more levels in [0, 1], e.g. (0.25, 0.5, 0.75)"))
    (lo, hi), caveats = _resolve_bounds(request.field, bounds)
    if candidates is not None:
        grid = np.unique(np.asarray(candidates, dtype=float))
        if len(grid) < 2 or not np.all(np.isfinite(grid)):
            raise InputError(Problem("candidates", f"{len(grid)} distinct finite values", "2 or more"))
    elif request.field.type is FieldType.INTEGER and hi - lo <= 2000:
        grid = np.arange(math.ceil(lo), math.floor(hi) + 1, dtype=float)
    else:
        grid = np.linspace(lo, hi, 1001)
    payload = np.clip(_numbers(request), grid[0], grid[-1])
    dp = _opendp()
    space = dp.vector_domain(dp.atom_domain(T=float, nan=False)), dp.symmetric_distance()
    cands = grid.tolist()

    def build(t: float, gaussian: bool) -> object:
        parts = [
            dp.m.make_private_quantile(*space, dp.max_divergence(), candidates=cands, alpha=a, scale=t) for a in levels
        ]
        return parts[0] if len(parts) == 1 else dp.c.make_composition(parts)

    output, t, eps, dlt, rho = _calibrate_and_run(
        dp,
        request,
        build=build,
        epsilon=float(epsilon),
        delta=0.0,
        gaussian=False,
        what=_what(f"quantiles {list(levels)}", column, request, "exponential"),
        payload=payload,
    )
    values = (float(cast(float, output)),) if len(levels) == 1 else tuple(float(v) for v in cast("list[float]", output))
    return DPRelease(
        "quantiles",
        column,
        tuple(f"q{a:g}" for a in levels),
        values,
        eps,
        dlt,
        rho,
        "exponential",
        (NoiseTerm("quantile score", "gumbel (exponential mechanism)", t, None),),
        (float(grid[0]), float(grid[-1])),
        request.where,
        rows_per_person,
        request.dataset,
        caveats,
    )
