"""Benchmark: medsyn's anonymisation at scale — optimal lattice search (8 QIs) and Mondrian (15 QIs).

Data: the real UCI "Diabetes 130-US hospitals" table (101,766 encounters,
``../shared/data/diabetes_130us_hospitals``), read with ``medsyn.data.read`` and
**bootstrap-resampled** (rows drawn with replacement, seeded) to ``--rows`` rows. Resampling
repeats real records, so classes are larger than in a real table of that size; it measures speed,
not how identifiable a real million-row table is.

Runs, each ``anonymize(..., utility=False)`` on the table in memory (encoding, search, release and
the re-check of every model on the released values; reading the file is not timed):

- ``optimal``: k=5, distinct l=2 on ``diag_1`` (ICD-9 primary diagnosis), at most 2% suppressed,
  minimising NCP over 8 quasi-identifiers: age band, gender, race, admission type,
  time in hospital, lab procedures, medications, number of diagnoses.
- ``mondrian``: the same models over 15 quasi-identifiers: the 8 above plus discharge
  disposition, admission source, payer code, procedures, outpatient, emergency and inpatient
  visit counts (all 15 are real columns of the table).

Targets (issue 5, at 1M rows): each under 60 s on this machine. ARX (Java) is not installed
here, so there is no ARX column; its published numbers are for orientation only.

    .venv/bin/python benchmarks/anonymize.py                 # 100,000 rows
    .venv/bin/python benchmarks/anonymize.py --rows 1000000  # the issue's size
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DIABETES = REPO.parent / "shared" / "data" / "diabetes_130us_hospitals" / "dataset_diabetes.zip"
MEMBER = "dataset_diabetes/diabetic_data.csv"

OPTIMAL_QIS = [
    "age",
    "gender",
    "race",
    "admission_type_id",
    "time_in_hospital",
    "num_lab_procedures",
    "num_medications",
    "number_diagnoses",
]
MONDRIAN_QIS = [
    *OPTIMAL_QIS,
    "discharge_disposition_id",
    "admission_source_id",
    "payer_code",
    "num_procedures",
    "number_outpatient",
    "number_emergency",
    "number_inpatient",
]
SENSITIVE = "diag_1"


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000, help="rows after bootstrap resampling (default 100,000)")
    parser.add_argument("--methods", default="optimal,mondrian", help="comma list: optimal, mondrian")
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--l", type=float, default=2)
    parser.add_argument("--max-suppression", type=float, default=0.02)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, help="write the numbers as JSON here")
    args = parser.parse_args(argv)

    sys.path.insert(0, str(REPO / "src"))
    from medsyn.data import TabularDataset, read
    from medsyn.privacy import Requirements, anonymize, flat_hierarchy

    if not DIABETES.exists():
        print(f"real data not found: {DIABETES} (see ../shared/data/INDEX.md)", file=sys.stderr)
        return 2
    started = time.perf_counter()
    real = read(DIABETES / MEMBER)
    assert isinstance(real, TabularDataset)
    rng = np.random.default_rng(args.seed)
    rows = rng.integers(0, len(real), size=args.rows)
    table = real.select(rows)
    print(
        f"diabetes_130us: {len(real):,} real encounters bootstrap-resampled (seed {args.seed}) to "
        f"{len(table):,} rows in {time.perf_counter() - started:.1f} s; peak {peak_mb():,.0f} MB"
    )
    req = Requirements(k=args.k, l=args.l, max_suppression=args.max_suppression)
    results = []
    for method in args.methods.split(","):
        qis = OPTIMAL_QIS if method == "optimal" else MONDRIAN_QIS
        # code columns (admission type, disposition, source) are categories, not quantities
        hierarchies = {
            c: flat_hierarchy(table.data[c], column=c)
            for c in ("admission_type_id", "discharge_disposition_id", "admission_source_id")
            if c in qis and method == "optimal"
        }
        t0 = time.perf_counter()
        result = anonymize(
            table,
            req,
            quasi_identifiers=qis,
            sensitive=SENSITIVE,
            method=method,
            hierarchies=hierarchies,
            utility=False,
        )
        seconds = time.perf_counter() - t0
        stats = result.search.to_dict()
        row = {
            "method": method,
            "rows": len(table),
            "quasi_identifiers": len(qis),
            "seconds": round(seconds, 2),
            "search_seconds": round(float(stats["seconds"]), 2),  # type: ignore[arg-type]
            "satisfied": result.satisfied,
            "suppressed": result.suppressed,
            "classes": result.loss_after.classes,
            "ncp": round(result.loss_after.ncp, 4),
            "entropy": round(result.loss_after.entropy, 4),
            "discernibility": result.loss_after.discernibility,
            "peak_mb": round(peak_mb()),
            "search": stats,
            "levels": None if result.levels is None else dict(result.levels),
            "checks": [c.to_dict() for c in result.checks],
        }
        results.append(row)
        what = (
            f"nodes {stats['nodes']:,}, checked {stats['checked']:,}, tagged {stats['tagged']:,}, "
            f"pruned {stats['pruned']:,}"
            if method == "optimal"
            else f"partitions {stats['partitions']:,}, rounds {stats['rounds']}, cuts tried {stats['cuts_tried']:,}"
        )
        print(
            f"{method:9s} {len(qis):2d} QIs  {seconds:6.1f} s (search {row['search_seconds']} s)  "
            f"{'OK' if result.satisfied else 'NOT SATISFIED'}  suppressed {result.suppressed:,}  "
            f"NCP {result.loss_after.ncp:.3f}  classes {result.loss_after.classes:,}  peak {row['peak_mb']:,} MB\n"
            f"          {what}" + (f"\n          levels {row['levels']}" if row["levels"] else "")
        )
        verdict = "PASS" if seconds < 60 else "FAIL"
        if len(table) >= 1_000_000:
            print(f"          target < 60 s at 1M rows: {verdict}")
    if args.out:
        args.out.write_text(json.dumps({"rows": args.rows, "seed": args.seed, "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
