"""Representation of protected groups: sizes, shares, prevalence, missingness, small cells."""

from __future__ import annotations

import numpy as np
import pandas as pd

from medsyn.data import TabularDataset
from medsyn.metric import Status
from medsyn.quality.tabular import Representativeness
from tests.quality.tabular.conftest import variant


def test_clean_heart_groups_are_charted(heart: TabularDataset) -> None:
    res = Representativeness().compute(heart)
    assert res.status is Status.PASS
    groups = [i for i in res.items if i.scope == "group" and i.details["field"] == "sex"]
    assert sum(int(i.details["n"]) for i in groups) == len(heart)  # type: ignore[arg-type]
    assert {"n", "share", "missing_rate", "prevalence[num=4]"} <= set(groups[0].details)
    women = next(i for i in groups if i.details["group"] == "0")
    expected = float((heart.data.loc[heart.data["sex"] == 0, "num"] == 4).mean())
    assert women.details["prevalence[num=4]"] == expected


def test_ages_are_banded(pbc: TabularDataset) -> None:
    res = Representativeness().compute(pbc)
    bands = {i.details["group"] for i in res.items if i.details["field"] == "age"}
    assert bands <= {"<18", "18–39", "40–64", "65–79", "80+"}
    assert "40–64" in bands


def test_tiny_protected_group_is_flagged(actg: TabularDataset) -> None:
    frame = actg.data.copy()
    frame.loc[[3, 17, 99, 400, 1200], "race"] = 2  # five patients of a third, tiny group
    res = Representativeness().compute(variant(actg, frame))
    item = next(i for i in res.items if i.key == "race=2")
    assert item.status is Status.WARN
    assert item.details["n"] == 5
    assert res.status is Status.WARN
    assert "race=2" in res.reason


def test_small_intersections_are_reported_without_failing(actg: TabularDataset) -> None:
    res = Representativeness().compute(actg)
    assert res.status is Status.PASS
    cross = [i for i in res.items if "×" in i.key]
    assert cross
    assert all(i.status is Status.INFO for i in cross)
    assert all(int(i.details["n"]) < 10 for i in cross)  # type: ignore[arg-type]
    assert res.details["small_intersections"] == len(cross)


def test_missing_group_values_form_their_own_group(heart: TabularDataset) -> None:
    frame = heart.data.copy()
    frame.loc[:14, "sex"] = np.nan
    res = Representativeness(min_cell=5).compute(variant(heart, frame))
    item = next(i for i in res.items if i.key == "sex=(missing)")
    assert item.details["n"] == 15


def test_missing_rate_per_group() -> None:
    frame = pd.DataFrame({"sex": ["F"] * 20 + ["M"] * 20, "lab": [np.nan] * 10 + list(range(30))})
    res = Representativeness().compute(TabularDataset(frame))
    rates = {i.details["group"]: i.details["missing_rate"] for i in res.items}
    assert rates == {"F": 0.5, "M": 0.0}


def test_no_protected_field_is_skipped() -> None:
    res = Representativeness().compute(TabularDataset(pd.DataFrame({"x": [1.0, 2.0, 3.0]})))
    assert res.status is Status.SKIPPED
    assert "protected" in res.reason
