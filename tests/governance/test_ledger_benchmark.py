"""``benchmarks/ledger.py --quick`` runs end to end and reports every number it promises."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_quick_benchmark_runs(tmp_path: Path) -> None:
    out = tmp_path / "ledger.json"
    run = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "ledger.py"), "--quick", "--out", str(out), "--dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    report = json.loads(out.read_text())
    assert [r["batch"] for r in report["appends"]] == [1, 100, 1000]
    assert all(r["per_s"] > 0 for r in report["appends"])
    assert [r["size"] for r in report["sizes"]] == [2000, 6000]
    for r in report["sizes"]:
        assert r["checkpoints_checked"] >= 2
        assert r["verify_cpu_s"] > 0
        assert r["hash_cpu_s"] > 0
        assert r["sha256_mb_s"] > 0
    assert "| durable appends |" in run.stdout
    assert "verify / hashing" in run.stdout
    assert not list(tmp_path.glob("medsyn-ledger-bench-*")), "the databases were left behind"
