"""The k-NN manifold engine: exact against all-pairs references of pyMDMA, prdc and synthcity."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.distance import cdist
from sklearn.neighbors import NearestNeighbors

from medsyn.evaluate.tabular import alpha_beta_curves, manifold_terms, prdc
from medsyn.evaluate.tabular._knn import ManifoldTerms


def reference_prdc(real: np.ndarray, fake: np.ndarray, k: int, *, closed: bool) -> dict[str, float]:
    """pyMDMA 0.3 (``closed``: ``d < r or isclose(d, r)``) / prdc (``d < r``) on the full distance matrices."""
    real, fake = real.astype(np.float64), fake.astype(np.float64)
    real_r = np.sort(cdist(real, real), axis=1)[:, k]  # k+1-th smallest, self included
    fake_r = np.sort(cdist(fake, fake), axis=1)[:, k]
    d = cdist(real, fake)

    def inside(dist: np.ndarray, radius: np.ndarray) -> np.ndarray:
        return (dist < radius) | np.isclose(dist, radius) if closed else dist < radius

    in_real = inside(d, real_r[:, None])
    return {
        "precision": float(in_real.any(axis=0).mean()),
        "recall": float(inside(d, fake_r[None, :]).any(axis=1).mean()),
        "density": float(in_real.sum(axis=0).mean() / k),
        "coverage": float(inside(d.min(axis=1), real_r).mean()),
    }


def _discrete(rng: np.random.Generator, n: int) -> np.ndarray:
    """Encoded-table-like data: whole numbers scaled to [0, 1] and one-hot categories (many exact ties)."""
    numbers = rng.integers(0, 4, (n, 2)) / 3
    category = np.eye(3)[rng.integers(0, 3, n)] / np.sqrt(2)
    return np.hstack([numbers, category]).astype(np.float32)


@pytest.mark.parametrize("ball", ["closed", "open"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_equals_the_all_pairs_reference_on_tied_data(ball: str, seed: int) -> None:
    rng = np.random.default_rng(seed)
    real, fake = _discrete(rng, 300), _discrete(rng, 240)
    ours = prdc(real, fake, k=5, ball=ball).to_dict()  # type: ignore[arg-type]
    ref = reference_prdc(real, fake, 5, closed=ball == "closed")
    for key in ref:
        assert ours[key] == pytest.approx(ref[key], abs=1e-12), key


def test_equals_the_reference_on_continuous_data_where_balls_agree() -> None:
    rng = np.random.default_rng(3)
    real = rng.normal(size=(500, 8)).astype(np.float32)
    fake = (rng.normal(size=(400, 8)) * 1.3 + 0.2).astype(np.float32)
    closed = prdc(real, fake, k=3).to_dict()
    assert closed == pytest.approx(reference_prdc(real, fake, 3, closed=True), abs=1e-12)
    assert closed == pytest.approx(prdc(real, fake, k=3, ball="open").to_dict(), abs=1e-12)


def test_one_dimensional_hand_example() -> None:
    real = np.array([[0.0], [1.0], [2.0], [3.0], [10.0]], dtype=np.float32)
    fake = np.array([[0.5], [2.5], [6.0]], dtype=np.float32)
    t = manifold_terms(real, fake, k=1)
    assert t.real_radius.tolist() == [1.0, 1.0, 1.0, 1.0, 7.0]
    # 0.5 lies in the balls of 0 and 1; 2.5 in those of 2 and 3; 6.0 only in the wide ball of 10
    assert t.containing.tolist() == [2, 2, 1]
    assert t.nearest_synthetic.tolist() == [0.5, 0.5, 0.5, 0.5, 4.0]
    assert t.covered.tolist() == [True, True, True, True, True]
    # synthetic radii (1-NN among synthetic): 2.0, 2.0, 3.5
    assert t.recalled.tolist() == [True, True, True, True, False]


def test_an_exact_copy_is_inside_a_zero_radius_ball() -> None:
    row = np.array([[1.0, 0.0]], dtype=np.float32)
    real = np.vstack([np.repeat(row, 6, axis=0), np.array([[5.0, 5.0], [6.0, 5.0]], dtype=np.float32)])
    copies = np.repeat(row, 6, axis=0)
    t = manifold_terms(real, copies, k=5)
    assert t.real_radius[0] == 0.0
    # six closed balls of radius 0 hold the copy, and the two outliers' balls, whose 5th neighbour is a copy
    assert t.containing[0] == 8
    # open balls (prdc): a copy is on the sphere of every one of them, so inside none
    assert manifold_terms(real, copies, k=5, ball="open").containing[0] == 0


def test_too_few_records_for_k_is_a_clear_error() -> None:
    x = np.zeros((5, 2), dtype=np.float32)
    with pytest.raises(ValueError, match="more than 5 records"):
        manifold_terms(x, x, k=5)


def test_candidate_path_stays_close_to_exact() -> None:
    rng = np.random.default_rng(4)
    real = rng.normal(size=(3000, 6)).astype(np.float32)
    fake = (rng.normal(size=(3000, 6)) * 1.1).astype(np.float32)
    exact = manifold_terms(real, fake, k=5, method="exact")
    approx = manifold_terms(real, fake, k=5, method="approximate", seed=0)
    assert approx.method.startswith("candidates")
    assert exact.method == "exact"
    for name in ("precision_terms", "recall_terms", "coverage_terms", "density_terms"):
        e, a = getattr(exact, name).mean(), getattr(approx, name).mean()
        assert a == pytest.approx(e, abs=0.01), name


def _synthcity_alpha_precision(x: np.ndarray, x_syn: np.ndarray) -> tuple[float, float]:
    """synthcity 0.2 ``AlphaPrecision.metrics(X, X_syn)`` with ``emb_center=None``, transcribed."""
    emb_center = np.mean(x, axis=0)
    alphas = np.linspace(0, 1, 30)
    radii = np.quantile(np.sqrt(np.sum((x - emb_center) ** 2, axis=1)), alphas)
    synth_center = np.mean(x_syn, axis=0)
    synth_to_center = np.sqrt(np.sum((x_syn - emb_center) ** 2, axis=1))
    real_to_real, _ = NearestNeighbors(n_neighbors=2, p=2).fit(x).kneighbors(x)
    real_to_synth, args = NearestNeighbors(n_neighbors=1, p=2).fit(x_syn).kneighbors(x)
    real_to_real, real_to_synth, args = real_to_real[:, 1], real_to_synth[:, 0], args[:, 0]
    closest_d = np.sqrt(np.sum((x_syn[args] - synth_center) ** 2, axis=1))
    closest_radii = np.quantile(closest_d, alphas)
    p_curve = [np.mean(synth_to_center <= r) for r in radii]
    b_curve = [np.mean((real_to_synth <= real_to_real) * (closest_d <= r)) for r in closest_radii]
    delta_p = 1 - np.sum(np.abs(alphas - np.array(p_curve))) / np.sum(alphas)
    delta_b = 1 - np.sum(np.abs(alphas - np.array(b_curve))) / np.sum(alphas)
    return float(delta_p), float(delta_b)


def test_alpha_beta_equal_synthcity_with_its_reach_rule() -> None:
    rng = np.random.default_rng(5)
    x = rng.normal(size=(400, 5)).astype(np.float32)
    x_syn = (rng.normal(size=(400, 5)) * 0.8 + 0.1).astype(np.float32)
    t: ManifoldTerms = manifold_terms(x, x_syn, k=5)
    ours = alpha_beta_curves(x, x_syn, t, beta_reach="nearest")
    alpha, beta = _synthcity_alpha_precision(x.astype(np.float64), x_syn.astype(np.float64))
    assert ours.alpha_precision == pytest.approx(alpha, abs=1e-12)
    assert ours.beta_recall == pytest.approx(beta, abs=1e-12)
    # our default reach (the k-NN ball) lets an ideal generator score near 1, synthcity's caps it near 0.5
    same = rng.normal(size=(400, 5)).astype(np.float32)
    ideal = manifold_terms(x, same, k=5)
    assert alpha_beta_curves(x, same, ideal).beta_recall > 0.85
    assert alpha_beta_curves(x, same, ideal, beta_reach="nearest").beta_recall < 0.7


# -- lazy parts: one metric alone computes only its own parts, with the same values ------------
TERMS = ("precision_terms", "recall_terms", "density_terms", "coverage_terms")
PARTS = {
    "precision_terms": {"real_radii", "precision"},
    "density_terms": {"real_radii", "density"},
    "recall_terms": {"synthetic_radii", "recall"},
    "coverage_terms": {"real_radii", "nearest_synthetic"},
}


@pytest.mark.parametrize("ball", ["closed", "open"])
def test_each_term_alone_computes_only_its_parts_and_equals_all_four(ball: str) -> None:
    rng = np.random.default_rng(6)
    real, fake = _discrete(rng, 400), _discrete(rng, 350)
    together = manifold_terms(real, fake, k=5, ball=ball)  # type: ignore[arg-type]
    everything = {name: getattr(together, name) for name in TERMS}
    for name in TERMS:
        alone = manifold_terms(real, fake, k=5, ball=ball)  # type: ignore[arg-type]
        assert alone.computed() == frozenset()
        np.testing.assert_array_equal(getattr(alone, name), everything[name])
        assert alone.computed() == PARTS[name], name


def test_precision_reads_density_counts_when_they_exist() -> None:
    rng = np.random.default_rng(7)
    t = manifold_terms(_discrete(rng, 200), _discrete(rng, 200), k=3)
    counts = t.density_terms
    precision = t.precision_terms
    assert "precision" not in t.computed()  # no second pass: a record is in some ball when its count is > 0
    np.testing.assert_array_equal(precision, (counts > 0).astype(float))
    alone = manifold_terms(t.real, t.synthetic, k=3).precision_terms
    np.testing.assert_array_equal(alone, precision)


def _exact_d2(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    diff = a.astype(np.float64)[:, None, :] - b.astype(np.float64)[None, :, :]
    return np.einsum("ijk,ijk->ij", diff, diff)


@pytest.mark.parametrize("offset", [0.0, 3000.0])
def test_blocked_passes_are_exact_across_blocks_and_far_from_the_origin(offset: float, monkeypatch) -> None:
    """Several blocks, the column-group bound in use, and (offset) float32 products too coarse to decide anything."""
    from medsyn.evaluate.tabular import _knn

    monkeypatch.setattr(_knn, "_BLOCK_BYTES", 4 * 1100 * 64)  # 64 rows per block
    rng = np.random.default_rng(8)
    real = (_discrete(rng, 1100) + offset).astype(np.float32)  # 16 groups of 68 columns and 12 more
    fake = (_discrete(rng, 1050) + offset).astype(np.float32)
    assert _knn._Groups.of(np.zeros((1, 1050), np.float32)).count == 16
    t = manifold_terms(real, fake, k=5)
    within = _exact_d2(real, real)
    np.fill_diagonal(within, np.inf)
    ranked = np.sort(within, axis=1)
    np.testing.assert_array_equal(t.real_radius, np.sqrt(ranked[:, 4]))
    np.testing.assert_array_equal(t.real_nearest_real, np.sqrt(ranked[:, 0]))
    cross = _exact_d2(real, fake)
    limit = (t.real_radius * (1 + 1e-5) + 1e-8) ** 2
    np.testing.assert_array_equal(t.containing, (cross <= limit[:, None]).sum(axis=0))
    np.testing.assert_array_equal(t.nearest_synthetic_index, cross.argmin(axis=1))  # lowest index among ties
    np.testing.assert_array_equal(t.nearest_synthetic, np.sqrt(cross.min(axis=1)))
    ref = reference_prdc(real, fake, 5, closed=True)
    assert prdc(real, fake, k=5).to_dict() == pytest.approx(ref, abs=1e-12)


def test_radius_is_exact_when_the_nearest_records_share_a_column_group() -> None:
    """Records 80 rows apart share an interleaved group (1,280 columns): the bound is loose, the answer exact."""
    from medsyn.evaluate.tabular._knn import _Groups

    rng = np.random.default_rng(9)
    x = rng.normal(size=(1280, 3)).astype(np.float32)
    x[::80] = x[0] + rng.normal(scale=1e-3, size=(16, 3)).astype(np.float32)  # a tight cluster in one group
    within = _exact_d2(x, x)
    np.fill_diagonal(within, np.inf)
    ranked = np.sort(within, axis=1)
    groups = _Groups.of(within[:1].astype(np.float32), 5)
    assert groups.count == 16
    assert groups.kth_bound(5)[0] > 100 * ranked[0, 4]  # the bound is loose here
    t = manifold_terms(x, x[::-1].copy(), k=5)
    np.testing.assert_array_equal(t.real_radius, np.sqrt(ranked[:, 4]))


def test_non_finite_values_are_refused_with_the_side_and_row() -> None:
    x = np.zeros((10, 2), dtype=np.float32)
    bad = x.copy()
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match=r"synthetic: 1 row\(s\) with NaN or infinite values \(first: row 3\)"):
        manifold_terms(x, bad, k=2)


def test_candidate_path_recall_alone_searches_only_from_the_synthetic_side() -> None:
    rng = np.random.default_rng(10)
    real = rng.normal(size=(1200, 4)).astype(np.float32)
    fake = rng.normal(size=(1100, 4)).astype(np.float32)
    t = manifold_terms(real, fake, k=5, method="approximate")
    recall = t.recall_terms
    assert t.computed() == {"synthetic_radii", "to_real"}
    assert t.method.startswith("candidates (20 nearest per ball centre; approximate (faiss IVF")
    assert recall.mean() == pytest.approx(manifold_terms(real, fake, k=5).recall_terms.mean(), abs=0.02)
