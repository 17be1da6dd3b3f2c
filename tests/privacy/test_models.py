"""Measured privacy models: hand-computed cases, properties against naive pandas, real data, pycanon."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from medsyn.data import read
from medsyn.errors import InputError
from medsyn.privacy import (
    LDiversityKind,
    TClosenessKind,
    delta_presence,
    equivalence_classes,
    k_anonymity,
    k_map,
    l_diversity,
    t_closeness,
)
from tests.conftest import shared

ROOT = Path(__file__).resolve().parents[2]
DIABETES = "diabetes_130us_hospitals/dataset_diabetes.zip/dataset_diabetes/diabetic_data.csv"

# ---------------------------------------------------------------------------- hand computed


def test_k_anonymity_hand_computed() -> None:
    df = pd.DataFrame({"sex": ["F", "F", "M", "M", "M"], "age": [70, 70, 80, 80, 90]})
    k = k_anonymity(df, ["sex", "age"])
    assert (k.k, k.classes, k.records) == (1, 3, 5)
    assert k.smallest_sizes == ((1, 1), (2, 2))
    assert k.satisfies(1)
    assert not k.satisfies(2)
    assert k_anonymity(df, ["sex"]).k == 2
    assert k.to_dict()["quasi_identifiers"] == ["sex", "age"]


def test_l_diversity_kinds_hand_computed() -> None:
    df = pd.DataFrame(
        {
            "g": ["x"] * 4 + ["y"] * 3 + ["z"] * 6,
            "s": ["a", "a", "b", "b", "a", "b", "c", "a", "a", "a", "b", "b", "c"],
        }
    )
    distinct = l_diversity(df, ["g"], "s")
    assert distinct.l == 2.0
    assert distinct.attributes[0].per_class.tolist() == [2.0, 3.0, 3.0]
    entropy = l_diversity(df, ["g"], "s", kind="entropy")
    assert entropy.attributes[0].per_class[:2].tolist() == [2.0, 3.0]  # even splits: exp(log 2), exp(log 3)
    assert 2.0 < entropy.attributes[0].per_class[2] < 3.0
    # class z has counts 3, 2, 1: r1 = 3 < c (r_l + ... + r_m)
    assert l_diversity(df.iloc[7:], ["g"], "s", kind="recursive", c=2).l == 2.0  # 3 < 2*3, not 3 < 2*1
    assert l_diversity(df.iloc[7:], ["g"], "s", kind="recursive", c=4).l == 3.0  # 3 < 4*1
    assert l_diversity(df.iloc[7:], ["g"], "s", kind="recursive", c=0.4).l == 0.0  # not even 3 < 0.4*6
    rec = l_diversity(df, ["g"], "s", kind=LDiversityKind.RECURSIVE, c=2)
    assert rec.c == 2
    assert rec.to_dict()["kind"] == "recursive"


def test_l_diversity_over_several_attributes_is_the_minimum() -> None:
    df = pd.DataFrame({"g": [1, 1, 2, 2], "s1": ["a", "b", "a", "b"], "s2": ["u", "u", "u", "v"]})
    res = l_diversity(df, ["g"], ["s1", "s2"])
    assert [a.l for a in res.attributes] == [2.0, 1.0]
    assert res.l == 1.0
    assert res.attributes[1].classes_below_2 == 1


def test_t_closeness_equal_distance_hand_computed() -> None:
    df = pd.DataFrame({"sex": ["F", "F", "M", "M"], "dx": ["a", "b", "a", "a"]})
    res = t_closeness(df, ["sex"], "dx")
    assert res.attributes[0].kind is TClosenessKind.EQUAL
    assert res.t == pytest.approx(0.25)
    assert res.attributes[0].per_class.tolist() == pytest.approx([0.25, 0.25])


def test_t_closeness_ordered_li_et_al_example() -> None:
    """Li, Li & Venkatasubramanian (2007), salaries 3k–11k: D[P, {3k,4k,5k}] = 0.375, D[P, {6k,8k,11k}] = 0.167."""
    salary = [3, 4, 5, 6, 8, 11, 7, 9, 10]
    df = pd.DataFrame({"zip": ["476**"] * 3 + ["4790*"] * 3 + ["476*2"] * 3, "salary": salary})
    res = t_closeness(df, ["zip"], "salary")
    assert res.attributes[0].kind is TClosenessKind.ORDERED
    ec = equivalence_classes(df, ["zip"])
    per_class = {df["zip"].iloc[i]: res.attributes[0].per_class[ec.ids[i]] for i in (0, 3, 6)}
    assert per_class["476**"] == pytest.approx(0.375)
    assert per_class["4790*"] == pytest.approx(1 / 6)
    assert res.t == pytest.approx(0.375)
    assert t_closeness(df, ["zip"], "salary", kind="equal").t == pytest.approx(2 / 3)


def test_t_closeness_ordered_categorical_uses_category_order() -> None:
    levels = ["low", "mid", "high"]
    df = pd.DataFrame({"g": [1, 1, 2, 2], "s": pd.Categorical(["low", "high", "mid", "mid"], levels, ordered=True)})
    res = t_closeness(df, ["g"], "s")
    assert res.attributes[0].kind is TClosenessKind.ORDERED
    # class 2 = all "mid": P = (1/4, 1/2, 1/4); cumulative |Q - P| = 1/4, 1/4, 0 → (1/2) / 2
    assert res.t == pytest.approx(0.25)


def test_t_closeness_of_dates_is_ordered() -> None:
    dates = pd.to_datetime(["2020-01-01", "2020-01-03", "2020-01-02", "2020-01-02"])
    res = t_closeness(pd.DataFrame({"g": [1, 1, 2, 2], "d": dates}), ["g"], "d")
    assert res.attributes[0].kind is TClosenessKind.ORDERED
    assert res.t == pytest.approx(0.25)  # the same as the ordered categorical case above


def _disease_hierarchy(with_root: bool) -> pd.DataFrame:
    table = pd.DataFrame({"value": ["a1", "a2", "b1", "b2"], "level1": ["A", "A", "B", "B"]})
    return table.assign(level2="*") if with_root else table


@pytest.mark.parametrize("with_root", [True, False])
def test_t_closeness_hierarchical_hand_computed(with_root: bool) -> None:
    # table P is uniform over a1 a2 b1 b2; class x holds only a1, class y a2, b1, b2 evenly
    df = pd.DataFrame({"g": ["x"] * 4 + ["y"] * 12, "s": ["a1"] * 4 + ["a2"] * 4 + ["b1"] * 4 + ["b2"] * 4})
    res = t_closeness(df, ["g"], "s", kind="hierarchical", hierarchy=_disease_hierarchy(with_root))
    per_class = res.attributes[0].per_class
    # x: move 1/4 to a2 at distance 1/2, 1/2 to B at distance 1 → 5/8; y: 1/12 within A (½), 1/6 across (1)
    assert per_class.tolist() == pytest.approx([5 / 8, 5 / 24])
    assert res.t == pytest.approx(5 / 8)
    assert res.attributes[0].kind is TClosenessKind.HIERARCHICAL


def test_hierarchy_matches_numbers_written_as_text_and_names_unknown_values() -> None:
    df = pd.DataFrame({"g": [1, 1, 2], "s": [10, 20, 30]})
    table = pd.DataFrame({"v": ["10", "20", "30"], "l1": ["low", "low", "high"]})
    assert 0 < t_closeness(df, ["g"], "s", kind="hierarchical", hierarchy=table).t <= 1
    with pytest.raises(InputError, match="30"):
        t_closeness(df, ["g"], "s", kind="hierarchical", hierarchy=table.iloc[:2])
    with pytest.raises(InputError, match="mapping"):
        t_closeness(df.assign(s2=1), ["g"], ["s", "s2"], kind="hierarchical", hierarchy=table)
    assert t_closeness(df, ["g"], ["s"], kind="hierarchical", hierarchy={"s": table}).t > 0


def test_delta_presence_and_k_map_hand_computed() -> None:
    pop = pd.DataFrame({"age": [70, 70, 70, 80, 80, 90]})
    sample = pop.iloc[[0, 3]]
    d = delta_presence(sample, pop, ["age"])
    assert d.delta_min == 0.0  # nobody aged 90 is in the sample
    assert d.delta_min_sampled == pytest.approx(1 / 3)
    assert d.delta_max == pytest.approx(0.5)
    assert (d.population_classes, d.classes_without_sample) == (3, 1)
    assert d.satisfies(0.0, 0.5)
    assert not d.satisfies(0.1, 0.5)
    km = k_map(sample, pop, ["age"])
    assert km.k == 2
    assert km.sample_classes == 2
    with pytest.raises(InputError, match="population"):
        k_map(pd.DataFrame({"age": [70, 70, 70, 70]}), pop, ["age"])
    with pytest.raises(InputError, match="quasi-identifier 'agee'"):
        delta_presence(sample, pop, ["agee"])


def test_bad_input_collects_every_problem() -> None:
    df = pd.DataFrame({"sex": ["F"], "age": [70], "dx": ["a"]})
    with pytest.raises(InputError) as err:
        l_diversity(df, ["sexx", "age"], ["age", "dxx"])
    text = str(err.value)
    assert "'sexx'" in text
    assert "'sex'" in text
    assert "'dxx'" in text
    assert "also listed" in text
    with pytest.raises(InputError, match="c"):
        l_diversity(df, ["sex"], "dx", kind="recursive")
    with pytest.raises(InputError, match="kind"):
        t_closeness(df, ["sex"], "dx", kind="wasserstein")
    with pytest.raises(InputError, match="no records"):
        k_anonymity(df.iloc[:0], ["sex"])
    with pytest.raises(InputError, match="suppressed"):
        k_anonymity(df, ["sex"], keep=[False])


def test_classes_are_reused_and_checked() -> None:
    df = pd.DataFrame({"a": [1, 1, 2, 2], "s": ["x", "y", "x", "x"]})
    ec = equivalence_classes(df, ["a"])
    assert l_diversity(df, ["a"], "s", classes=ec).l == 1.0
    with pytest.raises(InputError, match="built over"):
        k_anonymity(df, ["s"], classes=ec)


def test_suppressed_records_drop_out_of_every_measure() -> None:
    df = pd.DataFrame({"a": [1, 1, 2, 3, 3], "s": [5, 6, 7, 5, 6]})
    keep = np.array([True, True, False, True, True])
    sub = df[keep].reset_index(drop=True)
    assert k_anonymity(df, ["a"], keep=keep).k == k_anonymity(sub, ["a"]).k == 2
    assert l_diversity(df, ["a"], "s", keep=keep).l == l_diversity(sub, ["a"], "s").l
    assert t_closeness(df, ["a"], "s", keep=keep).t == pytest.approx(t_closeness(sub, ["a"], "s").t)


# ----------------------------------------------------------------------------- properties


def _naive_equal(df: pd.DataFrame, qis: list[str], s: str) -> float:
    p = df[s].value_counts(normalize=True, dropna=False)
    worst = 0.0
    for _, group in df.groupby(qis, dropna=False, observed=True):
        q = group[s].value_counts(normalize=True, dropna=False).reindex(p.index, fill_value=0.0)
        worst = max(worst, 0.5 * float((q - p).abs().sum()))
    return worst


def _naive_ordered(df: pd.DataFrame, qis: list[str], s: str) -> float:
    values = np.sort(df[s].unique())
    p = df[s].value_counts(normalize=True).reindex(values).to_numpy()
    worst = 0.0
    for _, group in df.groupby(qis, dropna=False, observed=True):
        q = group[s].value_counts(normalize=True).reindex(values, fill_value=0.0).to_numpy()
        worst = max(worst, float(np.abs(np.cumsum(q - p)).sum() / (len(values) - 1)))
    return worst


tables = st.integers(min_value=2, max_value=80).flatmap(
    lambda n: st.fixed_dictionaries(
        {
            "q1": st.lists(st.sampled_from(["x", "y", None]), min_size=n, max_size=n),
            "q2": st.lists(st.integers(0, 3), min_size=n, max_size=n),
            "s": st.lists(st.sampled_from(["a", "b", "c", "d"]), min_size=n, max_size=n),
            "v": st.lists(st.integers(0, 9), min_size=n, max_size=n),
        }
    )
)


@settings(max_examples=60, deadline=None)
@given(tables)
def test_properties_against_naive_pandas(data: dict[str, list[object]]) -> None:
    df = pd.DataFrame(data)
    qis = ["q1", "q2"]
    groups = df.groupby(qis, dropna=False)
    ec = equivalence_classes(df, qis)
    assert k_anonymity(df, qis).k == int(groups.size().min())
    distinct = l_diversity(df, qis, "s", classes=ec)
    assert distinct.l == float(groups["s"].nunique().min())
    per_class = distinct.attributes[0].per_class
    assert (per_class >= 1).all()
    assert (per_class <= ec.sizes).all()
    entropy = l_diversity(df, qis, "s", kind="entropy", classes=ec).attributes[0].per_class
    assert (entropy >= 1 - 1e-9).all()
    assert (entropy <= per_class + 1e-9).all()
    recursive = l_diversity(df, qis, "s", kind="recursive", c=2, classes=ec).attributes[0].per_class
    assert (recursive <= per_class).all()
    equal = t_closeness(df, qis, "s", classes=ec)
    assert 0.0 <= equal.t <= 1.0
    assert equal.t == pytest.approx(_naive_equal(df, qis, "s"), abs=1e-12)
    if df["v"].nunique() > 1:
        ordered = t_closeness(df, qis, "v", classes=ec)
        assert ordered.attributes[0].kind is TClosenessKind.ORDERED
        assert 0.0 <= ordered.t <= 1.0
        assert ordered.t == pytest.approx(_naive_ordered(df, qis, "v"), abs=1e-12)
    flat = pd.DataFrame({"value": ["a", "b", "c", "d"], "root": "*"})
    hier = t_closeness(df, qis, "s", kind="hierarchical", hierarchy=flat, classes=ec)
    assert hier.t == pytest.approx(equal.t, abs=1e-12)  # a flat hierarchy is the equal distance


# ------------------------------------------------------------------------------- real data


@pytest.mark.shared_data
def test_real_diabetes_table_against_naive_groupby() -> None:
    ds = read(shared(DIABETES))
    df = ds.data
    qis = ["race", "gender", "age", "admission_type_id"]
    groups = df.groupby(qis, dropna=False, observed=True)
    ec = equivalence_classes(ds, qis)
    assert k_anonymity(ds, qis, classes=ec).k == int(groups.size().min())
    assert ec.n_classes == groups.ngroups
    assert l_diversity(ds, qis, "readmitted", classes=ec).l == float(groups["readmitted"].nunique().min())
    t = t_closeness(ds, qis, ["readmitted", "time_in_hospital"], classes=ec)
    assert [a.kind for a in t.attributes] == [TClosenessKind.EQUAL, TClosenessKind.ORDERED]
    sub = df[[*qis, "readmitted"]].head(5000)
    assert t_closeness(sub, qis, "readmitted").t == pytest.approx(_naive_equal(sub, qis, "readmitted"), abs=1e-12)


# ------------------------------------------------------------------------------ conformance

_PYCANON_RUNNER = """
import json, sys
import pandas as pd
from pycanon import anonymity as a
out = []
for path in sys.argv[1:]:
    df = pd.read_parquet(path)
    qi = ["q1", "q2", "q3"]
    out.append({
        "k": int(a.k_anonymity(df, qi)),
        "l": int(a.l_diversity(df, qi, ["s"])),
        "l2": int(a.l_diversity(df, qi, ["s", "v"])),
        "t_equal": float(a.t_closeness(df, qi, ["s"])),
        "t_ordered": float(a.t_closeness(df, qi, ["v"])),
    })
print(json.dumps(out))
"""


def _pycanon_python() -> str | None:
    """A Python that imports pycanon: this one, or the benchmark's own venv for it."""
    candidates = [sys.executable] + [
        str(ROOT / "benchmarks" / ".venvs" / name / "bin" / "python") for name in ("pycanon", "pymdma")
    ]
    for python in candidates:
        if Path(python).exists():
            probe = subprocess.run([python, "-c", "import pycanon"], capture_output=True)
            if probe.returncode == 0:
                return python
    return None


def test_agrees_with_pycanon(tmp_path: Path) -> None:
    python = _pycanon_python()
    if python is None:
        pytest.skip("pycanon is not installed here nor in benchmarks/.venvs (python benchmarks/privacy.py makes one)")
    rng = np.random.default_rng(7)
    paths, frames = [], []
    for i in range(6):
        n = int(rng.integers(20, 200))
        df = pd.DataFrame(
            {
                "q1": rng.choice(["x", "y", "z"], n),
                "q2": rng.integers(0, 4, n),
                "q3": rng.choice(["p", "q"], n),
                "s": rng.choice(list("ABCDE")[: int(rng.integers(2, 6))], n),
                "v": rng.integers(0, int(rng.integers(2, 12)), n),
            }
        )
        frames.append(df)
        paths.append(tmp_path / f"t{i}.parquet")
        df.to_parquet(paths[-1])
    run = subprocess.run([python, "-c", _PYCANON_RUNNER, *map(str, paths)], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    theirs = json.loads(run.stdout.strip().splitlines()[-1])
    qi = ["q1", "q2", "q3"]
    for df, ref in zip(frames, theirs, strict=True):
        assert k_anonymity(df, qi).k == ref["k"]
        assert l_diversity(df, qi, "s").l == ref["l"]
        assert l_diversity(df, qi, ["s", "v"]).l == ref["l2"]
        assert t_closeness(df, qi, "s").t == pytest.approx(ref["t_equal"], abs=1e-12)
        assert t_closeness(df, qi, "v").t == pytest.approx(ref["t_ordered"], abs=1e-12)
