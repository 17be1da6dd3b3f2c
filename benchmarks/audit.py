"""Benchmark: medsyn's data-quality audit beside pyMDMA and ydata-profiling, on the same inputs.

Tabular: a real table (UCI "Diabetes 130-US hospitals", 101,766 encounters) cut to 30 columns
and bootstrapped (rows resampled with replacement, seeded) to 100k and 1M rows, written once to
Parquet. Each tool reads that file and audits it:

- medsyn: ``medsyn.quality.audit(medsyn.data.read(path))``,
- pyMDMA: every tabular *input* metric of ``pymdma.tabular.measures.input_val``,
- ydata-profiling: ``ProfileReport(df, minimal=True).get_description()`` (no rendering).

Images: 512×512 centre crops of real fundus photographs saved as PNG; medsyn's image audit
beside pyMDMA's no-reference image input metrics.

Every tool runs in its own subprocess (the anchors from their own virtual environments under
``benchmarks/.venvs/``, created on first use; medsyn from the caller's Python), so time and
memory are measured per process in the same way. ``audit s`` times the audit work only, on data
already in memory; ``e2e s`` adds reading the prepared input. Neither includes interpreter
start-up or imports. ``peak MB`` is the process's peak resident memory over load and audit.

Run ``python benchmarks/audit.py --quick`` to check that it works (10k rows, 20 images), and
``python benchmarks/audit.py`` for the full comparison (100k and 1M rows, 200 images).
"""

from __future__ import annotations

import argparse
import json
import shlex
import shutil
import statistics
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from _harness import CACHE, HERE, SHARED, ensure_venv, failure, heading, log, machine, record, run_runner, speedup
from _harness import fmt as _fmt

DIABETES = SHARED / "diabetes_130us_hospitals" / "dataset_diabetes.zip" / "dataset_diabetes" / "diabetic_data.csv"
FUNDUS = SHARED / "fundus_dr_maculopathy_rahim"

#: 30 of the table's 50 columns: 12 numeric, 18 categorical, with the protected groups and the target.
COLUMNS = [
    "patient_nbr", "race", "gender", "age", "weight", "admission_type_id", "discharge_disposition_id",
    "admission_source_id", "time_in_hospital", "payer_code", "medical_specialty", "num_lab_procedures",
    "num_procedures", "num_medications", "number_outpatient", "number_emergency", "number_inpatient",
    "diag_1", "diag_2", "diag_3", "number_diagnoses", "max_glu_serum", "A1Cresult", "metformin",
    "glipizide", "glyburide", "insulin", "change", "diabetesMed", "readmitted",
]  # fmt: skip
IMAGE_SIDE = 512

#: pip steps per anchor venv. Every call also gets ``-c constraints.txt`` pinning torch==2.13.0 (the
#: CPU wheel on this machine's disk); an unpinned torch would download a multi-GB CUDA build.
#: pymdma: --no-deps because it pulls a torchvision that is broken beside this torch, and it
#: needs pandas/statsmodels it does not declare (shared/DEPENDENCIES.md). torch is for its image
#: metrics only; if that step fails the tabular metrics still run.
VENV_STEPS: dict[str, list[tuple[bool, list[str]]]] = {
    "ydata-profiling": [(True, ["ydata-profiling", "pyarrow"])],
    "pymdma": [
        (True, ["--no-deps", "pymdma", "pot", "loguru", "python-dotenv", "statsmodels", "pycanon", "piq"]),
        (
            True,
            [
                "numpy",
                "pandas",
                "scipy",
                "scikit-learn",
                "patsy",
                "packaging",
                "formulaic",
                "pydantic",
                "matplotlib",
                "pyarrow",
                "opencv-python-headless",
                "pillow",
            ],
        ),
        (False, ["torch==2.13.0"]),
    ],
}
TABULAR_TOOLS = {"medsyn": "medsyn_tabular.py", "pymdma": "pymdma_tabular.py", "ydata-profiling": "ydata_minimal.py"}
IMAGE_TOOLS = {"medsyn": "medsyn_image.py", "pymdma": "pymdma_image.py"}
TIMED = (
    "audit s = the audit on data already in memory; e2e s = reading the prepared input + the audit; "
    "both exclude interpreter start-up and imports. peak MB = peak resident memory of the tool's own "
    "process over load and audit (Linux VmHWM); table MB = df.memory_usage(deep=True).sum() in that "
    "process (it differs between pandas 2 object strings and pandas 3 Arrow strings); "
    "added/table = (peak − resident memory after imports) / table MB, the memory the work itself added."
)


# ------------------------------------------------------------------------------------------ data


def prepare_table(rows: int, seed: int) -> tuple[Path, dict[str, Any]]:
    """The bootstrapped table as Parquet in ``benchmarks/.cache`` (made once), and facts about it."""
    path = CACHE / f"diabetes_{rows}x{len(COLUMNS)}_seed{seed}.parquet"
    meta_path = path.with_suffix(".json")
    if path.exists() and meta_path.exists():
        return path, json.loads(meta_path.read_text())
    import numpy as np

    import medsyn.data

    if not DIABETES.parent.parent.exists():
        raise SystemExit(f"{DIABETES.parent.parent} is missing: the benchmark needs ../shared/data beside the checkout")
    log(f"preparing {path.name}: {rows} rows resampled with replacement from {DIABETES.name}")
    source = medsyn.data.read(DIABETES).data[COLUMNS]
    rng = np.random.default_rng(seed)
    frame = source.iloc[rng.integers(0, len(source), size=rows)].reset_index(drop=True)
    CACHE.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".parquet.tmp")
    frame.to_parquet(tmp, index=False)
    tmp.replace(path)
    meta = {
        "rows": rows,
        "columns": len(COLUMNS),
        "source": "UCI Diabetes 130-US hospitals (diabetic_data.csv), 101,766 real encounters",
        "sampling": f"rows resampled with replacement, numpy default_rng({seed})",
        "numeric_columns": int(sum(frame[c].dtype.kind in "iufb" for c in COLUMNS)),
        "file_mb": path.stat().st_size / 1e6,
        "table_mb_driver": float(frame.memory_usage(deep=True).sum()) / 1e6,
    }
    meta_path.write_text(json.dumps(meta, indent=2))
    return path, meta


def prepare_images(count: int, seed: int) -> tuple[Path, dict[str, Any]]:
    """``count`` fundus photographs, centre-cropped square and resized to 512×512, as PNG (made once).

    The folder mirrors the source layout: ``images/*.png`` plus a ``labels.csv`` whose ``file``
    column is relative to the folder.
    """
    folder = CACHE / f"fundus{IMAGE_SIDE}_{count}_seed{seed}"
    meta_path = folder.with_name(folder.name + ".json")  # beside the folder, so readers see only images + labels
    if meta_path.exists() and folder.exists():
        return folder, json.loads(meta_path.read_text())
    import numpy as np
    import pandas as pd
    from PIL import Image

    if not FUNDUS.exists():
        raise SystemExit(f"{FUNDUS} is missing: the benchmark needs ../shared/data beside the checkout")
    labels = pd.read_csv(FUNDUS / "labels.csv")
    if count > len(labels):
        raise SystemExit(f"--images {count}: the source folder has only {len(labels)} images")
    rng = np.random.default_rng(seed)
    chosen = labels.iloc[np.sort(rng.choice(len(labels), size=count, replace=False))].reset_index(drop=True)
    log(f"preparing {folder.name}: {count} fundus images → {IMAGE_SIDE}×{IMAGE_SIDE} PNG")
    tmp = folder.with_name(folder.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    (tmp / "images").mkdir(parents=True)
    files = []
    for src in chosen["file"]:
        with Image.open(FUNDUS / src) as im:
            im = im.convert("RGB")
            side = min(im.size)
            left, top = (im.width - side) // 2, (im.height - side) // 2
            im = im.crop((left, top, left + side, top + side)).resize(
                (IMAGE_SIDE, IMAGE_SIDE), Image.Resampling.LANCZOS
            )
            name = f"images/{Path(src).stem}.png"
            im.save(tmp / name)
            files.append(name)
    keep = [c for c in ("patient_id", "eye", "class_name", "dr_grade", "maculopathy") if c in chosen.columns]
    out = chosen[keep].copy()
    out.insert(0, "file", files)
    out.to_csv(tmp / "labels.csv", index=False)
    meta = {
        "images": count,
        "side": IMAGE_SIDE,
        "source": "fundus_dr_maculopathy_rahim (real retinal photographs), centre crop + Lanczos resize",
        "sampling": f"{count} of {len(labels)} chosen without replacement, numpy default_rng({seed})",
        "data_mb": count * IMAGE_SIDE * IMAGE_SIDE * 3 / 1e6,
    }
    if folder.exists():
        shutil.rmtree(folder)
    tmp.replace(folder)
    meta_path.write_text(json.dumps(meta, indent=2))
    return folder, meta


# --------------------------------------------------------------------------------------- running


def run_tool(tool: str, runner: str, input_path: Path, args: argparse.Namespace, notes: list[str]) -> dict[str, Any]:
    if tool == "medsyn":
        python: Path | None = Path(sys.executable)
    else:
        python, install_notes = ensure_venv(tool, VENV_STEPS[tool])
        notes.extend(f"{tool}: {n}" for n in install_notes)
        if python is None:
            return {"tool": tool, "skipped": "; ".join(install_notes) or "could not create its venv"}
    runs = []
    for i in range(args.repeat):
        log(f"{tool}: {runner} on {input_path.name} (run {i + 1}/{args.repeat})")
        res = run_runner(python, runner, ["--input", str(input_path)], args.timeout)
        res.setdefault("tool", tool)
        runs.append(res)
        if "skipped" in res or "error" in res:
            log(f"{tool}: {res.get('skipped') or res.get('error')}")
            return res
        log(f"{tool}: audit {res['audit_s']:.2f} s, e2e {res['e2e_s']:.2f} s, peak {res['peak_mb']:.0f} MB")
    return aggregate(runs)


def aggregate(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Median over repeats of the timings and peaks; the last run's details; every run kept."""
    out = dict(runs[-1])
    for key in (
        "load_s",
        "audit_s",
        "e2e_s",
        "peak_mb",
        "peak_audit_mb",
        "peak_load_mb",
        "rss_base_mb",
        "process_wall_s",
        "table_mb",
    ):
        values = [r[key] for r in runs if isinstance(r.get(key), int | float)]
        if values:
            out[key] = statistics.median(values)
    if len(runs) > 1:
        out["runs"] = [{k: r.get(k) for k in ("audit_s", "e2e_s", "peak_mb")} for r in runs]
    out["repeat"] = len(runs)
    return out


# --------------------------------------------------------------------------------------- reports


def _ok(r: dict[str, Any] | None) -> bool:
    return bool(r) and "audit_s" in r and "error" not in r and "skipped" not in r


def ratio_text(ours: dict[str, Any], other: dict[str, Any], *, key: str = "audit_s") -> str:
    if not (_ok(ours) and _ok(other)) or ours[key] <= 0:
        return "–"
    return speedup(other[key], ours[key])


def _status(r: dict[str, Any]) -> str:
    if failed := failure(r):
        return failed
    errs = r.get("metric_errors") or []
    return f"{len(errs)} metric error(s)" if errs else "ok"


def slowest(results: dict[str, dict[str, Any]], top: int = 3) -> list[str]:
    """One line naming each tool's slowest steps (from the runners' per-metric timings)."""
    parts = []
    for tool, r in results.items():
        steps = sorted((r.get("per_metric_s") or {}).items(), key=lambda kv: -kv[1])[:top]
        if steps:
            parts.append(f"{tool}: " + ", ".join(f"{k} {v:.2f} s" for k, v in steps))
    return ["", "Slowest steps — " + "; ".join(parts) + "."] if parts else []


def tabular_table(rows: int, meta: dict[str, Any], results: dict[str, dict[str, Any]]) -> list[str]:
    ours = results.get("medsyn", {})
    lines = [
        f"#### {rows:,} rows × {meta['columns']} columns",
        "",
        "| tool | version | checks | audit s | e2e s | peak MB | table MB | peak/table | added/table "
        "| ours vs it (audit) | ours vs it (e2e) | ours/its peak | status |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for tool, r in results.items():
        peak_ratio = r["peak_mb"] / r["table_mb"] if _ok(r) and r.get("table_mb") else None
        added = (r["peak_mb"] - r["rss_base_mb"]) / r["table_mb"] if _ok(r) and r.get("table_mb") else None
        mem = f"{ours['peak_mb'] / r['peak_mb']:.2f}" if _ok(ours) and _ok(r) and tool != "medsyn" else "–"
        lines.append(
            f"| {tool} | {r.get('version', '–')} | {r.get('checks', '–')} | {_fmt(r.get('audit_s'))} "
            f"| {_fmt(r.get('e2e_s'))} | {_fmt(r.get('peak_mb'), '.0f')} | {_fmt(r.get('table_mb'), '.0f')} "
            f"| {_fmt(peak_ratio)} | {_fmt(added)} | {ratio_text(ours, r) if tool != 'medsyn' else '–'} "
            f"| {ratio_text(ours, r, key='e2e_s') if tool != 'medsyn' else '–'} | {mem} | {_status(r)} |"
        )
    lines += slowest(results)
    anchors = [r for t, r in results.items() if t != "medsyn" and _ok(r)]
    if _ok(ours) and anchors:
        fastest = min(anchors, key=lambda r: r["audit_s"])
        speed = fastest["audit_s"] / ours["audit_s"]
        mem = ours["peak_mb"] / ours["table_mb"]
        scope = "target applies" if rows >= 1_000_000 else "target is set at 1M rows; shown for reference"
        lines += [
            "",
            f"Targets ({scope}): ≥ 5× faster than the faster anchor ({fastest['tool']}): "
            f"**{speed:.1f}×** {'PASS' if speed >= 5 else 'FAIL'}; peak memory < 3× table: "
            f"**{mem:.2f}×** {'PASS' if mem < 3 else 'FAIL'}.",
        ]
    return lines


def image_table(meta: dict[str, Any], results: dict[str, dict[str, Any]]) -> list[str]:
    ours = results.get("medsyn", {})
    lines = [
        f"#### {meta['images']} fundus images, {meta['side']}×{meta['side']} RGB",
        "",
        "| tool | version | checks | audit s | images/s | e2e s | peak MB | pixels MB | ours vs it (throughput) "
        "| status |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for tool, r in results.items():
        ips = r.get("images", meta["images"]) / r["audit_s"] if _ok(r) and r["audit_s"] > 0 else None
        lines.append(
            f"| {tool} | {r.get('version', '–')} | {r.get('checks', '–')} | {_fmt(r.get('audit_s'))} "
            f"| {_fmt(ips, '.1f')} "
            f"| {_fmt(r.get('e2e_s'))} | {_fmt(r.get('peak_mb'), '.0f')} | {_fmt(r.get('table_mb'), '.0f')} "
            f"| {ratio_text(ours, r) if tool != 'medsyn' else '–'} | {_status(r)} |"
        )
    lines += slowest(results)
    other = results.get("pymdma", {})
    if _ok(ours) and _ok(other):
        r = other["audit_s"] / ours["audit_s"]
        lines += ["", f"Target: ≥ 3× pyMDMA's throughput: **{r:.1f}×** {'PASS' if r >= 3 else 'FAIL'}."]
    return lines


def markdown(report: dict[str, Any]) -> str:
    title, blank, machine_line = heading(report)
    lines = [
        title,
        blank,
        f"{machine_line}; repeat {report['repeat']} (median).",
        "",
        f"Data: {report['data_note']}",
        "",
        f"Timing: {TIMED}",
        "",
    ]
    for size, block in report.get("tabular", {}).items():
        lines += [*tabular_table(int(size), block["meta"], block["results"]), ""]
    if "image" in report:
        lines += [*image_table(report["image"]["meta"], report["image"]["results"]), ""]
    if report["notes"]:
        lines += ["Notes:", "", *[f"- {n}" for n in report["notes"]], ""]
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------ main


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--sizes", default="100000,1000000", help="table sizes in rows, comma-separated")
    p.add_argument("--images", type=int, default=200, help="number of 512×512 images")
    p.add_argument("--skip-image", action="store_true")
    p.add_argument("--skip-tabular", action="store_true")
    p.add_argument("--tools", default="medsyn,pymdma,ydata-profiling", help="subset of tools to run")
    p.add_argument("--repeat", type=int, default=1, help="runs per tool and input; the median is reported")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--timeout", type=float, default=3600, help="seconds per tool run")
    p.add_argument("--out", type=Path, default=HERE / ".cache" / "results.json", help="JSON with every number")
    p.add_argument("--record", type=Path, default=None, help="append the Markdown tables to this file (RESULTS.md)")
    p.add_argument("--label", default=None, help="heading for --record (default: full run / smoke run)")
    p.add_argument("--quick", action="store_true", help="smoke run: 10k rows and 20 images")
    p.add_argument(
        "--render", type=Path, default=None, help="print (and --record) the tables of a results JSON; run nothing"
    )
    p.add_argument("--setup-only", action="store_true", help="create the anchor venvs and the inputs, run nothing")
    args = p.parse_args(argv)
    if args.quick:
        args.sizes, args.images = "10000", 20
    args.size_list = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    args.tool_list = [t.strip() for t in args.tools.split(",") if t.strip()]
    unknown = set(args.tool_list) - set(TABULAR_TOOLS)
    if unknown:
        p.error(f"unknown tools {sorted(unknown)}; choose from {sorted(TABULAR_TOOLS)}")
    if args.repeat < 1:
        p.error("--repeat must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.render is not None:
        report = json.loads(args.render.read_text())
        if args.label:
            report["label"] = args.label
        record(markdown(report), args.record)
        return 0
    notes: list[str] = []
    report: dict[str, Any] = {
        "label": args.label or ("smoke run (--quick)" if args.quick else "benchmark run"),
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": shlex.join(["python", "benchmarks/audit.py", *(sys.argv[1:] if argv is None else argv)]),
        "machine": machine(),
        "repeat": args.repeat,
        "timed": TIMED,
        "notes": notes,
    }
    data_notes = []
    if args.setup_only:
        for tool in VENV_STEPS:
            if tool in args.tool_list:
                python, tool_notes = ensure_venv(tool, VENV_STEPS[tool])
                log(f"{tool}: {python or 'NOT created'} {tool_notes or ''}")
    if not args.skip_tabular:
        report["tabular"] = {}
        for rows in args.size_list:
            path, meta = prepare_table(rows, args.seed)
            data_notes.append(
                f"{rows:,} × {meta['columns']} table = {meta['source']}, {meta['sampling']} "
                f"({meta['numeric_columns']} numeric columns; Parquet {meta['file_mb']:.1f} MB): resampled real data"
            )
            if args.setup_only:
                continue
            results = {
                tool: run_tool(tool, TABULAR_TOOLS[tool], path, args, notes)
                for tool in TABULAR_TOOLS
                if tool in args.tool_list
            }
            report["tabular"][str(rows)] = {"input": str(path), "meta": meta, "results": results}
    if not args.skip_image:
        folder, meta = prepare_images(args.images, args.seed)
        data_notes.append(f"{meta['images']} images = {meta['source']}, {meta['sampling']}")
        if not args.setup_only:
            results = {
                tool: run_tool(tool, IMAGE_TOOLS[tool], folder, args, notes)
                for tool in IMAGE_TOOLS
                if tool in args.tool_list
            }
            report["image"] = {"input": str(folder), "meta": meta, "results": results}
    if args.setup_only:
        return 0
    report["data_note"] = "; ".join(data_notes)
    for block in [*report.get("tabular", {}).values(), report.get("image")]:
        for tool, r in (block or {}).get("results", {}).items():
            if r.get("torchvision_stubbed"):
                notes.append(
                    f"{tool}: torchvision is not installed (PyPI's build breaks beside torch 2.13 CPU); "
                    "piq imports it at package level, so the runner stubs that import — the metrics timed never use it"
                )
            for err in r.get("metric_errors") or []:
                notes.append(f"{tool}: {err}")
    report["notes"] = list(dict.fromkeys(notes))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_name(args.out.name + ".tmp")
    tmp.write_text(json.dumps(report, indent=2, default=str))
    tmp.replace(args.out)
    log(f"wrote {args.out}")
    record(markdown(report), args.record)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
