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
