"""The image metrics' numerical building blocks against closed forms and reference implementations."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import linalg

from medsyn.evaluate.image import frechet_distance, frechet_parts, kernel_mmd2, kid, manifolds, ssim_batch
from medsyn.evaluate.image._offline import lbp_uniform, orientation_histograms


def _closed_form(mu1: np.ndarray, var1: np.ndarray, mu2: np.ndarray, var2: np.ndarray) -> float:
    """Fréchet distance of two Gaussians with diagonal covariances: ‖μ1 − μ2‖² + Σ (σ1 − σ2)²."""
    return float(((mu1 - mu2) ** 2).sum() + ((np.sqrt(var1) - np.sqrt(var2)) ** 2).sum())


def test_sqrtm_formula_matches_the_closed_form_of_gaussians() -> None:
    rng = np.random.default_rng(0)
    mu1, mu2 = rng.normal(size=6), rng.normal(size=6)
    var1, var2 = rng.uniform(0.2, 3, 6), rng.uniform(0.2, 3, 6)
    got = frechet_distance(mu1, np.diag(var1), mu2, np.diag(var2))
    assert got == pytest.approx(_closed_form(mu1, var1, mu2, var2), rel=1e-10)
    # a rotation of both Gaussians changes nothing
    q, _ = np.linalg.qr(rng.normal(size=(6, 6)))
    rotated = frechet_distance(q @ mu1, q @ np.diag(var1) @ q.T, q @ mu2, q @ np.diag(var2) @ q.T)
    assert rotated == pytest.approx(got, rel=1e-8)


def test_sample_fid_converges_to_the_closed_form() -> None:
    rng = np.random.default_rng(1)
    mu1, mu2 = np.zeros(4), np.array([1.0, 0.0, -0.5, 0.2])
    var1, var2 = np.array([1.0, 2.0, 0.5, 1.0]), np.array([1.5, 1.0, 0.5, 3.0])
    a = rng.normal(mu1, np.sqrt(var1), size=(40_000, 4))
    b = rng.normal(mu2, np.sqrt(var2), size=(40_000, 4))
    assert frechet_parts(a, b).distance == pytest.approx(_closed_form(mu1, var1, mu2, var2), abs=0.03)


@pytest.mark.parametrize(("n", "d"), [(300, 20), (40, 60), (60, 60)])
def test_factored_fid_equals_the_sqrtm_formula(n: int, d: int) -> None:
    """Fewer images than dimensions (data factors), more (Cholesky) and equal, with correlated features."""
    rng = np.random.default_rng(2)
    mix = rng.normal(size=(d, d)) / np.sqrt(d)
    a = rng.normal(size=(n, d)) @ mix
    b = (rng.normal(size=(n + 7, d)) * 1.3 + 0.2) @ mix
    ref = frechet_distance(a.mean(0), np.cov(a, rowvar=False), b.mean(0), np.cov(b, rowvar=False))
    parts = frechet_parts(a, b)
    assert parts.distance == pytest.approx(ref, rel=1e-6, abs=1e-8)
    assert parts.mean_term + parts.covariance_term == pytest.approx(parts.distance)


def test_weighted_fid_equals_fid_of_repeated_rows() -> None:
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=(30, 5)), rng.normal(size=(25, 5)) + 0.3
    wa, wb = rng.integers(0, 3, 30).astype(float), rng.integers(0, 3, 25).astype(float)
    weighted = frechet_parts(a, b, real_weights=wa, synthetic_weights=wb).distance
    repeated = frechet_parts(np.repeat(a, wa.astype(int), axis=0), np.repeat(b, wb.astype(int), axis=0)).distance
    assert weighted == pytest.approx(repeated, rel=1e-9)


def test_identical_sets_have_zero_fid() -> None:
    a = np.random.default_rng(4).normal(size=(50, 8))
    assert frechet_parts(a, a.copy()).distance == pytest.approx(0.0, abs=1e-9)


def _kid_reference(x: np.ndarray, y: np.ndarray) -> float:
    """torch-fidelity's unbiased MMD² with the cubic kernel (equal-size sets), written out directly."""
    d = x.shape[1]
    kxx, kyy, kxy = ((x @ x.T) / d + 1) ** 3, ((y @ y.T) / d + 1) ** 3, ((x @ y.T) / d + 1) ** 3
    m = len(x)
    return float((kxx.sum() - np.trace(kxx) + kyy.sum() - np.trace(kyy)) / (m * (m - 1)) - 2 * kxy.sum() / (m * m))


def test_kernel_mmd_subsets_match_the_reference_estimator() -> None:
    rng = np.random.default_rng(5)
    x, y = rng.normal(size=(40, 6)), rng.normal(size=(35, 6)) + 0.5
    subsets = [(rng.choice(40, 20, replace=False), rng.choice(35, 20, replace=False)) for _ in range(4)]
    wx, wy = np.zeros((40, 4)), np.zeros((35, 4))
    for j, (ix, iy) in enumerate(subsets):
        wx[ix, j], wy[iy, j] = 1, 1
    got = kernel_mmd2(x, y, wx, wy)
    want = [_kid_reference(x[ix], y[iy]) for ix, iy in subsets]
    np.testing.assert_allclose(got, want, rtol=1e-10)


def test_kid_is_unbiased_where_the_biased_estimate_is_not() -> None:
    """Same distribution: the mean of many KIDs is 0 within its standard error; the V-statistic is positive."""
    rng = np.random.default_rng(6)
    values, biased = [], []
    for _ in range(60):
        x, y = rng.normal(size=(50, 4)), rng.normal(size=(50, 4))
        values.append(kid(x, y, n_subsets=1, subset_size=50, seed=rng).mean)
        d = x.shape[1]
        kxx, kyy, kxy = ((x @ x.T) / d + 1) ** 3, ((y @ y.T) / d + 1) ** 3, ((x @ y.T) / d + 1) ** 3
        biased.append(kxx.mean() + kyy.mean() - 2 * kxy.mean())
    mean, se = np.mean(values), np.std(values, ddof=1) / np.sqrt(len(values))
    assert abs(mean) < 3 * se
    assert np.mean(biased) > 10 * se
    shifted = kid(rng.normal(size=(200, 4)), rng.normal(size=(200, 4)) + 0.5, n_subsets=20, subset_size=100, seed=0)
    assert shifted.mean > 10 * shifted.std / np.sqrt(20)


def test_ssim_batch_matches_scikit_image() -> None:
    metrics = pytest.importorskip("skimage.metrics")
    rng = np.random.default_rng(7)
    a = rng.random((5, 32, 40))
    b = np.clip(a + rng.normal(0, [[[0.0]], [[0.05]], [[0.2]], [[0.5]], [[1.0]]], a.shape), 0, 1)
    want = [metrics.structural_similarity(a[i], b[i], data_range=1.0) for i in range(5)]
    np.testing.assert_allclose(ssim_batch(a, b), want, rtol=1e-5, atol=1e-6)
    assert ssim_batch(a, b)[0] == pytest.approx(1.0)


def test_orientation_histograms_match_scikit_image_hog() -> None:
    feature = pytest.importorskip("skimage.feature")
    rng = np.random.default_rng(8)
    grey = rng.random((3, 48, 64))
    ours = orientation_histograms(grey, 16)
    for i in range(3):
        ref = feature.hog(
            grey[i],
            orientations=9,
            pixels_per_cell=(16, 16),
            cells_per_block=(1, 1),
            block_norm="L1",
            feature_vector=False,
        )
        np.testing.assert_allclose(ours[i], ref[:, :, 0, 0, :], atol=1e-6)


def test_local_binary_patterns_match_scikit_image() -> None:
    feature = pytest.importorskip("skimage.feature")
    rng = np.random.default_rng(9)
    grey = (rng.random((3, 30, 33)) * 255).astype(np.uint8)
    ours = lbp_uniform(grey.astype(np.float64))
    for i in range(3):
        assert (ours[i] == feature.local_binary_pattern(grey[i], 8, 1, method="uniform")).all()


def test_manifolds_on_known_geometry() -> None:
    """A collapsed set (one point repeated) reaches no real point; the real set itself is inside everywhere."""
    real = np.random.default_rng(10).normal(size=(120, 3))
    same = manifolds(real, real.copy(), k=5)
    assert (same.inside_real > 0).all()
    assert same.inside_synthetic.all()
    assert same.covered.all()
    collapsed = manifolds(real, np.repeat(real[:1], 120, axis=0), k=5)
    assert (collapsed.inside_real > 0).all()  # precision stays high: the repeated point is real
    assert collapsed.inside_synthetic.mean() < 0.02  # recall collapses: balls of radius 0
    assert collapsed.covered.mean() < 0.1
    assert linalg.norm(collapsed.synthetic_radii) == 0
