"""The ``cart`` generator on real clinical tables: fidelity, exact conditions, determinism, model file.

Tolerances, and why (n = rows compared):

- FLCHAIN (7,874 rows), a sample as large as the table: KS < 0.05 on each numeric column and
  total variation < 0.05 on each categorical one. The 5 % critical KS value for two samples of
  this size is 0.022, so 0.05 leaves room for model error only (measured: ≤ 0.02 for both).
  Spearman correlations of every numeric pair within 0.10 (measured ≤ 0.04).
- UCI heart (303 rows), 3,000 synthetic rows: the real table's own noise dominates (5 % KS
  critical value 0.08), so KS < 0.15, TV < 0.10, Spearman within 0.25 (the Gaussian copula
  misses the cp–num pair by 0.3–0.4 here; cart measured ≤ 0.17).
- Train on synthetic, test on real (held-out third, never seen by the generator): AUC within
  0.05 of training on the real two thirds, with a logistic regression (measured over three
  splits: heart 0.84–0.89 real vs 0.82–0.89 synthetic, ACTG 175 0.87–0.91 vs 0.88–0.91).
- Conditions: every returned row meets them, including a category held by 0.8 % of rows. The
  conditional distribution is compared with the real conditional one (KS < 0.08 on 1,165 real
  rows) and with rejection sampling from the same model (≥ 5,000 rows against 10,000; KS and
  TV < 0.04, about twice the 5 % critical KS value: the native sampler must draw exactly the
  model's conditional distribution, so only sampling noise remains; a sampler that missed the
  rounding of smoothed values at the condition's edge measured 0.095).
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import medsyn.synth.tabular._cart as cart_module
from medsyn.data import read
from medsyn.errors import DataFormatError, InputError, NotFittedError
from medsyn.synth import get, load
from medsyn.synth.tabular._cart import CartGenerator
from medsyn.synth.tabular._plan import ColumnPlan
from tests.conftest import shared
from tests.synth.quality import ks_by_column, spearman_gap, tvd_by_column

FLCHAIN = "survival_sets_sksurv_lifelines/flchain.csv"
HEART = "heart_disease_cleveland/heart_cleveland.csv"
ACTG = "actg175_hiv_trial/ACTG175.csv"


# -- helpers ------------------------------------------------------------------------------------
def _real(relative: str) -> pd.DataFrame:
    ds = read(shared(relative))
    keep = [
        f.name
        for f in ds.schema
        if f.type.value in ("numeric", "integer", "categorical", "boolean")
        and "identifier" not in {r.value for r in f.roles}
        and ds.data[f.name].nunique() > 1
    ]
    return ds.data[keep]


def _numeric(frame: pd.DataFrame) -> list[str]:
    return [c for c in frame.columns if pd.api.types.is_numeric_dtype(frame[c]) and frame[c].nunique() > 2]


def _ks(a: pd.Series, b: pd.Series) -> float:
    return float(stats.ks_2samp(a.dropna().to_numpy(float), b.dropna().to_numpy(float), method="asymp").statistic)


def _tv(a: pd.Series, b: pd.Series) -> float:
    pa = a.astype(str).value_counts(normalize=True)
    pb = b.astype(str).value_counts(normalize=True)
    return float(0.5 * pa.subtract(pb, fill_value=0).abs().sum())


def _auc(train: pd.DataFrame, test: pd.DataFrame, target: str, positive: str) -> float:
    """Held-out AUC of a logistic regression (scaled numbers, one-hot categories) trained on ``train``."""
    from sklearn.compose import make_column_transformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    numeric = [c for c in _numeric(test) if c != target]
    categorical = [c for c in test.columns if c != target and c not in numeric]
    model = make_pipeline(
        make_column_transformer(
            (make_pipeline(SimpleImputer(), StandardScaler()), numeric),
            (OneHotEncoder(handle_unknown="ignore"), categorical),
        ),
        LogisticRegression(max_iter=1000),
    )

    def features(frame: pd.DataFrame) -> pd.DataFrame:
        return frame.drop(columns=[target]).astype(dict.fromkeys(categorical, str))

    model.fit(features(train), train[target].astype(str) == positive)
    return float(roc_auc_score(test[target].astype(str) == positive, model.predict_proba(features(test))[:, 1]))


@pytest.fixture(scope="module")
def flchain() -> pd.DataFrame:
    return _real(FLCHAIN)


@pytest.fixture(scope="module")
def flchain_model(flchain: pd.DataFrame) -> CartGenerator:
    return CartGenerator().fit(flchain)


@pytest.fixture(scope="module")
def flchain_smooth(flchain: pd.DataFrame) -> CartGenerator:
    return CartGenerator(smoothing="density").fit(flchain)


# -- registry, parameters -----------------------------------------------------------------------
def test_registered_with_native_conditions() -> None:
    assert get("cart") is CartGenerator
    assert CartGenerator.supports.conditions == "native"


def test_bad_parameters_are_listed_at_once() -> None:
    df = pd.DataFrame({"age": [30, 40, 50, 60] * 3, "sex": list("FMFM") * 3})
    with pytest.raises(InputError) as err:
        CartGenerator(min_samples_leaf=0, max_depth=0, smoothing="kde", visit_sequence=["sx"]).fit(df)
    text = str(err.value)
    for part in ("min_samples_leaf", "max_depth", "'kde'"):
        assert part in text
    assert "did you mean 'sex'?" in text


def test_sample_before_fit_raises() -> None:
    with pytest.raises(NotFittedError):
        CartGenerator().sample(3)


def test_tiny_table_with_missing_values() -> None:
    df = pd.DataFrame({"a": [1.0, None, 3.0], "b": ["x", "y", None], "c": [1, 2, 3]})
    out = CartGenerator().fit(df).sample(50, seed=0).data
    assert list(out.columns) == ["a", "b", "c"]
    assert len(out) == 50
    assert out["a"].isna().any()
    assert out["b"].isna().any()
    assert set(out["a"].dropna()) <= {1.0, 3.0}


def test_visit_sequence_goes_first_and_keeps_indicators_before_values(flchain: pd.DataFrame) -> None:
    model = CartGenerator(visit_sequence=["death", "creatinine"]).fit(flchain.head(500))
    names = [c.name for c in model.visit_]
    assert names[:3] == ["death", "creatinine__missing", "creatinine"]
    assert sorted(names) == sorted(c.name for c in model.columns_)


# -- trees --------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["regressor", "classifier"])
def test_routing_matches_scikit_learn(kind: str) -> None:
    from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

    rng = np.random.default_rng(0)

    def table(n: int) -> np.ndarray:
        return np.column_stack([rng.integers(0, 5, n), rng.normal(size=n), rng.integers(0, 2, n)]).astype(np.float32)

    x = table(3000)
    y = x[:, 0] + 2 * x[:, 2] + rng.normal(size=3000)
    est = (DecisionTreeRegressor if kind == "regressor" else DecisionTreeClassifier)(min_samples_leaf=5)
    est.fit(x, y if kind == "regressor" else (y > 2).astype(int))
    t = est.tree_
    tree = cart_module._Tree(
        t.children_left.astype(np.int32),
        t.children_right.astype(np.int32),
        t.feature.astype(np.int32),
        t.threshold,
        np.zeros(t.node_count + 1, dtype=np.int64),
        np.zeros(0),
    )
    new = table(5000)
    new[:100, 1] = x[:100, 1]  # exact training values: ties with the thresholds' neighbours
    np.testing.assert_array_equal(tree.route(np.ascontiguousarray(new.T)), t.apply(new))


def test_routing_compares_in_float64_like_scikit_learn() -> None:
    """Two neighbouring float32 values: their float64 midpoint rounds onto the upper one in float32."""
    from sklearn.tree import DecisionTreeRegressor

    low = np.nextafter(np.float32(1000.0), np.float32(2000.0))
    x = np.array([low] * 50 + [np.nextafter(low, np.float32(2000.0))] * 50, dtype=np.float32)[:, None]
    t = DecisionTreeRegressor(min_samples_leaf=5).fit(x, np.repeat([0.0, 1.0], 50)).tree_
    tree = cart_module._Tree(
        t.children_left.astype(np.int32),
        t.children_right.astype(np.int32),
        t.feature.astype(np.int32),
        t.threshold,
        np.zeros(t.node_count + 1, dtype=np.int64),
        np.zeros(0),
    )
    np.testing.assert_array_equal(tree.route(np.ascontiguousarray(x.T)), t.apply(x))


def test_every_leaf_pools_at_least_min_samples_leaf_rows(flchain_model: CartGenerator) -> None:
    for k, tree in enumerate(flchain_model.trees_):
        sizes = np.diff(tree.offsets)[tree.left < 0]
        assert sizes.sum() == len(tree.donors)
        assert sizes.min() >= (5 if k else 1)


@pytest.mark.parametrize(
    ("left", "right"),
    [([1, -1, -1], [0, -1, -1]), ([1, -1, -1], [1, -1, -1])],  # a child pointing back (a loop); a shared child
)
def test_damaged_tree_is_refused(left: list[int], right: list[int]) -> None:
    arrays = {
        "t/left": np.array(left),
        "t/right": np.array(right),
        "t/feature": np.array([0, -2, -2]),
        "t/threshold": np.array([0.5, -2.0, -2.0]),
        "t/offsets": np.array([0, 0, 3, 6]),
        "t/donors": np.zeros(6),
    }
    with pytest.raises(ValueError, match="inconsistent"):
        cart_module._Tree.from_arrays(arrays, "t", 1)


@pytest.mark.parametrize(
    ("plan", "clause", "expected"),
    [
        (ColumnPlan("x", "numeric", decimals=1), (2.0, math.inf, True, False), (1.95, math.inf)),  # x >= 2
        (ColumnPlan("x", "numeric", decimals=1), (2.0, math.inf, False, False), (2.05, math.inf)),  # x > 2
        (ColumnPlan("x", "numeric", decimals=1), (1.97, 3.0, True, False), (1.95, 2.95)),  # 1.97 <= x < 3
        (ColumnPlan("d", "datetime", date_only=True), (100.0, 200.0, True, True), (100.0, 201.0)),
        (ColumnPlan("d", "datetime", date_only=True), (100.0, 200.0, False, False), (101.0, 200.0)),
        (ColumnPlan("i", "integer"), (69.5, 70.5, True, False), (69.5, 70.5)),  # converted by the base class
    ],
)
def test_smoothed_conditions_cover_what_rounds_into_them(
    plan: ColumnPlan, clause: tuple[float, float, bool, bool], expected: tuple[float, float]
) -> None:
    assert cart_module._preimage(*clause, plan) == pytest.approx(expected)


# -- fidelity on real tables --------------------------------------------------------------------
def test_flchain_marginals_and_pairs(flchain: pd.DataFrame, flchain_model: CartGenerator) -> None:
    syn = flchain_model.sample(len(flchain), seed=1).data
    ks, tv = ks_by_column(flchain, syn), tvd_by_column(flchain, syn)
    assert max(ks.values()) < 0.05, ks
    assert max(tv.values()) < 0.05, tv
    assert spearman_gap(flchain, syn) < 0.10
    # missingness is modelled jointly: chapter (cause of death) is missing exactly for the living
    assert _tv(flchain["chapter"].isna(), syn["chapter"].isna()) < 0.03
    alive = syn["death"] == "alive"
    assert syn.loc[alive, "chapter"].isna().mean() > 0.97


def test_flchain_with_smoothing_stays_close(flchain: pd.DataFrame, flchain_smooth: CartGenerator) -> None:
    syn = flchain_smooth.sample(len(flchain), seed=1).data
    ks, tv = ks_by_column(flchain, syn), tvd_by_column(flchain, syn)
    assert max(ks.values()) < 0.06, ks
    assert max(tv.values()) < 0.08, tv
    assert spearman_gap(flchain, syn) < 0.12


def test_smoothing_draws_new_values_except_atoms(flchain_model: CartGenerator, flchain_smooth: CartGenerator) -> None:
    from medsyn.data.conditions import Conditions

    plain = flchain_model._sample(20_000, np.random.default_rng(0), Conditions())
    smooth = flchain_smooth._sample(20_000, np.random.default_rng(0), Conditions())
    training = set(flchain_model.trees_[[c.name for c in flchain_model.visit_].index("lambda")].donors)
    assert np.isin(plain["lambda"], list(training)).all()  # sample from leaf: real values
    assert np.isin(smooth["lambda"], list(training)).mean() < 0.05
    low, high = flchain_model.range_["lambda"]
    assert smooth["lambda"].between(low, high).all()


def test_heart_marginals_and_pairs() -> None:
    real = _real(HEART)
    syn = CartGenerator().fit(real).sample(3000, seed=0).data
    ks, tv = ks_by_column(real, syn), tvd_by_column(real, syn)
    assert max(ks.values()) < 0.15, ks
    assert max(tv.values()) < 0.10, tv
    assert spearman_gap(real, syn) < 0.25


@pytest.mark.parametrize(("relative", "target", "positive"), [(HEART, "num", "0"), (ACTG, "cens", "1")])
def test_train_on_synthetic_test_on_real(relative: str, target: str, positive: str) -> None:
    real = _real(relative)
    order = np.random.default_rng(0).permutation(len(real))
    test, train = real.iloc[order[: len(real) // 3]], real.iloc[order[len(real) // 3 :]].reset_index(drop=True)
    syn = CartGenerator().fit(train).sample(len(train), seed=0).data
    on_real, on_syn = _auc(train, test, target, positive), _auc(syn, test, target, positive)
    assert on_real > 0.8
    assert on_syn > on_real - 0.05, (on_real, on_syn)


# -- conditions ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "condition",
    [
        'sex == "F" and death == "dead"',
        'chapter == "Digestive"',  # 66 of 7,874 rows
        "age >= 90 and creatinine > 1.5",
        "age == 70",
        'chapter in {"Blood", "Skin"} and sex == "M"',
    ],
)
def test_conditions_hold_on_every_row(flchain_model: CartGenerator, condition: str) -> None:
    from medsyn.data.conditions import Conditions

    out = flchain_model.sample(300, conditions=condition, seed=2).data
    assert len(out) == 300
    assert Conditions.parse(condition).mask(out).all()


def test_conditional_distribution_matches_the_real_one(flchain: pd.DataFrame, flchain_model: CartGenerator) -> None:
    condition = 'sex == "F" and death == "dead"'
    real = flchain[(flchain["sex"] == "F") & (flchain["death"] == "dead")]  # 1,165 rows
    syn = flchain_model.sample(5000, conditions=condition, seed=3).data
    for column in ("age", "futime", "kappa"):
        assert _ks(real[column], syn[column]) < 0.08, column
    assert _tv(real["chapter"], syn["chapter"]) < 0.08


@pytest.mark.parametrize(
    ("smoothing", "condition", "pick"),
    [
        ("none", 'death == "dead" and sex == "F"', lambda f: (f["death"] == "dead") & (f["sex"] == "F")),
        ("density", "creatinine >= 1.5 and age < 75", lambda f: (f["creatinine"] >= 1.5) & (f["age"] < 75)),
    ],
)
def test_native_conditions_draw_the_model_conditional(
    flchain_model: CartGenerator, flchain_smooth: CartGenerator, smoothing: str, condition: str, pick: object
) -> None:
    model = flchain_model if smoothing == "none" else flchain_smooth
    free = model.sample(200_000, seed=4).data
    reference = free[pick(free)]  # type: ignore[operator]
    native = model.sample(10_000, conditions=condition, seed=5).data
    assert len(reference) > 5000
    for column in ("age", "futime", "creatinine", "lambda"):
        assert _ks(reference[column], native[column]) < 0.04, column
    for column in ("chapter", "mgus", "sex"):
        assert _tv(reference[column], native[column]) < 0.04, column


def test_condition_the_model_cannot_meet_is_a_clear_error() -> None:
    real = _real(HEART)  # nobody aged 30-33: sample-from-leaf can only draw ages it has seen
    with pytest.raises(InputError, match="satisfy"):
        CartGenerator().fit(real).sample(5, conditions="age == 30", seed=0, max_candidates=20_000)
    out = CartGenerator(smoothing="density").fit(real).sample(5, conditions="age == 30", seed=0).data
    assert (out["age"] == 30).all()


# -- determinism and the model file -------------------------------------------------------------
def test_same_seed_same_rows(flchain: pd.DataFrame, flchain_model: CartGenerator) -> None:
    a = flchain_model.sample(500, seed=7).data
    pd.testing.assert_frame_equal(a, flchain_model.sample(500, seed=7).data)
    assert not a.equals(flchain_model.sample(500, seed=8).data)
    refit = CartGenerator().fit(flchain)
    pd.testing.assert_frame_equal(a, refit.sample(500, seed=7).data)


@pytest.mark.parametrize("smoothing", ["none", "density"])
def test_save_load_round_trip(
    tmp_path: Path, flchain_model: CartGenerator, flchain_smooth: CartGenerator, smoothing: str
) -> None:
    model = flchain_model if smoothing == "none" else flchain_smooth
    loaded = load(model.save(tmp_path / "cart"))
    assert isinstance(loaded, CartGenerator)
    assert loaded.get_params() == model.get_params()
    for conditions in (None, 'death == "dead" and creatinine > 1.2'):
        pd.testing.assert_frame_equal(
            model.sample(400, conditions=conditions, seed=9).data,
            loaded.sample(400, conditions=conditions, seed=9).data,
        )


def test_damaged_model_file_is_refused(tmp_path: Path, flchain_model: CartGenerator) -> None:
    path = flchain_model.save(tmp_path / "cart")
    (path / "arrays.safetensors").write_bytes((path / "arrays.safetensors").read_bytes()[:-10])
    with pytest.raises(DataFormatError):
        load(path)


def test_progress_bar_runs(flchain: pd.DataFrame) -> None:
    assert CartGenerator().fit(flchain.head(300), progress=True).is_fitted


# -- speed --------------------------------------------------------------------------------------
def _timed_sample(model: CartGenerator, n: int) -> float:
    start = time.process_time()
    out = model.sample(n, seed=0).data
    assert len(out) == n
    return time.process_time() - start


def test_sampling_100k_rows_is_fast(flchain_model: CartGenerator) -> None:
    assert _timed_sample(flchain_model, 100_000) < 3.0  # CPU seconds; about 0.4 on an idle core


@pytest.mark.slow
def test_sampling_a_million_rows_under_ten_seconds(flchain: pd.DataFrame) -> None:
    boot = flchain.iloc[np.random.default_rng(0).integers(0, len(flchain), 100_000)].reset_index(drop=True)
    start = time.process_time()
    model = CartGenerator().fit(boot)  # FLCHAIN bootstrapped (resampled with replacement) to 100k rows
    assert time.process_time() - start < 30.0
    assert _timed_sample(model, 1_000_000) < 10.0


def test_a_combination_the_model_never_produces_is_a_clear_error() -> None:
    """Leaf donors never pair 'M' with 'yes': a bounded search, then an error that says so."""
    df = pd.DataFrame({"sex": ["F"] * 50 + ["M"] * 50, "pregnant": ["yes"] * 20 + ["no"] * 80})
    gen = CartGenerator().fit(df)
    with pytest.raises(InputError, match="after 5,000 candidates"):
        gen.sample(10, conditions="sex == M and pregnant == yes", max_candidates=5000, seed=0)
