"""Date sanity on admission/discharge dates built from a real trial's follow-up times."""

from __future__ import annotations

import numpy as np
import pandas as pd

from medsyn.data import TabularDataset
from medsyn.metric import Status
from medsyn.quality.tabular import DateSanity

TODAY = "2026-01-01"


def _dated(actg: TabularDataset) -> pd.DataFrame:
    """ACTG 175 with a start date per patient and an end date 'days' later (the real follow-up time)."""
    frame = actg.data[["pidnum", "age", "days", "cens"]].copy()
    offset = np.random.default_rng(10).integers(0, 700, len(frame))
    frame["admission_date"] = pd.Timestamp("1991-12-01") + pd.to_timedelta(offset, unit="D")
    frame["discharge_date"] = frame["admission_date"] + pd.to_timedelta(frame["days"], unit="D")
    frame["birth_date"] = frame["admission_date"] - pd.to_timedelta(frame["age"] * 365.25, unit="D")
    return frame


def test_clean_dates_pass(actg: TabularDataset) -> None:
    res = DateSanity(today=TODAY).compute(TabularDataset(_dated(actg)))
    assert res.status is Status.PASS
    assert res.items == ()
    assert "admission_date" in str(res.details["date_columns"])


def test_injected_date_errors_are_found(actg: TabularDataset) -> None:
    frame = _dated(actg)
    a, d = frame["admission_date"].copy(), frame["discharge_date"].copy()
    frame.loc[:4, "admission_date"], frame.loc[:4, "discharge_date"] = d[:5].to_numpy(), a[:5].to_numpy()
    frame.loc[10:12, "discharge_date"] = pd.Timestamp("2031-05-01")
    frame.loc[20:21, "admission_date"] = pd.Timestamp("1850-01-01")
    frame.loc[30, "birth_date"] = pd.Timestamp("2000-01-01")
    text = frame["discharge_date"].dt.strftime("%Y-%m-%d").astype(object)
    text[[40, 41]] = ["31/02/1994", "unknown"]
    frame["discharge_date"] = text
    res = DateSanity(today=TODAY).compute(TabularDataset(frame))
    found = {i.key: int(i.details["rows"]) for i in res.items}  # type: ignore[arg-type]
    assert found["discharge_date: unreadable"] == 2
    assert found["discharge_date: future"] == 3
    assert found["admission_date: before_1900"] == 2
    assert found["admission_date ≤ discharge_date"] == 5  # the swapped pairs
    assert found["birth_date ≤ admission_date"] == 1 + 2  # a birth in 2000, and the two admissions in 1850
    assert res.status is Status.WARN or res.status is Status.FAIL


def test_no_dates_is_skipped(heart: TabularDataset) -> None:
    res = DateSanity().compute(heart)
    assert res.status is Status.SKIPPED
    assert "date" in res.reason
