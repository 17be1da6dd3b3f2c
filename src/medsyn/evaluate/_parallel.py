"""Splitting independent numpy work over the cores this process may use, in threads; BLAS on one thread.

The evaluation's heavy steps are loops of independent numpy calls (a bootstrap replicate, a pair
of columns) whose kernels release the GIL: random draws, counting, array arithmetic. Threads
share the arrays without copying them, so a loop split into contiguous chunks runs on every
core at no memory cost. Each chunk writes its own slots of a preallocated output, so the result
does not depend on the number of threads or on their order.
"""

from __future__ import annotations

import itertools
import os
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager
from typing import Any, TypeVar, cast

from threadpoolctl import ThreadpoolController

__all__ = [
    "PARALLEL_RECORDS",
    "available_cores",
    "cores_for",
    "map_over_cores",
    "one_blas_thread",
    "one_native_thread",
    "split_over_cores",
]

T = TypeVar("T")

#: Records per side from which the evaluation's loops split over cores. Below it each item is so
#: short that the threads spend longer handing the GIL to each other than they save (the quality
#: metrics on 2 cores, medians of 8: 10k records 0.22 s on one thread, 0.27 s on two; 50k 0.51 s
#: on one, 0.44 s on two).
PARALLEL_RECORDS = 25_000


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity where the platform reports it)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS and Windows have no affinity call
        return max(1, os.cpu_count() or 1)


def cores_for(records: int) -> int:
    """Threads worth using on loops over data of ``records`` records per side (see :data:`PARALLEL_RECORDS`)."""
    return available_cores() if records >= PARALLEL_RECORDS else 1


def split_over_cores(
    work: Callable[[range], None], n_items: int, *, per_thread: int = 1, workers: int | None = None
) -> None:
    """Run ``work`` on contiguous chunks of ``range(n_items)``, one chunk per core, and wait.

    A thread gets at least ``per_thread`` items (cheap items are not worth a thread each), and
    the calling thread takes the first chunk. ``work`` must only write its own items' outputs.
    An exception in any chunk is raised here after every chunk has finished.
    """
    n_workers = min(workers or available_cores(), max(1, n_items // max(per_thread, 1)))
    if n_workers <= 1:
        work(range(n_items))
        return
    bounds = [n_items * k // n_workers for k in range(n_workers + 1)]
    chunks = [range(lo, hi) for lo, hi in itertools.pairwise(bounds)]
    with ThreadPoolExecutor(max_workers=n_workers - 1, thread_name_prefix="medsyn-eval") as pool:
        futures = [pool.submit(work, chunk) for chunk in chunks[1:]]
        work(chunks[0])
        for future in futures:
            future.result()


def map_over_cores(
    item: Callable[[int], T], n_items: int, *, per_thread: int = 1, workers: int | None = None
) -> list[T]:
    """``[item(i) for i in range(n_items)]``, the items split over cores as :func:`split_over_cores` does."""
    out: list[T | None] = [None] * n_items

    def work(chosen: range) -> None:
        for i in chosen:
            out[i] = item(i)

    split_over_cores(work, n_items, per_thread=per_thread, workers=workers)
    return cast("list[T]", out)


# -- native thread pools (BLAS, OpenMP) ----------------------------------------------------------
# OpenBLAS has one thread setting for the whole process, so BLAS limits that overlap (nested, or
# in the threads of split_over_cores) share one: the first holder sets it, the last one out
# restores what was there. (A threadpoolctl limit per use would let the first one out lift the
# limit from under the others, and the last one out leave BLAS limited for good.) OpenMP's
# setting belongs to each thread, so each thread limits and restores its own.
_BLAS_LOCK = threading.Lock()
_blas_holders = 0
_blas_limiter: Any = None
#: The thread pools found, and how many modules Python had then. A lookup scans every loaded
#: library (5–30 ms), so it is done once, at the first limit (numpy's BLAS, which runs our matrix
#: products, is loaded by then), and again only for model fits after more modules were imported
#: (fits also use SciPy's BLAS and OpenMP): the short replicate products pay for at most one.
_found: tuple[int, ThreadpoolController] | None = None


def _controller(*, refresh: bool) -> ThreadpoolController:
    global _found
    if _found is None or (refresh and _found[0] != len(sys.modules)):
        _found = (len(sys.modules), ThreadpoolController())
    return _found[1]


@contextmanager
def _blas_held(*, refresh: bool) -> Iterator[None]:
    global _blas_holders, _blas_limiter
    with _BLAS_LOCK:
        _blas_holders += 1
        if _blas_holders == 1:
            _blas_limiter = _controller(refresh=refresh).limit(limits=1, user_api="blas")
    try:
        yield
    finally:
        with _BLAS_LOCK:
            _blas_holders -= 1
            if _blas_holders == 0:
                _blas_limiter.restore_original_limits()
                _blas_limiter = None


def one_blas_thread() -> AbstractContextManager[None]:
    """BLAS on one thread while inside: the replicate products are short, and on a shared machine
    a second BLAS thread spins for CPU time that another process needs."""
    return _blas_held(refresh=False)


@contextmanager
def one_native_thread() -> Iterator[None]:
    """BLAS and (in this thread) OpenMP on one thread while inside: for model fits, which run side
    by side in threads instead (spinning OpenMP threads on a busy machine cost many times the fit)."""
    with _blas_held(refresh=True):
        limiter = _controller(refresh=True).limit(limits=1, user_api="openmp")
        try:
            yield
        finally:
            limiter.restore_original_limits()
