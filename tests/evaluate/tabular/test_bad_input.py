"""Bad input: a clear error from the boundary, or a stated handling in the result — never a silent drop."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from medsyn.data import TabularDataset
from medsyn.errors import InputError
from medsyn.evaluate.tabular import (
    BY_GROUP,
    CategoryCoverage,
    CorrelationDifference,
    DetectionAuc,
    ImprovedPrecision,
    JensenShannon,
    KsStatistic,
    ModeCollapse,
    RangeCoverage,
    TotalVariation,
)
from medsyn.metric import Status, metrics_for
from tests.evaluate.tabular.conftest import inputs_of


def _frame(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"x": rng.normal(size=n), "y": rng.normal(size=n), "c": rng.choice(["a", "b", "c"], n)})


def test_mismatched_schema_is_one_clear_error_through_compute() -> None:
    real = TabularDataset(_frame(30))
    syn = TabularDataset(_frame(30).drop(columns=["y"]).assign(z=1.0))
    with pytest.raises(InputError) as err:
        KsStatistic().compute(real, syn)
    assert "no column(s) ['y']" in str(err.value)
    assert "'z'" in str(err.value)


def test_text_in_a_number_column_is_refused() -> None:
    real = TabularDataset(_frame(30))
    bad = _frame(30).astype({"x": object})
    bad.loc[3, "x"] = "n/a?"
    with pytest.raises(InputError, match="'x'"):
        ImprovedPrecision().compute(real, TabularDataset(bad, real.schema))


def test_nans_in_synthetic_data_are_reported_and_compared() -> None:
    real = _frame(80)
    syn = _frame(80, seed=1)
    syn.loc[:19, ["x", "c"]] = np.nan
    inputs = inputs_of(real, syn)
    assert any("missing" in note.message for note in inputs.notes)
    ks = {i.key: i for i in KsStatistic().evaluate(inputs).items}
    assert ks["x"].details["missing_synthetic"] == pytest.approx(0.25)
    js = {i.key: i.value for i in JensenShannon().evaluate(inputs).items}
    tv = {i.key: i.value for i in TotalVariation().evaluate(inputs).items}
    assert js["c"] > tv["c"]  # missing is a value for Jensen–Shannon, compared separately by TV
    prec = ImprovedPrecision(k=3).evaluate(inputs)  # the encoding keeps missing rows (indicator + mid-range)
    assert 0.0 <= prec.value <= 1.0
    assert prec.details["synthetic_records_used"] == 80


def test_all_missing_synthetic_column() -> None:
    real = _frame(40)
    syn = _frame(40, seed=2)
    syn["x"] = np.nan
    syn["c"] = None
    inputs = inputs_of(real, syn)
    assert {i.key: i.value for i in KsStatistic().evaluate(inputs).items}["x"] == 1.0
    assert {i.key: i.value for i in TotalVariation().evaluate(inputs).items}["c"] == 1.0
    assert {i.key: i.value for i in CategoryCoverage().evaluate(inputs).items}["c"] == 0.0
    assert {i.key: i.value for i in RangeCoverage().evaluate(inputs).items}["x"] == 0.0
    corr = CorrelationDifference().evaluate(inputs)
    assert corr.details["pairs_undefined_in_synthetic"] == 1


def test_constant_columns_on_both_sides() -> None:
    frame = _frame(40).assign(k=2.5, kc="same")
    inputs = inputs_of(frame, _frame(40, seed=3).assign(k=2.5, kc="same"))
    assert {i.key: i.value for i in KsStatistic().evaluate(inputs).items}["k"] == 0.0
    assert {i.key: i.status for i in RangeCoverage().evaluate(inputs).items}["k"] is Status.SKIPPED
    assert CorrelationDifference().evaluate(inputs).details["pairs_undefined_in_real"] == 2
    assert math.isfinite(ModeCollapse().evaluate(inputs).value)


def test_too_few_records_are_skipped_with_the_reason() -> None:
    inputs = inputs_of(_frame(5), _frame(5, seed=4))
    r = ImprovedPrecision().evaluate(inputs)
    assert r.status is Status.SKIPPED
    assert "more than 5 records" in r.reason
    d = DetectionAuc().evaluate(inputs)
    assert d.status is Status.SKIPPED
    assert "at least 20 records" in d.reason
    assert KsStatistic().evaluate(inputs).status is not Status.SKIPPED


def test_fewer_than_two_records_is_refused_at_the_boundary() -> None:
    with pytest.raises(InputError, match="at least 2 records"):
        KsStatistic().compute(TabularDataset(_frame(10)), TabularDataset(_frame(1)))


def test_only_identifier_columns_skip_with_a_reason() -> None:
    frame = pd.DataFrame({"id": [f"p{i}" for i in range(30)]})
    real = TabularDataset(frame)
    r = KsStatistic().evaluate(inputs_of(real, TabularDataset(frame.copy(), real.schema)))
    assert r.status is Status.SKIPPED
    assert "identifier" in r.reason


def test_every_metric_has_a_docstring_naming_what_it_measures() -> None:
    ours = [c for c in metrics_for("tabular") if c.__module__.startswith("medsyn.evaluate.tabular")]
    assert len(ours) == 18 + len(BY_GROUP)
    for cls in ours:
        assert len(cls.describe()) > 40, cls.name
