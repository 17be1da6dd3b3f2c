"""Mode-specific normalisation: layout, exact round trip (real data and Hypothesis), state."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import medsyn.data
from medsyn.synth.tabular._plan import ModelColumn, TablePlan
from medsyn.synth.tabular._transform import ModeTransformer
from tests.conftest import shared

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")


def _model_table(relative: str, columns: list[str]) -> tuple[pd.DataFrame, list[ModelColumn]]:
    ds = medsyn.data.read(shared(relative))
    frame = ds.data[columns]
    plan = TablePlan.learn(frame, ds.schema.select(columns))
    return plan.encode(ds.data, np.random.default_rng(0)), plan.model_columns


def _assert_round_trip(
    t: ModeTransformer, table: pd.DataFrame, columns: list[ModelColumn], rng: np.random.Generator
) -> None:
    back = t.inverse(t.transform(table, rng))
    assert list(back.columns) == [c.name for c in columns]
    for c in columns:
        if c.kind == "numeric":
            x = table[c.name].to_numpy(dtype=float)
            spread = float(np.ptp(x)) + abs(float(np.mean(x))) + 1.0
            # float32 α inside a mode: error ≤ 4σ_k · 2⁻²³, far below 1e-5 of the column's spread
            np.testing.assert_allclose(back[c.name].to_numpy(), x, rtol=0, atol=1e-5 * spread)
        else:
            assert back[c.name].tolist() == table[c.name].tolist()
            assert list(back[c.name].cat.categories) == list(c.categories)


@pytest.mark.shared_data
def test_round_trip_on_real_table_with_missing_values() -> None:
    # creatinine and chapter have missing values: an indicator column and a <missing> category
    names = ["age", "sex", "creatinine", "futime", "chapter"]
    table, columns = _model_table("survival_sets_sksurv_lifelines/flchain.csv", names)
    assert [c.name for c in columns] == ["age", "sex", "creatinine__missing", "creatinine", "futime", "chapter"]
    rng = np.random.default_rng(1)
    t = ModeTransformer(max_fit_rows=2000).fit(table, columns, rng)
    matrix = t.transform(table, rng)
    assert matrix.dtype == np.float32
    assert matrix.shape == (len(table), t.width)
    # every one-hot span has exactly one hot entry; every scalar is inside tanh's range
    for span in t.spans:
        block = matrix[:, span.start : span.stop]
        if span.kind == "onehot":
            assert np.all(block.sum(axis=1) == 1)
        else:
            assert np.all(np.abs(block) <= 0.99)
    _assert_round_trip(t, table, columns, rng)


def test_layout_counts_modes_and_categories() -> None:
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(0, 1, 500), rng.normal(50, 2, 500)])  # two far-apart modes
    table = pd.DataFrame({"x": x, "c": pd.Categorical(rng.choice(["a", "b", "c"], 1000), categories=["a", "b", "c"])})
    cols = [ModelColumn("x", "numeric"), ModelColumn("c", "categorical", ("a", "b", "c"))]
    t = ModeTransformer().fit(table, cols, rng)
    means = t.modes[0][0] * t.scale[0] + t.shift[0]
    assert len(means) >= 2
    assert np.min(np.abs(means - 0)) < 1
    assert np.min(np.abs(means - 50)) < 2
    kinds = [(s.kind, s.categorical) for s in t.spans]
    assert kinds == [("scalar", False), ("onehot", False), ("onehot", True)]
    assert t.width == 1 + t.modes[0].shape[1] + 3
    assert [s.column for s in t.categorical_spans] == [1]


def test_outliers_beyond_every_mode_are_kept_exactly() -> None:
    rng = np.random.default_rng(0)
    x = np.concatenate([np.zeros(990), rng.normal(0, 1e-3, 8), [1e6, -3e5]])
    table = pd.DataFrame({"x": x})
    cols = [ModelColumn("x", "numeric")]
    t = ModeTransformer().fit(table, cols, rng)
    _assert_round_trip(t, table, cols, rng)


def test_constant_numeric_column() -> None:
    table = pd.DataFrame({"x": np.full(20, 3.5)})
    cols = [ModelColumn("x", "numeric")]
    rng = np.random.default_rng(0)
    t = ModeTransformer().fit(table, cols, rng)
    assert t.modes[0].shape == (3, 1)
    _assert_round_trip(t, table, cols, rng)


def test_inverse_clips_to_the_model_range_and_adds_noise_only_when_asked() -> None:
    table = pd.DataFrame({"x": np.linspace(0, 10, 50)})
    cols = [ModelColumn("x", "numeric", low=0.0, high=10.0)]
    rng = np.random.default_rng(0)
    t = ModeTransformer().fit(table, cols, rng)
    matrix = t.transform(table, rng)
    matrix[:, 0] = 1.0  # the top of every mode
    assert t.inverse(matrix)["x"].between(0, 10).all()
    plain = t.inverse(t.transform(table, np.random.default_rng(1)))
    noisy = t.inverse(t.transform(table, np.random.default_rng(1)), sigmas=np.full(t.width, 0.1), rng=rng)
    assert not np.allclose(plain["x"], noisy["x"])
    assert noisy["x"].between(0, 10).all()


def test_state_round_trip_gives_the_same_encoding() -> None:
    rng = np.random.default_rng(3)
    table = pd.DataFrame({"x": rng.gamma(2.0, 3.0, 300), "c": pd.Categorical(rng.choice(["u", "v"], 300))})
    cols = [ModelColumn("x", "numeric"), ModelColumn("c", "categorical", ("u", "v"))]
    t = ModeTransformer().fit(table, cols, rng)
    state, arrays = t.to_state()
    u = ModeTransformer.from_state(state, arrays, cols)
    assert u.spans == t.spans
    assert u.width == t.width
    a = t.transform(table, np.random.default_rng(9))
    b = u.transform(table, np.random.default_rng(9))
    np.testing.assert_array_equal(a, b)
    pd.testing.assert_frame_equal(t.inverse(a), u.inverse(b))
    with pytest.raises(ValueError, match="numeric columns"):
        ModeTransformer.from_state(state, arrays, [ModelColumn("c", "categorical", ("u", "v")), cols[0]])


finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False, width=64)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    values=st.lists(finite, min_size=2, max_size=60),
    labels=st.lists(st.sampled_from(["a", "b", "c"]), min_size=60, max_size=60),
    seed=st.integers(0, 2**32 - 1),
)
def test_round_trip_property(values: list[float], labels: list[str], seed: int) -> None:
    n = len(values)
    table = pd.DataFrame({"x": values, "c": pd.Categorical(labels[:n], categories=["a", "b", "c"])})
    cols = [ModelColumn("x", "numeric"), ModelColumn("c", "categorical", ("a", "b", "c"))]
    rng = np.random.default_rng(seed)
    t = ModeTransformer(max_modes=int(rng.integers(1, 11))).fit(table, cols, rng)
    assert all(math.isfinite(v) for m in t.modes.values() for v in m.ravel())
    _assert_round_trip(t, table, cols, rng)
