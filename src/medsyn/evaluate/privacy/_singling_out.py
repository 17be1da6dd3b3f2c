"""Singling out (Article 29 WP 216): can the synthetic data be used to isolate one real patient?

The attacker writes predicates from the synthetic records that match exactly one synthetic record,
and wins each time such a predicate also matches exactly one *training* record. Following Giomi et
al. (2023), the same predicates are checked against the holdout (control: success that any sample
of the population would give) and compared with predicates drawn at random (baseline), and the
risk is ``(attack − control) / (1 − control)`` with Wilson intervals (:mod:`._stats`).

Query generation follows anonymeter's attacker:

- *univariate*: one column each — "is missing" when exactly one value is missing, "≤ minimum" and
  "≥ maximum" of a number, "= v" for a value seen once — kept when they single out a synthetic
  record, shuffled, at most ``n_attacks``;
- *multivariate*: a random synthetic record and ``n_cols`` random columns; a category or a missing
  value as equality, a number as "≥ v" when above the column's median, else "≤ v"; kept when the
  query singles that record out, until ``n_attacks`` distinct queries (or ``max_attempts``);
- *baseline*: ``n_attacks`` random queries — random columns, a random value seen in the synthetic
  column, a random operator (=, ≠ for categories; =, ≠, <, >, ≤, ≥ for numbers).

Every table is de-duplicated first (a query cannot single out a record that has a twin). When the
control and training sets differ in size, the control success is rescaled to the training size
with anonymeter's model (Cohen & Nissim 2020: a query of weight ``w`` singles out among ``n``
records with probability ``n·w·(1−w)^(n−1)``), fitted here to the *expected* number of successes
on subsamples (hypergeometric, from each query's exact match count) instead of to random
subsamples. Rates use ``n_attacks`` as denominator even when fewer queries could be generated
(as the paper does; it under- rather than over-states the risk, and the details say so).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np

from medsyn.evaluate._inputs import EvalInputs
from medsyn.evaluate.privacy._common import ExactCodes, PrivacyMetric, exact_codes, row_keys
from medsyn.evaluate.privacy._predicates import OPEN, Predicates, count_matches
from medsyn.evaluate.privacy._stats import AttackOutcome
from medsyn.metric import METRICS, Detail, Direction, ItemResult, MetricResult, Threshold

__all__ = ["SinglingOutAttack", "SinglingOutRisk", "singling_out_attack"]

_BATCH = 1000


@dataclass(frozen=True, slots=True)
class SinglingOutAttack:
    """One singling-out attack: its counts and the queries it generated (as text)."""

    mode: str
    outcome: AttackOutcome
    n_queries: int
    n_tried: int
    control_correction: float
    queries: tuple[str, ...]

    def to_dict(self) -> dict[str, Detail]:
        out = self.outcome.to_dict(f"{self.mode}_")
        out[f"{self.mode}_n_queries"] = self.n_queries
        out[f"{self.mode}_n_tried"] = self.n_tried
        out[f"{self.mode}_control_correction"] = self.control_correction
        return out


def _unique_records(table: np.ndarray) -> np.ndarray:
    keys = row_keys(table)
    _, first = np.unique(keys, return_index=True)
    return np.ascontiguousarray(table[:, np.sort(first)])


def _median_codes(codes: ExactCodes, table: np.ndarray) -> np.ndarray:
    """Per column, the largest code whose value is ≤ the column's median in ``table`` (numbers only)."""
    out = np.full(table.shape[0], OPEN, dtype=np.int64)
    for c in np.flatnonzero(codes.numeric):
        present = table[c][table[c] >= 0]
        if len(present):
            median = float(np.median(codes.values[c][present]))
            out[c] = int(np.searchsorted(codes.values[c], median, side="right")) - 1
    return out


def _univariate(codes: ExactCodes, syn: np.ndarray, n_attacks: int, rng: np.random.Generator) -> Predicates:
    cols, lows, highs = [], [], []
    for c, column in enumerate(syn):
        present = column[column >= 0]
        if int((column < 0).sum()) == 1:
            cols.append(np.array([c]))
            lows.append(np.array([-1]))
            highs.append(np.array([-1]))
        if not len(present):
            continue
        counts = np.bincount(present)
        rare = np.flatnonzero(counts == 1)
        cols.append(np.full(len(rare), c))
        lows.append(rare)
        highs.append(rare)
        if codes.numeric[c]:
            lo, hi = int(present.min()), int(present.max())
            # "≤ min" / "≥ max" single out when the extreme value occurs once
            if counts[lo] == 1:
                cols.append(np.array([c]))
                lows.append(np.array([0]))
                highs.append(np.array([lo]))
            if counts[hi] == 1:
                cols.append(np.array([c]))
                lows.append(np.array([hi]))
                highs.append(np.array([OPEN]))
    if not cols:
        return Predicates.concat([], 1)
    col = np.concatenate(cols).astype(np.int32)[:, None]
    low = np.concatenate(lows).astype(np.int32)[:, None]
    high = np.concatenate(highs).astype(np.int32)[:, None]
    pick = rng.permutation(len(col))[:n_attacks]
    return Predicates(col[pick], low[pick], high[pick], np.zeros((len(pick), 1), dtype=bool))


def _from_records(
    syn: np.ndarray, numeric: np.ndarray, median: np.ndarray, rows: np.ndarray, cols: np.ndarray
) -> Predicates:
    """anonymeter's multivariate query of each record over its columns."""
    v = syn[cols, rows[:, None]].astype(np.int32)
    num = numeric[cols] & (v >= 0)
    above = num & (v > median[cols])
    below = num & ~above
    low = np.where(below, 0, v).astype(np.int32)
    high = np.where(above, OPEN, v).astype(np.int32)
    return Predicates(cols.astype(np.int32), low, high, np.zeros(cols.shape, dtype=bool))


def _multivariate(
    codes: ExactCodes, syn: np.ndarray, n_attacks: int, n_cols: int, max_attempts: int, rng: np.random.Generator
) -> tuple[Predicates, int]:
    n_columns, n = syn.shape
    median = _median_codes(codes, syn)
    found: set[bytes] = set()
    kept: list[Predicates] = []
    n_kept = tried = 0
    while n_kept < n_attacks and tried < max_attempts:
        batch = min(_BATCH, max_attempts - tried)
        rows = rng.integers(0, n, batch)
        cols = np.sort(np.argsort(rng.random((batch, n_columns)), axis=1)[:, :n_cols], axis=1)
        queries = _from_records(syn, codes.numeric, median, rows, cols)
        tried += batch
        hits = np.flatnonzero(count_matches(queries, syn, stop_at=2, rng=rng) == 1)
        new: list[int] = []
        for q in hits:  # only the few queries that single out: dedup and cap
            key = np.concatenate([queries.columns[q], queries.low[q], queries.high[q]]).tobytes()
            if key not in found:
                found.add(key)
                new.append(int(q))
                if n_kept + len(new) >= n_attacks:
                    break
        kept.append(queries.take(np.array(new, dtype=np.int64)))
        n_kept += len(new)
    return Predicates.concat(kept, n_cols), tried


def _random_queries(
    codes: ExactCodes, syn: np.ndarray, n_queries: int, n_cols: int, rng: np.random.Generator
) -> Predicates:
    """The baseline attacker's random queries (values drawn from the synthetic columns)."""
    n_columns = syn.shape[0]
    uniques = [np.unique(column) for column in syn]
    sizes = np.array([len(u) for u in uniques])
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    pool = np.concatenate(uniques)
    cols = np.sort(np.argsort(rng.random((n_queries, n_columns)), axis=1)[:, :n_cols], axis=1)
    v = pool[offsets[cols] + rng.integers(0, sizes[cols])].astype(np.int64)
    numeric = codes.numeric[cols]
    op = np.where(numeric, rng.integers(0, 6, cols.shape), rng.integers(0, 2, cols.shape))
    # 0 "=", 1 "≠", 2 ">", 3 "<", 4 "≥", 5 "≤"; a missing value: "=" is "is missing", any other "is not missing"
    missing = v < 0
    low = np.where(missing, -1, np.select([op == 2, op == 3, op == 5], [v + 1, 0, 0], v))
    high = np.where(missing, -1, np.select([op == 2, op == 3, op == 4], [OPEN, v - 1, OPEN], v))
    negate = (op == 1) | (missing & (op != 0))
    return Predicates(cols.astype(np.int32), low.astype(np.int32), high.astype(np.int32), negate)


def _probability_integral(n: np.ndarray | float, w: float) -> np.ndarray | float:
    """∫₀ʷ n·x·(1−x)^(n−1) dx: how often a query of weight up to ``w`` singles out among ``n`` records."""
    return (1.0 - (np.multiply(n, w) + 1.0) * np.power(1.0 - w, n)) / (np.add(n, 1.0))


def control_correction(counts: np.ndarray, n_control: int, n_target: int) -> float:
    """anonymeter's factor taking the control's singling-out count to the training set's size (1 when equal).

    ``counts`` are the exact numbers of control records each query matches. The expected number of
    queries singling out in a random subsample of ``m`` control records is a sum of hypergeometric
    probabilities; the model ``norm · ∫₀^w_eff n·x(1−x)^(n−1)dx`` is fitted to it at ten sizes and the
    factor is ``model(n_target) / model(n_control)``. 1 (no correction) when the fit fails.
    """
    if n_control == n_target or not len(counts):
        return 1.0
    sizes = np.linspace(min(1000, n_control), n_control, 10).astype(int)
    from scipy.optimize import OptimizeWarning, curve_fit
    from scipy.stats import hypergeom

    expected = np.array([hypergeom.pmf(1, n_control, counts, m).sum() for m in sizes])
    if not expected.any():
        return 1.0

    def model(x: np.ndarray, w_eff: float, scale: float) -> np.ndarray:
        return scale * np.asarray(_probability_integral(x, w_eff))

    w0 = 1.0 / sizes.max()
    p0 = (w0, 1.0 / float(_probability_integral(float(sizes.max()), w0)))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", OptimizeWarning)
            (w_eff, scale), _ = curve_fit(model, sizes.astype(float), expected, p0=p0, bounds=(0, (1, np.inf)))
    except (RuntimeError, ValueError):
        return 1.0
    at_control = float(model(np.array([float(n_control)]), w_eff, scale)[0])
    at_target = float(model(np.array([float(n_target)]), w_eff, scale)[0])
    return at_target / at_control if at_control > 0 else 1.0


def _describe(codes: ExactCodes, p: Predicates, q: int) -> str:
    parts = []
    for c, lo, hi, neg in zip(p.columns[q], p.low[q], p.high[q], p.negate[q], strict=True):
        name = codes.columns[c]
        if lo == hi == -1:
            parts.append(f"{name} is {'not ' if neg else ''}missing")
        elif lo == hi:
            parts.append(f"{name} {'≠' if neg else '='} {codes.text(c, int(lo))}")
        elif hi == OPEN:
            parts.append(f"{name} ≥ {codes.text(c, int(lo))}")
        else:
            parts.append(f"{name} ≤ {codes.text(c, int(hi))}")
    return " ∧ ".join(parts)


def singling_out_attack(
    inputs: EvalInputs,
    *,
    mode: str = "multivariate",
    n_attacks: int = 500,
    n_cols: int = 3,
    max_attempts: int = 1_000_000,
    level: float = 0.95,
) -> SinglingOutAttack:
    """One singling-out attack (``mode`` "univariate" or "multivariate"): training, holdout, random baseline."""
    codes = exact_codes(inputs)
    rng = inputs.rng(f"singling_out-{mode}")
    syn = _unique_records(codes.side("synthetic"))
    train = _unique_records(codes.side("real"))
    control = _unique_records(codes.side("holdout"))
    n_cols = min(n_cols, syn.shape[0]) if mode == "multivariate" else 1
    if mode == "univariate":
        queries, tried = _univariate(codes, syn, n_attacks, rng), 0
    else:
        queries, tried = _multivariate(codes, syn, n_attacks, n_cols, max_attempts, rng)
    n_success = int((count_matches(queries, train, stop_at=2, rng=rng) == 1).sum())
    exact = count_matches(queries, control)
    correction = control_correction(exact, control.shape[1], train.shape[1])
    n_control = float((exact == 1).sum()) * correction
    baseline = _random_queries(codes, syn, n_attacks, n_cols, rng)
    n_baseline = int((count_matches(baseline, train, stop_at=2, rng=rng) == 1).sum())
    outcome = AttackOutcome(n_attacks, n_success, n_control, n_baseline, n_attacks, n_attacks, level)
    examples = tuple(_describe(codes, queries, q) for q in range(min(5, len(queries))))
    return SinglingOutAttack(mode, outcome, len(queries), tried, correction, examples)


@METRICS.register("singling_out_risk")
class SinglingOutRisk(PrivacyMetric):
    """Singling-out risk (Article 29): excess success of predicates that isolate one training record over the holdout.

    Predicates written from the synthetic data that match exactly one synthetic record are checked
    against the training records (attack), the holdout (control) and compared with random
    predicates (baseline), as in anonymeter (Giomi et al. 2023): risk = (attack − control) /
    (1 − control), clipped to [0, 1], with Wilson-interval error propagation. Both the univariate
    (one column) and multivariate (``n_cols`` columns) attacks run; the value is the larger risk, its
    CI that attack's. The details hold each attack's rates and intervals (``*_control_ci_high``,
    ``*_baseline_ci_high`` for a gate "risk within the control interval"). Score: ``1 − risk``.
    """

    name = "singling_out_risk"
    title = "Singling-out risk (anonymeter-style)"
    direction = Direction.MINIMIZE
    ideal = 0.0
    unit = "risk"
    default_threshold = Threshold(warn=0.1, fail=0.25)

    def __init__(
        self,
        *,
        threshold: Threshold | None = None,
        n_attacks: int = 500,
        n_cols: int = 3,
        max_attempts: int = 1_000_000,
    ) -> None:
        super().__init__(threshold=threshold)
        self.n_attacks = n_attacks
        self.n_cols = n_cols
        self.max_attempts = max_attempts

    def _evaluate(self, inputs: EvalInputs) -> MetricResult:
        attacks = [
            singling_out_attack(
                inputs, mode=mode, n_attacks=self.n_attacks, n_cols=self.n_cols, max_attempts=self.max_attempts
            )
            for mode in ("univariate", "multivariate")
        ]
        valued = [a for a in attacks if not math.isnan(a.outcome.value)]
        if not valued:
            return self.skipped("every control attack succeeded, so no residual risk can be measured")
        worst = max(valued, key=lambda a: a.outcome.value)
        details: dict[str, Detail] = {"worst_mode": worst.mode, "n_attacks": self.n_attacks, "n_cols": self.n_cols}
        for a in attacks:
            details.update(a.to_dict())
        # the worst attack's rates also unprefixed, for gates
        details.update(worst.outcome.to_dict())
        items = [
            ItemResult(
                "attack",
                a.mode,
                a.outcome.value,
                self.judge(a.outcome.value),
                note=(
                    f"{a.outcome.n_success} of {self.n_attacks} queries single out a training record, "
                    f"{a.outcome.n_control:.1f} a holdout record, {a.outcome.n_baseline} random ones; "
                    f"{a.n_queries} queries generated" + (f" e.g. {a.queries[0]}" if a.queries else "")
                ),
                details={"attack_rate": a.outcome.attack.value, "control_rate": a.outcome.control.value},
            )
            for a in attacks
        ]
        short = [a.mode for a in attacks if a.n_queries < self.n_attacks]
        reason = (
            f"{worst.mode} singling out succeeds on {worst.outcome.attack.value:.1%} of attacks against training "
            f"records vs {worst.outcome.control.value:.1%} against the holdout: risk {worst.outcome.value:.3f}"
        )
        if short:
            reason += f" (fewer than {self.n_attacks} queries found for {', '.join(short)}: risk may be understated)"
        return self.result(worst.outcome.value, reason, items=items, details=details, ci=worst.outcome.risk_ci)

    def score(self, value: float) -> float:
        return math.nan if math.isnan(value) else 1.0 - min(1.0, max(0.0, value))
