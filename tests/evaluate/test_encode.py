"""The counting fast paths of the shared codes agree with the sorting definitions they replace."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from medsyn.evaluate._encode import _bin_codes, _distinct_labels, category_labels, distinct_ranks

whole = st.lists(st.integers(-60, 60), min_size=1, max_size=200).map(lambda v: np.array(v, dtype=np.float64))
reals = st.lists(st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False), min_size=1, max_size=200).map(np.array)
spread = st.lists(st.integers(0, 3), min_size=1, max_size=50).map(lambda v: np.array(v) * 1e7 + 1e15)


@settings(max_examples=200, deadline=None)
@given(st.one_of(whole, reals, spread))
def test_distinct_ranks_equal_unique(x: np.ndarray) -> None:
    grid, rank = np.unique(x, return_inverse=True)
    got_grid, got_rank = distinct_ranks(x)
    assert np.array_equal(got_grid, grid)
    assert np.array_equal(got_rank, rank.reshape(-1))


@settings(max_examples=200, deadline=None)
@given(st.one_of(whole, reals), st.lists(st.booleans(), min_size=1, max_size=200), st.integers(2, 12))
def test_bin_codes_equal_searchsorted(x: np.ndarray, missing: list[bool], bins: int) -> None:
    edges = np.unique(np.quantile(x, np.linspace(0, 1, bins + 1)[1:-1]))
    y = x.copy()
    holes = np.resize(np.array(missing), len(y))
    y[holes] = np.nan
    finite = np.isfinite(y)
    want = np.searchsorted(edges, y, side="right")
    assert np.array_equal(_bin_codes(edges, y)[finite], want[finite])


@settings(max_examples=100, deadline=None)
@given(st.lists(st.sampled_from(["a", "b", "c", None]), min_size=0, max_size=60), st.booleans())
def test_distinct_labels_number_values_by_first_appearance(values: list[str | None], categorical: bool) -> None:
    s = pd.Series(values, dtype="category" if categorical else object)
    rows, texts = _distinct_labels(s)
    labels = category_labels(s)
    assert list(texts[rows]) == list(labels)
    assert list(texts) == list(dict.fromkeys(labels))
