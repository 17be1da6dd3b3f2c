"""Benchmark: the ledger's durable append rate, full verification, proofs, against raw SHA-256 speed.

Measured on a file database exactly as a workspace opens it (``_db.connect``: WAL,
``synchronous=FULL``, so every commit is fsynced):

- **appends/s** with batches of 1, 100 and 1000 entries per transaction (``Ledger.append_many``;
  the entries are built beforehand, so the rate is the ledger's: canonical JSON, two SHA-256, one
  insert per entry, one commit per batch);
- a ledger grown to each ``--sizes`` (checkpoints signed at half and full size), then
  ``Ledger.verify()`` over all of it (leaf hashes, chain, index columns, Merkle root, checkpoint
  roots and signatures) in one process, and again on every core (``workers=os.cpu_count()``),
  then ``prove_inclusion`` and ``prove_consistency`` at that size;
- the anchor: the same number of SHA-256 calls done by a bare ``hashlib`` loop (a leaf hash of a
  body of the ledger's average size, a 64-byte chain link and a 65-byte Merkle node per entry),
  and the C-speed bound (the same bytes, padding included, at ``hashlib``'s one-buffer
  throughput). ``verify / hashing`` says how much verification costs beyond the hashing any
  Python verifier must do.

Wall and CPU seconds are both reported: on a shared machine the CPU time is what the work
itself took. Run ``python benchmarks/ledger.py`` (100k and 1M entries; the 1M ledger takes
minutes to build) or ``--quick`` (a smoke run; a test runs it).
"""

from __future__ import annotations

import argparse
import hashlib
import math
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

from _harness import CACHE, heading, log, machine, record, write_json
from medsyn.governance import _db
from medsyn.governance._ledger import Ledger, LedgerEntry
from medsyn.governance._ledger_parallel import RANGE
from medsyn.governance._signing import Signer

APPEND_TARGET = 10_000  # durable appends/s, batched
VERIFY_TARGET_S = 10.0  # verify 1M entries
BATCHES = (1, 100, 1000)


def _entry(i: int) -> LedgerEntry:
    """A realistic entry: an operation on one data set version producing another, with parameters."""
    return LedgerEntry(
        actor={"user": f"user{i % 17}", "role": "data_scientist", "site": f"site{i % 3}"},
        action=("synth.sample", "anonymize", "evaluate", "register")[i % 4],
        purpose="research",
        legal_basis="GDPR Art. 9(2)(j)",
        inputs=[hashlib.sha256(b"in%d" % i).hexdigest()],
        outputs=[hashlib.sha256(b"out%d" % i).hexdigest()],
        parameters={"n": 500 + i % 1000, "seed": i, "generator": "cart", "epsilon": 1.0},
        decision="allow",
        rule="scientists-may-synthesise",
        outcome="ok",
        result_digest=hashlib.sha256(b"res%d" % i).hexdigest(),
        facts={"rows": 500 + i % 1000},
    )


def _clock() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def _since(t0: tuple[float, float]) -> tuple[float, float]:
    wall, cpu = _clock()
    return wall - t0[0], cpu - t0[1]


def _open(path: Path) -> Ledger:
    engine = _db.connect(f"sqlite:///{path}")
    _db.metadata.create_all(engine)
    return Ledger(engine, Signer.from_seed(bytes(32)))


def bench_appends(root: Path, counts: dict[int, int]) -> list[dict[str, Any]]:
    rows = []
    for batch, count in counts.items():
        ledger = _open(root / f"append-{batch}.db")
        ledger.append(_entry(0))  # open the file, create the WAL
        entries = [_entry(i) for i in range(1, count + 1)]
        load = os.getloadavg()[0]
        t0 = _clock()
        for i in range(0, count, batch):
            ledger.append_many(entries[i : i + batch])
        wall, cpu = _since(t0)
        assert ledger.verify().ok
        ledger.engine.dispose()
        rows.append(
            {"batch": batch, "entries": count, "wall_s": wall, "cpu_s": cpu, "per_s": count / wall, "load": load}
        )
        log(f"append batch={batch}: {count / wall:,.0f}/s ({count} entries in {wall:.2f}s, cpu {cpu:.2f}s)")
    return rows


def _timed(fn: Callable[[], Any]) -> tuple[Any, float, float, float]:
    load = os.getloadavg()[0]
    t0 = _clock()
    out = fn()
    wall, cpu = _since(t0)
    return out, wall, cpu, load


def pure_hashing(n: int, body_len: int) -> dict[str, float]:
    """A bare hashlib loop doing the SHA-256 calls a verification of ``n`` entries needs, and the C bound."""
    chunk = min(n, 100_000)
    bodies = [os.urandom(body_len) for _ in range(chunk)]
    sha = hashlib.sha256
    t0 = _clock()
    done = 0
    while done < n:
        k = min(chunk, n - done)
        leaves = [sha(b"\x00" + b).digest() for b in bodies[:k]]
        links = [sha(p + q).digest() for p, q in zip([bytes(32), *leaves[:-1]], leaves, strict=True)]
        _ = [sha(b"\x01" + p + q).digest() for p, q in zip(leaves, links, strict=True)]
        done += k
    wall, cpu = _since(t0)
    big = os.urandom(64 << 20)
    t1 = time.perf_counter()
    sha(big).digest()
    throughput = len(big) / (time.perf_counter() - t1)

    def padded(size: int) -> int:
        return math.ceil((size + 9) / 64) * 64

    total = n * (padded(body_len + 1) + padded(64) + padded(65))
    return {"wall_s": wall, "cpu_s": cpu, "throughput_mb_s": throughput / 1e6, "c_bound_s": total / throughput}


def bench_sizes(root: Path, sizes: Sequence[int], build_batch: int) -> list[dict[str, Any]]:
    ledger = _open(root / "grow.db")
    out = []
    have, build_wall, build_cpu = 0, 0.0, 0.0
    for size in sorted(sizes):
        log(f"growing the ledger to {size:,} entries …")
        for target in (size // 2, size):
            while have < target:
                k = min(build_batch, target - have)
                entries = [_entry(i) for i in range(have, have + k)]
                t0 = _clock()
                ledger.append_many(entries)
                wall, cpu = _since(t0)
                build_wall, build_cpu, have = build_wall + wall, build_cpu + cpu, have + k
            if target:
                ledger.checkpoint()
        result, v_wall, v_cpu, v_load = _timed(partial(ledger.verify, workers=1))
        assert result.ok, result.problems[:5]
        log(f"verify {size:,}: {v_wall:.2f}s wall, {v_cpu:.2f}s cpu (load {v_load:.1f})")
        cores = os.cpu_count() or 1
        p_wall: float | None = None
        p_cpu: float | None = None
        if cores > 1 and size >= 2 * RANGE:
            before = os.times()
            parallel, p_wall, p_cpu, p_load = _timed(partial(ledger.verify, workers=cores))
            after = os.times()
            p_cpu += after.children_user + after.children_system - before.children_user - before.children_system
            assert parallel.ok
            assert parallel.root == result.root
            log(f"verify {size:,} on {cores} processes: {p_wall:.2f}s wall, {p_cpu:.2f}s cpu (load {p_load:.1f})")
        _, i_wall, i_cpu, _ = _timed(partial(ledger.prove_inclusion, size // 3))
        _, c_wall, c_cpu, _ = _timed(partial(ledger.prove_consistency, size // 2))

        def append_and_sign(i: int = have) -> None:
            ledger.append(_entry(i))
            ledger.checkpoint()

        _, cp_wall, cp_cpu, _ = _timed(append_and_sign)
        have += 1
        with _db.read(ledger.engine) as conn:
            body_len = int(conn.exec_driver_sql("SELECT avg(length(body)) FROM ledger_entries").scalar() or 0)
        log(f"pure hashing for {size:,} entries of {body_len} bytes …")
        hashing = pure_hashing(size, body_len)
        out.append(
            {
                "size": size,
                "body_bytes": body_len,
                "verify_wall_s": v_wall,
                "verify_cpu_s": v_cpu,
                "verify_load": v_load,
                "verify_processes": cores,
                "verify_parallel_wall_s": p_wall,
                "verify_parallel_cpu_s": p_cpu,
                "checkpoints_checked": result.checkpoints_checked,
                "inclusion_wall_s": i_wall,
                "inclusion_cpu_s": i_cpu,
                "consistency_wall_s": c_wall,
                "consistency_cpu_s": c_cpu,
                "checkpoint_after_one_append_wall_s": cp_wall,
                "checkpoint_after_one_append_cpu_s": cp_cpu,
                "hash_wall_s": hashing["wall_s"],
                "hash_cpu_s": hashing["cpu_s"],
                "sha256_mb_s": hashing["throughput_mb_s"],
                "c_bound_s": hashing["c_bound_s"],
                "bulk_append_per_s": have / build_wall if build_wall else None,
                "bulk_append_cpu_s": build_cpu,
            }
        )
    ledger.engine.dispose()
    return out


def render(report: dict[str, Any]) -> str:
    lines = heading(report)
    lines += ["", "| durable appends | entries | wall s | CPU s | appends/s | target |", "|---|--:|--:|--:|--:|---|"]
    for r in report["appends"]:
        target = "" if r["batch"] == 1 else f"≥ {APPEND_TARGET:,}/s " + ("✅" if r["per_s"] >= APPEND_TARGET else "❌")
        lines.append(
            f"| batch of {r['batch']} | {r['entries']:,} | {r['wall_s']:.2f} | {r['cpu_s']:.2f} | "
            f"{r['per_s']:,.0f} | {target} |"
        )
    lines += [
        "",
        "| entries | verify wall s | verify CPU s | on all cores wall s (CPU s) | bare SHA-256 loop CPU s "
        "| verify / hashing | C bound s | inclusion proof s | consistency proof s | checkpoint s |",
        "|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for r in report["sizes"]:
        par = r.get("verify_parallel_wall_s")
        par_text = (
            "–" if par is None else f"{par:.2f} ({r['verify_parallel_cpu_s']:.2f}), {r['verify_processes']} proc."
        )
        lines.append(
            f"| {r['size']:,} | {r['verify_wall_s']:.2f} | {r['verify_cpu_s']:.2f} | {par_text} | "
            f"{r['hash_cpu_s']:.2f} | {r['verify_cpu_s'] / r['hash_cpu_s']:.1f}× | {r['c_bound_s']:.3f} | "
            f"{r['inclusion_wall_s']:.2f} | {r['consistency_wall_s']:.2f} | "
            f"{r['checkpoint_after_one_append_wall_s']:.2f} |"
        )
    big = max(report["sizes"], key=lambda r: r["size"])
    if big["size"] >= 1_000_000:
        verdict = "✅" if big["verify_wall_s"] < VERIFY_TARGET_S else "❌"
    else:
        verdict = f"(not measured at 1M; linear extrapolation {big['verify_wall_s'] * 1e6 / big['size']:.1f} s)"
    lines += [
        "",
        f"Verify at {big['size']:,}: {big['verify_wall_s']:.1f} s wall ({big['verify_cpu_s']:.1f} s CPU), target "
        f"< {VERIFY_TARGET_S:g} s for 1M {verdict}; bodies average {big['body_bytes']} bytes; "
        f"SHA-256 runs at {big['sha256_mb_s']:,.0f} MB/s on one buffer here. Checkpoint s: append one entry and sign "
        "the new head (it re-hashes the entries after the previous checkpoint and the Merkle tree from stored leaves).",
    ]
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="smoke run: small sizes and counts")
    p.add_argument("--sizes", default="100000,1000000", help="ledger sizes to verify, comma-separated")
    p.add_argument("--dir", type=Path, default=None, help="where to build the databases (default: a temp folder)")
    p.add_argument("--keep", action="store_true", help="keep the databases")
    p.add_argument("--out", type=Path, default=CACHE / "ledger_results.json", help="JSON with every number")
    p.add_argument("--record", type=Path, default=None, help="append the Markdown tables to this file")
    p.add_argument("--label", default="Ledger: durable appends, verification, proofs")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    sizes = [2_000, 6_000] if args.quick else [int(s) for s in args.sizes.split(",")]
    counts = {1: 40, 100: 1_000, 1000: 3_000} if args.quick else {1: 500, 100: 20_000, 1000: 100_000}
    root = Path(tempfile.mkdtemp(prefix="medsyn-ledger-bench-", dir=args.dir))
    try:
        report = {
            "label": args.label,
            "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "command": " ".join([Path(sys.argv[0]).name, *(argv if argv is not None else sys.argv[1:])]),
            "machine": machine(),
            "appends": bench_appends(root, counts),
            "sizes": bench_sizes(root, sizes, build_batch=2_000 if args.quick else 20_000),
        }
        report["machine"]["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
        else:
            log(f"databases kept in {root}")
    write_json(args.out, report)
    record(render(report), args.record)
    log(f"every number: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
