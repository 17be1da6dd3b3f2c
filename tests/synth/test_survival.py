"""Survival pairs (follow-up time + event) keep their clinical meaning in synthetic data.

FLCHAIN: patients who died have shorter follow-up (time to death) than those censored alive
at the study's end. A generator that modelled the two columns independently would give the
same follow-up to both groups (the Kaplan–Meier curve would move by 0.35); we check the
synthetic curve stays close to the real one.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from medsyn.data import read
from medsyn.synth import get
from tests.conftest import shared


def _km(time: np.ndarray, event: np.ndarray, at: np.ndarray) -> np.ndarray:
    """Kaplan–Meier survival at the times ``at`` (plain product-limit estimator)."""
    order = np.argsort(time, kind="stable")
    time, event = time[order], event[order]
    uniq, first = np.unique(time, return_index=True)
    at_risk = len(time) - first
    deaths = np.add.reduceat(event, first)
    surv = np.cumprod(1 - deaths / at_risk)
    idx = np.searchsorted(uniq, at, side="right") - 1
    return np.where(idx >= 0, surv[np.maximum(idx, 0)], 1.0)


@pytest.fixture(scope="module")
def flchain() -> pd.DataFrame:
    return read(shared("survival_sets_sksurv_lifelines/flchain.csv")).data


@pytest.mark.parametrize("name", ["gaussian_copula", "cart", "bayesian_network"])
def test_kaplan_meier_curve_is_kept(flchain: pd.DataFrame, name: str) -> None:
    syn = get(name)().fit(flchain, constraints=["futime >= 0"]).sample(len(flchain), seed=0).data
    grid = np.linspace(0, 5000, 26)
    real = _km(flchain.futime.to_numpy(float), (flchain.death == "dead").to_numpy(float), grid)
    fake = _km(syn.futime.to_numpy(float), (syn.death == "dead").to_numpy(float), grid)
    # 0.05: the curves' own sampling error at n ≈ 7.9k is ≈ 0.01; shuffled outcomes give 0.35
    assert np.max(np.abs(real - fake)) < 0.05, np.max(np.abs(real - fake))
    dead, alive = syn[syn.death == "dead"].futime.median(), syn[syn.death == "alive"].futime.median()
    assert dead < 0.6 * alive  # the dead were followed for far less time, as in the real table
