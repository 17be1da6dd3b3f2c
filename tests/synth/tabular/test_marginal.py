"""``mst`` and ``aim``: privacy accounting, fidelity on real data, conditions, determinism, saving.

Real data: FLCHAIN (7,874 residents of Olmsted County, ../shared/data). A private fit may only
use public bounds and category lists, so the schema below declares them from clinical and
study knowledge (the study sampled residents aged 50 and over, 1995–2003; free light chains in
mg/dL), not from the data; ``nullable: false`` marks the columns the registry always fills.

Tolerances (measured with these seeds, then given headroom): at ε = 10 every column's
distribution is within total-variation distance 0.05 of the real one (numbers compared on the
real deciles); at ε = 0.1 the mean distance is at least three times the ε = 10 one.
"""

from __future__ import annotations

import itertools
import math
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from medsyn.data import TabularDataset, read
from medsyn.data.conditions import Conditions
from medsyn.errors import InputError
from medsyn.privacy import cdp_eps, cdp_rho
from medsyn.synth import get, load
from medsyn.synth.tabular._marginal import AIM, MST
from medsyn.synth.tabular._pgm import JunctionTree, Measurement, Model, estimate
from tests.conftest import shared

CHAPTERS = [
    "Blood", "Circulatory", "Congenital", "Digestive", "Endocrine", "External Causes", "Genitourinary",
    "Ill Defined", "Infectious", "Injury and Poisoning", "Mental", "Musculoskeletal", "Neoplasms",
    "Nervous", "Respiratory", "Skin",
]  # fmt: skip
PUBLIC = {
    "fields": {
        "age": {"minimum": 50, "maximum": 105, "nullable": False},
        "sex": {"categories": ["F", "M"], "nullable": False},
        "sample.yr": {"minimum": 1995, "maximum": 2003, "nullable": False},
        "kappa": {"minimum": 0, "maximum": 30, "nullable": False},
        "lambda": {"minimum": 0, "maximum": 30, "nullable": False},
        "flc.grp": {"minimum": 1, "maximum": 10, "nullable": False},
        "creatinine": {"minimum": 0, "maximum": 15},
        "mgus": {"nullable": False},
        "futime": {"minimum": 0, "maximum": 6000, "nullable": False},
        "death": {"categories": ["alive", "dead"], "nullable": False},
        "chapter": {"categories": CHAPTERS},
    }
}
SMALL = ["age", "sex", "flc.grp", "mgus", "futime", "death"]


@pytest.fixture(scope="module")
def raw() -> TabularDataset:
    ds = read(shared("survival_sets_sksurv_lifelines/flchain.csv"))
    assert isinstance(ds, TabularDataset)
    return ds


@pytest.fixture(scope="module")
def flchain(raw: TabularDataset) -> TabularDataset:
    return TabularDataset(raw.data, raw.schema.with_overrides(PUBLIC, source="test public schema"))


@pytest.fixture(scope="module")
def small(flchain: TabularDataset) -> TabularDataset:
    return TabularDataset(flchain.data[SMALL], flchain.schema.select(SMALL))


@pytest.fixture(scope="module")
def mst10(flchain: TabularDataset) -> MST:
    return MST(epsilon=10.0).fit(flchain, seed=0)


@pytest.fixture(scope="module")
def aim_small(small: TabularDataset) -> AIM:
    return AIM(epsilon=3.0).fit(small, seed=0)


def distances(real: pd.DataFrame, synth: pd.DataFrame) -> dict[str, float]:
    """Total-variation distance per column: categories (missing as one), numbers on the real deciles.

    Synthetic numbers are first rounded to the precision the real column is recorded with (a
    private fit cannot learn it from the data), so ties at a decile do not split.
    """
    out = {}
    for c in real.columns:
        r, s = real[c], synth[c]
        if pd.api.types.is_numeric_dtype(r) and r.nunique() > 12:
            observed = r.dropna().to_numpy(dtype=float)
            s = s.round(next(d for d in range(7) if np.allclose(observed, observed.round(d))))
            edges = np.unique(np.nanquantile(r, np.linspace(0, 1, 11))[1:-1])
            rb = np.where(r.isna(), -1, np.searchsorted(edges, r, side="right"))
            sb = np.where(s.isna(), -1, np.searchsorted(edges, s, side="right"))
            r, s = pd.Series(rb), pd.Series(sb)
        a = r.astype(str).value_counts(normalize=True)
        b = s.astype(str).value_counts(normalize=True)
        out[c] = 0.5 * float(a.subtract(b, fill_value=0).abs().sum())
    return out


# -- privacy --------------------------------------------------------------------------------------
def test_registered() -> None:
    assert get("mst") is MST
    assert get("aim") is AIM
    assert MST.supports.differential_privacy
    assert AIM.supports.conditions == "native"


def test_private_fit_needs_public_bounds_and_names_the_columns(flchain: TabularDataset) -> None:
    schema = flchain.schema.replace_field(replace(flchain.schema["kappa"], minimum=None, maximum=None))
    schema = schema.replace_field(replace(schema["chapter"], categories=None))
    with pytest.raises(InputError) as err:
        MST(epsilon=1.0).fit(TabularDataset(flchain.data, schema))
    text = str(err.value)
    for word in ("kappa", "chapter", "schema"):
        assert word in text


@pytest.mark.parametrize(
    ("params", "word"),
    [
        ({"epsilon": None}, "epsilon"),
        ({"epsilon": -1.0}, "epsilon"),
        ({"delta": 0.0}, "delta"),
        ({"bins": 1}, "bins"),
        ({"iters": 0}, "iters"),
    ],
)
def test_bad_parameters_are_refused_before_reading(params: dict[str, object], word: str) -> None:
    with pytest.raises(InputError, match=word):
        MST(**params).fit("not even data")  # type: ignore[arg-type]


def test_aim_rounds_must_cover_the_one_way_marginals(small: TabularDataset) -> None:
    with pytest.raises(InputError, match="rounds"):
        AIM(epsilon=1.0, rounds=3).fit(small)


def test_guarantee_within_budget_and_every_charge_listed(mst10: MST, aim_small: AIM) -> None:
    for model, eps in ((mst10, 10.0), (aim_small, 3.0)):
        g = model.privacy
        assert g is not None
        assert (g.mode, g.delta) == ("zcdp", 1e-9)
        assert g.epsilon <= eps
        rho = sum(s.rho for s in g.spends)
        assert rho <= cdp_rho(eps, 1e-9)
        assert math.isclose(cdp_eps(rho, 1e-9), g.epsilon)
        assert g.epsilon > 0.99 * eps  # the budget is used, not wasted
        assert "number of records n: public" in g.spends[0].what
        assert g.spends[0].rho == 0
    whats = " | ".join(s.what for s in mst10.privacy.spends)  # type: ignore[union-attr]
    assert "one-way marginals of 12 columns" in whats
    assert "11 edges of a spanning tree" in whats
    assert "two-way marginals of" in whats
    assert sum("AIM round" in s.what for s in aim_small.privacy.spends) == aim_small.rounds_used_  # type: ignore[union-attr]


# -- fidelity -------------------------------------------------------------------------------------
def test_marginals_close_at_eps10_and_worse_at_eps01(flchain: TabularDataset, mst10: MST) -> None:
    real = flchain.data
    close = distances(real, mst10.sample(len(real), seed=1).data)
    assert max(close.values()) <= 0.05, close
    noisy = MST(epsilon=0.1).fit(flchain, seed=0)
    far = distances(real, noisy.sample(len(real), seed=1).data)
    assert np.mean(list(far.values())) >= 3 * np.mean(list(close.values())), (close, far)


def test_mst_tree_links_every_column(mst10: MST) -> None:
    pairs = [c for c in mst10.cliques if len(c) == 2]
    assert len(pairs) == len(mst10.columns_) - 1
    assert ("creatinine__missing", "creatinine") in pairs  # the indicator explains its column


def test_aim_fits_the_workload(small: TabularDataset, aim_small: AIM) -> None:
    real = small.data
    synth = aim_small.sample(len(real), seed=1).data
    assert max(distances(real, synth).values()) <= 0.08
    dead = (synth["death"] == "dead").groupby(synth["age"] >= 80).mean()
    truth = (real["death"] == "dead").groupby(real["age"] >= 80).mean()
    assert abs(dead[True] - truth[True]) < 0.1
    assert dead[True] > dead[False] + 0.3  # the age–death link is kept


# -- sampling -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "condition",
    [
        'sex == "M" and age >= 90',  # about 0.6 % of the records
        'chapter in {"Neoplasms", "Circulatory"} and kappa >= 1.5 and kappa < 2.0',
        "creatinine is missing and futime <= 1000",
    ],
)
def test_conditions_hold_on_every_row_natively(mst10: MST, condition: str) -> None:
    # 3,000 candidates for 300 rows: only a sampler that conditions natively gets there
    out = mst10.sample(300, conditions=condition, seed=3, max_candidates=3_000).data
    assert len(out) == 300
    assert Conditions.parse(condition).bind(mst10.schema_).mask(out).all()


def test_native_conditioning_matches_filtering(mst10: MST) -> None:
    """Drawing under a condition gives the model's conditional distribution (filtered draws agree)."""
    condition = 'age >= 80 and chapter in {"Circulatory", "Neoplasms"}'
    free = mst10.sample(60_000, seed=4).data
    kept = free[Conditions.parse(condition).bind(mst10.schema_).mask(free)]
    drawn = mst10.sample(3_000, conditions=condition, seed=5).data
    assert len(kept) > 500
    for column in ("sex", "death", "chapter", "mgus"):
        a = kept[column].astype(str).value_counts(normalize=True)
        b = drawn[column].astype(str).value_counts(normalize=True)
        assert 0.5 * a.subtract(b, fill_value=0).abs().sum() < 0.05, column
    assert abs(kept["age"].mean() - drawn["age"].mean()) < 0.5


def test_rare_conditions_stay_reachable(small: TabularDataset, mst10: MST) -> None:
    # no such record in the data, but inside the public ranges: drawn natively, not refused
    out = mst10.sample(20, conditions='age >= 100 and mgus == True and chapter == "Skin"', seed=0, max_candidates=200)
    assert len(out.data) == 20
    # at a tiny budget every category is pooled as too rare to measure, and still reachable
    tiny = MST(epsilon=0.01, iters=100).fit(small, seed=0)
    drawn = tiny.sample(10, conditions="mgus == True", seed=0, max_candidates=200).data["mgus"]
    assert (drawn.astype(str) == "yes").all()  # the file spells it yes/no


def test_same_seed_same_model_and_rows(small: TabularDataset) -> None:
    a = MST(epsilon=1.0).fit(small, seed=5).sample(100, seed=2).data
    b = MST(epsilon=1.0).fit(small, seed=5).sample(100, seed=2).data
    c = MST(epsilon=1.0).fit(small, seed=6).sample(100, seed=2).data
    pd.testing.assert_frame_equal(a, b)
    assert not a.equals(c)


def test_save_load_gives_identical_samples(tmp_path: Path, mst10: MST, aim_small: AIM) -> None:
    for model in (mst10, aim_small):
        path = model.save(tmp_path / model.name)
        assert not any(p.suffix in (".pkl", ".pickle") for p in path.iterdir())
        back = load(path)
        assert type(back) is type(model)
        assert back.privacy == model.privacy
        assert back.cliques == model.cliques  # type: ignore[attr-defined]
        for cond in (None, 'sex == "F" and age >= 70'):
            pd.testing.assert_frame_equal(
                back.sample(200, conditions=cond, seed=9).data, model.sample(200, conditions=cond, seed=9).data
            )


def test_import_does_not_load_jax() -> None:
    code = "import sys, medsyn.synth, medsyn.synth.tabular._marginal; print('jax' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# -- the graphical-model engine -------------------------------------------------------------------
def _tree_joint(rng: np.random.Generator, sizes: list[int]) -> np.ndarray:
    """A random joint distribution that factorises on the chain 0 – 1 – 2 – 3 plus 1 – 4."""
    p = rng.dirichlet(np.ones(sizes[0]))
    joint = p
    for child, parent in ((1, 0), (2, 1), (3, 2), (4, 1)):
        cond = rng.dirichlet(np.ones(sizes[child]) * 0.5, size=sizes[parent])  # P(child | parent)
        joint = np.moveaxis(joint, parent, -1)[..., None] * cond
        joint = np.moveaxis(joint, -2, parent)
    return joint


def _marg(joint: np.ndarray, keep: tuple[int, ...]) -> np.ndarray:
    return joint.sum(axis=tuple(i for i in range(joint.ndim) if i not in keep))


def test_engine_recovers_a_tree_model_from_exact_marginals() -> None:
    rng = np.random.default_rng(0)
    sizes = [3, 4, 2, 3, 5]
    joint = _tree_joint(rng, sizes)
    n = 1000.0
    cliques = [(0, 1), (1, 2), (2, 3), (1, 4)]
    ms = [Measurement(cl, n * _marg(joint, cl).ravel(), 1.0) for cl in cliques]
    model = estimate(sizes, ms, n, iters=3000)
    for cl in [*cliques, (0,), (3,)]:
        np.testing.assert_allclose(model.marginal(cl), _marg(joint, cl), atol=2e-4)
    for a, b in [(0, 3), (3, 4), (0, 2)]:  # pairs in different cliques: carried along the tree
        np.testing.assert_allclose(model.marginal((a, b)), _marg(joint, (a, b)), atol=2e-4)
    np.testing.assert_allclose(model.marginal((4, 0)), _marg(joint, (0, 4)).T, atol=2e-4)


def test_engine_samples_the_conditional_distribution() -> None:
    rng = np.random.default_rng(1)
    sizes = [3, 4, 2, 3, 5]
    joint = _tree_joint(rng, sizes)
    tree = JunctionTree.build(sizes, [(0, 1), (1, 2), (2, 3), (1, 4)])
    model = Model(tuple(sizes), tree, [_marg(joint, cl) for cl in tree.cliques])
    evidence = {3: np.array([0.0, 1.0, 0.5]), 0: np.array([1.0, 0.0, 1.0])}
    codes = model.sample(200_000, np.random.default_rng(2), evidence)
    assert codes is not None
    weighted = joint * evidence[0][:, None, None, None, None] * evidence[3][None, None, None, :, None]
    weighted /= weighted.sum()
    for a, b in itertools.combinations(range(5), 2):
        seen = np.zeros((sizes[a], sizes[b]))
        np.add.at(seen, (codes[:, a], codes[:, b]), 1.0)
        np.testing.assert_allclose(seen / len(codes), _marg(weighted, (a, b)), atol=6e-3)
    assert model.sample(10, rng, {2: np.zeros(2)}) is None


def test_junction_tree_of_a_cycle_is_triangulated() -> None:
    tree = JunctionTree.build([2, 2, 2, 2], [(0, 1), (1, 2), (2, 3), (0, 3)])
    assert [len(cl) for cl in tree.cliques] == [3, 3]
    assert tree.parents == (-1, 0)
    assert len(tree.separator(1)) == 2


@pytest.mark.slow
def test_engine_agrees_with_mbi() -> None:
    """The NumPy estimator and mbi's MirrorDescent fit the same model to the same noisy marginals."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # mbi's float32 / compilation-cache notices at import
        jax = pytest.importorskip("jax", reason="the cross-check needs mbi (private-pgm): pip install mbi")
        mbi = pytest.importorskip("mbi", reason="the cross-check needs mbi (private-pgm): pip install mbi")

    rng = np.random.default_rng(3)
    sizes = [3, 4, 2, 3, 5]
    joint = _tree_joint(rng, sizes)
    n = 2000.0
    cliques = [(0,), (1,), (2,), (3,), (4,), (0, 1), (1, 2), (2, 3), (1, 4)]
    ms = [
        Measurement(cl, n * _marg(joint, cl).ravel() + rng.normal(0, 20.0, _marg(joint, cl).size), 20.0)
        for cl in cliques
    ]
    ours = estimate(sizes, ms, n, iters=5000)
    names = [str(i) for i in range(5)]
    domain = mbi.Domain(names, sizes)
    theirs_ms = [mbi.LinearMeasurement(m.values, tuple(names[a] for a in m.clique), stddev=m.sigma) for m in ms]
    with jax.enable_x64(True):
        theirs = mbi.estimation.MirrorDescent().estimate(domain, theirs_ms, known_total=n, iters=5000)
        for cl in [(0, 1), (1, 2), (2, 3), (1, 4)]:
            expected = np.asarray(theirs.project(tuple(names[a] for a in cl)).values) / n
            np.testing.assert_allclose(ours.marginal(cl), expected, atol=2e-3)
