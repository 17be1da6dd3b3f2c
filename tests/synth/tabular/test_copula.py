"""gaussian_copula on real tables: marginals, dependence, utility, exact conditional sampling."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from medsyn.data import read
from medsyn.synth import GaussianCopula
from tests.conftest import shared
from tests.synth.quality import ks_by_column, spearman_gap, tstr_auc, tvd_by_column


@pytest.fixture(scope="module")
def flchain() -> pd.DataFrame:
    return read(shared("survival_sets_sksurv_lifelines/flchain.csv")).data


def test_marginals_dependence_and_utility(flchain: pd.DataFrame) -> None:
    train = flchain.sample(frac=0.7, random_state=0)
    test = flchain.drop(train.index)
    syn = GaussianCopula().fit(train).sample(len(train), seed=0).data
    assert max(ks_by_column(train, syn).values()) < 0.05  # empirical marginals: near-exact
    assert max(tvd_by_column(train, syn).values()) < 0.05
    assert spearman_gap(train, syn) < 0.1
    real_auc, syn_auc = tstr_auc(train, syn, test, "death", "dead")
    assert syn_auc > real_auc - 0.1, (real_auc, syn_auc)


def test_conditional_distribution_matches_the_real_conditional(flchain: pd.DataFrame) -> None:
    """Among women who died, the synthetic age distribution follows the real one (not the marginal)."""
    gen = GaussianCopula().fit(flchain)
    cond = 'sex == "F" and death == "dead"'
    syn = gen.sample(3000, conditions=cond, seed=0).data
    real = flchain[(flchain.sex == "F") & (flchain.death == "dead")]
    assert (syn.sex == "F").all()
    assert (syn.death == "dead").all()
    ks_cond = stats.ks_2samp(real.age, syn.age).statistic
    ks_marginal = stats.ks_2samp(flchain.age, syn.age).statistic
    assert ks_cond < 0.1
    assert ks_cond < ks_marginal  # the condition moved the age distribution the right way


def test_native_conditioning_needs_no_rejection_for_rare_ranges(flchain: pd.DataFrame) -> None:
    """A 1-in-1000 range is drawn directly from the truncated normal: few candidates needed."""
    gen = GaussianCopula().fit(flchain)
    threshold = float(np.quantile(flchain.age, 0.999))
    out = gen.sample(200, conditions=f"age >= {threshold}", seed=1, max_candidates=2000).data
    assert (out.age >= threshold).all()
    assert len(out) == 200


def test_multi_column_conditions_use_the_gibbs_step(flchain: pd.DataFrame) -> None:
    gen = GaussianCopula().fit(flchain)
    out = gen.sample(500, conditions="age >= 80 and kappa > 2 and creatinine < 1", seed=2, max_candidates=5000).data
    assert ((out.age >= 80) & (out.kappa > 2) & (out.creatinine < 1)).all()
