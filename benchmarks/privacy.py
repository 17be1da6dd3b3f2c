"""Benchmark: medsyn's measured privacy models beside pycanon, on the same tables, side by side.

Data: the real UCI "Diabetes 130-US hospitals" table (101,766 encounters), read with
``medsyn.data.read``, cut to 8 quasi-identifiers (race, gender, age band, admission type,
discharge disposition, admission source, payer code, medical specialty) and two sensitive
attributes (``readmitted``: text; ``time_in_hospital``: days), rows **resampled with
replacement** (seeded) to each size and written once to Parquet. A missing quasi-identifier value
is written back as the source's own marker ``?``, so it is one value of its own for both tools
(pycanon's ``groupby`` would otherwise drop those records).

Measured, each call on its own from the table in memory (both tools regroup the table every call):
k (k-anonymity), l (distinct l-diversity of ``readmitted``), t (t-closeness of ``readmitted``,
equal-distance EMD, and of ``time_in_hospital``, ordered EMD). Each tool runs in its own process:
medsyn from the caller's Python, pycanon from ``benchmarks/.venvs/pycanon`` (made on first use; it
pins its own numpy and pandas). Values must be identical: k and l exactly, t to 1e-12.

Run ``python benchmarks/privacy.py`` for a quick check (10,000 rows) and
``python benchmarks/privacy.py --sizes 100000,1000000`` for the comparison the issue asks for.
pycanon loops over classes in Python: on the shared 2-core machine it took 7.5 minutes at 100k
rows (t-closeness, ordered, alone 5.4 minutes), so at 1M rows give it ``--timeout`` hours, run it
on a quiet machine, and pick measures with ``--measures k,l,t_equal,t_ordered`` if needed.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from _harness import CACHE, SHARED, Steps, ensure_venv, failure, fmt, heading, log, machine, record, run_runner, speedup

DIABETES = SHARED / "diabetes_130us_hospitals" / "dataset_diabetes.zip" / "dataset_diabetes" / "diabetic_data.csv"
QUASI_IDENTIFIERS = [
    "race",
    "gender",
    "age",
    "admission_type_id",
    "discharge_disposition_id",
    "admission_source_id",
    "payer_code",
    "medical_specialty",
]
SENSITIVE_EQUAL = "readmitted"
SENSITIVE_ORDERED = "time_in_hospital"
MEASURES = {
    "k": "k-anonymity (k)",
    "l": "distinct l-diversity (readmitted)",
    "t_equal": "t-closeness, equal EMD (readmitted)",
    "t_ordered": "t-closeness, ordered EMD (time_in_hospital)",
}
RUNNERS = {"medsyn": "medsyn_privacy.py", "pycanon": "pycanon_measures.py"}
VENV_STEPS: dict[str, Steps] = {"pycanon": [(True, ["pycanon", "pyarrow"])]}
TARGET = 10.0
TOLERANCE = 1e-12
TIMED = (
    "each measure is one call on the table already in memory (no load, no imports); load s = reading the "
    "Parquet file; peak MB = the process's peak resident memory over load and all measures (Linux VmHWM)."
)


def prepare_table(rows: int, seed: int) -> tuple[Path, dict[str, Any]]:
    """The resampled table as Parquet in ``benchmarks/.cache`` (made once), with its ``.json`` sidecar."""
    path = CACHE / f"privacy_diabetes_{rows}_seed{seed}.parquet"
    meta_path = path.with_suffix(".json")
    if path.exists() and meta_path.exists():
        return path, json.loads(meta_path.read_text())
    import numpy as np
    import pandas as pd

    import medsyn.data

    if not DIABETES.parent.parent.exists():
        raise SystemExit(f"{DIABETES.parent.parent} is missing: the benchmark needs ../shared/data beside the checkout")
    log(f"preparing {path.name}: {rows} rows resampled with replacement from {DIABETES.name}")
    source = medsyn.data.read(DIABETES).data[[*QUASI_IDENTIFIERS, SENSITIVE_EQUAL, SENSITIVE_ORDERED]]
    frame = pd.DataFrame(
        {
            c: source[c].astype(object).where(source[c].notna(), "?")
            if source[c].dtype.kind not in "iuf"
            else source[c]
            for c in source.columns
        }
    )
    rng = np.random.default_rng(seed)
    frame = frame.iloc[rng.integers(0, len(frame), size=rows)].reset_index(drop=True)
    CACHE.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".parquet.tmp")
    frame.to_parquet(tmp, index=False)
    tmp.replace(path)
    meta = {
        "rows": rows,
        "quasi_identifiers": QUASI_IDENTIFIERS,
        "sensitive_equal": SENSITIVE_EQUAL,
        "sensitive_ordered": SENSITIVE_ORDERED,
        "source": "UCI Diabetes 130-US hospitals (diabetic_data.csv), 101,766 real encounters",
        "sampling": f"rows resampled with replacement, numpy default_rng({seed})",
        "missing": "missing quasi-identifier values written as '?', the source's own marker",
        "classes": int(frame.groupby(QUASI_IDENTIFIERS).ngroups),
        "file_mb": path.stat().st_size / 1e6,
    }
    meta_path.write_text(json.dumps(meta, indent=2))
    return path, meta


def run_tool(tool: str, path: Path, args: argparse.Namespace, notes: list[str]) -> dict[str, Any]:
    if tool == "medsyn":
        python: Path | None = Path(sys.executable)
    else:
        python, install_notes = ensure_venv(tool, VENV_STEPS[tool])
        notes.extend(f"{tool}: {n}" for n in install_notes)
        if python is None:
            return {"tool": tool, "skipped": "; ".join(install_notes) or "could not create its venv"}
    runs = []
    for i in range(args.repeat):
        log(f"{tool}: {RUNNERS[tool]} on {path.name} (run {i + 1}/{args.repeat})")
        res = run_runner(python, RUNNERS[tool], ["--input", str(path)], args.timeout)
        res.setdefault("tool", tool)
        if failure(res):
            log(f"{tool}: {failure(res)}")
            return res
        runs.append(res)
        log(f"{tool}: " + ", ".join(f"{k} {v:.3f} s" for k, v in res["per_metric_s"].items()))
    out = dict(runs[-1])
    out["per_metric_s"] = {m: statistics.median(r["per_metric_s"][m] for r in runs) for m in runs[-1]["per_metric_s"]}
    for key in ("load_s", "peak_mb"):
        out[key] = statistics.median(r[key] for r in runs)
    out["repeat"] = len(runs)
    return out


def _same(a: Any, b: Any) -> tuple[bool, float]:
    if isinstance(a, int | float) and isinstance(b, int | float):
        diff = abs(float(a) - float(b))
        return diff <= TOLERANCE, diff
    return a == b, float("nan")


def size_table(rows: int, meta: dict[str, Any], results: dict[str, dict[str, Any]]) -> list[str]:
    ours, theirs = results.get("medsyn", {}), results.get("pycanon", {})
    ok = not failure(ours) and not failure(theirs) and "per_metric_s" in ours and "per_metric_s" in theirs
    lines = [
        f"#### {rows:,} rows × {len(meta['quasi_identifiers'])} quasi-identifiers ({meta['classes']:,} classes)",
        "",
        "| measure | medsyn s | pycanon s | ours vs pycanon | medsyn value | pycanon value | identical |",
        "|---|---|---|---|---|---|---|",
    ]
    verdicts = []
    for key, label in MEASURES.items():
        if key not in ours.get("per_metric_s", {}) and key not in theirs.get("per_metric_s", {}):
            continue
        mine = ours.get("per_metric_s", {}).get(key)
        other = theirs.get("per_metric_s", {}).get(key)
        mv, pv = ours.get("values", {}).get(key), theirs.get("values", {}).get(key)
        same, diff = _same(mv, pv) if ok else (False, float("nan"))
        ratio = speedup(other, mine) if ok and mine else "–"
        ident = ("yes" if diff == 0 else f"yes (Δ {diff:.1e})") if same else ("NO" if ok else "–")
        lines.append(
            f"| {label} | {fmt(mine, '.3f')} | {fmt(other, '.3f')} | {ratio} | {fmt(mv, '.6g')} | {fmt(pv, '.6g')} "
            f"| {ident} |"
        )
        if ok and mine:
            verdicts.append((key, other / mine, same))
    lines.append("")
    for tool, r in results.items():
        state = failure(r) or (
            f"load {fmt(r.get('load_s'))} s, peak {fmt(r.get('peak_mb'), '.0f')} MB, "
            f"table {fmt(r.get('table_mb'), '.1f')} MB in its process (version {r.get('version', '?')}, "
            f"pandas {r.get('pandas', '?')})"
        )
        lines.append(f"- {tool}: {state}")
    if verdicts:
        passed = all(ratio >= TARGET and same for _, ratio, same in verdicts)
        worst = min(ratio for _, ratio, _ in verdicts)
        lines += [
            "",
            f"Target (≥ {TARGET:g}× faster with identical values, each measure): slowest ratio **{worst:.1f}×**, "
            f"values {'identical' if all(s for *_, s in verdicts) else 'DIFFER'} — **{'PASS' if passed else 'FAIL'}**.",
        ]
    return lines


def markdown(report: dict[str, Any]) -> str:
    title, blank, machine_line = heading(report)
    lines = [title, blank, f"{machine_line}; repeat {report['repeat']} (median).", "", f"Data: {report['data_note']}"]
    lines += ["", f"Timing: {TIMED}", ""]
    for size, block in report["sizes"].items():
        lines += [*size_table(int(size), block["meta"], block["results"]), ""]
    if report["notes"]:
        lines += ["Notes:", "", *[f"- {n}" for n in report["notes"]], ""]
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", default="10000", help="table sizes in rows, comma-separated (full: 100000,1000000)")
    p.add_argument("--tools", default="medsyn,pycanon", help="subset of tools to run")
    p.add_argument("--measures", default=",".join(MEASURES), help=f"subset of measures, from {','.join(MEASURES)}")
    p.add_argument("--repeat", type=int, default=1, help="runs per tool and size; the median is reported")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--timeout", type=float, default=3600, help="seconds per tool run")
    p.add_argument("--out", type=Path, default=CACHE / "privacy_results.json", help="JSON with every number")
    p.add_argument("--record", type=Path, default=None, help="append the Markdown tables to this file (RESULTS.md)")
    p.add_argument("--label", default=None, help="heading of the tables")
    p.add_argument("--render", type=Path, default=None, help="print the tables of an earlier results JSON; run nothing")
    p.add_argument("--setup-only", action="store_true", help="create pycanon's venv and the inputs, run nothing")
    args = p.parse_args(argv)
    args.size_list = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    args.tool_list = [t.strip() for t in args.tools.split(",") if t.strip()]
    unknown = set(args.tool_list) - set(RUNNERS)
    if unknown:
        p.error(f"unknown tools {sorted(unknown)}; choose from {sorted(RUNNERS)}")
    args.measure_list = [m.strip() for m in args.measures.split(",") if m.strip()]
    if not args.measure_list or set(args.measure_list) - set(MEASURES):
        p.error(f"--measures: choose from {', '.join(MEASURES)}")
    if args.repeat < 1:
        p.error("--repeat must be at least 1")
    if not args.size_list:
        p.error("--sizes needs at least one size")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.render is not None:
        report = json.loads(args.render.read_text())
        if args.label:
            report["label"] = args.label
        record(markdown(report), args.record)
        return 0
    os.environ["PRIVACY_BENCH_MEASURES"] = ",".join(args.measure_list)  # the runners read it
    notes: list[str] = []
    report: dict[str, Any] = {
        "label": args.label or f"privacy measures, {args.sizes} rows",
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": shlex.join(["python", "benchmarks/privacy.py", *(sys.argv[1:] if argv is None else argv)]),
        "machine": machine(),
        "repeat": args.repeat,
        "timed": TIMED,
        "notes": notes,
        "sizes": {},
    }
    data_notes = []
    if args.setup_only and "pycanon" in args.tool_list:
        python, tool_notes = ensure_venv("pycanon", VENV_STEPS["pycanon"])
        log(f"pycanon: {python or 'NOT created'} {tool_notes or ''}")
    for rows in args.size_list:
        path, meta = prepare_table(rows, args.seed)
        data_notes.append(f"{rows:,} rows = {meta['source']}, {meta['sampling']}: resampled real data")
        if args.setup_only:
            continue
        results = {tool: run_tool(tool, path, args, notes) for tool in RUNNERS if tool in args.tool_list}
        report["sizes"][str(rows)] = {"input": str(path), "meta": meta, "results": results}
    if args.setup_only:
        return 0
    report["data_note"] = "; ".join(data_notes) + f". {meta['missing']}."
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_name(args.out.name + ".tmp")
    tmp.write_text(json.dumps(report, indent=2, default=str))
    tmp.replace(args.out)
    log(f"wrote {args.out}")
    record(markdown(report), args.record)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
