"""Every tabular quality check: registered, described, and robust on awkward tables."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import medsyn.quality.tabular as tabular
from medsyn.data import Modality, TabularDataset
from medsyn.metric import Metric, MetricKind, Status, get_metric, metrics_for

NAMES = sorted(cls.name for cls in metrics_for(Modality.TABULAR, MetricKind.QUALITY))

EDGE_TABLES: dict[str, pd.DataFrame] = {
    "one_row": pd.DataFrame({"age": [70], "sex": ["F"], "died": [1], "sbp": [120.5]}),
    "all_nan_column": pd.DataFrame(
        {"age": np.arange(40, 80), "sex": ["F", "M"] * 20, "empty": [np.nan] * 40, "died": [0, 1, 0, 0] * 10}
    ),
    "single_numeric": pd.DataFrame({"x": np.linspace(0.0, 1.0, 25)}),
    "zero_one_columns": pd.DataFrame({"a": [0, 1] * 30, "b": [1, 1, 0] * 20, "outcome": [0, 0, 1] * 20}),
    "no_protected": pd.DataFrame(
        {"los": np.arange(50) % 9, "cost": np.linspace(1e3, 5e4, 50), "readmitted": [0, 1] * 25}
    ),
    "empty_text": pd.DataFrame({"note": [None] * 30, "x": np.arange(30.0)}),
}


def test_exports_match_the_registry() -> None:
    exported = {getattr(tabular, n) for n in tabular.__all__ if isinstance(getattr(tabular, n), type)}
    registered = {get_metric(n) for n in NAMES}
    assert registered <= exported
    assert sorted(tabular.__all__) == sorted(set(tabular.__all__))


@pytest.mark.parametrize("name", NAMES)
def test_metric_contract(name: str) -> None:
    cls = get_metric(name)
    assert issubclass(cls, Metric)
    assert cls.kind is MetricKind.QUALITY
    assert cls.modality is Modality.TABULAR
    assert len(cls.describe()) > 60  # the report shows this paragraph: it must say what and why


@pytest.mark.parametrize("table", sorted(EDGE_TABLES))
@pytest.mark.parametrize("name", NAMES)
def test_edge_tables_give_a_verdict_not_an_error(name: str, table: str) -> None:
    res = get_metric(name)().compute(TabularDataset(EDGE_TABLES[table]))
    assert res.status is not Status.ERROR
    if res.status is Status.SKIPPED:
        assert res.reason  # says why
    json.dumps(res.to_dict(), allow_nan=False)


def test_no_protected_field_skips_group_checks() -> None:
    ds = TabularDataset(EDGE_TABLES["no_protected"])
    for name in ("missingness_by_group", "representativeness"):
        res = get_metric(name)().compute(ds)
        assert res.status is Status.SKIPPED
        assert "protected" in res.reason
