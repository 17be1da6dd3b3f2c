"""Splitting loops over cores: every item once, whatever the number of threads; errors surface."""

from __future__ import annotations

import threading
from collections.abc import Callable
from contextlib import AbstractContextManager

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from medsyn.evaluate import Scorecard
from medsyn.evaluate._parallel import available_cores, cores_for, map_over_cores, split_over_cores


@settings(max_examples=60, deadline=None)
@given(n_items=st.integers(0, 200), workers=st.integers(1, 6))
def test_every_item_is_done_once(n_items: int, workers: int) -> None:
    done = np.zeros(n_items, dtype=np.int64)

    def work(items: range) -> None:
        for i in items:
            done[i] += 1  # each chunk writes only its own slots

    split_over_cores(work, n_items, workers=workers)
    assert np.array_equal(done, np.ones(n_items, dtype=np.int64))


@settings(max_examples=40, deadline=None)
@given(n_items=st.integers(0, 120), workers=st.integers(1, 5), per_thread=st.integers(1, 10))
def test_map_keeps_the_order_of_the_items(n_items: int, workers: int, per_thread: int) -> None:
    out = map_over_cores(lambda i: i * i, n_items, per_thread=per_thread, workers=workers)
    assert out == [i * i for i in range(n_items)]


def test_small_tables_stay_on_one_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    import medsyn.evaluate._parallel as parallel

    monkeypatch.setattr(parallel, "available_cores", lambda: 4)
    assert cores_for(parallel.PARALLEL_RECORDS - 1) == 1
    assert cores_for(parallel.PARALLEL_RECORDS) == 4


def test_long_loops_run_their_chunks_at_the_same_time() -> None:
    together = threading.Barrier(3, timeout=10)  # breaks unless three chunks run at once

    def work(items: range) -> None:
        together.wait()

    split_over_cores(work, 100, workers=3)


@pytest.mark.parametrize(
    ("n_items", "per_thread", "workers", "chunks"),
    [
        (20, 8, 3, [range(10), range(10, 20)]),  # two threads' worth of items, not three
        (4, 8, 3, [range(4)]),  # too short to be worth a thread
        (100, 1, 1, [range(100)]),
        (9, 1, 3, [range(3), range(3, 6), range(6, 9)]),
    ],
)
def test_chunks_are_contiguous_and_sized_by_per_thread(
    n_items: int, per_thread: int, workers: int, chunks: list[range]
) -> None:
    seen: list[tuple[range, str]] = []
    lock = threading.Lock()

    def work(items: range) -> None:
        with lock:
            seen.append((items, threading.current_thread().name))

    split_over_cores(work, n_items, per_thread=per_thread, workers=workers)
    assert sorted((r for r, _ in seen), key=lambda r: r.start) == chunks
    first = next(name for r, name in seen if r.start == 0)
    assert first == threading.current_thread().name  # the caller takes the first chunk


def test_an_error_in_any_chunk_is_raised() -> None:
    def work(items: range) -> None:
        if 90 in items:
            raise ValueError("item 90 failed")

    with pytest.raises(ValueError, match="item 90"):
        split_over_cores(work, 100, workers=4)


def test_available_cores_follow_the_affinity_else_the_cpu_count(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 2, 5}, raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    assert available_cores() == 3  # the cores this process may use, not the machine's
    monkeypatch.delattr(os, "sched_getaffinity")  # macOS, Windows
    assert available_cores() == 8
    monkeypatch.setattr(os, "cpu_count", lambda: None)
    assert available_cores() == 1


Card = list[tuple[str, float, tuple[float, float] | None, tuple[float, ...]]]


def _alone_and_split(monkeypatch: pytest.MonkeyPatch, run: Callable[[], Scorecard]) -> tuple[Card, Card]:
    """Every result of ``run()`` on one thread, then with every loop split over three."""
    import medsyn.evaluate._parallel as parallel

    def card() -> Card:
        sc = run()
        assert not sc.errors
        return [(r.metric, r.value, r.ci, r.replicates) for r in sc.results]

    monkeypatch.setattr(parallel, "available_cores", lambda: 1)
    alone = card()
    monkeypatch.setattr(parallel, "available_cores", lambda: 3)
    monkeypatch.setattr(parallel, "PARALLEL_RECORDS", 0)
    return alone, card()


def test_a_scorecard_is_the_same_whatever_the_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every metric whose loops split over cores (and their per-group twins) gives the same
    values, intervals and replicates on one thread and on several, on a real table."""
    from medsyn.evaluate import evaluate
    from tests.evaluate.tabular.conftest import ACTG, halves, real_table

    real, syn = halves(real_table(ACTG), size=500)
    names = [
        "ks_statistic",
        "wasserstein",
        "total_variation",
        "jensen_shannon",
        "correlation_difference",
        "contingency_similarity",
        "mutual_information_difference",
        "category_coverage",
        "ks_statistic_by_group",
        "contingency_similarity_by_group",
    ]

    alone, split = _alone_and_split(
        monkeypatch, lambda: evaluate(real, syn, metrics=names, protected=["gender"], n_bootstrap=24)
    )
    assert split == alone
    assert all(not np.isnan(value) for _, value, _, _ in alone)
    assert sum(len(replicates) == 24 for *_, replicates in alone) >= 7  # the replicates were compared too


def test_model_fits_side_by_side_give_the_same_scorecard(monkeypatch: pytest.MonkeyPatch) -> None:
    """Utility and augmentation fits run side by side in threads (each limiting its own OpenMP):
    nothing may change."""
    from medsyn.evaluate import evaluate
    from tests.evaluate.tabular.conftest import ACTG, halves, real_table

    real, rest = halves(real_table(ACTG), size=700)
    syn, hold = halves(rest)
    names = ["tstr_utility", "augmentation_gain", "feature_importance_agreement"]

    alone, split = _alone_and_split(
        monkeypatch, lambda: evaluate(real, syn, hold, metrics=names, target="cens", n_bootstrap=12)
    )
    assert split == alone
    assert [m for m, *_ in alone] == names
    assert all(not np.isnan(value) for _, value, _, _ in alone)


def test_one_blas_thread_limits_numpys_blas_and_restores_it() -> None:
    from threadpoolctl import threadpool_info, threadpool_limits

    from medsyn.evaluate._parallel import one_blas_thread

    def numpy_blas() -> set[int]:  # the BLAS behind numpy's matrix products
        found = [i for i in threadpool_info() if i["user_api"] == "blas" and "numpy" in i["filepath"]]
        return {int(i["num_threads"]) for i in found}

    if not numpy_blas():
        pytest.skip("numpy's BLAS is not a library threadpoolctl knows")
    with threadpool_limits(limits=2, user_api="blas"):
        with one_blas_thread():
            assert numpy_blas() == {1}
            with one_blas_thread():  # nested: still one
                assert numpy_blas() == {1}
            assert numpy_blas() == {1}  # the inner exit does not lift the outer limit
        assert numpy_blas() == {2}


def _overlapping(monkeypatch: pytest.MonkeyPatch, hold: Callable[[], AbstractContextManager[None]]) -> list[str]:
    """Threads A and B hold ``hold()`` overlapping (A in, B in, A out, B out) under a controller
    that records each limit and restore, and in which thread, instead of applying it."""
    import medsyn.evaluate._parallel as parallel

    events: list[str] = []

    class _Limiter:
        def __init__(self, what: str) -> None:
            self.what = what

        def restore_original_limits(self) -> None:
            events.append(f"restore {self.what} in {threading.current_thread().name}")

    class _Controller:
        def limit(self, *, limits: int, user_api: str) -> _Limiter:
            events.append(f"limit {user_api} to {limits} in {threading.current_thread().name}")
            return _Limiter(user_api)

    monkeypatch.setattr(parallel, "_controller", lambda **_: _Controller())
    a_in, b_in, a_out = threading.Event(), threading.Event(), threading.Event()

    def thread_a() -> None:
        with hold():
            a_in.set()
            b_in.wait(10)
        events.append("A out")
        a_out.set()

    def thread_b() -> None:
        a_in.wait(10)
        with hold():
            b_in.set()
            a_out.wait(10)
            events.append("B still in")

    threads = [threading.Thread(target=thread_a, name="A"), threading.Thread(target=thread_b, name="B")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return events


def test_overlapping_uses_of_one_blas_thread_share_one_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    """The process-wide BLAS limit is set once (by A, the first in) and restored once (by B, the
    last out), so B keeps it after A leaves."""
    from medsyn.evaluate._parallel import one_blas_thread

    assert _overlapping(monkeypatch, one_blas_thread) == [
        "limit blas to 1 in A",
        "A out",
        "B still in",
        "restore blas in B",
    ]


def test_openmp_is_limited_in_each_thread_that_asks(monkeypatch: pytest.MonkeyPatch) -> None:
    """OpenMP's setting is per thread: two overlapping fits each limit and restore their own,
    while the process-wide BLAS limit is set once and restored once."""
    from medsyn.evaluate._parallel import one_native_thread

    assert _overlapping(monkeypatch, one_native_thread) == [
        "limit blas to 1 in A",
        "limit openmp to 1 in A",
        "limit openmp to 1 in B",
        "restore openmp in A",
        "A out",
        "B still in",
        "restore openmp in B",
        "restore blas in B",
    ]


def test_one_native_thread_limits_openmp_and_blas_and_restores_them() -> None:
    import sklearn.ensemble  # noqa: F401  (loads the OpenMP runtime its gradient boosting uses)
    from threadpoolctl import threadpool_info, threadpool_limits

    from medsyn.evaluate._parallel import one_blas_thread, one_native_thread

    def threads_by_api() -> dict[str, set[int]]:
        out: dict[str, set[int]] = {}
        for i in threadpool_info():
            out.setdefault(i["user_api"], set()).add(int(i["num_threads"]))
        return out

    if set(threads_by_api()) != {"blas", "openmp"}:
        pytest.skip("needs both a BLAS library and an OpenMP runtime loaded")
    with threadpool_limits(limits=2):
        before = threads_by_api()
        with one_native_thread():
            assert threads_by_api() == {"blas": {1}, "openmp": {1}}
            with one_blas_thread():
                assert threads_by_api() == {"blas": {1}, "openmp": {1}}
            assert threads_by_api() == {"blas": {1}, "openmp": {1}}
        assert threads_by_api() == before == {"blas": {2}, "openmp": {2}}
        seen: list[set[int]] = []

        def worker() -> None:  # OpenMP's setting is the worker's own: it must be limited there
            with one_native_thread():
                seen.append(threads_by_api()["openmp"])

        t = threading.Thread(target=worker)
        t.start()
        t.join()
        assert seen == [{1}]
