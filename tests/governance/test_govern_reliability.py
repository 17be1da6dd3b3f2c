"""Killed and concurrent governed operations: no half-registered data set, a ledger that verifies.

A worker process registers small tables and runs governed operations that register outputs,
in a loop. The parent SIGKILLs it at random moments (seeded) and, after every kill, checks the
whole workspace: the ledger verifies, every catalogued data set is whole in the store, and a
data set made by an operation has that operation, its lineage edges and the closing ledger
entry that names it. Then several workers write to one workspace at once.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from medsyn.governance import Identity, Workspace
from medsyn.governance._db import datasets, lineage_edges, operations, read
from medsyn.governance._store import ObjectRef

WORKER = r"""
import sys
from pathlib import Path
from medsyn.governance import Governor, Workspace

root, tag, count = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
ws = Workspace.open(root)
env = {"MEDSYN_ROLE": "data_steward", "MEDSYN_USER": f"worker-{tag}"}
fields = dict(kind="identifiable", sensitivity="special_category", owner_site="st-mary",
              legal_basis="art6-1-e,art9-2-j", purposes=("research",), retention="P10Y")
data = root.parent / f"data-{tag}"
data.mkdir(exist_ok=True)
start = len(list(data.glob("in-*.csv")))
for i in range(start, start + count):
    src = data / f"in-{i}.csv"
    rows = "".join(f"{20 + j % 60},{'FM'[j % 2]},{tag}{i * 1000 + j}\n" for j in range(200))
    src.write_text("age,sex,value\n" + rows)
    gov = Governor(ws, purpose="research", env=env)
    gov.register(src, name=f"t{tag}-{i}", **fields)
    out = data / f"out-{i}.csv"
    with gov.operation("anonymize", parameters={"i": i}) as op:
        ds = op.read(f"t{tag}-{i}")
        ds.data.head(50).to_csv(out, index=False)
        op.output(out, kind="anonymised", role="anonymised", privacy={"k_reached": 1})
    print(i, flush=True)
"""


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    ws = Workspace.init(tmp_path / "ws", site="st-mary", identity=Identity("sam", "data_steward", "st-mary"))
    ws.record_creation()
    return ws


def _start(ws: Workspace, tag: str, count: int) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    return subprocess.Popen(
        [sys.executable, "-c", WORKER, str(ws.root), tag, str(count)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def _check_consistent(ws: Workspace) -> int:
    """Every invariant a crash must not break; returns the number of data sets."""
    verification = ws.ledger.verify()
    assert verification.ok, verification.problems
    bodies = {e.seq: json.loads(e.entry.canonical_bytes(e.seq)) for e in ws.ledger.entries()}
    with read(ws.engine) as conn:
        rows = conn.execute(select(datasets)).all()
        ops = {r.id: r for r in conn.execute(select(operations)).all()}
        edges = conn.execute(select(lineage_edges)).all()
    for row in rows:
        ref = ObjectRef(row.object_key, row.object_type, row.size_bytes)
        assert ws.store.verify(ref) == [], f"{row.name}: its object is not whole"
        if row.operation_id is None:  # registered by hand: the closing 'register' entry names it
            assert any(b["action"] == "register" and row.version in b["outputs"] for b in bodies.values())
            continue
        op = ops[row.operation_id]
        assert op.ledger_seq in bodies
        assert row.version in bodies[op.ledger_seq]["outputs"]
        assert any(e.version == row.version and e.direction == "out" for e in edges)
    for op in ops.values():
        assert op.ledger_seq is not None
        assert bodies[op.ledger_seq]["outcome"] == "ok"
    return len(rows)


def _kill_rounds(workspace: Workspace, rounds: int, seed: int) -> None:
    rng = random.Random(seed)
    made = 0
    for r in range(rounds):
        proc = _start(workspace, "k", 1000)
        time.sleep(rng.uniform(1.0, 3.5))  # the worker spends ~1 s importing, then loops
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        now = _check_consistent(workspace)
        assert now >= made, f"round {r}: data sets disappeared"
        made = now
    assert made > 0, "the worker never registered anything: the kills came too early"


def test_sigkill_at_random_points_leaves_a_consistent_workspace(workspace: Workspace) -> None:
    _kill_rounds(workspace, rounds=6, seed=7)


@pytest.mark.slow
def test_sigkill_many_times(workspace: Workspace) -> None:
    _kill_rounds(workspace, rounds=40, seed=11)


def test_concurrent_writers_lose_nothing(workspace: Workspace) -> None:
    procs = [_start(workspace, tag, 6) for tag in ("a", "b", "c")]
    for p in procs:
        _out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
    assert _check_consistent(workspace) == 3 * 6 * 2  # each round: the input and its output
    actions = [json.loads(e.entry.canonical_bytes(e.seq))["outcome"] for e in workspace.ledger.entries()]
    # per round: register (started, ok) and anonymize (started, ok); plus the creation entry
    assert len(actions) == 1 + 3 * 6 * 4
    assert actions.count("ok") == 1 + 3 * 6 * 2
