"""Splitting independent numpy work over the cores this process may use, in threads; BLAS on one thread.

The evaluation's heavy steps are loops of independent numpy calls (a bootstrap replicate, a pair
of columns) whose kernels release the GIL: random draws, counting, array arithmetic. Threads
share the arrays without copying them, so a loop split into contiguous chunks runs on every
core at no memory cost. Each chunk writes its own slots of a preallocated output, so the result
does not depend on the number of threads or on their order.
"""

from __future__ import annotations

import functools
import itertools
import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, TypeVar, cast

from threadpoolctl import ThreadpoolController

__all__ = [
    "PARALLEL_RECORDS",
    "available_cores",
    "cores_for",
    "map_over_cores",
    "one_blas_thread",
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


# -- BLAS threads -------------------------------------------------------------------------------
_BLAS_LOCK = threading.Lock()
_blas_users = 0
_blas_limiter: Any = None


@functools.cache
def _blas() -> ThreadpoolController:
    """The BLAS libraries loaded so far, found once (finding them takes tens of ms)."""
    return ThreadpoolController()


@contextmanager
def one_blas_thread() -> Iterator[None]:
    """BLAS on one thread while inside: the replicate products are short, and on a shared machine
    a second BLAS thread spins for CPU time that another process needs.

    BLAS has one setting for the whole process, so uses that overlap (nested, or in threads of
    :func:`split_over_cores`) share it: the first in sets one thread, the last out restores what
    was there. (A plain ``threadpool_limits`` per use would let the first out lift the limit under
    the others, and the last out leave BLAS on one thread for good.)
    """
    global _blas_users, _blas_limiter
    with _BLAS_LOCK:
        if _blas_users == 0:
            _blas_limiter = _blas().limit(limits=1, user_api="blas")
        _blas_users += 1
    try:
        yield
    finally:
        with _BLAS_LOCK:
            _blas_users -= 1
            if _blas_users == 0:
                _blas_limiter.restore_original_limits()
                _blas_limiter = None
