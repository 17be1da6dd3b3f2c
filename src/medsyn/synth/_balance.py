"""Rebalancing and augmentation: synthesise the records real data lacks, group by group.

A *target* says how rows should be shared across groups:

- ``"equal"`` — every group of a column (or combination of columns) gets the same share;
- a mapping from group to share: ``{"F": 0.5, "M": 0.5}``, ``{("F", "70+"): 0.25, ...}`` for
  combinations, or condition text as keys (``{'sex == "F" and age >= 70': 0.25, ...}``) for
  groups that are ranges rather than categories;
- ``"minority"`` — every new row goes to the smallest group ("add N rows of the rare outcome").

:func:`plan_rebalance` works out how many rows each group needs (with the real data: the fewest
additions that reach the target without dropping anyone, or exactly ``n`` additions placed by
water-filling); :func:`rebalance` samples them from a fitted generator with each group's
condition, so every new row belongs to its group exactly.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from medsyn.data.conditions import Condition, Conditions, ConditionsLike, Op
from medsyn.data.dataset import Provenance, TabularDataset
from medsyn.errors import InputError, Problem

__all__ = ["GroupPlan", "Target", "balanced_groups", "plan_rebalance", "rebalance", "split_counts"]

Target = str | Mapping[object, float]


@dataclass(frozen=True, slots=True)
class GroupPlan:
    """One group: its label, the condition that selects it, rows it has and rows to add."""

    label: str
    conditions: Conditions
    share: float
    count: int
    add: int

    def to_dict(self) -> dict[str, object]:
        return {
            "group": self.label,
            "condition": str(self.conditions),
            "share": self.share,
            "count": self.count,
            "add": self.add,
        }


def _groups(frame: pd.DataFrame, by: str | Sequence[str], target: Target) -> list[tuple[str, Conditions, float]]:
    """(label, conditions, share) per group, shares normalised to 1."""
    columns = [by] if isinstance(by, str) else list(by)
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InputError(
            Problem("balance", f"unknown column(s) {missing}", f"columns of the data: {list(frame.columns)}")
        )
    if isinstance(target, Mapping):
        out = []
        for key, share in target.items():
            if isinstance(key, str) and _looks_like_condition(key):
                conds = Conditions.parse(key, source="balance target")
                label = key
            else:
                values = key if isinstance(key, tuple) else (key,)
                if len(values) != len(columns):
                    raise InputError(
                        Problem(f"balance target {key!r}", f"{len(values)} value(s)", f"one per column of {columns}")
                    )
                conds = Conditions(tuple(Condition(c, Op.EQ, _scalar(v)) for c, v in zip(columns, values, strict=True)))
                label = " & ".join(map(str, values))
            if not (isinstance(share, (int, float)) and share >= 0):
                raise InputError(Problem(f"balance target {key!r}", repr(share), "a share >= 0"))
            out.append((label, conds, float(share)))
        total = sum(s for _, _, s in out)
        if total <= 0:
            raise InputError(Problem("balance target", "shares summing to 0", "positive shares"))
        return [(label, c, s / total) for label, c, s in out]
    if target not in ("equal", "minority"):
        raise InputError(Problem("balance target", repr(target), "'equal', 'minority' or a mapping group -> share"))
    combos = frame[columns].dropna().drop_duplicates().astype(object)
    rows = combos.sort_values(columns, key=lambda s: s.astype(str)).itertuples(index=False, name=None)
    out = []
    for values in rows:
        conds = Conditions(tuple(Condition(c, Op.EQ, _scalar(v)) for c, v in zip(columns, values, strict=True)))
        out.append((" & ".join(map(str, values)), conds, 1.0))
    if not out:
        raise InputError(Problem(f"balance by {columns}", "no non-missing values", "at least one group"))
    return [(label, c, 1.0 / len(out)) for label, c, _ in out]


def balanced_groups(
    balance: str | Sequence[str] | Mapping[object, float], categories: Mapping[str, Sequence[str]]
) -> list[tuple[Conditions, float]]:
    """(conditions, share) per group for ``sample(n, balance=...)``: no real data, the model's categories.

    ``balance`` is a column or columns (equal shares over every combination of their
    categories) or a mapping of condition text to share.
    """
    if isinstance(balance, Mapping):
        groups = []
        for key, share in balance.items():
            if not isinstance(key, str):
                raise InputError(Problem(f"balance {key!r}", "a non-text key", "condition text such as 'sex == \"F\"'"))
            groups.append((Conditions.parse(key, source="balance"), float(share)))
        total = sum(s for _, s in groups)
        if total <= 0 or any(s < 0 for _, s in groups):
            raise InputError(
                Problem("balance", "shares that are negative or sum to 0", "shares >= 0 with a positive sum")
            )
        return [(c, s / total) for c, s in groups]
    columns = [balance] if isinstance(balance, str) else list(balance)
    problems = [
        Problem(
            f"balance by '{c}'",
            "not a categorical or boolean column of the model",
            "a categorical column, or a mapping of conditions to shares",
        )
        for c in columns
        if c not in categories
    ]
    if problems:
        raise InputError(problems)
    combos: list[tuple[str, ...]] = [()]
    for c in columns:
        combos = [(*combo, v) for combo in combos for v in categories[c]]
    return [
        (Conditions(tuple(Condition(c, Op.EQ, v) for c, v in zip(columns, combo, strict=True))), 1.0 / len(combos))
        for combo in combos
    ]


def _looks_like_condition(text: str) -> bool:
    return any(op in text for op in ("==", "=", "<", ">", " in ", " is "))


def _scalar(value: object) -> str | float | bool:
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, float, np.integer, np.floating)):
        return float(value)
    return str(value)


def split_counts(n: int, shares: Sequence[float] | np.ndarray) -> list[int]:
    """``n`` split by ``shares`` into whole numbers that sum to ``n`` (largest remainders)."""
    raw = np.asarray(shares, dtype=float) * n
    base = np.floor(raw).astype(int)
    order = np.argsort(-(raw - base), kind="stable")
    base[order[: n - int(base.sum())]] += 1
    return [int(b) for b in base]


def plan_rebalance(
    data: TabularDataset | pd.DataFrame,
    by: str | Sequence[str],
    target: Target = "equal",
    *,
    n: int | None = None,
) -> list[GroupPlan]:
    """How many synthetic rows each group needs.

    Without ``n``: the fewest additions after which the groups have the target shares (nobody
    is dropped). With ``n``: exactly ``n`` additions, each going to the groups furthest below
    their share (water-filling), so the result is as close to the target as ``n`` rows allow.
    """
    frame = data.data if isinstance(data, TabularDataset) else data
    groups = _groups(frame, by, target)
    counts = [int(c.mask(frame).sum()) for _, c, _ in groups]
    if target == "minority":
        if n is None:
            raise InputError(Problem("balance", "target 'minority' without n", "n: how many rows to add"))
        smallest = int(np.argmin(counts))
        adds = [n if i == smallest else 0 for i in range(len(groups))]
        return [
            GroupPlan(g[0], g[1], float(i == smallest), c, a)
            for i, (g, c, a) in enumerate(zip(groups, counts, adds, strict=True))
        ]
    shares = np.array([s for _, _, s in groups])
    if n is None:
        positive = shares > 0
        final = max(c / s for c, s in zip(np.array(counts)[positive], shares[positive], strict=True))
        adds = [max(0, math.ceil(s * final - c - 1e-9)) for s, c in zip(shares, counts, strict=True)]
    else:
        if n < 0:
            raise InputError(Problem("n", repr(n), "a whole number >= 0"))
        lo, hi = 0.0, float(sum(counts) + n) * 2 / max(shares.min(), 1e-12) + 1
        for _ in range(200):  # find the level T with sum(max(0, s*T - c)) == n
            mid = (lo + hi) / 2
            if np.maximum(0, shares * mid - counts).sum() < n:
                lo = mid
            else:
                hi = mid
        ideal = np.maximum(0, shares * hi - counts)
        adds = split_counts(n, ideal / ideal.sum()) if ideal.sum() > 0 else split_counts(n, shares)
    return [
        GroupPlan(label, conds, float(share), count, int(add))
        for (label, conds, share), count, add in zip(groups, counts, adds, strict=True)
    ]


def rebalance(
    generator: object,
    data: TabularDataset | pd.DataFrame,
    by: str | Sequence[str],
    target: Target = "equal",
    *,
    n: int | None = None,
    conditions: ConditionsLike = None,
    only_new: bool = True,
    seed: int | None = None,
) -> TabularDataset:
    """Synthesise the rows :func:`plan_rebalance` asks for from a fitted ``generator``.

    Parameters
    ----------
    generator
        A fitted tabular generator (``sample(n, conditions=, seed=)``).
    data
        The real table whose groups are counted.
    by, target, n
        See :func:`plan_rebalance`.
    conditions
        Extra conditions every new row must meet (e.g. only patients over 70).
    only_new
        Return only the new rows (default) or the real table with them appended.
    seed
        Same seed, same rows.

    Examples
    --------
    >>> import pandas as pd
    >>> from medsyn.synth import get, rebalance
    >>> real = pd.DataFrame({"sex": ["F"] * 6 + ["M"] * 24, "age": range(40, 70)})
    >>> gen = get("gaussian_copula")().fit(real)
    >>> new = rebalance(gen, real, "sex", seed=0)
    >>> new.data["sex"].value_counts().to_dict()
    {'F': 18}
    """
    frame = data.data if isinstance(data, TabularDataset) else data
    plans = plan_rebalance(frame, by, target, n=n)
    rng = np.random.default_rng(seed)
    extra = Conditions.parse(conditions)
    parts = []
    for plan in plans:
        if plan.add:
            ds = generator.sample(plan.add, conditions=plan.conditions & extra, seed=int(rng.integers(2**63)))  # type: ignore[attr-defined]
            parts.append(ds.data)
    if not parts:
        new = frame.iloc[0:0]
    else:
        new = pd.concat(parts, ignore_index=True)
        new = new.iloc[rng.permutation(len(new))].reset_index(drop=True)
    schema = data.schema if isinstance(data, TabularDataset) else None
    source = f"rebalanced:{getattr(generator, 'name', 'generator')}"
    if only_new:
        return TabularDataset(new, schema, Provenance(source=source, reader="medsyn.synth"))
    both = pd.concat([frame.reset_index(drop=True), new], ignore_index=True)
    return TabularDataset(both, schema, Provenance(source=source, reader="medsyn.synth"))
