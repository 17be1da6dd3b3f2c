"""Privacy models measured on a table: k-anonymity, l-diversity, t-closeness, δ-presence and k-map.

This is the *independent* measuring path: it checks what an anonymiser released without sharing
its code. Each function returns a typed result with the value the data reaches (the k, the l, the
t) and the per-class values behind it, computed from the equivalence classes of
:mod:`medsyn.privacy._classes` with ``bincount`` over sorted (class, sensitive value) pairs; no
Python loop runs over classes or records.

Definitions follow pycanon (Sáinz-Pardo Díaz & López García, *Scientific Data* 2022;
``pycanon.anonymity``) where pycanon defines the measure, so both give the same numbers on the same
table:

- k: the smallest class size.
- distinct l: the smallest number of distinct sensitive values in a class (over several sensitive
  attributes, the smallest over all of them).
- t: the largest Earth Mover's Distance between a class's sensitive distribution and the whole
  table's; ``ordered`` EMD (Li, Li & Venkatasubramanian 2007) for numbers, ``equal`` distance
  (half the L1 distance) otherwise — pycanon's choice for numeric and text columns.

Deliberate differences from pycanon, each for correctness:

- a missing quasi-identifier value is one value of its own; pycanon's ``groupby`` drops records
  with any missing quasi-identifier from every class. A missing sensitive value is one value too.
- entropy l is reported as the real number ``exp(min entropy)`` (rounded to 12 decimals);
  pycanon truncates it to an integer with ``int()``, which turns 2.9999999999999996 into 2.
- recursive (c, l)-diversity follows Machanavajjhala et al. (2007): with the counts of a class
  sorted in *descending* order r₁ ≥ r₂ ≥ …, the class is (c, l)-diverse when r₁ < c (r_l + … + r_m).
  pycanon sorts ascending. Here ``c`` is given and the l reached is measured.
- hierarchical EMD (Li et al. 2007, as ARX implements it) is offered for a sensitive attribute
  with a generalisation hierarchy; pycanon has no hierarchical EMD.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np
import pandas as pd

from medsyn.errors import InputError, Problem
from medsyn.privacy._classes import (
    EquivalenceClasses,
    Table,
    as_frame,
    column_problems,
    equivalence_classes,
    factorize,
    joint_classes,
    pair_counts,
)
from medsyn.privacy._emd import emd_equal, emd_hierarchical, emd_ordered, hierarchies_for, ordered_codes, present_codes

__all__ = [
    "AttributeCloseness",
    "AttributeDiversity",
    "DeltaPresence",
    "KAnonymity",
    "KMap",
    "LDiversity",
    "LDiversityKind",
    "TCloseness",
    "TClosenessKind",
    "delta_presence",
    "k_anonymity",
    "k_map",
    "l_diversity",
    "t_closeness",
]


class LDiversityKind(StrEnum):
    DISTINCT = "distinct"
    ENTROPY = "entropy"
    RECURSIVE = "recursive"


class TClosenessKind(StrEnum):
    AUTO = "auto"  # ordered for numbers and ordered categories, equal distance otherwise (pycanon's rule)
    EQUAL = "equal"
    ORDERED = "ordered"
    HIERARCHICAL = "hierarchical"


# ------------------------------------------------------------------------------------ results


@dataclass(frozen=True, slots=True)
class KAnonymity:
    """The k a table reaches: its smallest equivalence class."""

    k: int
    records: int
    classes: int
    suppressed: int
    quasi_identifiers: tuple[str, ...]
    #: ``(class size, number of classes of that size)`` for the ten smallest sizes.
    smallest_sizes: tuple[tuple[int, int], ...] = ()

    def satisfies(self, k: int) -> bool:
        return self.k >= k

    def to_dict(self) -> dict[str, object]:
        return {
            "k": self.k,
            "records": self.records,
            "classes": self.classes,
            "suppressed": self.suppressed,
            "quasi_identifiers": list(self.quasi_identifiers),
            "smallest_sizes": [list(p) for p in self.smallest_sizes],
        }


@dataclass(frozen=True, slots=True, eq=False)
class AttributeDiversity:
    """The l one sensitive attribute reaches, and the l of each class (``per_class``, not serialised)."""

    attribute: str
    l: float  # noqa: E741  (the model's own name)
    classes_below_2: int
    per_class: np.ndarray = field(repr=False)

    def to_dict(self) -> dict[str, object]:
        return {"attribute": self.attribute, "l": self.l, "classes_below_2": self.classes_below_2}


@dataclass(frozen=True, slots=True)
class LDiversity:
    """The l a table reaches (the smallest over sensitive attributes and classes)."""

    kind: LDiversityKind
    l: float  # noqa: E741
    attributes: tuple[AttributeDiversity, ...]
    c: float | None = None

    def satisfies(self, l: float) -> bool:  # noqa: E741
        return self.l >= l

    def to_dict(self) -> dict[str, object]:
        return {
            "kind": self.kind.value,
            "l": self.l,
            "c": self.c,
            "attributes": [a.to_dict() for a in self.attributes],
        }


@dataclass(frozen=True, slots=True, eq=False)
class AttributeCloseness:
    """The t one sensitive attribute reaches, and the EMD of each class (``per_class``, not serialised)."""

    attribute: str
    kind: TClosenessKind
    t: float
    values: int
    per_class: np.ndarray = field(repr=False)

    def to_dict(self) -> dict[str, object]:
        return {"attribute": self.attribute, "kind": self.kind.value, "t": self.t, "values": self.values}


@dataclass(frozen=True, slots=True)
class TCloseness:
    """The t a table reaches (the largest EMD over sensitive attributes and classes)."""

    t: float
    attributes: tuple[AttributeCloseness, ...]

    def satisfies(self, t: float) -> bool:
        return self.t <= t

    def to_dict(self) -> dict[str, object]:
        return {"t": self.t, "attributes": [a.to_dict() for a in self.attributes]}


@dataclass(frozen=True, slots=True)
class DeltaPresence:
    """How sure an attacker can be that a person of the population is in the released sample.

    For each population class, δ = (sample records in it) / (population records in it) (Nergiz,
    Atzori & Clifton 2007). ``delta_min`` is over every population class (0 when a class has no
    sample record); ``delta_min_sampled`` only over classes that hold a sample record, as ARX checks.
    """

    delta_min: float
    delta_max: float
    delta_min_sampled: float
    population_classes: int
    classes_without_sample: int
    sample_records: int
    population_records: int

    def satisfies(self, delta_min: float, delta_max: float) -> bool:
        return self.delta_min >= delta_min and self.delta_max <= delta_max

    def to_dict(self) -> dict[str, object]:
        return {
            "delta_min": self.delta_min,
            "delta_max": self.delta_max,
            "delta_min_sampled": self.delta_min_sampled,
            "population_classes": self.population_classes,
            "classes_without_sample": self.classes_without_sample,
            "sample_records": self.sample_records,
            "population_records": self.population_records,
        }


@dataclass(frozen=True, slots=True)
class KMap:
    """k-map (Sweeney 2002; El Emam & Dankar 2008): each sample class matches ≥ k population records."""

    k: int
    sample_classes: int
    sample_records: int
    population_records: int

    def satisfies(self, k: int) -> bool:
        return self.k >= k

    def to_dict(self) -> dict[str, object]:
        return {
            "k": self.k,
            "sample_classes": self.sample_classes,
            "sample_records": self.sample_records,
            "population_records": self.population_records,
        }


# --------------------------------------------------------------------------------- boundaries


def _names(value: str | Sequence[str]) -> list[str]:
    return [value] if isinstance(value, str) else [str(v) for v in value]


def prepare_inputs(
    data: Table,
    quasi_identifiers: Sequence[str],
    sensitive: str | Sequence[str] | None,
    classes: EquivalenceClasses | None,
    keep: np.ndarray | Sequence[bool] | None,
) -> tuple[pd.DataFrame, EquivalenceClasses, list[str]]:
    """Check every input once (all problems in one error) and build the classes."""
    frame = as_frame(data)
    qis = _names(quasi_identifiers)
    sens = [] if sensitive is None else _names(sensitive)
    problems = column_problems(frame, qis, what="quasi-identifier")
    problems += column_problems(frame, sens, what="sensitive attribute")
    if sensitive is not None and not sens:
        problems.append(Problem("sensitive", "no sensitive attribute", "at least one column name"))
    both = sorted(set(qis) & set(sens))
    if both:
        problems.append(
            Problem("sensitive", f"{both} also listed as quasi-identifier(s)", "separate columns", "Drop it from one.")
        )
    if len(frame) == 0:
        problems.append(Problem("data", "no records", "at least one record"))
    if classes is not None:
        if len(classes.ids) != len(frame):
            problems.append(Problem("classes", f"built for {len(classes.ids)} records", f"{len(frame)} records"))
        if list(classes.quasi_identifiers) != qis:
            problems.append(
                Problem("classes", f"built over {list(classes.quasi_identifiers)}", f"the quasi-identifiers {qis}")
            )
        if keep is not None:
            problems.append(Problem("keep", "given together with classes", "one of them", "Build the classes with it."))
    if problems:
        raise InputError(problems)
    ec = classes if classes is not None else equivalence_classes(frame, qis, keep=keep)
    if ec.n_records == 0:
        raise InputError(Problem("keep", "every record is suppressed", "at least one kept record"))
    return frame, ec, sens


def _smallest_sizes(ec: EquivalenceClasses) -> tuple[tuple[int, int], ...]:
    values, counts = ec.histogram()
    return tuple((int(v), int(c)) for v, c in zip(values[:10], counts[:10], strict=True))


# ------------------------------------------------------------------------------ k-anonymity


def k_anonymity(
    data: Table,
    quasi_identifiers: Sequence[str],
    *,
    classes: EquivalenceClasses | None = None,
    keep: np.ndarray | Sequence[bool] | None = None,
) -> KAnonymity:
    """Measure k-anonymity: the size of the smallest equivalence class.

    Parameters
    ----------
    data
        A DataFrame or TabularDataset.
    quasi_identifiers
        Columns an attacker may know.
    classes
        Equivalence classes already built over ``quasi_identifiers`` (reused, not rebuilt).
    keep
        Boolean mask of released records; the others are suppressed and count in no class.

    Examples
    --------
    >>> df = pd.DataFrame({"sex": ["F", "F", "M", "M"], "age": [70, 70, 80, 80]})
    >>> k_anonymity(df, ["sex", "age"]).k
    2
    """
    _, ec, _ = prepare_inputs(data, quasi_identifiers, None, classes, keep)
    return KAnonymity(
        k=ec.smallest,
        records=ec.n_records,
        classes=ec.n_classes,
        suppressed=ec.n_suppressed,
        quasi_identifiers=ec.quasi_identifiers,
        smallest_sizes=_smallest_sizes(ec),
    )


# ------------------------------------------------------------------------------ l-diversity


def l_diversity(
    data: Table,
    quasi_identifiers: Sequence[str],
    sensitive: str | Sequence[str],
    *,
    kind: LDiversityKind | str = LDiversityKind.DISTINCT,
    c: float | None = None,
    classes: EquivalenceClasses | None = None,
    keep: np.ndarray | Sequence[bool] | None = None,
) -> LDiversity:
    """Measure l-diversity of each sensitive attribute; the l reached is the minimum over classes.

    Parameters
    ----------
    kind
        ``distinct`` (number of distinct values), ``entropy`` (``exp`` of the class's entropy, a
        real number) or ``recursive`` ((c, l)-diversity for the given ``c``: the largest l with
        r₁ < c (r_l + … + r_m) in every class; 0 when even l = 1 fails, which needs c ≤ 1).
    c
        The constant of recursive (c, l)-diversity (required for ``recursive``, > 0).

    Examples
    --------
    >>> df = pd.DataFrame({"age": [70, 70, 70, 80, 80], "dx": ["a", "b", "a", "c", "c"]})
    >>> l_diversity(df, ["age"], "dx").l
    1.0
    """
    try:
        chosen = LDiversityKind(kind)
    except ValueError:
        raise InputError(Problem("kind", repr(kind), f"one of {[k.value for k in LDiversityKind]}")) from None
    if chosen is LDiversityKind.RECURSIVE and (c is None or not c > 0):
        raise InputError(Problem("c", repr(c), "a number > 0 for recursive (c, l)-diversity", "Pass c=3, say."))
    frame, ec, sens = prepare_inputs(data, quasi_identifiers, sensitive, classes, keep)
    results = []
    for name in sens:
        codes, n_values = factorize(frame[name])
        pc, _, count = pair_counts(ec.ids, ec.n_classes, codes, n_values)
        per_class = _L_KINDS[chosen](pc, count, ec, c)
        results.append(
            AttributeDiversity(
                attribute=name,
                l=float(per_class.min()),
                classes_below_2=int((per_class < 2).sum()),
                per_class=per_class,
            )
        )
    return LDiversity(kind=chosen, l=min(a.l for a in results), attributes=tuple(results), c=c)


def _l_distinct(pc: np.ndarray, count: np.ndarray, ec: EquivalenceClasses, c: float | None) -> np.ndarray:
    return np.bincount(pc, minlength=ec.n_classes).astype(float)


def _l_entropy(pc: np.ndarray, count: np.ndarray, ec: EquivalenceClasses, c: float | None) -> np.ndarray:
    p = count / ec.sizes[pc]
    entropy = -np.bincount(pc, weights=p * np.log(p), minlength=ec.n_classes)
    # 12 decimals: an even split over 3 values gives 3.0, not 2.9999999999999996
    return np.round(np.exp(np.maximum(entropy, 0.0)), 12)


def _l_recursive(pc: np.ndarray, count: np.ndarray, ec: EquivalenceClasses, c: float | None) -> np.ndarray:
    assert c is not None
    order = np.lexsort((-count, pc))  # by class, then count descending: r1 >= r2 >= ... per class
    pc, count = pc[order], count[order]
    distinct = np.bincount(pc, minlength=ec.n_classes)
    starts = np.cumsum(distinct) - distinct
    r1 = count[starts][pc]
    cum = np.cumsum(count)
    before_class = (cum[starts] - count[starts])[pc]
    tail = ec.sizes[pc] - (cum - count - before_class)  # r_j + ... + r_m at each rank j
    holds = r1 < c * tail  # a prefix of ranks, since the tail shrinks with the rank
    return np.bincount(pc, weights=holds, minlength=ec.n_classes)


_L_KINDS = {
    LDiversityKind.DISTINCT: _l_distinct,
    LDiversityKind.ENTROPY: _l_entropy,
    LDiversityKind.RECURSIVE: _l_recursive,
}


# ------------------------------------------------------------------------------ t-closeness

HierarchyLike = pd.DataFrame


def t_closeness(
    data: Table,
    quasi_identifiers: Sequence[str],
    sensitive: str | Sequence[str],
    *,
    kind: TClosenessKind | str = TClosenessKind.AUTO,
    hierarchy: HierarchyLike | Mapping[str, HierarchyLike] | None = None,
    classes: EquivalenceClasses | None = None,
    keep: np.ndarray | Sequence[bool] | None = None,
) -> TCloseness:
    """Measure t-closeness: the largest EMD between a class's sensitive distribution and the table's.

    Parameters
    ----------
    kind
        ``auto`` (``ordered`` for numbers, dates and ordered categoricals, else ``equal``, as
        pycanon chooses for numbers and text), ``equal``, ``ordered`` (values in sorted order, or category order) or
        ``hierarchical``.
    hierarchy
        For ``hierarchical``: a table in ARX's layout — first column the attribute's values, each
        further column one generalisation level from specific to general — or a mapping from
        sensitive attribute name to such a table. A missing value, and a top level with several
        nodes, are placed under an added root.

    Examples
    --------
    >>> df = pd.DataFrame({"sex": ["F", "F", "M", "M"], "dx": ["a", "b", "a", "a"]})
    >>> t_closeness(df, ["sex"], "dx").t
    0.25
    """
    try:
        chosen = TClosenessKind(kind)
    except ValueError:
        raise InputError(Problem("kind", repr(kind), f"one of {[k.value for k in TClosenessKind]}")) from None
    frame, ec, sens = prepare_inputs(data, quasi_identifiers, sensitive, classes, keep)
    hierarchies = hierarchies_for(hierarchy, sens) if chosen is TClosenessKind.HIERARCHICAL else {}
    results = []
    for name in sens:
        series = frame[name]
        this = chosen if chosen is not TClosenessKind.AUTO else _auto_kind(series)
        if this is TClosenessKind.HIERARCHICAL:
            per_class, m = emd_hierarchical(series, hierarchies[name], ec, name)
        else:
            codes, m = ordered_codes(series) if this is TClosenessKind.ORDERED else factorize(series)
            codes, m = present_codes(codes, m, ec.ids >= 0)
            pc, pv, count = pair_counts(ec.ids, ec.n_classes, codes, m)
            p = np.bincount(codes[ec.ids >= 0], minlength=m) / ec.n_records
            per_class = (
                emd_ordered(pc, pv, count, p, ec) if this is TClosenessKind.ORDERED else emd_equal(pc, pv, count, p, ec)
            )
        per_class = np.clip(per_class, 0.0, 1.0)
        results.append(AttributeCloseness(name, this, float(per_class.max()), int(m), per_class))
    return TCloseness(t=max(a.t for a in results), attributes=tuple(results))


def _auto_kind(series: pd.Series) -> TClosenessKind:
    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return TClosenessKind.ORDERED if dtype.ordered else TClosenessKind.EQUAL
    ordered = pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_datetime64_any_dtype(dtype)
    return TClosenessKind.ORDERED if ordered else TClosenessKind.EQUAL


# ------------------------------------------------------------------ δ-presence and k-map


def _population_counts(
    sample: Table, population: Table, quasi_identifiers: Sequence[str]
) -> tuple[np.ndarray, np.ndarray]:
    s_frame = as_frame(sample, where="sample")
    p_frame = as_frame(population, where="population")
    qis = _names(quasi_identifiers)
    problems = column_problems(s_frame, qis, what="quasi-identifier", where="sample")
    problems += column_problems(p_frame, qis, what="quasi-identifier", where="population")
    if not qis:
        problems.append(Problem("quasi_identifiers", "none given", "at least one column"))
    if len(s_frame) == 0:
        problems.append(Problem("sample", "no records", "at least one record"))
    if problems:
        raise InputError(problems)
    s_ids, p_ids, n = joint_classes(s_frame, p_frame, qis)
    s_count = np.bincount(s_ids, minlength=n)
    p_count = np.bincount(p_ids, minlength=n)
    short = s_count > p_count
    if short.any():
        raise InputError(
            Problem(
                "population",
                f"{int((s_count - p_count)[short].sum())} sample record(s) have quasi-identifier values that are "
                f"rarer (or absent) in the population",
                "a population table that contains every sample record",
            )
        )
    return s_count, p_count


def delta_presence(sample: Table, population: Table, quasi_identifiers: Sequence[str]) -> DeltaPresence:
    """Measure δ-presence of ``sample`` within ``population`` (which must contain the sample).

    Examples
    --------
    >>> pop = pd.DataFrame({"age": [70, 70, 70, 80, 80]})
    >>> d = delta_presence(pop.iloc[[0, 3]], pop, ["age"])
    >>> round(d.delta_min, 3), d.delta_max
    (0.333, 0.5)
    """
    s_count, p_count = _population_counts(sample, population, quasi_identifiers)
    in_pop = p_count > 0
    delta = s_count[in_pop] / p_count[in_pop]
    sampled = delta[s_count[in_pop] > 0]
    return DeltaPresence(
        delta_min=float(delta.min()),
        delta_max=float(delta.max()),
        delta_min_sampled=float(sampled.min()),
        population_classes=int(in_pop.sum()),
        classes_without_sample=int((s_count[in_pop] == 0).sum()),
        sample_records=int(s_count.sum()),
        population_records=int(p_count.sum()),
    )


def k_map(sample: Table, population: Table, quasi_identifiers: Sequence[str]) -> KMap:
    """Measure k-map: the fewest population records that match a sample class.

    Examples
    --------
    >>> pop = pd.DataFrame({"age": [70, 70, 70, 80, 80]})
    >>> k_map(pop.iloc[[0, 3]], pop, ["age"]).k
    2
    """
    s_count, p_count = _population_counts(sample, population, quasi_identifiers)
    held = s_count > 0
    return KMap(
        k=int(p_count[held].min()),
        sample_classes=int(held.sum()),
        sample_records=int(s_count.sum()),
        population_records=int(p_count.sum()),
    )
