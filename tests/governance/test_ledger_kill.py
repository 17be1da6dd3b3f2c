"""A process appending (and signing checkpoints) SIGKILLed at random moments, over and over: after every
kill the ledger verifies and holds every batch the process had seen committed.

The appender is forked from the test process (a separate process, killed like any other, but
started in milliseconds), so twenty kills take seconds; ``test_ledger_concurrency`` runs fresh
interpreters."""

from __future__ import annotations

import os
import random
import signal
import time
import traceback
from pathlib import Path
from typing import NoReturn

import pytest

from medsyn.governance import _db
from medsyn.governance._ledger import Ledger, LedgerEntry
from medsyn.governance._signing import Signer

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork and SIGKILL (POSIX)")


def _appender(db: Path, seed: int, out: int) -> NoReturn:
    """The forked child: append batches of random sizes, sign a checkpoint now and then, until killed.

    A line goes to ``out`` only after its commit returned, so every line names durable entries.
    """
    try:
        rng = random.Random(seed)
        ledger = Ledger(_db.connect(f"sqlite:///{db}"), Signer.from_seed(bytes(32)))
        batch = 0
        while True:
            k = rng.choice([1, 1, 2, 5, 20, 100])
            receipts = ledger.append_many(
                LedgerEntry(
                    actor={"user": "killme"}, action="test.append", parameters={"run": seed, "b": batch, "k": j}
                )
                for j in range(k)
            )
            os.write(out, f"committed {receipts[-1].seq}\n".encode())
            batch += 1
            if batch % 4 == 0:
                os.write(out, f"signed {ledger.checkpoint().size}\n".encode())
    except BaseException:
        os.write(out, ("error " + traceback.format_exc().replace("\n", " | ") + "\n").encode())
    finally:
        os._exit(1)


def _read_all(fd: int) -> str:
    chunks = []
    while chunk := os.read(fd, 65536):
        chunks.append(chunk)
    os.close(fd)
    return b"".join(chunks).decode()


def kill_many(tmp_path: Path, kills: int, seed: int) -> None:
    """Fork an appender (a real process, started without re-importing anything), SIGKILL it at a random
    moment, check the ledger; ``kills`` times over the same database."""
    rng = random.Random(seed)
    db = tmp_path / "ws.db"
    engine = _db.connect(f"sqlite:///{db}")
    _db.metadata.create_all(engine)
    ledger = Ledger(engine, Signer.from_seed(bytes(32)))
    size, signed = 0, 0
    for k in range(kills):
        engine.dispose()  # no open database file descriptors cross the fork
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child
            os.close(read_end)
            _appender(db, seed * 1000 + k, write_end)
        os.close(write_end)
        time.sleep(rng.uniform(0.0, 0.25))
        os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
        out = _read_all(read_end)
        assert os.WIFSIGNALED(status), out
        assert os.WTERMSIG(status) == signal.SIGKILL, out
        committed = [int(line.split()[1]) for line in out.splitlines() if line.startswith("committed")]
        heads = [int(line.split()[1]) for line in out.splitlines() if line.startswith("signed")]

        result = ledger.verify()
        assert result.ok, (k, result.problems)
        assert result.size >= max([size, *(c + 1 for c in committed)]), "a committed batch was lost"
        assert (result.latest_checkpoint or 0) >= max([signed, *heads])
        assert result.checkpoints_checked == result.checkpoints
        size, signed = result.size, result.latest_checkpoint or 0
    # the ledger goes on: append, sign, verify
    ledger.append(LedgerEntry(actor={"user": "after"}, action="test.after"))
    assert ledger.checkpoint().size == size + 1
    assert ledger.verify().ok
    assert signed > 0, "the appender never got as far as a checkpoint before being killed"
    engine.dispose()


def test_sigkill_at_random_points_leaves_a_ledger_that_verifies(tmp_path: Path) -> None:
    kill_many(tmp_path, kills=20, seed=7)


@pytest.mark.slow
def test_sigkill_many_times(tmp_path: Path) -> None:
    kill_many(tmp_path, kills=200, seed=11)
