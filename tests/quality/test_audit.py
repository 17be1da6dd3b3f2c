"""The audit runner: every check once, in order, the same results on one thread or two."""

from __future__ import annotations

import json

import numpy as np

from medsyn.data import read
from medsyn.metric import MetricKind, metrics_for
from medsyn.quality import audit
from tests.conftest import shared


def test_parallel_audit_equals_serial_audit_on_a_real_table() -> None:
    ds = read(shared("actg175_hiv_trial/ACTG175.csv"))
    one = audit(ds, workers=1)
    two = audit(ds, workers=2)
    assert [r.metric for r in one.results] == [c.name for c in metrics_for("tabular", MetricKind.QUALITY)]
    assert [r.metric for r in two.results] == [r.metric for r in one.results]
    for a, b in zip(one.results, two.results, strict=True):
        assert a.status is b.status, a.metric
        assert np.isclose(a.value, b.value, equal_nan=True), a.metric
        assert [i.to_dict() for i in a.items] == [i.to_dict() for i in b.items], a.metric
    assert set(two.timings) == {r.metric for r in two.results}
    assert all(t >= 0 for t in two.timings.values())
    json.dumps(two.to_dict(), allow_nan=False)


def test_progress_reports_each_check_then_done() -> None:
    ds = read(shared("heart_disease_cleveland/heart_cleveland.csv"))
    seen: list[tuple[str, int, int]] = []
    audit(ds, metrics=["missingness", "duplicate_rows", "outliers"], progress=lambda *a: seen.append(a))
    assert sorted(n for n, _, _ in seen[:-1]) == ["duplicate_rows", "missingness", "outliers"]
    assert [d for _, d, _ in seen[:-1]] == [1, 2, 3]
    assert seen[-1] == ("done", 3, 3)


def test_exclude_leaves_checks_out() -> None:
    ds = read(shared("heart_disease_cleveland/heart_cleveland.csv"))
    res = audit(ds, exclude=["target_leakage", "multivariate_outliers"])
    assert {"target_leakage", "multivariate_outliers"}.isdisjoint(r.metric for r in res.results)


def test_signal_audit_also_checks_the_record_attributes() -> None:
    ds = read(shared("ecg_cinc2021_georgia_ptbxl"))
    res = audit(ds, exclude=["signal_ecg_quality", "signal_snr", "signal_eeg_bad_channels"])
    rep = res["representativeness"]
    assert rep.title.startswith("Record attributes:")
    groups = {i.key: i.details["n"] for i in rep.items if i.scope == "group"}
    assert groups["sex=F"] + groups["sex=M"] == 30, "the real headers hold 19 women and 11 men"
    assert groups["sex=F"] == 19
    assert res["missingness"].status.value == "pass"


def test_image_audit_reports_grade_imbalance_of_the_labels() -> None:
    ds = read(shared("fundus_dr_maculopathy_rahim"))
    res = audit(
        ds.select(range(0, 480, 4)),
        metrics=None,
        exclude=[
            "brightness",
            "contrast",
            "exposure",
            "sharpness",
            "image_noise",
            "colourfulness",
            "image_duplicates",
            "image_near_duplicates",
            "fundus_fov",
            "fundus_illumination",
            "fundus_gradability",
        ],
    )
    imbalance = res["class_imbalance"]
    assert imbalance.title.startswith("Record attributes:")
    assert "No DR" in imbalance.reason
