"""Real tables split into "real" and "synthetic" halves, and the corrupted variants the tests compare.

"Synthetic" data here is never simulated: a disjoint half of a real table (an ideal generator),
that half with noise added to every number and a share of categories redrawn (a poor
generator), or a handful of real training records repeated (a mode-collapsed generator).
ACTG 175 has one row per patient (``pidnum``), so a row split is a split by patient.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import medsyn.data
from medsyn.data import TabularDataset
from medsyn.data.schema import Role
from medsyn.evaluate import EvalInputs
from medsyn.evaluate._encode import is_numeric_field
from tests.conftest import shared

ACTG = "actg175_hiv_trial/ACTG175.csv"
DIABETES = "diabetes_130us_hospitals/dataset_diabetes.zip/dataset_diabetes/diabetic_data.csv"

_CACHE: dict[str, TabularDataset] = {}


def real_table(relative: str) -> TabularDataset:
    """A real table under ../shared/data (skips when absent), read once per session."""
    if relative not in _CACHE:
        ds = medsyn.data.read(shared(relative))
        assert isinstance(ds, TabularDataset)
        _CACHE[relative] = ds
    return _CACHE[relative]


def halves(ds: TabularDataset, *, seed: int = 0, size: int | None = None) -> tuple[TabularDataset, TabularDataset]:
    """Two disjoint random halves of a table (at most ``size`` rows each)."""
    perm = np.random.default_rng(seed).permutation(len(ds))
    half = len(ds) // 2 if size is None else min(size, len(ds) // 2)
    return ds.select(np.sort(perm[:half])), ds.select(np.sort(perm[half : 2 * half]))


def noisy(ds: TabularDataset, *, scale: float = 0.5, flip: float = 0.3, seed: int = 1) -> TabularDataset:
    """Numbers plus Gaussian noise of ``scale`` standard deviations; a share ``flip`` of categories redrawn."""
    rng = np.random.default_rng(seed)
    frame = ds.attributes.copy()
    for f in ds.schema:
        if f.role is Role.IDENTIFIER:
            continue
        col = frame[f.name]
        if is_numeric_field(f):
            x = pd.to_numeric(col, errors="coerce").astype(float)
            noise = rng.normal(0.0, scale * float(np.nanstd(x)), len(x))
            values = x + noise
            frame[f.name] = values.round() if f.type.value == "integer" else values
        else:
            redraw = rng.random(len(col)) < flip
            frame.loc[redraw, f.name] = rng.choice(col.dropna().to_numpy(), size=int(redraw.sum()))
    return TabularDataset(frame, ds.schema)


def collapsed(ds: TabularDataset, *, distinct: int = 10, size: int | None = None, seed: int = 2) -> TabularDataset:
    """``size`` records drawn from only ``distinct`` real records (a mode-collapsed generator)."""
    rng = np.random.default_rng(seed)
    few = rng.choice(len(ds), size=distinct, replace=False)
    return ds.select(rng.choice(few, size=size or len(ds)))


def inputs_of(
    real: pd.DataFrame | TabularDataset,
    synthetic: pd.DataFrame | TabularDataset,
    *,
    protected: list[str] | None = None,
    n_bootstrap: int = 30,
) -> EvalInputs:
    """EvalInputs of two tables (a frame's schema is the real one's, inferred when not given)."""
    r = real if isinstance(real, TabularDataset) else TabularDataset(real)
    s = synthetic if isinstance(synthetic, TabularDataset) else TabularDataset(synthetic, r.schema)
    return EvalInputs.build(r, s, protected=protected, n_bootstrap=n_bootstrap)


@pytest.fixture(scope="session")
def actg() -> TabularDataset:
    return real_table(ACTG)


@pytest.fixture(scope="session")
def actg_split(actg: TabularDataset) -> tuple[TabularDataset, TabularDataset]:
    return halves(actg)


@pytest.fixture(scope="session")
def actg_inputs(actg_split: tuple[TabularDataset, TabularDataset]) -> EvalInputs:
    """Real half vs the other real half: an ideal generator (shared caches across tests)."""
    return EvalInputs.build(*actg_split, n_bootstrap=50)


@pytest.fixture(scope="session")
def actg_noisy_inputs(actg_split: tuple[TabularDataset, TabularDataset]) -> EvalInputs:
    real, other = actg_split
    return EvalInputs.build(real, noisy(other), n_bootstrap=50)


@pytest.fixture(scope="session")
def actg_collapsed_inputs(actg_split: tuple[TabularDataset, TabularDataset]) -> EvalInputs:
    real, _ = actg_split
    return EvalInputs.build(real, collapsed(real, size=len(real) - 1), n_bootstrap=50)
