"""Verifying a large SQLite ledger on several cores, with the same findings as the one-process pass.

The entries are cut into ranges of ``2**k`` consecutive positions. A worker process checks one
range exactly as :class:`~medsyn.governance._ledger_verify.LedgerChecker` does in one process
(leaf hashes, chain links from the stored hash before the range, positions, index columns) and
hands back its problems and, instead of the leaves, the roots of the perfect Merkle subtrees the
range is made of. The caller pushes those roots into its frontier in order and compares the
roots at the checkpoint sizes, so the hashing is spread over the cores and the assembly costs a
few hashes per range. A range holding a checkpoint size strictly inside it, or rows missing,
is folded from its leaves by the caller, as the one-process pass would; so is every range after
missing rows (its subtrees no longer sit where they were cut).

The problems found are the same as one process finds; a root mismatch may be listed after the
problems of the rest of its range rather than among them. Only for a SQLite file (workers open it
themselves); each worker reads its own snapshot, and rows appended while the check runs lie
beyond the size it was asked to check.
"""

from __future__ import annotations

import json
import os
import pickle
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from medsyn.governance import _merkle
from medsyn.governance._ledger_verify import GENESIS, SQLITE_ROWS, LedgerChecker, LedgerProblem

__all__ = ["RANGE", "check_parallel", "check_range", "worker_main"]

#: Entries per worker task (a power of two, so ranges are whole subtrees of the Merkle tree).
RANGE = 1 << 16
_FETCH = 20_000
_LOWEST = -(2**63)


@dataclass(frozen=True, slots=True)
class RangeResult:
    """What a worker found in one range: problems, and its leaves or its perfect subtrees' (height, root)."""

    problems: list[LedgerProblem]
    omitted: int
    start: int
    leaves: bytes  # the leaf hashes, concatenated (one object to pickle, not one per entry)
    nodes: list[tuple[int, bytes]]  # empty unless the range is complete and holds no checkpoint size


class _Collector(_merkle.Frontier):
    """A frontier that keeps the leaves it is given, for the worker to hand back or fold."""

    def __init__(self) -> None:
        super().__init__()
        self.leaves: list[bytes] = []

    def append(self, leaf: bytes) -> None:
        self.leaves.append(leaf)
        self.size += 1

    def extend(self, leaves: Sequence[bytes]) -> None:
        self.leaves.extend(leaves)
        self.size += len(leaves)


def check_range(path: str, start: int, stop: int, want_leaves: bool) -> RangeResult:
    """Check positions ``start <= seq < stop`` of the ledger in the SQLite file ``path`` (runs in a worker)."""
    con = sqlite3.connect(path, timeout=60, isolation_level=None)
    try:
        con.execute("PRAGMA query_only=ON")
        con.execute("BEGIN")
        before = con.execute(
            "SELECT seq, CAST(chain_hash AS BLOB) FROM ledger_entries WHERE seq < ? ORDER BY seq DESC LIMIT 1",
            (start,),
        ).fetchone()
        checker = LedgerChecker()
        collector = _Collector()
        checker.frontier = collector
        # as if the one-process pass had just read the row before this range
        checker.expected, checker.prev_chain = (int(before[0]) + 1, bytes(before[1])) if before else (0, GENESIS)
        cursor = con.execute(SQLITE_ROWS, (_LOWEST if start == 0 else start, stop))
        while rows := cursor.fetchmany(_FETCH):
            checker.feed(rows)
        con.execute("COMMIT")
    finally:
        con.close()
    leaves = collector.leaves
    nodes: list[tuple[int, bytes]] = []
    if not want_leaves and len(leaves) == stop - start:
        offset = 0
        for height in reversed(range(len(leaves).bit_length())):
            if len(leaves) >> height & 1:
                nodes.append((height, _merkle.subtree_root(leaves, offset, offset + (1 << height))))
                offset += 1 << height
    return RangeResult(checker.problems, checker.omitted, start, b"".join(leaves), nodes)


def worker_main() -> None:
    """A worker process: read ``[[start, stop, want_leaves], …]`` from stdin, check each range, and leave
    each result as ``<folder>/<start>.pickle`` (written beside, then renamed, so it appears whole)."""
    path, folder = sys.argv[1], Path(sys.argv[2])
    for start, stop, want in json.load(sys.stdin):
        result = check_range(path, int(start), int(stop), bool(want))
        tmp = folder / f"{start}.tmp"
        tmp.write_bytes(pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL))
        os.replace(tmp, folder / f"{start}.pickle")


def check_parallel(checker: LedgerChecker, path: str, size: int, workers: int, *, chunk: int = RANGE) -> None:
    """Check entries ``0 … size-1`` of the SQLite file ``path`` on ``workers`` processes into ``checker``.

    ``checker`` is a fresh :class:`LedgerChecker` holding the checkpoints to compare; afterwards
    its :meth:`~LedgerChecker.finish` gives what the one-process pass gives. The workers are
    fresh interpreters (not ``multiprocessing``), so the caller's ``__main__`` is never re-run;
    ranges are folded in order as their results appear.
    """
    if chunk & (chunk - 1) or chunk < 1:
        raise ValueError(f"the range size must be a power of two, not {chunk}")
    sizes = checker.head_sizes()
    ranges = [
        (a, min(a + chunk, size), any(a < s < min(a + chunk, size) for s in sizes)) for a in range(0, size, chunk)
    ]
    workers = max(1, min(workers, len(ranges)))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    code = "from medsyn.governance._ledger_parallel import worker_main; worker_main()"
    with tempfile.TemporaryDirectory(prefix="medsyn-verify-") as tmp:
        procs = []
        for j in range(workers):
            proc = subprocess.Popen(
                [sys.executable, "-c", code, path, tmp],
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                env=env,
            )
            assert proc.stdin is not None
            proc.stdin.write(json.dumps(ranges[j::workers]).encode())
            proc.stdin.close()
            procs.append(proc)
        try:
            for i, (start, _, _) in enumerate(ranges):
                result = _wait_for(Path(tmp) / f"{start}.pickle", procs[i % workers])
                checker.absorb(result.problems, result.omitted, result.start, result.leaves, result.nodes)
        finally:
            for proc in procs:
                if proc.poll() is None:
                    proc.kill()
                proc.wait()
                if proc.stderr is not None:
                    proc.stderr.close()


def _wait_for(file: Path, proc: subprocess.Popen[bytes]) -> RangeResult:
    """The result in ``file`` once its worker wrote it; a worker that died first raises with its error output."""
    while not file.exists():
        if proc.poll() is not None and not file.exists():
            err = proc.stderr.read().decode(errors="replace") if proc.stderr is not None else ""
            raise RuntimeError(f"a ledger verification worker stopped (exit {proc.returncode}): {err.strip()[-2000:]}")
        time.sleep(0.002)
    result = pickle.loads(file.read_bytes())
    file.unlink()
    if not isinstance(result, RangeResult):
        raise RuntimeError(f"{file}: not a range result")
    return result
