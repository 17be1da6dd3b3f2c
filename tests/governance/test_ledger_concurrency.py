"""Several processes appending to one workspace ledger at once (and one signing checkpoints meanwhile):
every entry lands exactly once, each writer's entries stay in its order, and the chain verifies."""

from __future__ import annotations

import itertools
import subprocess
import sys
import time
from pathlib import Path

from medsyn.governance import _db
from medsyn.governance._ledger import Ledger
from medsyn.governance._signing import Signer

WRITER = r"""
import sys, time
from pathlib import Path
from medsyn.governance import _db
from medsyn.governance._ledger import Ledger, LedgerEntry
from medsyn.governance._signing import Signer

db, wid, n, go = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), Path(sys.argv[4])
ledger = Ledger(_db.connect(f"sqlite:///{db}"), Signer.from_seed(bytes(32)))
print("ready", flush=True)
while not go.exists():
    time.sleep(0.002)
if wid < 0:  # the checkpointer
    for _ in range(n):
        ledger.checkpoint()
        time.sleep(0.01)
    sys.exit(0)
i = 0
while i < n:
    k = min(1 if i % 3 else 4, n - i)  # single appends and small batches, interleaved
    ledger.append_many(
        LedgerEntry(actor={"user": f"w{wid}"}, action="test.write", parameters={"writer": wid, "i": j})
        for j in range(i, i + k)
    )
    i += k
    time.sleep(0.003)  # yield the write lock, so that writers interleave even on a busy machine
"""


def test_concurrent_writers_lose_nothing(tmp_path: Path) -> None:
    db = tmp_path / "ws.db"
    engine = _db.connect(f"sqlite:///{db}")
    _db.metadata.create_all(engine)
    go = tmp_path / "go"
    writers, per_writer = 3, 60
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(db), str(w), str(n), str(go)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for w, n in [*[(w, per_writer) for w in range(writers)], (-1, 8)]
    ]
    for p in procs:
        assert p.stdout is not None
        assert p.stdout.readline().strip() == "ready", p.stderr.read() if p.stderr else ""
    go.touch()
    deadline = time.monotonic() + 120
    for p in procs:
        p.wait(timeout=max(1.0, deadline - time.monotonic()))
        assert p.returncode == 0, p.stderr.read() if p.stderr else ""

    ledger = Ledger(engine, Signer.from_seed(bytes(32)))
    result = ledger.verify()
    assert result.ok, result.problems
    assert result.size == writers * per_writer
    assert result.checkpoints_checked == result.checkpoints >= 1
    seen: dict[int, list[int]] = {w: [] for w in range(writers)}
    for stored in ledger.entries():
        params = stored.entry.parameters
        seen[int(params["writer"])].append(int(params["i"]))  # type: ignore[call-overload]
    for w in range(writers):
        assert seen[w] == list(range(per_writer)), w  # all there, once, in the writer's order
    # the writers really did interleave (otherwise the test shows nothing about concurrency)
    order = [int(s.entry.parameters["writer"]) for s in ledger.entries()]  # type: ignore[call-overload]
    switches = sum(a != b for a, b in itertools.pairwise(order))
    assert switches >= writers
    engine.dispose()
