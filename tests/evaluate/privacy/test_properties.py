"""Invariants of the privacy building blocks, checked on random inputs (Hypothesis)."""

from __future__ import annotations

import itertools
import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import roc_auc_score

from medsyn.evaluate.privacy import AttackOutcome, residual_risk, success_rate
from medsyn.evaluate.privacy._common import roc, row_keys
from medsyn.evaluate.privacy._predicates import OPEN, Predicates, count_matches

scores = st.lists(st.integers(-5, 5).map(float), min_size=1, max_size=40)


@given(scores, scores)
def test_auc_matches_sklearn_lies_in_0_1_and_is_antisymmetric(members: list[float], others: list[float]) -> None:
    auc = roc(np.array(members), np.array(others)).auc()
    assert 0.0 <= auc <= 1.0
    assert math.isclose(auc + roc(np.array(others), np.array(members)).auc(), 1.0)
    if members and others:
        y = np.r_[np.ones(len(members)), np.zeros(len(others))]
        assert math.isclose(auc, roc_auc_score(y, np.r_[members, others]))


@given(
    scores, st.lists(st.integers(0, 3), min_size=40, max_size=40), st.lists(st.integers(0, 3), min_size=40, max_size=40)
)
def test_weighted_auc_equals_the_auc_of_repeated_records(members: list[float], w1: list[int], w0: list[int]) -> None:
    m = np.array(members)
    o = m[::-1] + 1.0
    a, b = np.array(w1[: len(m)], dtype=float), np.array(w0[: len(o)], dtype=float)
    weighted = roc(m, o).auc(a, b)
    repeated = roc(np.repeat(m, a.astype(int)), np.repeat(o, b.astype(int))).auc()
    assert (math.isnan(weighted) and math.isnan(repeated)) or math.isclose(weighted, repeated)


def test_identical_scores_give_auc_one_half() -> None:
    x = np.arange(10.0)
    assert roc(x, x).auc() == 0.5
    assert roc(np.zeros(3), np.zeros(5)).advantage()[0] == 0.0


@given(st.integers(1, 2000), st.floats(0, 1), st.floats(0.5, 0.999))
def test_success_rates_stay_in_bounds(n: int, share: float, level: float) -> None:
    r = success_rate(n, round(share * n), level=level)
    assert 0.0 <= r.value <= 1.0
    lo, hi = r.ci
    assert 0.0 <= lo <= r.value <= hi <= 1.0


@given(st.integers(1, 1000), st.integers(0, 1000), st.integers(0, 1000), st.integers(0, 1000))
def test_risk_never_exceeds_one_and_is_zero_when_attack_equals_control(n: int, a: int, c: int, b: int) -> None:
    a, c, b = min(a, n), min(c, n), min(b, n)
    outcome = AttackOutcome(n, a, float(c), b, n, n)
    assert math.isnan(outcome.value) or 0.0 <= outcome.value <= 1.0
    lo, hi = outcome.risk_ci
    assert math.isnan(lo) or 0.0 <= lo <= hi <= 1.0
    same = AttackOutcome(n, a, float(a), b, n, n)
    assert same.risk.value == 0.0


def test_risk_formula_by_hand() -> None:
    # anonymeter's numbers: attack 0.3 ± 0.04, control 0.1 ± 0.03 → (0.3 − 0.1)/(0.9) = 0.2222
    attack, control = success_rate(500, 150), success_rate(500, 50)
    risk = residual_risk(attack, control)
    assert math.isclose(risk.value, (attack.value - control.value) / (1 - control.value))
    expected_error = math.hypot(
        attack.error / (1 - control.value), control.error * (attack.value - 1) / (1 - control.value) ** 2
    )
    assert math.isclose(risk.error, expected_error)
    assert residual_risk(success_rate(500, 500), control).value <= 1.0


tables = st.lists(st.lists(st.integers(-1, 4), min_size=3, max_size=3), min_size=1, max_size=30)


@given(tables)
def test_row_keys_are_equal_exactly_for_equal_records(rows: list[list[int]]) -> None:
    codes = np.array(rows, dtype=np.int32).T
    keys = row_keys(codes)
    for i, j in itertools.combinations(range(len(rows)), 2):
        assert (keys[i] == keys[j]) == (rows[i] == rows[j])


slots = st.tuples(st.integers(0, 2), st.integers(-1, 4), st.integers(-1, 4), st.booleans())


def _naive(rows: list[list[int]], query: list[tuple[int, int, int, bool]]) -> int:
    def holds(v: int, lo: int, hi: int, neg: bool) -> bool:
        inside = lo <= v <= hi
        return (not inside and v >= 0) if neg else inside

    return sum(all(holds(r[c], lo, hi, neg) for c, lo, hi, neg in query) for r in rows)


@settings(max_examples=60)
@given(tables, st.lists(st.lists(slots, min_size=2, max_size=2), min_size=1, max_size=20), st.integers(0, 9))
def test_batched_predicates_count_like_a_loop(
    rows: list[list[int]], queries: list[list[tuple[int, int, int, bool]]], seed: int
) -> None:
    table = np.array(rows, dtype=np.int32).T
    q = np.array(queries, dtype=object)
    hi = np.array([[OPEN if h == 4 else h for _, _, h, _ in query] for query in queries], dtype=np.int32)
    pred = Predicates(q[:, :, 0].astype(np.int32), q[:, :, 1].astype(np.int32), hi, q[:, :, 3].astype(bool))
    expected = [_naive(rows, [(c, lo, OPEN if h == 4 else h, n) for c, lo, h, n in query]) for query in queries]
    assert count_matches(pred, table).tolist() == expected
    capped = count_matches(pred, table, stop_at=2, rng=np.random.default_rng(seed))
    assert capped.tolist() == [min(e, 2) for e in expected]
