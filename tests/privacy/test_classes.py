"""Equivalence classes: codes, packing, suppression, and agreement with a naive pandas group-by."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from medsyn.data import TabularDataset
from medsyn.errors import InputError
from medsyn.privacy import EquivalenceClasses, equivalence_classes
from medsyn.privacy._classes import combine_codes, factorize, joint_classes, pair_counts


def _naive_sizes(df: pd.DataFrame, qis: list[str]) -> list[int]:
    """Class sizes by pandas itself, missing values as one value of their own."""
    return sorted(df.groupby(qis, dropna=False, observed=True).size().tolist())


def test_hand_computed_classes() -> None:
    df = pd.DataFrame({"sex": ["F", "F", "M", "M", "M", "F"], "age": [70, 70, 70, 80, 80, 80]})
    ec = equivalence_classes(df, ["sex", "age"])
    assert isinstance(ec, EquivalenceClasses)
    assert ec.n_classes == 4
    assert sorted(ec.sizes.tolist()) == [1, 1, 2, 2]
    assert ec.smallest == 1
    assert ec.n_records == 6
    assert ec.n_suppressed == 0
    # records 0 and 1 share a class, 3 and 4 share another
    assert ec.ids[0] == ec.ids[1]
    assert ec.ids[3] == ec.ids[4]
    assert ec.ids[0] != ec.ids[3]
    assert ec.record_sizes().tolist() == [2, 2, 1, 2, 2, 1]
    values, counts = ec.histogram()
    assert values.tolist() == [1, 2]
    assert counts.tolist() == [2, 2]
    assert ec.to_dict()["classes"] == 4


def test_missing_values_are_one_value_of_their_own() -> None:
    df = pd.DataFrame({"race": ["A", None, np.nan, "A", pd.NA], "x": [1, 1, 1, 1, 1]}, dtype=object)
    ec = equivalence_classes(df, ["race", "x"])
    assert sorted(ec.sizes.tolist()) == [2, 3]  # None, NaN and NA together


def test_categorical_codes_are_used_as_they_are() -> None:
    s = pd.Series(pd.Categorical(["b", None, "a", "b"], categories=["a", "b", "c"]))
    codes, n = factorize(s)
    assert codes.tolist() == [1, 3, 0, 1]
    assert n == 4
    # a dataset read by medsyn (categoricals) gives the same classes as plain strings
    df = pd.DataFrame({"g": ["x", "y", "x", None], "h": [1, 2, 1, 2]})
    cat = df.assign(g=df["g"].astype("category"))
    assert sorted(equivalence_classes(cat, ["g", "h"]).sizes) == sorted(equivalence_classes(df, ["g", "h"]).sizes)


def test_integer_ranges_are_shifted_and_wide_ones_hashed() -> None:
    small, n_small = factorize(pd.Series([10, 12, 10]))
    assert small.tolist() == [0, 2, 0]
    assert n_small == 3
    wide, n_wide = factorize(pd.Series([0, 10**12, 0]))
    assert wide.tolist() == [0, 1, 0]
    assert n_wide == 2


def test_packing_past_int64_refactorises() -> None:
    rng = np.random.default_rng(0)
    # 8 columns of ~10^5 distinct values: the radix product is ~10^40, far past int64
    df = pd.DataFrame({f"c{i}": rng.integers(0, 10**9, 300) for i in range(8)})
    df.iloc[1] = df.iloc[0]
    ec = equivalence_classes(df, list(df.columns))
    assert ec.n_classes == 299
    assert sorted(ec.sizes.tolist()) == _naive_sizes(df, list(df.columns))


def test_keep_mask_suppresses_records() -> None:
    df = pd.DataFrame({"a": [1, 1, 2, 2, 3]})
    ec = equivalence_classes(df, ["a"], keep=[True, True, True, False, False])
    assert ec.ids[3] == -1
    assert ec.ids[4] == -1
    assert sorted(ec.sizes.tolist()) == [1, 2]
    assert ec.n_suppressed == 2
    assert ec.n_records == 3
    assert ec.record_sizes().tolist() == [2, 2, 1, 0, 0]


def test_no_quasi_identifiers_is_one_class() -> None:
    ec = equivalence_classes(pd.DataFrame({"a": [1, 2, 3]}), [])
    assert ec.n_classes == 1
    assert ec.sizes.tolist() == [3]


def test_bad_input_names_the_column_and_suggests() -> None:
    df = pd.DataFrame({"gender": ["F"], "age": [1]})
    with pytest.raises(InputError) as err:
        equivalence_classes(df, ["gendr", "zip"], keep=[True, False])
    text = str(err.value)
    assert "'gendr'" in text
    assert "'gender'" in text
    assert "'zip'" in text
    assert "keep" in text  # every problem in one error
    assert len(err.value.problems) == 3


def test_accepts_a_dataset_and_rejects_other_things() -> None:
    ds = TabularDataset(pd.DataFrame({"a": [1, 1, 2]}))
    assert equivalence_classes(ds, ["a"]).n_classes == 2
    with pytest.raises(InputError, match="DataFrame"):
        equivalence_classes([[1, 2]], ["a"])  # type: ignore[arg-type]


def test_joint_classes_share_codes_across_tables() -> None:
    sample = pd.DataFrame({"a": pd.Categorical(["x", "y"]), "b": [1, 2]})
    population = pd.DataFrame({"a": ["y", "x", "x", "z"], "b": [2, 1, 1, 1]})
    s_ids, p_ids, n = joint_classes(sample, population, ["a", "b"])
    assert n == 3
    assert s_ids[0] == p_ids[1] == p_ids[2]
    assert s_ids[1] == p_ids[0]


def test_pair_counts_sorted_by_class_then_value() -> None:
    ids = np.array([1, 0, 1, 1, -1, 0])
    codes = np.array([2, 0, 2, 0, 1, 0])
    pc, pv, count = pair_counts(ids, 2, codes, 3)
    assert pc.tolist() == [0, 1, 1]
    assert pv.tolist() == [0, 0, 2]
    assert count.tolist() == [2, 1, 2]


def test_pair_counts_hash_path_for_large_key_spaces() -> None:
    rng = np.random.default_rng(1)
    n_classes, n_values = 5000, 5000  # 25M pairs possible, far more than records: hashing path
    ids, codes = rng.integers(0, n_classes, 2000), rng.integers(0, n_values, 2000)
    pc, pv, count = pair_counts(ids, n_classes, codes, n_values)
    expected = pd.DataFrame({"c": ids, "v": codes}).value_counts().sort_index()
    assert list(zip(pc.tolist(), pv.tolist(), strict=True)) == list(expected.index)
    assert count.tolist() == expected.tolist()


def test_combine_codes_of_nothing() -> None:
    ids, n = combine_codes([], 4)
    assert ids.tolist() == [0, 0, 0, 0]
    assert n == 1


frames = st.integers(min_value=1, max_value=60).flatmap(
    lambda n: st.fixed_dictionaries(
        {
            "a": st.lists(st.sampled_from(["x", "y", "z", None]), min_size=n, max_size=n),
            "b": st.lists(st.integers(-3, 3), min_size=n, max_size=n),
            "c": st.lists(st.sampled_from([0.5, 1.5, float("nan")]), min_size=n, max_size=n),
        }
    )
)


@settings(max_examples=60, deadline=None)
@given(frames, st.sampled_from([["a"], ["a", "b"], ["a", "b", "c"], ["c", "b"]]))
def test_sizes_match_naive_groupby(data: dict[str, list[object]], qis: list[str]) -> None:
    df = pd.DataFrame(data)
    ec = equivalence_classes(df, qis)
    assert sorted(ec.sizes.tolist()) == _naive_sizes(df, qis)
    assert ec.smallest == min(_naive_sizes(df, qis))
    # records in one class agree on every quasi-identifier (NaN == NaN here)
    keyed = df[qis].astype(str).agg("|".join, axis=1)
    assert (keyed.groupby(ec.ids).nunique() == 1).all()
