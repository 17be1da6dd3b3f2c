"""Banded DTW against a plain O(n²) dynamic programme, its lower bound, and exact nearest neighbours."""

from __future__ import annotations

import time

import numpy as np
import pytest

from medsyn.data.dataset import SignalDataset
from medsyn.evaluate.signal import banded_dtw, dtw_nearest, lb_keogh, window_for
from tests.evaluate.signal.conftest import Split


def reference_dtw(x: np.ndarray, y: np.ndarray, window: int) -> float:
    """Textbook Sakoe–Chiba DTW: full (n+1)² table, squared Euclidean cost over channels, sqrt at the end."""
    n = x.shape[-1]
    table = np.full((n + 1, n + 1), np.inf)
    table[0, 0] = 0.0
    for i in range(1, n + 1):
        for j in range(max(1, i - window), min(n, i + window) + 1):
            cost = float(((x[:, i - 1] - y[:, j - 1]) ** 2).sum())
            table[i, j] = cost + min(table[i - 1, j - 1], table[i - 1, j], table[i, j - 1])
    return float(np.sqrt(table[n, n]))


def random_walks(rng: np.random.Generator, n: int, channels: int, length: int) -> np.ndarray:
    return rng.normal(size=(n, channels, length)).cumsum(axis=-1)


@pytest.mark.parametrize("window", [0, 1, 3, 8, 39])
@pytest.mark.parametrize("channels", [1, 3])
def test_banded_dtw_equals_the_plain_dynamic_programme(window: int, channels: int) -> None:
    rng = np.random.default_rng(window * 10 + channels)
    x, y = random_walks(rng, 6, channels, 40), random_walks(rng, 6, channels, 40)
    expected = [reference_dtw(x[p], y[p], window) for p in range(6)]
    np.testing.assert_allclose(banded_dtw(x, y, window=window), expected, rtol=1e-5)


def test_window_zero_is_the_euclidean_distance_and_a_wide_band_is_unconstrained_dtw() -> None:
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(4, 2, 25)), rng.normal(size=(4, 2, 25))
    np.testing.assert_allclose(banded_dtw(x, y, window=0), np.sqrt(((x - y) ** 2).sum(axis=(1, 2))), rtol=1e-5)
    wide = banded_dtw(x, y, window=1000)
    np.testing.assert_allclose(wide, [reference_dtw(x[p], y[p], 24) for p in range(4)], rtol=1e-5)
    assert (wide <= banded_dtw(x, y, window=2) + 1e-6).all()


def test_a_time_warped_copy_is_closer_by_dtw_than_by_euclidean_distance() -> None:
    t = np.linspace(0, 4 * np.pi, 120)
    x = np.sin(t)[None, None]
    warped = np.sin(t + 0.3 * np.sin(t / 2))[None, None]
    assert banded_dtw(x, warped, window=12)[0] < 0.35 * banded_dtw(x, warped, window=0)[0]


def test_lb_keogh_never_exceeds_the_dtw() -> None:
    rng = np.random.default_rng(2)
    q, r = random_walks(rng, 8, 2, 30), random_walks(rng, 9, 2, 30)
    bound = lb_keogh(q, r, window=4)
    exact = np.array([[reference_dtw(a, b, 4) ** 2 for b in r] for a in q])
    assert bound.shape == (8, 9)
    assert (bound <= exact * (1 + 1e-5) + 1e-9).all()
    assert (bound > 0).mean() > 0.5  # a bound that is always 0 would prune nothing


@pytest.mark.parametrize(("k", "exclude_self"), [(1, False), (3, False), (2, True)])
def test_dtw_nearest_finds_the_exact_neighbours(k: int, exclude_self: bool) -> None:
    rng = np.random.default_rng(3)
    r = random_walks(rng, 24, 1, 30)
    q = r if exclude_self else random_walks(rng, 12, 1, 30)
    full = np.array([[reference_dtw(a, b, 4) for b in r] for a in q])
    if exclude_self:
        np.fill_diagonal(full, np.inf)
    found = dtw_nearest(q, r, window=4, k=k, exclude_self=exclude_self)
    np.testing.assert_allclose(found.distances, np.sort(full, axis=1)[:, :k], rtol=1e-5)
    np.testing.assert_allclose(np.take_along_axis(full, found.indices, axis=1), found.distances, rtol=1e-5)
    assert found.k == k
    assert 0 < found.computed <= found.candidates


def test_dtw_nearest_finds_copies_at_distance_zero_and_prunes_on_real_ecgs(ecg: Split) -> None:
    def series(data: SignalDataset) -> np.ndarray:
        x = data.to_array()[:, 1, :2500:10].astype(np.float64)  # the first 5 s of lead II at 50 Hz
        return (x - x.mean(axis=1, keepdims=True)) / x.std(axis=1, keepdims=True)

    real = series(ecg.real)
    query = np.concatenate([real[:3], series(ecg.other)])
    window = window_for(real.shape[1], 0.1)
    found = dtw_nearest(query, real, window=window, k=2)
    assert found.indices[:3, 0].tolist() == [0, 1, 2]
    np.testing.assert_allclose(found.distances[:3, 0], 0.0, atol=1e-2)
    brute = np.array([reference_dtw(query[3][None], b[None], window) for b in real])
    np.testing.assert_allclose(found.distances[3], np.sort(brute)[:2], rtol=1e-4)


def test_bad_shapes_are_refused() -> None:
    with pytest.raises(ValueError, match="differ in shape"):
        banded_dtw(np.zeros((2, 10)), np.zeros((2, 11)), window=2)
    with pytest.raises(ValueError, match="k=5 but only 3"):
        dtw_nearest(np.zeros((2, 10)), np.zeros((4, 10)), window=2, k=5, exclude_self=True)
    with pytest.raises(ValueError, match="channels × samples"):
        dtw_nearest(np.zeros((2, 1, 10)), np.zeros((4, 2, 10)), window=2)


def _ecg_like_set(data: SignalDataset, n: int, seed: int) -> np.ndarray:
    """``n`` 10-s single-lead series at 50 Hz bootstrapped from real records, each shifted in time
    (circularly, up to 1 s) and with a little noise so that no two are identical."""
    rng = np.random.default_rng(seed)
    x = data.to_array()[:, 1, ::10].astype(np.float64)
    pick = rng.integers(0, len(x), n)
    out = np.stack([np.roll(x[p], s) for p, s in zip(pick, rng.integers(0, 50, n), strict=True)])
    out += 0.05 * x.std() * rng.normal(size=out.shape)
    return (out - out.mean(axis=1, keepdims=True)) / out.std(axis=1, keepdims=True)


def test_dtw_nearest_100_ecg_length_series_in_seconds(ecg: Split) -> None:
    data = SignalDataset([*ecg.real.records, *ecg.holdout.records, *ecg.other.records])
    q, r = _ecg_like_set(data, 100, 1), _ecg_like_set(data, 100, 2)
    started = time.process_time()
    found = dtw_nearest(q, r, window=50)
    assert time.process_time() - started < 20.0
    assert found.distances.shape == (100, 1)


@pytest.mark.slow
def test_dtw_nearest_500_by_500_ecg_length_series(ecg: Split) -> None:
    """The benchmark of the report: 500 bootstrapped 10-s ECGs against 500, lead II at 50 Hz, 10 % band."""
    data = SignalDataset([*ecg.real.records, *ecg.holdout.records, *ecg.other.records])
    q, r = _ecg_like_set(data, 500, 1), _ecg_like_set(data, 500, 2)
    started = time.process_time()
    found = dtw_nearest(q, r, window=50)
    seconds = time.process_time() - started
    print(f"500 x 500 DTW nearest: {seconds:.1f} s CPU, {found.computed_share:.1%} of pairs computed")
    assert seconds < 120.0
    sample = np.random.default_rng(0).choice(500, 3, replace=False)
    brute = banded_dtw(np.repeat(q[sample], 500, axis=0), np.tile(r, (3, 1)), window=50).reshape(3, 500)
    np.testing.assert_allclose(found.distances[sample, 0], brute.min(axis=1), rtol=1e-4)
