"""Rebalancing: group plans, water-filling, balanced sampling, augmentation on real data."""

from __future__ import annotations

import pandas as pd
import pytest

from medsyn.data import read
from medsyn.errors import InputError
from medsyn.synth import GaussianCopula, plan_rebalance, rebalance
from medsyn.synth._balance import split_counts
from tests.conftest import shared


@pytest.fixture(scope="module")
def flchain() -> pd.DataFrame:
    return read(shared("survival_sets_sksurv_lifelines/flchain.csv")).data


@pytest.fixture(scope="module")
def model(flchain: pd.DataFrame) -> GaussianCopula:
    return GaussianCopula().fit(flchain)


def test_split_counts_sums_exactly() -> None:
    assert split_counts(10, [1 / 3, 1 / 3, 1 / 3]) == [4, 3, 3]
    assert sum(split_counts(997, [0.1, 0.2, 0.7])) == 997


def test_fewest_additions_reach_equal_shares(flchain: pd.DataFrame) -> None:
    plans = plan_rebalance(flchain, ["sex", "death"])
    final = {p.label: p.count + p.add for p in plans}
    assert len(set(final.values())) == 1  # every group ends equal
    assert min(p.add for p in plans) == 0  # the largest group gets nothing


def test_water_filling_with_a_fixed_number(flchain: pd.DataFrame) -> None:
    plans = plan_rebalance(flchain, "death", n=1000)
    assert sum(p.add for p in plans) == 1000
    assert {p.label: p.add for p in plans} == {"alive": 0, "dead": 1000}
    shares = plan_rebalance(flchain, "death", {"alive": 0.6, "dead": 0.4})
    final = {p.label: p.count + p.add for p in shares}
    assert final["dead"] / sum(final.values()) == pytest.approx(0.4, abs=1e-3)


def test_condition_keys_define_range_groups(flchain: pd.DataFrame) -> None:
    plans = plan_rebalance(flchain, "age", {"age >= 80": 0.5, "age < 80": 0.5})
    assert {p.label: p.count for p in plans} == {
        "age >= 80": int((flchain.age >= 80).sum()),
        "age < 80": int((flchain.age < 80).sum()),
    }


def test_rebalance_returns_new_rows_in_their_groups(model: GaussianCopula, flchain: pd.DataFrame) -> None:
    new = rebalance(model, flchain, ["sex", "death"], seed=0).data
    plans = {p.label: p.add for p in plan_rebalance(flchain, ["sex", "death"])}
    got = new.groupby(["sex", "death"], observed=True).size()
    assert {f"{s} & {d}": int(k) for (s, d), k in got.items()} == {k: v for k, v in plans.items() if v}
    both = rebalance(model, flchain, "death", "minority", n=200, only_new=False, seed=0).data
    assert len(both) == len(flchain) + 200
    assert (both.iloc[len(flchain) :]["death"] == "dead").all()


def test_balanced_sampling_without_real_data(model: GaussianCopula) -> None:
    out = model.sample(999, balance=["sex", "death"], seed=0).data
    assert out.groupby(["sex", "death"], observed=True).size().tolist() == [250, 250, 250, 249]
    out = model.sample(400, balance={"age >= 85": 0.25, "age < 85": 0.75}, seed=0).data
    assert (out.age >= 85).sum() == 100


def test_bad_balance_requests(model: GaussianCopula, flchain: pd.DataFrame) -> None:
    with pytest.raises(InputError, match="not a categorical"):
        model.sample(10, balance="kappa")
    with pytest.raises(InputError, match="unknown column"):
        plan_rebalance(flchain, "sexx")
    with pytest.raises(InputError, match="one per column"):
        plan_rebalance(flchain, ["sex", "death"], {"F": 1.0})
    with pytest.raises(InputError, match="how many rows"):
        plan_rebalance(flchain, "death", "minority")
