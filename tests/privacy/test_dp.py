"""DP releases through OpenDP: charged before release, noise as the mechanism says, accurate at large ε."""

from __future__ import annotations

import json
import math
import sys

import numpy as np
import pandas as pd
import pytest

from medsyn.data import Field, FieldType, Schema, TabularDataset, read
from medsyn.errors import InputError, MissingDependencyError, PrivacyBudgetExceeded
from medsyn.privacy import (
    PrivacyAccountant,
    PrivacyBudget,
    dp_count,
    dp_histogram,
    dp_mean,
    dp_quantiles,
)
from tests.conftest import shared

N_CATEGORIES = 3000


@pytest.fixture(scope="module")
def codes() -> TabularDataset:
    """15,000 rows, 5 of each of 3,000 codes: a histogram gives 3,000 independent noise draws."""
    frame = pd.DataFrame({"code": np.repeat([f"c{i:04d}" for i in range(N_CATEGORIES)], 5)})
    return TabularDataset(frame)


@pytest.fixture(scope="module")
def actg() -> TabularDataset:
    ds = read(shared("actg175_hiv_trial/ACTG175.csv"))
    assert isinstance(ds, TabularDataset)
    return ds


def test_refused_release_charges_nothing_and_releases_nothing() -> None:
    budget = PrivacyBudget("toy", 0.5)
    data = pd.DataFrame({"age": [70, 81, 65]})
    with pytest.raises(PrivacyBudgetExceeded, match="needs ε=1"):
        dp_count(data, budget=budget, epsilon=1.0)
    assert list(budget.spends) == []
    first = dp_count(data, budget=budget, epsilon=0.3)
    assert first.epsilon == pytest.approx(0.3)
    with pytest.raises(PrivacyBudgetExceeded):
        dp_mean(data, column="age", budget=budget, epsilon=0.3, bounds=(0, 100))
    assert [s.what for s in budget.spends] == ["count (laplace)"]
    assert budget.remaining_epsilon == pytest.approx(0.2)


def test_missing_opendp_names_the_extra_and_charges_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "opendp.prelude", None)  # import fails as if not installed
    budget = PrivacyBudget("toy", 1.0)
    with pytest.raises(MissingDependencyError, match=r"medsyn\[privacy\]"):
        dp_count(pd.DataFrame({"a": [1]}), budget=budget, epsilon=0.5)
    assert list(budget.spends) == []


def test_laplace_noise_has_the_stated_scale(codes: TabularDataset) -> None:
    cats = [f"c{i:04d}" for i in range(N_CATEGORIES)]
    r = dp_histogram(codes, column="code", categories=cats, budget=PrivacyAccountant(1.0), epsilon=0.2)
    assert r.epsilon == pytest.approx(0.2)
    assert r.noise[0].scale == pytest.approx(5.0, rel=1e-6)  # sensitivity 1 / ε
    noise = np.asarray(r.values[:-1]) - 5
    # discrete Laplace with scale 5: sd = sqrt(2q)/(1-q), q = exp(-1/5), ≈ 7.06 (continuous: √2·5)
    q = math.exp(-1 / 5)
    assert noise.std() == pytest.approx(math.sqrt(2 * q) / (1 - q), rel=0.1)
    assert abs(noise.mean()) < 0.6  # 4 standard errors
    assert np.all(noise == np.round(noise))  # counts stay integers
    assert r.labels[-1] == "(other or missing)"


def test_gaussian_noise_has_the_stated_scale(codes: TabularDataset) -> None:
    cats = [f"c{i:04d}" for i in range(N_CATEGORIES)]
    budget = PrivacyAccountant(1.0, 1e-5)
    r = dp_histogram(
        codes, column="code", categories=cats, budget=budget, epsilon=0.5, mechanism="gaussian", delta=1e-6
    )
    assert r.epsilon == pytest.approx(0.5, rel=1e-3)
    assert r.delta == pytest.approx(1e-6)
    assert r.rho == pytest.approx(1 / (2 * r.noise[0].scale ** 2), rel=1e-6)  # ρ = Δ₂² / 2σ²
    noise = np.asarray(r.values[:-1]) - 5
    assert noise.std() == pytest.approx(r.noise[0].scale, rel=0.1)
    assert budget.spends[0].delta == pytest.approx(1e-6)


def test_sensitivity_follows_rows_per_person() -> None:
    data = pd.DataFrame({"x": range(100)})
    one = dp_count(data, budget=PrivacyAccountant(1.0), epsilon=0.5)
    three = dp_count(data, budget=PrivacyAccountant(1.0), epsilon=0.5, rows_per_person=3)
    assert three.noise[0].scale == pytest.approx(3 * one.noise[0].scale)
    assert three.noise[0].sensitivity == 3


@pytest.mark.shared_data
def test_large_epsilon_gives_the_truth_on_real_data(actg: TabularDataset) -> None:
    frame = actg.data
    budget = PrivacyBudget.for_dataset(actg, 1000.0)
    assert dp_count(actg, budget=budget, epsilon=100).value == pytest.approx(len(frame), abs=1)
    women = dp_count(actg, budget=budget, epsilon=100, where="gender == 0")
    assert women.value == pytest.approx((frame["gender"] == 0).sum(), abs=1)
    race = dp_histogram(actg, column="race", budget=budget, epsilon=100)
    assert race.as_mapping() == pytest.approx({"0": 1522, "1": 617, "(other or missing)": 0}, abs=1)
    mean = dp_mean(actg, column="wtkg", budget=budget, epsilon=100, bounds=(30, 160))
    assert mean.value == pytest.approx(frame["wtkg"].mean(), abs=0.1)
    assert mean.caveats == ()
    qs = dp_quantiles(actg, column="age", alphas=(0.25, 0.5, 0.75), budget=budget, epsilon=100, bounds=(0, 100))
    assert qs.values == pytest.approx(tuple(frame["age"].quantile([0.25, 0.5, 0.75])), abs=1)
    assert budget.spent_epsilon == pytest.approx(500, rel=1e-6)
    json.dumps([r.to_dict() for r in (women, race, mean, qs)])  # every release serialises


@pytest.mark.shared_data
def test_moderate_epsilon_on_real_data_is_useful(actg: TabularDataset) -> None:
    budget = PrivacyBudget.for_dataset(actg, 1.0)
    mean = dp_mean(actg, column="age", budget=budget, epsilon=0.5, bounds=(0, 100))
    assert abs(mean.value - actg.data["age"].mean()) < 2  # scale of the mean's noise ≈ 400/0.5/2139 ≈ 0.4 years
    median = dp_quantiles(actg, column="cd40", budget=budget, epsilon=0.5, bounds=(0, 1500))
    assert abs(median.value - actg.data["cd40"].median()) < 40


def test_bounds_and_categories_from_the_data_are_flagged() -> None:
    frame = pd.DataFrame({"age": [30, 40, 50, 60] * 25, "ward": ["A", "B"] * 50})
    inferred = TabularDataset(frame)
    budget = PrivacyAccountant(10.0)
    flagged = dp_mean(inferred, column="age", budget=budget, epsilon=1)
    assert flagged.bounds == (30, 60)
    assert "inferred from this data" in flagged.caveats[0]
    assert dp_mean(inferred, column="age", budget=budget, epsilon=1, bounds=(0, 120)).caveats == ()
    declared = inferred.with_schema(inferred.schema.with_overrides({"fields": {"age": {"minimum": 0, "maximum": 120}}}))
    assert dp_mean(declared, column="age", budget=budget, epsilon=1).caveats == ()
    hist = dp_histogram(inferred, column="ward", budget=budget, epsilon=1)
    assert "inferred from this data" in hist.caveats[0]
    # a value outside the stated categories is counted in the last bin, never named
    own = dp_histogram(inferred, column="ward", categories=["A"], budget=budget, epsilon=5)
    assert own.labels == ("A", "(other or missing)")
    assert own.values == pytest.approx((50, 50), abs=5)
    assert own.caveats == ()


def test_zcdp_budget_composes_releases() -> None:
    budget = PrivacyBudget("toy", 3.0, 1e-6, mode="zcdp")
    data = pd.DataFrame({"x": np.arange(1000.0)})
    g = dp_count(data, budget=budget, epsilon=0.5, mechanism="gaussian", delta=1e-7)
    lap = dp_count(data, budget=budget, epsilon=0.3)
    assert budget.accountant.spent_rho == pytest.approx(g.rho + 0.3**2 / 2)
    assert lap.rho == pytest.approx(0.045)
    assert budget.spent_epsilon < 3.0


def test_budget_file_round_trip_and_data_version(tmp_path: pytest.TempPathFactory) -> None:
    ds = TabularDataset(pd.DataFrame({"x": range(10)}))
    budget = PrivacyBudget("toy", 2.0, 1e-6, version="abc123")
    dp_count(ds, budget=budget, epsilon=0.5)
    child = budget.allocate("mst synthesis", epsilon=1.0, delta=1e-7, mode="zcdp")
    assert child.mode == "zcdp"
    assert child.epsilon == 1.0
    path = budget.save(tmp_path / "budget.json")  # type: ignore[operator]
    again = PrivacyBudget.load(path)
    assert again.spent_epsilon == pytest.approx(1.5)
    assert [s.what for s in again.spends] == ["count (laplace)", "mst synthesis"]
    with pytest.raises(PrivacyBudgetExceeded):
        again.allocate("too much", epsilon=1.0)
    from medsyn.data.dataset import Provenance

    other = TabularDataset(ds.data, ds.schema, Provenance("other.csv", "csv", digest="ffff" * 16))
    with pytest.raises(InputError, match="version abc123"):
        dp_count(other, budget=again, epsilon=0.1)
    with pytest.raises(InputError, match="not a privacy budget"):
        PrivacyBudget.from_dict({"format": "x"})
    broken = again.to_dict()
    broken["accountant"] = {**again.accountant.to_dict(), "spends": [{"what": "x", "epsilon": 5.0}]}
    with pytest.raises(InputError, match="exceed the budget"):
        PrivacyBudget.from_dict(broken)


def test_bad_arguments_are_reported_together() -> None:
    data = TabularDataset(
        pd.DataFrame({"age": [1, 2], "note": ["a", "b"]}),
        Schema((Field("age", FieldType.INTEGER), Field("note", FieldType.TEXT))),
    )
    with pytest.raises(InputError) as err:
        dp_count(
            data,
            budget=PrivacyAccountant(1.0),
            epsilon=-1,
            column="agee",
            where="weight > 3",
            mechanism="cauchy",  # type: ignore[arg-type]
            delta=0.5,
            rows_per_person=0,
        )
    text = str(err.value)
    for part in ("epsilon", "agee", "weight", "cauchy", "delta", "rows_per_person"):
        assert part in text
    with pytest.raises(InputError, match="for the Gaussian mechanism"):
        dp_count(data, budget=PrivacyAccountant(1.0), epsilon=1, mechanism="gaussian")
    with pytest.raises(InputError, match="no bounds"):
        dp_mean(data.with_schema(Schema((Field("age", FieldType.INTEGER), Field("note", FieldType.TEXT)))),
                column="age", budget=PrivacyAccountant(1.0), epsilon=1)  # fmt: skip
    with pytest.raises(InputError, match="a numeric column"):
        dp_mean(data, column="note", budget=PrivacyAccountant(1.0), epsilon=1, bounds=(0, 1))
    with pytest.raises(InputError, match="alphas"):
        dp_quantiles(data, column="age", alphas=(1.5,), budget=PrivacyAccountant(1.0), epsilon=1, bounds=(0, 9))
    with pytest.raises(InputError, match="no categories"):
        dp_histogram(data, column="note", budget=PrivacyAccountant(1.0), epsilon=1)
