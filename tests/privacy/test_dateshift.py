"""Per-patient date shifting: one secret offset per patient, every interval within a patient kept."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from medsyn.errors import InputError
from medsyn.privacy import DateShifter, SecretKey

KEY = SecretKey(bytes(range(32)))


def _visits(n_patients: int = 300, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    pid = np.repeat([f"P{i:04d}" for i in range(n_patients)], 3)
    admit = pd.Timestamp("2015-01-01") + pd.to_timedelta(rng.integers(0, 3000, len(pid)), unit="D")
    stay = pd.to_timedelta(rng.integers(0, 40, len(pid)), unit="D") + pd.to_timedelta(
        rng.integers(0, 24, len(pid)), unit="h"
    )
    return pd.DataFrame({"pid": pid, "admit": admit, "discharge": admit + stay})


def test_intervals_within_a_patient_are_kept_across_columns_and_tables() -> None:
    visits = _visits()
    shifter = DateShifter(KEY, max_days=180)
    out, info = shifter.shift(visits, patient_column="pid", date_columns=["admit", "discharge"])
    # length of stay, and gaps between a patient's visits, are unchanged
    pd.testing.assert_series_equal(out["discharge"] - out["admit"], visits["discharge"] - visits["admit"])
    first = out.groupby("pid")["admit"].transform("min")
    real_first = visits.groupby("pid")["admit"].transform("min")
    pd.testing.assert_series_equal(out["admit"] - first, visits["admit"] - real_first)
    assert info.dates_shifted == 2 * len(visits)
    assert info.patients == 300
    assert info.dates_blanked == 0
    # a second table of the same patients (another site sharing the key) moves by the same offsets
    labs = pd.DataFrame({"pid": ["P0007", "P0123"], "drawn": ["2019-05-01", "2020-02-29 08:30:00"]})
    lab_out, _ = DateShifter(KEY, max_days=180).shift(labs, patient_column="pid", date_columns=["drawn"])
    offset = (out["admit"] - visits["admit"]).groupby(visits["pid"]).first()
    moved = pd.to_datetime(lab_out["drawn"], format="mixed") - pd.to_datetime(labs["drawn"], format="mixed")
    assert moved.tolist() == [offset["P0007"], offset["P0123"]]
    assert lab_out["drawn"].iloc[1].endswith("08:30:00")  # text dates stay text, times kept


def test_offsets_fill_the_window_without_zero() -> None:
    ids = pd.Series([f"patient-{i}" for i in range(5000)])
    days = DateShifter(KEY, max_days=30).offsets(ids).astype(int)
    assert days.between(-30, 30).all()
    assert (days != 0).all()
    counts = days.value_counts()
    assert len(counts) == 60  # every non-zero shift occurs
    assert counts.min() > 40
    assert counts.max() < 130
    assert abs(days.mean()) < 1.5
    other = DateShifter(SecretKey(bytes(range(1, 33))), max_days=30).offsets(ids).astype(int)
    assert (days != other).mean() > 0.9  # another key, other offsets


def test_keep_weekday_shifts_whole_weeks() -> None:
    visits = _visits(50)
    out, _ = DateShifter(KEY, max_days=70, keep_weekday=True).shift(
        visits, patient_column="pid", date_columns=["admit"]
    )
    assert (out["admit"].dt.dayofweek == visits["admit"].dt.dayofweek).all()
    assert ((out["admit"] - visits["admit"]).dt.days % 7 == 0).all()


def test_rows_without_a_patient_are_blanked_and_bad_dates_refused() -> None:
    frame = pd.DataFrame({"pid": ["a", None, "a"], "when": ["2020-01-01", "2020-01-02", None]})
    out, info = DateShifter(KEY).shift(frame, patient_column="pid", date_columns=["when"])
    assert out["when"].isna().tolist() == [False, True, True]
    assert info.dates_blanked == 1
    assert info.dates_shifted == 1
    bad = pd.DataFrame({"pid": ["a", "b"], "when": ["2020-01-01", "soon"], "other": ["x", "y"]})
    with pytest.raises(InputError) as err:
        DateShifter(KEY).shift(bad, patient_column="pid", date_columns=["when", "missing"])
    assert "missing" in str(err.value)
    with pytest.raises(InputError, match="'soon'"):
        DateShifter(KEY).shift(bad, patient_column="pid", date_columns=["when"])
    with pytest.raises(InputError, match="max_days"):
        DateShifter(KEY, max_days=3, keep_weekday=True)
