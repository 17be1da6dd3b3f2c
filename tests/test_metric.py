"""The Metric contract: verdicts from thresholds, JSON-safe results, boundary checks, registry rules."""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest

from medsyn.data import TabularDataset
from medsyn.data.dataset import Dataset, Modality
from medsyn.errors import InputError, UnknownNameError
from medsyn.metric import (
    METRICS,
    Direction,
    Metric,
    MetricKind,
    MetricResult,
    Status,
    Threshold,
    get_metric,
    metrics_for,
)


@pytest.mark.parametrize(
    ("value", "direction", "expected"),
    [
        (0.01, Direction.MINIMIZE, Status.PASS),
        (0.05, Direction.MINIMIZE, Status.PASS),
        (0.2, Direction.MINIMIZE, Status.WARN),
        (0.5, Direction.MINIMIZE, Status.FAIL),
        (0.5, Direction.MAXIMIZE, Status.FAIL),
        (0.9, Direction.MAXIMIZE, Status.PASS),
        (math.nan, Direction.MINIMIZE, Status.INFO),
    ],
)
def test_threshold_judges_in_the_metric_direction(value: float, direction: Direction, expected: Status) -> None:
    limits = Threshold(0.05, 0.3) if direction is Direction.MINIMIZE else Threshold(0.8, 0.6)
    assert limits.judge(value, direction) is expected


def test_infinite_fail_limit_only_warns_and_stays_json_safe() -> None:
    t = Threshold(0.0, math.inf)
    assert t.judge(1e12, Direction.MINIMIZE) is Status.WARN
    assert t.describe(Direction.MINIMIZE) == "pass ≤ 0, else warn"
    assert json.dumps(t.to_dict(), allow_nan=False) == '{"warn": 0.0, "fail": null}'


class _Share(Metric):
    """Share of missing cells (test double)."""

    name = "test_share"
    title = "Share"
    modality = Modality.TABULAR
    kind = MetricKind.QUALITY
    default_threshold = Threshold(0.1, 0.5)

    def applies_to(self, data: Dataset) -> str | None:
        return "needs two columns" if data.attributes.shape[1] < 2 else None

    def _compute(self, real: Dataset, synthetic: Dataset | None) -> MetricResult:
        return self.result(float(real.attributes.isna().to_numpy().mean()), "measured", details={"x": math.nan})


def test_compute_judges_skips_and_serialises() -> None:
    ds = TabularDataset(pd.DataFrame({"a": [1, None], "b": [1, 2]}))
    res = _Share().compute(ds)
    assert res.status is Status.WARN
    assert res.value == 0.25
    assert json.loads(json.dumps(res.to_dict(), allow_nan=False))["details"]["x"] is None
    assert "test_share=0.25" in repr(res)
    skipped = _Share().compute(TabularDataset(pd.DataFrame({"a": [1]})))
    assert skipped.status is Status.SKIPPED
    assert skipped.reason == "needs two columns"
    strict = _Share(threshold=Threshold(0.3, 0.9)).compute(ds)
    assert strict.status is Status.PASS


def test_wrong_modality_is_an_input_error() -> None:
    from medsyn.data import ImageDataset

    images = ImageDataset.from_arrays([pd.DataFrame([[0, 1], [1, 0]]).to_numpy()])
    with pytest.raises(InputError, match="a image dataset; expected a tabular dataset"):
        _Share().compute(images)


def test_registry_checks_the_contract_and_suggests_names() -> None:
    class NoDoc(Metric):
        name = "nodoc"
        title = "x"
        modality = Modality.TABULAR
        kind = MetricKind.QUALITY

        def _compute(self, real: Dataset, synthetic: Dataset | None) -> MetricResult:
            raise AssertionError

    with pytest.raises(TypeError, match="needs a docstring"):
        METRICS.add("nodoc", NoDoc)
    with pytest.raises(TypeError, match="registered as 'other'"):
        METRICS.add("other", _Share)
    with pytest.raises(UnknownNameError, match="did you mean 'missingness'"):
        get_metric("missingnes")


def test_every_modality_has_quality_checks_with_documented_purpose() -> None:
    for modality in Modality:
        found = metrics_for(modality, MetricKind.QUALITY)
        assert len(found) >= 9, modality
        assert all(cls.describe() for cls in found)
