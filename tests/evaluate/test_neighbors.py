"""Nearest neighbours: exact against scikit-learn, copies at distance 0, self excluded, blocked counts."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.neighbors import NearestNeighbors

from medsyn.evaluate import _neighbors as nb
from medsyn.evaluate import count_within, nearest


@pytest.fixture(scope="module")
def points() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    ref = (rng.normal(size=(1500, 12)) * 4).astype(np.float32)
    query = np.vstack([ref[:50], rng.normal(size=(450, 12)) * 4]).astype(np.float32)
    return query, ref


@pytest.mark.parametrize("engine", ["faiss", "numpy"])
def test_exact_neighbours_match_sklearn(points: tuple[np.ndarray, np.ndarray], engine: str, monkeypatch) -> None:
    query, ref = points
    if engine == "numpy":
        monkeypatch.setattr(nb, "_faiss", lambda: None)
    found = nearest(query, ref, 5, method="exact")
    dist, idx = NearestNeighbors(n_neighbors=5).fit(ref).kneighbors(query)
    np.testing.assert_allclose(found.distances, dist, atol=1e-4)
    assert (found.indices == idx).mean() > 0.999
    assert found.method.startswith("exact")


def test_copies_are_at_distance_zero(points: tuple[np.ndarray, np.ndarray]) -> None:
    query, ref = points
    found = nearest(query, ref, 1)
    assert (found.first()[:50] == 0).all()
    assert (found.first()[50:] > 0).all()


@pytest.mark.parametrize("method", ["exact", "approximate"])
def test_exclude_self_skips_own_row_but_keeps_duplicates(method: str) -> None:
    rng = np.random.default_rng(1)
    ref = rng.normal(size=(4000, 3)).astype(np.float32)
    ref[1] = ref[0]  # a genuine duplicate stays a neighbour at distance 0
    found = nearest(ref, ref, 3, exclude_self=True, method=method)  # type: ignore[arg-type]
    assert not (found.indices == np.arange(len(ref))[:, None]).any()
    assert found.indices[0, 0] == 1
    assert found.distances[0, 0] == 0


def test_approximate_recall_on_clustered_data() -> None:
    rng = np.random.default_rng(2)
    centres = rng.normal(size=(50, 8)) * 10
    ref = (centres[rng.integers(0, 50, 20_000)] + rng.normal(size=(20_000, 8))).astype(np.float32)
    query = ref[:500] + 0.01
    exact = nearest(query, ref, 5, method="exact")
    approx = nearest(query, ref, 5, method="approximate")
    recall = np.mean([len(set(a) & set(e)) / 5 for a, e in zip(approx.indices, exact.indices, strict=True)])
    assert recall > 0.9
    assert approx.method.startswith("approximate")


@pytest.mark.parametrize("method", ["exact", "approximate"])
def test_describe_names_the_method_before_searching(method: str, monkeypatch) -> None:
    rng = np.random.default_rng(3)
    ref = rng.normal(size=(2000, 4)).astype(np.float32)
    found = nearest(ref[:100], ref, 3, method=method)  # type: ignore[arg-type]
    assert nb.describe(100, len(ref), method) == found.method  # type: ignore[arg-type]
    monkeypatch.setattr(nb, "_faiss", lambda: None)
    assert nb.describe(10, 10) == "exact"
    assert nb.describe(10**6, 10**6) == "exact"  # beyond EXACT_LIMIT without faiss: still exact, slower


def test_k_larger_than_reference_is_refused() -> None:
    with pytest.raises(ValueError, match="k=4"):
        nearest(np.zeros((2, 2)), np.zeros((3, 2)), 4)
    with pytest.raises(ValueError, match="k=3"):
        nearest(np.zeros((3, 2)), np.zeros((3, 2)), 3, exclude_self=True)


@settings(max_examples=30, deadline=None)
@given(
    n_ref=st.integers(2, 60),
    n_query=st.integers(1, 40),
    seed=st.integers(0, 2**16),
)
def test_count_within_matches_brute_force(n_ref: int, n_query: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    ref = rng.normal(size=(n_ref, 3)).astype(np.float32)
    query = rng.normal(size=(n_query, 3)).astype(np.float32)
    radii = rng.uniform(0, 2, n_ref).astype(np.float32)
    brute = (np.linalg.norm(query[:, None] - ref[None], axis=2) <= radii[None]).sum(axis=1)
    got = count_within(query, ref, radii)
    # float32 rounding can flip a point lying on a ball's surface
    assert np.abs(got - brute).max() <= 1
    assert (got == brute).mean() > 0.9
    # with every reference row as a candidate, the candidate path is exact too
    everyone = nearest(query, ref, n_ref, method="exact")
    assert np.abs(count_within(query, ref, radii, neighbours=everyone) - brute).max() <= 1


def test_faiss_query_blocks_are_set_for_the_search_and_restored(monkeypatch) -> None:
    faiss = pytest.importorskip("faiss")
    before = faiss.cvar.distance_compute_blas_query_bs
    seen: list[int] = []
    real_search = faiss.IndexFlatL2.search

    def search(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        seen.append(faiss.cvar.distance_compute_blas_query_bs)
        return real_search(self, *args, **kwargs)

    rng = np.random.default_rng(0)
    q, ref = rng.normal(size=(300, 8)).astype(np.float32), rng.normal(size=(500, 8)).astype(np.float32)
    monkeypatch.setattr(faiss.IndexFlatL2, "search", search)
    got = nearest(q, ref, 2, method="exact")
    assert seen == [nb._QUERY_BLOCK]
    assert faiss.cvar.distance_compute_blas_query_bs == before
    want = NearestNeighbors(n_neighbors=2).fit(ref).kneighbors(q, return_distance=False)
    assert (got.indices == want).mean() > 0.99
