"""bayesian_network on real tables: fidelity, utility, exact native conditions, persistence, PrivBayes.

Tolerances (see also ``tests/synth/quality.py``): marginals are binned and drawn back inside
their bins, so KS and total variation stay near sampling noise (< 0.05 at n ≈ 5.5k). A
network with at most two parents per column carries each association directly or through a
path; weak ones between columns that are never linked (FLCHAIN age and sample year, ρ = −0.16)
are lost, so the largest Spearman gap is allowed 0.2 while the mean gap must stay < 0.05.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from medsyn import synth
from medsyn.data import TabularDataset, read
from medsyn.errors import InputError
from medsyn.synth.tabular._bayesnet import BayesianNetwork
from medsyn.synth.tabular._discretize import Discretizer
from medsyn.synth.tabular._plan import TablePlan
from tests.conftest import shared
from tests.synth.quality import ks_by_column, spearman_gap, tstr_auc, tvd_by_column

pytestmark = pytest.mark.filterwarnings("ignore:ks_2samp. Exact calculation unsuccessful:RuntimeWarning")

FLCHAIN = "survival_sets_sksurv_lifelines/flchain.csv"
ACTG = "actg175_hiv_trial/ACTG175.csv"
HEART = "heart_disease_cleveland/heart_cleveland.csv"
DIABETES = "diabetes_130us_hospitals/dataset_diabetes.zip/dataset_diabetes/diabetic_data.csv"


@pytest.fixture(scope="module")
def flchain() -> TabularDataset:
    ds = read(shared(FLCHAIN))
    assert isinstance(ds, TabularDataset)
    return ds


@pytest.fixture(scope="module")
def fitted(flchain: TabularDataset) -> BayesianNetwork:
    return BayesianNetwork().fit(flchain, seed=0)


def _gap_mean(real: pd.DataFrame, syn: pd.DataFrame) -> float:
    cols = list(ks_by_column(real, syn))
    a, b = real[cols].corr(method="spearman").to_numpy(), syn[cols].corr(method="spearman").to_numpy()
    return float(np.nanmean(np.abs(a - b)[np.triu_indices(len(cols), 1)]))


# -- fidelity and utility ---------------------------------------------------------------------
def test_marginals_and_dependence_on_flchain(flchain: TabularDataset) -> None:
    train = flchain.data.sample(frac=0.7, random_state=0)
    syn = BayesianNetwork().fit(train, seed=0).sample(len(train), seed=0).data
    assert max(ks_by_column(train, syn).values()) < 0.05
    assert max(tvd_by_column(train, syn).values()) < 0.05
    assert spearman_gap(train, syn) < 0.2
    assert _gap_mean(train, syn) < 0.05
    assert 0.1 < syn["creatinine"].isna().mean() < 0.25  # missingness learned (17 % in the real table)


def _logistic_auc(train: pd.DataFrame, test: pd.DataFrame, target: str) -> float:
    """AUC on ``test`` of a logistic regression fitted on ``train`` (one-hot categories, scaled numbers)."""
    features = [c for c in train.columns if c != target]
    both = pd.concat([train, test], ignore_index=True)[features]
    x = pd.get_dummies(both, columns=[c for c in features if not pd.api.types.is_numeric_dtype(both[c])]).astype(float)
    x = x.fillna(x.iloc[: len(train)].median())
    x = (x - x.iloc[: len(train)].mean()) / x.iloc[: len(train)].std().replace(0, 1)
    model = LogisticRegression(max_iter=2000).fit(x.iloc[: len(train)], train[target] == 1)
    return float(roc_auc_score(test[target] == 1, model.predict_proba(x.iloc[len(train) :])[:, 1]))


@pytest.fixture(scope="module")
def actg_split() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """ACTG 175 (identifiers dropped): 70 % train, 30 % test, and a synthetic copy of the train part."""
    real = read(shared(ACTG)).data.drop(columns=["unnamed_0", "pidnum"])
    train = real.sample(frac=0.7, random_state=0)
    syn = BayesianNetwork().fit(train, seed=0).sample(len(train), seed=0).data
    return train, real.drop(train.index), syn


def test_train_on_synthetic_test_on_real_actg175(actg_split) -> None:  # type: ignore[no-untyped-def]
    """Predicting censoring: a model trained on synthetic rows is within 0.05 AUC of one trained on real rows."""
    train, test, syn = actg_split
    real_auc, syn_auc = _logistic_auc(train, test, "cens"), _logistic_auc(syn, test, "cens")
    assert syn_auc > real_auc - 0.05, (real_auc, syn_auc)  # measured 0.907 vs 0.904
    assert _gap_mean(train, syn) < 0.06


@pytest.mark.slow
def test_train_on_synthetic_test_on_real_actg175_boosted(actg_split) -> None:  # type: ignore[no-untyped-def]
    """The same with gradient boosting (the shared helper): within 0.06 AUC (measured 0.952 vs 0.928)."""
    train, test, syn = actg_split
    real_auc, syn_auc = tstr_auc(train, syn, test, "cens", 1)
    assert syn_auc > real_auc - 0.06, (real_auc, syn_auc)


def test_high_cardinality_diagnosis_codes_stay_workable() -> None:
    """Diabetes 130-US: three ICD-9 columns of 700+ codes; tables stay small, rare codes reachable."""
    cols = ["race", "gender", "age", "time_in_hospital", "num_medications", "diag_1", "diag_2", "diag_3", "readmitted"]
    data = read(shared(DIABETES)).data[cols].sample(20_000, random_state=0).reset_index(drop=True)
    gen = BayesianNetwork().fit(data, seed=0)
    assert max(cpt.size for cpt in gen.cpts_) <= len(data) / 4  # no table has more cells than n / 4
    assert len(gen.columns_[cols.index("diag_1")].categories) > 500
    syn = gen.sample(len(data), seed=0).data
    assert tvd_by_column(data, syn)["diag_1"] < 0.1
    counts = data["diag_1"].value_counts()
    rare = str(counts[counts == 2].index[0])
    out = gen.sample(20, conditions={"diag_1": rare}, seed=1).data
    assert (out["diag_1"].astype(str) == rare).all()


@pytest.mark.slow
def test_a_100k_bootstrap_of_flchain(flchain: TabularDataset) -> None:
    """FLCHAIN resampled with replacement to 100 000 rows (a bootstrap, not new patients).

    Measured on 2 shared cores: fit ≈ 1 s, 100 000 rows ≈ 0.5 s. The bounds here are generous.
    """
    boot = TabularDataset(
        flchain.data.sample(100_000, replace=True, random_state=0).reset_index(drop=True), flchain.schema
    )
    start = time.perf_counter()
    gen = BayesianNetwork().fit(boot, seed=0)
    fitted_in = time.perf_counter() - start
    start = time.perf_counter()
    syn = gen.sample(100_000, seed=0).data
    sampled_in = time.perf_counter() - start
    assert fitted_in < 30
    assert sampled_in < 15
    assert max(ks_by_column(boot.data, syn).values()) < 0.02
    assert max(tvd_by_column(boot.data, syn).values()) < 0.02
    assert _gap_mean(boot.data, syn) < 0.05
    out = gen.sample(1000, conditions='sex == "F" and age >= 90 and death == "dead"', seed=1).data
    assert ((out["sex"] == "F") & (out["age"] >= 90) & (out["death"] == "dead")).all()


def test_degree_zero_models_independent_columns(flchain: TabularDataset) -> None:
    gen = BayesianNetwork(degree=0).fit(flchain)
    assert all(parents == [] for parents in gen.structure.values())
    syn = gen.sample(5000, seed=0).data
    assert abs(stats.spearmanr(syn["kappa"], syn["lambda"]).statistic) < 0.05  # 0.72 in the real table


# -- conditions -----------------------------------------------------------------------------
def test_native_conditions_give_the_models_own_conditional_distribution(fitted: BayesianNetwork) -> None:
    """Likelihood weighting + rejection is exact: same law as filtering unconditional draws."""
    cond = 'death == "dead" and kappa < 1'
    assert fitted.structure["death"]  # both columns have parents: rows are weighted, not just restricted
    assert fitted.structure["kappa"]
    pool = fitted.sample(100_000, seed=1).data
    ref = pool[(pool["death"] == "dead") & (pool["kappa"] < 1)]
    out = fitted.sample(4000, conditions=cond, seed=2).data
    assert ((out["death"] == "dead") & (out["kappa"] < 1)).all()
    # two samples of the same law: KS below its 0.1 % critical value (≈ 0.04 at these sizes)
    crit = 1.95 * math.sqrt((len(ref) + len(out)) / (len(ref) * len(out)))
    for col in ("age", "kappa", "lambda", "futime", "creatinine"):
        assert stats.ks_2samp(ref[col].dropna(), out[col].dropna()).statistic < crit, col
    for col in ("sex", "chapter", "mgus"):
        assert tvd_by_column(ref[[col]], out[[col]])[col] < 0.05, col


def test_a_rare_category_is_drawn_natively(fitted: BayesianNetwork, flchain: TabularDataset) -> None:
    """3 of 7874 training rows: plain rejection would need ~130 000 candidates for 50 rows."""
    assert (flchain.data["chapter"] == "Congenital").sum() == 3
    out = fitted.sample(50, conditions={"chapter": "Congenital"}, seed=3, max_candidates=5000).data
    assert len(out) == 50
    assert (out["chapter"] == "Congenital").all()


def test_conditions_hold_on_every_row(fitted: BayesianNetwork) -> None:
    out = fitted.sample(300, conditions='sex == "M" and age == 70 and kappa >= 2 and death == "dead"', seed=4).data
    assert len(out) == 300
    assert ((out["sex"] == "M") & (out["age"] == 70) & (out["kappa"] >= 2) & (out["death"] == "dead")).all()
    out = fitted.sample(100, conditions="creatinine is missing and 1997 <= sample.yr < 1999", seed=5).data
    assert out["creatinine"].isna().all()
    assert out["sample.yr"].isin([1997, 1998]).all()


# -- reproducibility and persistence ----------------------------------------------------------
def test_same_seed_same_model_and_rows(flchain: TabularDataset, fitted: BayesianNetwork) -> None:
    again = BayesianNetwork().fit(flchain, seed=0)
    assert again.structure == fitted.structure
    for a, b in zip(again.cpts_, fitted.cpts_, strict=True):
        np.testing.assert_array_equal(a, b)
    pd.testing.assert_frame_equal(fitted.sample(500, seed=9).data, again.sample(500, seed=9).data)
    assert not fitted.sample(500, seed=9).data.equals(fitted.sample(500, seed=10).data)


def test_save_load_gives_identical_samples(fitted: BayesianNetwork, tmp_path) -> None:  # type: ignore[no-untyped-def]
    fitted.save(tmp_path / "bn")
    again = synth.load(tmp_path / "bn")
    assert isinstance(again, BayesianNetwork)
    assert again.structure == fitted.structure
    for kwargs in ({}, {"conditions": 'sex == "F" and age >= 80'}):
        pd.testing.assert_frame_equal(
            fitted.sample(400, seed=6, **kwargs).data, again.sample(400, seed=6, **kwargs).data
        )
    meta = json.loads((tmp_path / "bn" / "model.json").read_text())
    assert meta["state"]["model"]["parents"]["kappa"]  # the structure is plain JSON
    meta["state"]["model"]["parents"]["kappa"] = []  # a table that no longer fits its parents
    (tmp_path / "bn" / "model.json").write_text(json.dumps(meta))
    with pytest.raises(Exception, match="does not fit its parents"):
        synth.load(tmp_path / "bn")


def test_bad_parameters_are_listed_at_once(flchain: TabularDataset) -> None:
    with pytest.raises(InputError) as err:
        BayesianNetwork(degree=-1, bins=1, alpha=0.0, structure_share=1.5).fit(flchain)
    text = str(err.value)
    for name in ("degree", "bins", "alpha", "structure_share"):
        assert name in text


def test_progress_bar_runs(flchain: TabularDataset) -> None:
    BayesianNetwork().fit(flchain.data.head(500), progress=True)


# -- differential privacy (PrivBayes) ---------------------------------------------------------
# The inferred schema's ranges and category lists stand in for a data dictionary here; in a
# real release they must come from the dictionary, not from the data.
def test_privbayes_reports_the_requested_epsilon_and_each_charge(flchain: TabularDataset) -> None:
    gen = BayesianNetwork(epsilon=1.0).fit(flchain, seed=0)
    guarantee = gen.privacy
    assert guarantee is not None
    assert guarantee.mode == "pure"
    assert guarantee.delta == 0.0
    assert guarantee.epsilon == pytest.approx(1.0, rel=1e-9)
    assert guarantee.epsilon <= 1.0 * (1 + 1e-9)
    spends = guarantee.spends
    assert math.fsum(s.epsilon for s in spends) == pytest.approx(guarantee.epsilon, rel=1e-12)
    assert all(s.epsilon >= 0 for s in spends)
    assert spends[0].what.startswith("number of records n: public")
    assert spends[0].epsilon == 0.0
    structure = [s for s in spends if s.what.startswith("structure step")]
    counts = [s for s in spends if s.what.startswith("noisy counts of")]
    assert structure
    assert 0 < len(counts) <= len(gen.columns_)
    assert math.fsum(s.epsilon for s in structure) == pytest.approx(0.3, rel=1e-9)  # structure_share
    assert len(structure) + len(counts) + 1 == len(spends)
    out = gen.sample(200, conditions='sex == "F" and death == "dead"', seed=0).data
    assert ((out["sex"] == "F") & (out["death"] == "dead")).all()


def test_a_private_model_saves_and_loads_with_its_guarantee(flchain: TabularDataset, tmp_path) -> None:  # type: ignore[no-untyped-def]
    gen = BayesianNetwork(epsilon=2.0).fit(flchain, seed=3)
    assert len(gen.cpts_) == len(gen.columns_)
    gen.save(tmp_path / "dp")
    again = synth.load(tmp_path / "dp")
    assert again.privacy == gen.privacy
    assert again.get_params() == gen.get_params()
    cond = 'chapter == "Congenital" and kappa >= 1'
    pd.testing.assert_frame_equal(
        gen.sample(300, conditions=cond, seed=1).data, again.sample(300, conditions=cond, seed=1).data
    )


@pytest.mark.parametrize("epsilon", [0.02, 8.0])
@pytest.mark.parametrize(("degree", "share"), [(1, 0.1), (2, 0.5), (3, 0.9)])
def test_the_budget_is_never_exceeded(epsilon: float, degree: int, share: float) -> None:
    heart = read(shared(HEART))
    gen = BayesianNetwork(epsilon=epsilon, degree=degree, structure_share=share).fit(heart, seed=1)
    assert gen.privacy is not None
    spent = math.fsum(s.epsilon for s in gen.privacy.spends)
    assert spent <= epsilon * (1 + 1e-9)
    assert spent == pytest.approx(epsilon, rel=1e-9)  # and all of it is used
    assert gen.accountant_.remaining_epsilon == pytest.approx(0.0, abs=1e-9 * epsilon)


def test_private_fit_needs_public_bounds_and_categories(flchain: TabularDataset) -> None:
    schema = flchain.schema
    schema = schema.replace_field(replace(schema["kappa"], minimum=None, maximum=None))
    schema = schema.replace_field(replace(schema["chapter"], categories=None))
    with pytest.raises(InputError) as err:
        BayesianNetwork(epsilon=1.0).fit(TabularDataset(flchain.data, schema))
    text = str(err.value)
    assert "column 'kappa': no minimum/maximum in the schema" in text
    assert "column 'chapter': no categories in the schema" in text
    BayesianNetwork().fit(TabularDataset(flchain.data, schema))  # without privacy the data may say


def _marginal_error(real: pd.DataFrame, syn: pd.DataFrame) -> float:
    """Mean total variation over columns: categories as they are, numbers in the real table's deciles."""
    out = []
    for col in real.columns:
        a, b = real[col], syn[col]
        if pd.api.types.is_numeric_dtype(a) and a.nunique() > 10:
            edges = np.unique(np.nanquantile(a, np.linspace(0, 1, 11)))
            a = pd.cut(a, edges, include_lowest=True).astype(str)
            b = pd.cut(b.clip(edges[0], edges[-1]), edges, include_lowest=True).astype(str)
        p, q = a.astype(str).value_counts(normalize=True), b.astype(str).value_counts(normalize=True)
        out.append(0.5 * p.subtract(q, fill_value=0).abs().sum())
    return float(np.mean(out))


def test_quality_degrades_gracefully_as_epsilon_shrinks(flchain: TabularDataset) -> None:
    """Mean marginal error over three seeds: ε = 10 beats ε = 1 beats ε = 0.1.

    The schema declares which columns may be missing (as a data owner's would): under DP the
    plan models a missing indicator for every nullable field, whatever the data holds.
    """
    real = flchain.data
    declared = flchain.schema
    for col in real.columns:
        if not real[col].isna().any():
            declared = declared.replace_field(replace(declared[col], nullable=False))
    flchain = TabularDataset(real, declared)

    def error(epsilon: float) -> float:
        return float(
            np.mean(
                [
                    _marginal_error(
                        real, BayesianNetwork(epsilon=epsilon).fit(flchain, seed=seed).sample(5000, seed=seed).data
                    )
                    for seed in range(3)
                ]
            )
        )

    strong, medium, weak = error(0.1), error(1.0), error(10.0)  # measured ≈ 0.21, 0.09, 0.05
    assert weak < medium < strong, (weak, medium, strong)
    assert weak < 0.07, weak  # 0.03 without noise (ε = 1e6): bins from public bounds set the floor
    assert strong < 0.35, strong  # ε = 0.1 is still a table, not noise


def test_each_record_changes_at_most_one_counted_row(flchain: TabularDataset) -> None:
    """Replacing one record (here: its creatinine goes missing) changes one row of what is counted.

    A private plan fills a missing number from the row's own uniform draw (never another record's
    value, never a draw shifted by other rows), so the Laplace scale of 2 per table (L1
    sensitivity under replacement) holds.
    """
    first = flchain.data
    second = first.copy()
    row = int(np.flatnonzero(first["creatinine"].notna())[0])
    second.loc[row, "creatinine"] = np.nan
    counted = []
    for frame in (first, second):
        plan = TablePlan.learn(frame, flchain.schema, private=True)
        table = plan.encode(frame, np.random.default_rng(0))
        counted.append(Discretizer.fit(table, plan.model_columns, bins=10, private=True).encode(table))
    assert (counted[0] != counted[1]).any(axis=1).sum() == 1
