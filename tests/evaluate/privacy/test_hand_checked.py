"""Privacy metrics on tables small enough to check by hand, and the inputs they must handle."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from medsyn.data.dataset import TabularDataset
from medsyn.data.schema import Field, FieldType, Role, Schema
from medsyn.evaluate import EvalInputs
from medsyn.evaluate.privacy import (
    AttributeInference,
    Authenticity,
    DistanceToClosestRecord,
    ExactCopies,
    InferenceRisk,
    LinkabilityRisk,
    MembershipInferenceDistance,
    MembershipInferenceDomias,
    NearestNeighbourDistanceRatio,
    SinglingOutRisk,
    singling_out_attack,
)
from medsyn.evaluate.privacy._common import exact_codes
from medsyn.evaluate.privacy._gower import gower_dcr
from medsyn.evaluate.privacy._predicates import count_matches
from medsyn.evaluate.privacy._singling_out import _multivariate, _unique_records, control_correction
from medsyn.metric import Status

X_ONLY = Schema((Field("x", FieldType.NUMERIC),))


def _table(x: list[float], schema: Schema = X_ONLY) -> TabularDataset:
    return TabularDataset(pd.DataFrame({"x": x}), schema)


def _inputs(train: list[float], synthetic: list[float], holdout: list[float] | None = None) -> EvalInputs:
    return EvalInputs.build(
        _table(train), _table(synthetic), None if holdout is None else _table(holdout), n_bootstrap=20
    )


def test_exact_copies_compare_every_column_but_identifiers_and_missing_equals_missing() -> None:
    schema = Schema(
        (
            Field("id", FieldType.IDENTIFIER, (Role.IDENTIFIER,)),
            Field("x", FieldType.NUMERIC),
            Field("c", FieldType.CATEGORICAL),
        )
    )
    train = pd.DataFrame({"id": [1, 2, 3], "x": [1, 2, np.nan], "c": ["a", "b", "a"]})
    syn = pd.DataFrame({"id": [10, 11, 12, 13], "x": [1.0, np.nan, 2.0, 1.0000001], "c": ["a", "a", "a", "a"]})
    hold = pd.DataFrame({"id": [20, 21], "x": [2.0, 5.0], "c": ["b", "c"]})
    inputs = EvalInputs.build(*(TabularDataset(f, schema) for f in (train, syn, hold)), n_bootstrap=10)
    r = ExactCopies().evaluate(inputs)
    assert r.value == 0.5
    assert r.details["count"] == 2
    assert r.details["holdout_share"] == 0.5
    assert [(i.key, i.details["training_position"]) for i in r.items] == [("synthetic #0", 0), ("synthetic #1", 2)]
    assert r.status is Status.FAIL
    assert ExactCopies().score(0.0) == 1.0
    assert ExactCopies().score(0.005) == pytest.approx(0.5)
    assert ExactCopies().score(0.5) == 0.0


def test_distance_ratio_and_authenticity_on_one_scaled_column() -> None:
    # training range 0..40 → scaled by 1/40; synthetic 0 and 11 sit on training records, 125 far away
    inputs = _inputs([0, 10, 20, 30, 40], [0, 11, 25, 125], [5, 12, 33, 38])
    dcr = DistanceToClosestRecord().evaluate(inputs)
    assert dcr.details["distance_cut"] == pytest.approx(0.05)
    assert dcr.value == 0.5  # 0 and 0.025 are below the holdout's 5th percentile (0.05); 0.125 and 2.125 are not
    # strictly nearer training than holdout: 0 (0 vs 0.125), 25 (0.125 vs 0.2), 125 (2.125 vs 2.175); 11 ties (0.025)
    assert dcr.details["closer_to_training"] == 0.75
    nndr = NearestNeighbourDistanceRatio().evaluate(inputs)
    assert nndr.details["ratio_cut"] == pytest.approx(0.25)
    assert nndr.value == 0.5  # ratios 0, 0.111, 1 (tie at 20/30), 0.895
    auth = Authenticity().evaluate(inputs)
    assert auth.value == 0.25  # only 125 lies outside its nearest training record's radius (0.25)
    assert auth.details["holdout_share"] == 0.0


def test_sdmetrics_distance_to_closest_record_by_hand() -> None:
    # mean over columns of min(1, |a − b| / reference range) for numbers, 0/1 for categories; missing vs
    # present 1, missing vs missing 0 (SDMetrics' DCR); training range 10, holdout range 15
    schema = Schema((Field("x", FieldType.NUMERIC), Field("c", FieldType.CATEGORICAL)))

    def table(x: list[float], c: list[str]) -> TabularDataset:
        return TabularDataset(pd.DataFrame({"x": x, "c": c}), schema)

    inputs = EvalInputs.build(
        table([0, 10, np.nan], ["a", "b", "a"]), table([5, np.nan], ["a", "b"]), table([20, 5], ["b", "c"])
    )
    both = np.arange(2)
    assert gower_dcr(inputs, "synthetic", both, "real").tolist() == [0.25, 0.5]
    assert gower_dcr(inputs, "synthetic", both, "holdout").tolist() == [0.5, 0.5]
    r = DistanceToClosestRecord(sdmetrics_exact=True).evaluate(inputs)
    assert r.details["closer_to_training"] == 0.5  # 0.25 < 0.5; the tie 0.5 = 0.5 is not closer
    assert r.details["sdmetrics_overfitting_protection"] == 1.0


def test_membership_auc_by_hand() -> None:
    # members' distances to the nearest synthetic record: 0, 0, 0, 0.25, 0.5; non-members': 0.125 ×3, 0.375, 0.625
    inputs = _inputs([0, 10, 20, 30, 40], [0, 10, 20], [5, 15, 25, 35, 45])
    r = MembershipInferenceDistance().evaluate(inputs)
    assert r.value == pytest.approx(18 / 25)
    assert r.details["advantage"] == pytest.approx(0.6)  # TPR 0.6 at FPR 0 (the three copies)
    assert MembershipInferenceDistance().score(0.72) == pytest.approx(0.56)
    assert MembershipInferenceDistance().score(0.3) == 1.0


def test_univariate_singling_out_by_hand() -> None:
    schema = Schema((Field("x", FieldType.NUMERIC), Field("y", FieldType.CATEGORICAL)))

    def table(x: list[float]) -> TabularDataset:
        return TabularDataset(pd.DataFrame({"x": x, "y": ["a"] * len(x)}), schema)

    # synthetic (deduplicated) x = 1, 2, 3, 9: queries x=1, x=2, x=3, x=9, x≤1, x≥9
    inputs = EvalInputs.build(table([1, 3, 3.5, 9, 10]), table([1, 2, 2, 3, 9]), table([2, 3, 4, 9, 9.5]))
    attack = singling_out_attack(inputs, mode="univariate", n_attacks=6)
    assert attack.n_queries == 6
    assert attack.outcome.n_success == 4  # x=1, x=3, x=9, x≤1 single out a training record; x=2 none, x≥9 two
    assert attack.outcome.n_control == 3  # x=2, x=3, x=9
    assert attack.control_correction == 1.0


def test_multivariate_queries_single_out_one_synthetic_record_each() -> None:
    rng = np.random.default_rng(3)
    frame = pd.DataFrame(
        {"a": rng.integers(0, 30, 400), "b": rng.normal(size=400).round(1), "c": rng.choice(list("pqrst"), 400)}
    )
    ds = TabularDataset(frame)
    inputs = EvalInputs.build(ds, ds.select(np.arange(200)), ds.select(np.arange(200, 400)))
    codes = exact_codes(inputs)
    syn = _unique_records(codes.side("synthetic"))
    queries, tried = _multivariate(codes, syn, 20, 2, 100_000, np.random.default_rng(0))
    assert len(queries) == 20
    assert tried >= 20
    assert (count_matches(queries, syn) == 1).all()
    keys = {np.concatenate([queries.columns[q], queries.low[q], queries.high[q]]).tobytes() for q in range(20)}
    assert len(keys) == 20, "queries are distinct"
    few, tried = _multivariate(codes, syn, 10_000, 2, 5_000, np.random.default_rng(0))
    assert tried == 5_000, "generation stops at max_attempts"
    assert 20 < len(few) < 600, "at most one query per record and column pair"


def test_control_correction_shrinks_successes_when_training_is_larger() -> None:
    assert control_correction(np.ones(100, dtype=np.int64), 2000, 2000) == 1.0
    assert control_correction(np.ones(100, dtype=np.int64), 2000, 4000) < 1.0
    assert control_correction(np.zeros(0, dtype=np.int64), 2000, 4000) == 1.0


def test_linkability_and_inference_on_copies() -> None:
    rng = np.random.default_rng(0)
    n = 300
    frame = pd.DataFrame(
        {
            "age": rng.integers(20, 90, n),
            "weight": rng.normal(70, 12, n).round(1),
            "sex": rng.choice(["F", "M"], n),
            "hiv": rng.choice(["yes", "no"], n),
        }
    )
    schema = Schema(
        (
            Field("age", FieldType.INTEGER, (Role.QUASI_IDENTIFIER,)),
            Field("weight", FieldType.NUMERIC, (Role.QUASI_IDENTIFIER,)),
            Field("sex", FieldType.CATEGORICAL, (Role.QUASI_IDENTIFIER,)),
            Field("hiv", FieldType.CATEGORICAL, (Role.SENSITIVE,)),
        )
    )
    ds = TabularDataset(frame, schema)
    train, hold = ds.select(np.arange(150)), ds.select(np.arange(150, 300))
    inputs = EvalInputs.build(train, train, hold, n_bootstrap=20)
    link = LinkabilityRisk(n_attacks=100).evaluate(inputs)
    assert link.details["columns_first"] == "age, sex"
    assert link.details["columns_second"] == "weight, hiv"
    assert link.value > 0.5
    # two binary columns on one side: records tie everywhere, so few links
    ties = LinkabilityRisk(n_attacks=100, columns=(["age", "weight"], ["sex", "hiv"])).evaluate(inputs)
    assert ties.value < link.value
    inference = InferenceRisk(n_attacks=100).evaluate(inputs)
    assert inference.details["worst_secret"] == "hiv"
    assert inference.details["attack_rate"] > 0.95  # the copy's own secret is read off
    assert inference.value > 0.8
    attr = AttributeInference().evaluate(inputs)
    assert attr.details["known_columns"] == "quasi-identifiers"
    assert attr.value > 0.3  # 100 % right on training records vs a coin flip on the holdout


def test_metrics_state_why_they_cannot_run() -> None:
    schema = Schema((Field("x", FieldType.NUMERIC), Field("id", FieldType.IDENTIFIER, (Role.IDENTIFIER,))))
    one = TabularDataset(pd.DataFrame({"x": [1.0, 2, 3], "id": [1, 2, 3]}), schema)
    inputs = EvalInputs.build(one, one, one)
    for metric in (AttributeInference(), InferenceRisk()):
        r = metric.evaluate(inputs)
        assert r.status is Status.SKIPPED
        assert "nothing to infer" in r.reason
    link = LinkabilityRisk().evaluate(inputs)
    assert link.status is Status.SKIPPED
    assert "two compared columns" in link.reason
    domias = MembershipInferenceDomias().evaluate(inputs)
    assert domias.status is Status.SKIPPED
    assert "at least 4 records" in domias.reason
    only_ids = Schema((Field("id", FieldType.IDENTIFIER, (Role.IDENTIFIER,)),))
    ids = TabularDataset(pd.DataFrame({"id": [1, 2, 3]}), only_ids)
    r = ExactCopies().evaluate(EvalInputs.build(ids, ids, ids))
    assert r.status is Status.SKIPPED
    assert "identifier" in r.reason


def test_missing_values_new_categories_and_constant_columns_are_handled() -> None:
    schema = Schema((Field("x", FieldType.NUMERIC), Field("c", FieldType.CATEGORICAL), Field("k", FieldType.NUMERIC)))
    rng = np.random.default_rng(5)

    def table(n: int, nan: bool = False, new: bool = False) -> TabularDataset:
        x = rng.normal(size=n)
        if nan:
            x[::7] = np.nan
        c = rng.choice(["u", "v", "w"] + (["new"] if new else []), n)
        return TabularDataset(pd.DataFrame({"x": x, "c": c, "k": np.ones(n)}), schema)

    inputs = EvalInputs.build(table(120), table(100, nan=True, new=True), table(120))
    assert any("missing" in n.message for n in inputs.notes)
    for metric in (
        ExactCopies(),
        DistanceToClosestRecord(),
        NearestNeighbourDistanceRatio(),
        Authenticity(),
        MembershipInferenceDistance(),
        MembershipInferenceDomias(),
        SinglingOutRisk(n_attacks=50),
        LinkabilityRisk(n_attacks=50),
    ):
        r = metric.evaluate(inputs)
        assert r.status is not Status.ERROR
        assert r.status is not Status.SKIPPED, (metric.name, r.reason)
        assert not math.isnan(r.value), metric.name
