"""The shared discretiser: bins from public bounds or quantiles, exact codes, values back inside their bin."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from medsyn.data import read
from medsyn.data.conditions import Conditions
from medsyn.synth.tabular._discretize import KNOTS, Discretizer
from medsyn.synth.tabular._plan import ModelColumn, TablePlan
from tests.conftest import shared


@pytest.fixture(scope="module")
def flchain() -> tuple[pd.DataFrame, list[ModelColumn]]:
    """The FLCHAIN model table, as a generator sees it."""
    ds = read(shared("survival_sets_sksurv_lifelines/flchain.csv"))
    plan = TablePlan.learn(ds.data, ds.schema)
    return plan.encode(ds.data, np.random.default_rng(0)), plan.model_columns


def _column(table: pd.DataFrame, columns: list[ModelColumn], name: str) -> int:
    return [c.name for c in columns].index(name)


def test_quantile_bins_hold_similar_shares_and_small_columns_are_exact(flchain) -> None:  # type: ignore[no-untyped-def]
    table, columns = flchain
    disc = Discretizer.fit(table, columns, bins=20)
    codes = disc.encode(table)
    sizes = disc.sizes
    assert codes.shape == (len(table), len(columns))
    assert ((codes >= 0) & (codes < sizes)).all()
    kappa = codes[:, _column(table, columns, "kappa")]
    shares = np.bincount(kappa) / len(kappa)
    assert shares.size == 20
    assert shares.max() < 2.5 / 20  # ties make quantile bins uneven, never wildly so
    # flc.grp has 10 values: one bin each, so decoding gives the value back exactly
    j = _column(table, columns, "flc.grp")
    assert sizes[j] == 10
    back = disc.decode(codes, np.random.default_rng(1))
    np.testing.assert_array_equal(back["flc.grp"], table["flc.grp"])
    for c in columns:  # categories come back as they went in
        if c.kind == "categorical":
            assert back[c.name].tolist() == table[c.name].tolist()


def test_decoded_values_stay_in_their_bin_and_keep_the_marginal(flchain) -> None:  # type: ignore[no-untyped-def]
    table, columns = flchain
    disc = Discretizer.fit(table, columns, bins=20)
    codes = disc.encode(table)
    back = disc.decode(codes, np.random.default_rng(2))
    np.testing.assert_array_equal(disc.encode(back), codes)
    for c in columns:
        if c.kind == "numeric":
            x, y = table[c.name].to_numpy(), back[c.name].to_numpy()
            y = np.round(y) if c.integer else y  # as the plan decodes whole numbers
            # the within-bin quantile function keeps each bin's shape: the marginal barely moves
            # (KS between two samples of 7874 from one distribution is < 0.022 at the 95 % level)
            assert stats.ks_2samp(x, y).statistic < 0.02, c.name


def test_spikes_are_kept_exactly() -> None:
    """40 % exact zeros (a lab value below detection) and 20 % at a ceiling of 30 (a capped score)."""
    rng = np.random.default_rng(0)
    u = rng.random(5000)
    x = np.where(u < 0.4, 0.0, np.where(u > 0.8, 30.0, np.minimum(rng.gamma(2.0, 3.0, 5000), 29.9)))
    cols = [ModelColumn("crp", "numeric", low=0.0, high=30.0)]
    disc = Discretizer.fit(pd.DataFrame({"crp": x}), cols, bins=10)
    back = disc.decode(disc.encode(pd.DataFrame({"crp": x})), rng)
    np.testing.assert_array_equal(back["crp"] == 0, x == 0)
    np.testing.assert_array_equal(back["crp"] == 30, x == 30)


def test_private_bins_read_only_the_public_bounds() -> None:
    cols = [
        ModelColumn("age", "numeric", low=18, high=100, integer=True),
        ModelColumn("bmi", "numeric", low=10.0, high=60.0),
        ModelColumn("grade", "numeric", low=1, high=4, integer=True),
    ]
    rng = np.random.default_rng(0)
    a = pd.DataFrame({"age": rng.integers(18, 40, 50).astype(float), "bmi": rng.normal(25, 3, 50), "grade": 1.0})
    b = pd.DataFrame({"age": rng.integers(60, 100, 80).astype(float), "bmi": rng.normal(35, 8, 80), "grade": 4.0})
    da, db = Discretizer.fit(a, cols, bins=10, private=True), Discretizer.fit(b, cols, bins=10, private=True)
    for name in ("age", "bmi", "grade"):
        np.testing.assert_array_equal(da.edges[name], db.edges[name])
        np.testing.assert_array_equal(da.knots[name], db.knots[name])
    np.testing.assert_allclose(da.edges["bmi"], np.linspace(10, 60, 11))
    age = da.edges["age"]  # whole numbers: half-integer edges, every bin holds whole ages
    assert (age[0], age[-1]) == (17.5, 100.5)
    np.testing.assert_array_equal(age % 1, 0.5)
    np.testing.assert_array_equal(da.edges["grade"], [0.5, 1.5, 2.5, 3.5, 4.5])  # one bin per grade
    # within a bin the value is uniform: the knots are equally spaced
    np.testing.assert_allclose(np.diff(da.knots["bmi"], axis=1), 5.0 / KNOTS)


def test_private_bins_of_a_skewed_measurement_are_equal_ratio() -> None:
    """A lab value bounded by 0.01 and 20.5 (FLCHAIN kappa's range): log-spaced bins, still public."""
    cols = [ModelColumn("kappa", "numeric", low=0.01, high=20.5), ModelColumn("dose", "numeric", low=0.0, high=20.5)]
    disc = Discretizer.fit(pd.DataFrame({"kappa": [1.0], "dose": [1.0]}), cols, bins=20, private=True)
    np.testing.assert_allclose(disc.edges["kappa"], np.geomspace(0.01, 20.5, 21))
    np.testing.assert_allclose(disc.edges["dose"], np.linspace(0.0, 20.5, 21))  # zero allowed: no ratio scale


def test_private_bins_need_finite_bounds() -> None:
    cols = [ModelColumn("x", "numeric")]
    with pytest.raises(ValueError, match="'x' has no public bounds"):
        Discretizer.fit(pd.DataFrame({"x": [1.0, 2.0]}), cols, private=True)


def test_allowed_codes_cover_every_value_meeting_the_condition(flchain) -> None:  # type: ignore[no-untyped-def]
    table, columns = flchain
    disc = Discretizer.fit(table, columns, bins=20)
    conds = Conditions.parse("kappa >= 1.2 and kappa < 3 and sex in {F}")
    allowed = disc.allowed(conds)
    j, s = _column(table, columns, "kappa"), _column(table, columns, "sex")
    assert set(allowed) == {j, s}
    assert allowed[s].tolist() == [c == "F" for c in columns[s].categories]
    assert 0 < allowed[j].sum() < allowed[j].size
    codes = np.tile(disc.encode(table), (3, 1))
    back = disc.decode(codes, np.random.default_rng(0))
    meets = ((back["kappa"] >= 1.2) & (back["kappa"] < 3)).to_numpy()
    assert allowed[j][codes[meets, j]].all()  # never too narrow: exact samplers may restrict to these codes
    # nor needlessly wide: beyond the rows that meet it, at most the two bins on its edges
    assert allowed[j][codes[:, j]].mean() < meets.mean() + 2 * 2.5 / 20


@settings(max_examples=40, deadline=None)
@given(
    values=st.lists(st.floats(-1e3, 1e3, allow_nan=False), min_size=2, max_size=300),
    bins=st.integers(1, 30),
    low=st.floats(-1e3, 1e3),
    width=st.floats(0, 500),
)
def test_codes_round_trip_and_intervals_are_covered(values: list[float], bins: int, low: float, width: float) -> None:
    x = np.array(values)
    cols = [ModelColumn("x", "numeric", low=float(x.min()), high=float(x.max()))]
    table = pd.DataFrame({"x": x})
    for private in (False, True):
        disc = Discretizer.fit(table, cols, bins=bins, private=private)
        codes = disc.encode(table)
        assert ((codes >= 0) & (codes < disc.sizes[0])).all()
        back = disc.decode(codes, np.random.default_rng(0))
        assert back["x"].between(x.min() - 1e-9, x.max() + 1e-9).all()
        np.testing.assert_array_equal(disc.encode(back), codes)
        mask = disc.allowed(Conditions.parse(f"x >= {low!r} and x <= {low + width!r}"))[0]
        inside = ((back["x"] >= low) & (back["x"] <= low + width)).to_numpy()
        assert mask[codes[inside, 0]].all()


def test_state_round_trip(flchain, tmp_path) -> None:  # type: ignore[no-untyped-def]
    table, columns = flchain
    disc = Discretizer.fit(table, columns, bins=12)
    state, arrays = disc.to_state("b")
    again = Discretizer.from_state(columns, state, arrays, "b")
    codes = disc.encode(table)
    np.testing.assert_array_equal(again.encode(table), codes)
    pd.testing.assert_frame_equal(
        disc.decode(codes, np.random.default_rng(3)), again.decode(codes, np.random.default_rng(3))
    )
    with pytest.raises(KeyError):
        Discretizer.from_state(columns, state, {k: v for k, v in arrays.items() if "kappa" not in k}, "b")
