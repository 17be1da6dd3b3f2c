"""Benchmark: medsyn's synthetic-data evaluation beside pyMDMA, SDMetrics and anonymeter, on the same inputs.

Speed, memory and agreement, side by side in one run, per metric the tools share:

- pyMDMA 0.3: ``ImprovedPrecision``, ``ImprovedRecall``, ``Density``, ``Coverage`` (k = 5),
  ``DCRPrivacy``, ``NNDRPrivacy`` on the shared encoded matrices, and its time-series ``DTW`` on
  ECG windows — vs ours (the registered tabular PRDC metrics, ``dcr``, ``nndr``, the signal DTW);
- SDMetrics 0.32: ``QualityReport`` (column shapes KS/TV + column pair trends) — vs our
  ``ks_statistic``, ``total_variation`` and the pair metrics (correlation, contingency);
- anonymeter: ``SinglingOutEvaluator`` (univariate, multivariate), ``LinkabilityEvaluator``,
  ``InferenceEvaluator`` — vs ``singling_out_risk``, ``linkability_risk``, ``inference_risk``,
  with the same ``n_attacks`` and columns.

Inputs: the real UCI "Diabetes 130-US hospitals" table (21 columns), split by patient into a
training and a holdout pool; a CART generator of ours fitted once on the training pool gives the
synthetic rows. Each size draws that many rows per side (without replacement up to the pool size,
with replacement beyond) and encodes them once with medsyn's ``TableEncoding`` into the ``.npy``
matrices pyMDMA reads (encoding time reported apart). Every tool runs each unit of work in its
own subprocess (anchors from their venvs under ``benchmarks/.venvs/``), timed on data in memory.
Anchors that cannot run at a size (memory, or hours by extrapolation from smaller sizes) are
marked "not run" with the estimate. Ours also runs ``medsyn.evaluate.evaluate`` with every
tabular metric at every size (the 1M × 1M run).

``python benchmarks/evaluate.py --quick`` checks that it works (10k rows, a small DTW subset);
``python benchmarks/evaluate.py`` runs 10k, 50k and 1M rows.
"""

from __future__ import annotations

import argparse
import json
import math
import shlex
import statistics
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from _anchors._eval_report import PRDC, TIMED, VERSUS, markdown, ok
from _harness import CACHE, HERE, SHARED, Steps, ensure_venv, failure, log, machine, record, run_runner
from audit import DIABETES
from audit import VENV_STEPS as AUDIT_STEPS
from synth_tabular import DIABETES_COLUMNS, SDTYPES
from synth_tabular import VENV_STEPS as SYNTH_STEPS

WORK = CACHE / "eval"
ECG = SHARED / "ecg_cinc2021_georgia_ptbxl"
#: 21 of the table's 50 columns: the synthesis benchmark's 23 without payer_code and medical_specialty
#: (17 and 72 levels), so the encoding has ~50 features, near the 47 of the issue's orientation numbers.
COLUMNS = [c for c in DIABETES_COLUMNS if c not in ("payer_code", "medical_specialty")]
TARGET = "readmitted"
PATIENT = "patient_nbr"
GENERATOR = "cart"

#: Anchor venvs: pyMDMA's and SDV's as the audit and synthesis benchmarks make them (shared venvs);
#: anonymeter's numba needs numpy < 1.27.
VENV_STEPS: dict[str, Steps] = {
    "pymdma": AUDIT_STEPS["pymdma"],
    "sdmetrics": SYNTH_STEPS["sdv"],
    "anonymeter": [(True, ["numpy<1.27", "anonymeter", "pyarrow"])],
}
VENV_DIR = {"pymdma": "pymdma", "sdmetrics": "sdv", "anonymeter": "anonymeter"}
#: Packages a shared venv lacks for this benchmark only (pyMDMA's time-series metrics import fastdtw).
EXTRAS = {"pymdma": ["fastdtw"]}
RUNNER = {tool: f"{tool}_eval.py" for tool in ("medsyn", "pymdma", "sdmetrics", "anonymeter")}
TOOLS = ["medsyn", "pymdma", "sdmetrics", "anonymeter"]


# ------------------------------------------------------------------------------------------ data


def _save(frame: Any, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    frame.to_parquet(tmp, index=False)
    tmp.replace(path)


def _write(path: Path, data: Any) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str))
    tmp.replace(path)


def prepare_pools(seed: int) -> dict[str, Any]:
    """The training and holdout pools (split by patient, seeded) and the column description (made once)."""
    meta_path = WORK / f"pools_seed{seed}.json"
    if meta_path.exists():
        return dict(json.loads(meta_path.read_text()))
    import numpy as np

    import medsyn.data

    if not DIABETES.parent.parent.exists():
        raise SystemExit(f"{DIABETES.parent.parent} is missing: the benchmark needs ../shared/data beside the checkout")
    log(f"splitting {DIABETES.name} by patient into training and holdout pools")
    ds = medsyn.data.read(DIABETES)
    frame = ds.attributes[[PATIENT, *COLUMNS]]
    patients = frame[PATIENT].unique()
    train_ids = np.random.default_rng(seed).permutation(patients)[: len(patients) // 2]
    in_train = frame[PATIENT].isin(train_ids).to_numpy()
    paths = {"train": WORK / f"pool_train_seed{seed}.parquet", "holdout": WORK / f"pool_holdout_seed{seed}.parquet"}
    for side, rows in (("train", in_train), ("holdout", ~in_train)):
        _save(frame.loc[rows, COLUMNS].reset_index(drop=True), paths[side])
    columns = {f.name: {"sdtype": SDTYPES[f.type.value]} for f in ds.schema.fields if f.name in COLUMNS}
    meta = {
        "source": f"UCI Diabetes 130-US hospitals (diabetic_data.csv), 101,766 real encounters, {len(COLUMNS)} columns",
        "split": f"patients split in halves, numpy default_rng({seed}): {int(in_train.sum()):,} training and "
        f"{int((~in_train).sum()):,} holdout encounters",
        "pools": {k: str(v) for k, v in paths.items()},
        "rows": {"train": int(in_train.sum()), "holdout": int((~in_train).sum())},
        "columns": columns,
    }
    _write(meta_path, meta)
    return meta


_GENERATORS: dict[int, Any] = {}


def prepare_synthetic(rows: int, pools: dict[str, Any], seed: int) -> tuple[Path, dict[str, Any]]:
    """``rows`` synthetic rows of our CART generator fitted once on the training pool (cached)."""
    path = WORK / f"synthetic_{GENERATOR}_{rows}_seed{seed}.parquet"
    meta_path = path.with_suffix(".json")
    if path.exists() and meta_path.exists():
        return path, dict(json.loads(meta_path.read_text()))
    import time

    import pandas as pd

    import medsyn.data
    import medsyn.synth

    fit_s = 0.0
    if seed not in _GENERATORS:
        log(f"fitting our '{GENERATOR}' generator on the training pool ({pools['rows']['train']:,} rows)")
        t0 = time.perf_counter()
        gen = medsyn.synth.get(GENERATOR)()
        gen.fit(medsyn.data.from_frame(pd.read_parquet(pools["pools"]["train"])))
        _GENERATORS[seed] = gen
        fit_s = time.perf_counter() - t0
    log(f"sampling {rows:,} synthetic rows")
    t1 = time.perf_counter()
    frame = _GENERATORS[seed].sample(rows, seed=seed).data
    meta = {"generator": GENERATOR, "fit_s": fit_s or None, "sample_s": time.perf_counter() - t1}
    _save(frame, path)
    _write(meta_path, meta)
    return path, meta


def _draw(pool: Path, rows: int, seed: int, out: Path) -> str:
    import numpy as np
    import pandas as pd

    frame = pd.read_parquet(pool)
    rng = np.random.default_rng(seed)
    replace = rows > len(frame)
    pick = rng.integers(0, len(frame), rows) if replace else np.sort(rng.choice(len(frame), rows, replace=False))
    _save(frame.iloc[pick].reset_index(drop=True), out)
    how = "with replacement" if replace else "without replacement"
    return f"{rows:,} of the pool's {len(frame):,} rows drawn {how}"


def prepare_size(rows: int, args: argparse.Namespace) -> tuple[Path, dict[str, Any]]:
    """The runners' spec at ``rows`` rows: the inputs (made once) and this run's parameters."""
    spec_path = WORK / f"spec_{rows}_seed{args.seed}.json"
    spec = json.loads(spec_path.read_text()) if spec_path.exists() else _prepare_inputs(rows, args)
    spec.update(k=args.k, our_names=args.our_names)
    spec["attacks"].update(n_attacks=args.n_attacks, n_cols=3)
    _write(spec_path, spec)
    return spec_path, spec


def _prepare_inputs(rows: int, args: argparse.Namespace) -> dict[str, Any]:
    """The three tables at ``rows`` rows and their shared encoding as ``.npy``; what the spec says of them."""
    import time

    import numpy as np

    import medsyn.data
    from medsyn.evaluate import EvalInputs

    pools = prepare_pools(args.seed)
    meta_path = WORK / f"columns_seed{args.seed}.json"
    _write(meta_path, {"columns": pools["columns"]})
    syn_path, syn_meta = prepare_synthetic(rows, pools, args.seed)
    paths = {side: WORK / f"{side}_{rows}_seed{args.seed}.parquet" for side in ("real", "holdout")}
    sampling = {
        "real": _draw(Path(pools["pools"]["train"]), rows, args.seed + 1, paths["real"]),
        "holdout": _draw(Path(pools["pools"]["holdout"]), rows, args.seed + 2, paths["holdout"]),
    }
    log(f"encoding the {rows:,}-row tables with medsyn's TableEncoding")
    t0 = time.perf_counter()
    real = medsyn.data.read(paths["real"])
    syn = medsyn.data.read(syn_path, schema=real.schema)
    hold = medsyn.data.read(paths["holdout"], schema=real.schema)
    inputs = EvalInputs.build(real, syn, hold, target=TARGET, seed=args.seed)
    matrices = {side: inputs.matrix(side) for side in ("real", "synthetic", "holdout")}
    encode_s = time.perf_counter() - t0
    npy = {side: WORK / f"{side}_{rows}_seed{args.seed}.npy" for side in matrices}
    for side, m in matrices.items():
        np.save(npy[side], m.astype(np.float32))
    names = [f.name for f in inputs.feature_fields()]
    half = len(names) // 2
    return {
        "size": rows,
        "seed": args.seed,
        "real": str(paths["real"]),
        "synthetic": str(syn_path),
        "holdout": str(paths["holdout"]),
        "meta": str(meta_path),
        "matrix": {k: str(v) for k, v in npy.items()},
        "target": TARGET,
        "attacks": {
            "link_columns": [names[:half], names[half:]],
            "known_columns": [n for n in names if n != TARGET],
            "secret": TARGET,
        },
        "facts": {
            "source": pools["source"],
            "split": pools["split"],
            "sampling": sampling,
            "synthetic": f"{rows:,} rows sampled from our '{GENERATOR}' generator fitted on the training pool",
            "generator": syn_meta,
            "encoding_features": int(matrices["real"].shape[1]),
            "encode_s": encode_s,
        },
    }


def prepare_signals(args: argparse.Namespace) -> dict[str, Any]:
    """``--signals`` real, stand-in synthetic and holdout ECG windows of ``--signal-seconds`` each (made once).

    Records are drawn with replacement from the 30 real 12-lead ECGs and each is cut at a random
    start, so no two windows are identical (whole resampled records would be exact duplicates,
    which a nearest-neighbour search finds at no cost). The synthetic and holdout sides are more
    such windows of the same records: a stand-in, no generator.
    """
    n, secs = args.signals, args.signal_seconds
    stem = f"ecg_{n}x{secs:g}s_seed{args.seed}"
    meta_path = WORK / f"{stem}.json"
    if meta_path.exists():
        return dict(json.loads(meta_path.read_text()))
    import numpy as np

    import medsyn.data

    ds = medsyn.data.read(ECG)
    if not isinstance(ds, medsyn.data.SignalDataset):
        raise SystemExit(f"{ECG} did not read as signals")
    arr = ds.to_array()
    rate = float(ds.records[0].sampling_rate)
    length = round(secs * rate)
    if length > arr.shape[2]:
        raise SystemExit(f"--signal-seconds {secs}: the records are only {arr.shape[2] / rate:g} s long")
    rng = np.random.default_rng(args.seed)
    out: dict[str, str] = {}
    for side in ("real", "synthetic", "holdout"):
        rec = rng.integers(0, len(arr), n)
        start = rng.integers(0, arr.shape[2] - length + 1, n)
        windows = np.stack([arr[r, :, s : s + length] for r, s in zip(rec, start, strict=True)]).astype(np.float32)
        out[side] = str(WORK / f"{stem}_{side}.npy")
        WORK.mkdir(parents=True, exist_ok=True)
        np.save(out[side], windows)
    meta = {
        **out,
        "sampling_rate": rate,
        "channels": list(ds.records[0].channels),
        "units": list(ds.records[0].units),
        "records": n,
        "samples": length,
        "source": f"{len(arr)} real 12-lead ECGs of {ECG.name} (PhysioNet/CinC 2021), {rate:g} Hz",
        "sampling": f"{n} real, {n} stand-in synthetic and {n} holdout windows of {secs:g} s: records drawn "
        f"with replacement, each cut at a random start, numpy default_rng({args.seed})",
    }
    _write(meta_path, meta)
    return meta


# --------------------------------------------------------------------------------------- running


def tool_python(tool: str, notes: list[str]) -> Path | None:
    """The tool's Python: ours is the caller's; an anchor's is its venv's (made on first use)."""
    if tool == "medsyn":
        return Path(sys.executable)
    python, install_notes = ensure_venv(VENV_DIR[tool], VENV_STEPS[tool])
    notes.extend(f"{tool}: {n}" for n in install_notes)
    if python is not None:
        ensure_extras(python, tool, notes)
    return python


def ensure_extras(python: Path, tool: str, notes: list[str]) -> None:
    """Install into a shared anchor venv the packages only this benchmark needs, when they are missing."""
    import subprocess

    for package in EXTRAS.get(tool, []):
        if subprocess.run([str(python), "-c", f"import {package}"], capture_output=True).returncode == 0:
            continue
        log(f"{tool}: installing {package} into its venv")
        constraints = python.parent.parent.parent / "constraints.txt"
        cmd = [str(python), "-m", "pip", "install", "-q", "-c", str(constraints), package]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            notes.append(f"{tool}: pip install {package} failed: {proc.stderr.strip().splitlines()[-1:]}")


def estimate(tool: str, unit: str, rows: int, history: list[tuple[int, float]]) -> float | None:
    """Seconds the unit would take at ``rows``, from this run's smaller sizes (time ∝ n^a)."""
    if not history:
        return None
    (n1, t1), (n2, t2) = (history[-2] if len(history) > 1 else (0, 0.0)), history[-1]
    if len(history) > 1 and t1 > 0 and t2 > 0 and n2 > n1:
        a = min(2.5, max(1.0, math.log(t2 / t1) / math.log(n2 / n1)))
    else:
        a = 2.0 if tool == "pymdma" else 1.0
    return float(t2 * (rows / n2) ** a)


def not_run_reason(
    tool: str, unit: str, rows: int, history: list[tuple[int, float]], args: argparse.Namespace
) -> tuple[str | None, float | None]:
    """Why an anchor unit is not run at this size (memory or extrapolated time), else None."""
    est = estimate(tool, unit, rows, history)
    if tool == "pymdma" and unit in PRDC:
        need = 2 * rows * rows * 4 / 2**30
        if need > args.max_gb:
            return (
                f"would need ≥ {need:,.1f} GiB for two {rows:,}×{rows:,} float32 distance matrices "
                f"(memory budget {args.max_gb:.0f} GiB, --max-gb)"
            ), est
    if est is not None and est > args.timeout:
        sizes = "/".join(f"{n // 1000}k" for n, _ in history[-2:])
        return f"would take ~{est / 3600:,.1f} h (extrapolated from {sizes}); --timeout {args.timeout:.0f} s", est
    return None, est


Job = tuple[str, Path, str]  # (tool, its python, unit)


def run_interleaved(jobs: list[Job], spec_path: Path, args: argparse.Namespace) -> dict[Job, dict[str, Any]]:
    """Run each job ``--repeat`` times, each run in a fresh process, taking turns (A B A B …).

    Taking turns puts the anchor's runs and ours in the same stretches of the machine's speed,
    which on a shared VM drifts over minutes: in blocks (all of A, then all of B) one tool can
    land in a slow stretch and the other in a fast one. Medians of the times and peaks.
    """
    runs: dict[Job, list[dict[str, Any]]] = {job: [] for job in jobs}
    failed: dict[Job, dict[str, Any]] = {}
    for i in range(args.repeat):
        for job in jobs:
            if job in failed:
                continue
            tool, python, unit = job
            timeout = args.scorecard_timeout if unit == "scorecard" else args.timeout
            log(f"{tool}: {unit} ({spec_path.stem}, run {i + 1}/{args.repeat})")
            res = run_runner(python, RUNNER[tool], ["--spec", str(spec_path), "--unit", unit], timeout)
            res.setdefault("tool", tool)
            if failure(res):
                log(f"{tool}: {unit}: {failure(res)}")
                failed[job] = res
                continue
            runs[job].append(res)
            log(f"{tool}: {unit} {res['work_s']:.2f} s, peak {res['peak_mb']:.0f} MB")
    return {job: failed.get(job) or _medians(runs[job]) for job in jobs}


def _medians(runs: list[dict[str, Any]]) -> dict[str, Any]:
    out = dict(runs[-1])
    for key in ("work_s", "cpu_s", "peak_mb", "work_mb", "rss_work_start_mb", "load_s", "rss_base_mb"):
        values = [r[key] for r in runs if isinstance(r.get(key), int | float)]
        if values:
            out[key] = statistics.median(values)
    if len(runs) > 1:
        out["runs"] = [{k: r.get(k) for k in ("work_s", "cpu_s", "peak_mb", "work_mb")} for r in runs]
    return out


def run_size(
    rows: int, spec_path: Path, pythons: dict[str, Path | None], args: argparse.Namespace, history: dict[Any, Any]
) -> dict[str, dict[str, Any]]:
    """Every chosen unit at one size: {tool: {unit: result}}; each anchor's runs take turns with ours."""
    results: dict[str, dict[str, Any]] = {t: {} for t in pythons}
    ours = pythons.get("medsyn")
    for v in VERSUS:
        python = pythons.get(v.tool)
        jobs: list[Job] = []
        ran_theirs = False
        for unit in v.theirs:
            if python is None:
                break
            if unit in results[v.tool]:  # shared with an earlier comparison (the four PRDC metrics)
                ran_theirs = ran_theirs or "not_run" not in results[v.tool][unit]
                continue
            why, est = not_run_reason(v.tool, unit, rows, history.get((v.tool, unit), []), args)
            if why is not None:
                results[v.tool][unit] = {"tool": v.tool, "not_run": why, "estimate_s": est}
                continue
            jobs.append((v.tool, python, unit))
        if ours is not None and (jobs or ran_theirs or rows <= args.ours_alone_max):
            jobs.append(("medsyn", ours, v.ours))
        for (tool, _, unit), res in run_interleaved(jobs, spec_path, args).items():
            results[tool][unit] = res
            if tool != "medsyn" and "work_s" in res and not failure(res):
                history.setdefault((tool, unit), []).append((rows, res["work_s"]))
    if ours is not None and not args.skip_scorecard:
        job = ("medsyn", ours, "scorecard")
        results["medsyn"]["scorecard"] = run_interleaved([job], spec_path, args)[job]
    return results


# ------------------------------------------------------------------------------------------ main


def _names(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--sizes", default="10000,50000,1000000", help="rows per side, comma-separated")
    p.add_argument("--tools", default=",".join(TOOLS), help="subset of " + ",".join(TOOLS))
    p.add_argument("--repeat", type=int, default=1, help="runs per unit; the median is reported")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--timeout", type=float, default=3600, help="seconds per unit; anchors extrapolated beyond it are not run"
    )
    p.add_argument("--max-gb", type=float, default=None, help="memory an anchor may need (default 60%% of RAM)")
    p.add_argument(
        "--ours-alone-max", type=int, default=100_000, help="run our units without an anchor up to this size"
    )
    p.add_argument("--k", type=int, default=5, help="neighbours of precision/recall/density/coverage")
    p.add_argument("--n-attacks", type=int, default=500, help="attacks of each anonymeter-style risk")
    p.add_argument("--signals", type=int, default=500, help="ECG windows per side (0: no DTW comparison)")
    p.add_argument("--signal-seconds", type=float, default=8.0, help="length of each ECG window")
    p.add_argument("--dtw-pairs", type=int, default=3, help="pyMDMA DTW is timed on this many × this many windows")
    p.add_argument("--our-names", default="", help="role=metric overrides, e.g. precision=prdc_precision")
    p.add_argument("--skip-scorecard", action="store_true", help="do not run evaluate() with every metric")
    p.add_argument("--scorecard-timeout", type=float, default=4 * 3600, help="seconds for our evaluate() run")
    p.add_argument("--out", type=Path, default=HERE / ".cache" / "eval_results.json", help="JSON with every number")
    p.add_argument("--record", type=Path, default=None, help="append the Markdown tables to this file (RESULTS.md)")
    p.add_argument("--label", default=None, help="heading for --record")
    p.add_argument("--quick", action="store_true", help="smoke run: 10k rows, 100 short ECG windows, 1 DTW pair")
    p.add_argument("--render", type=Path, default=None, help="print (and --record) the tables of a results JSON")
    p.add_argument("--setup-only", action="store_true", help="create the anchor venvs and the inputs, run nothing")
    args = p.parse_args(argv)
    if args.quick:
        args.sizes, args.signals, args.signal_seconds, args.dtw_pairs = "10000", 100, 2.0, 1
    args.size_list = [int(s.replace("_", "")) for s in _names(args.sizes)]
    args.tool_list = _names(args.tools)
    if unknown := set(args.tool_list) - set(TOOLS):
        p.error(f"unknown tools {sorted(unknown)}; choose from {TOOLS}")
    if args.repeat < 1:
        p.error("--repeat must be at least 1")
    args.our_names = dict(kv.split("=", 1) for kv in _names(args.our_names))
    if args.max_gb is None:
        args.max_gb = 0.6 * machine()["memory_gib"]
    return args


def run_signals(pythons: dict[str, Path | None], args: argparse.Namespace, notes: list[str]) -> dict[str, Any] | None:
    if args.signals <= 0 or not ({"medsyn", "pymdma"} & set(pythons)):
        return None
    meta = prepare_signals(args)
    spec_path = WORK / f"spec_signal_seed{args.seed}.json"
    spec = {"seed": args.seed, "our_names": args.our_names, "signals": {**meta, "subset": args.dtw_pairs}}
    _write(spec_path, spec)
    out: dict[str, dict[str, Any]] = {t: {} for t in pythons}
    n = meta["records"]
    jobs = [(tool, python, "dtw") for tool in ("pymdma", "medsyn") if (python := pythons.get(tool)) is not None]
    for (tool, _, _), r in run_interleaved(jobs, spec_path, args).items():
        if ok(r):
            vals = r["values"]
            if tool == "pymdma":
                vals["scale"] = (n * n) / vals["pairs"]
            notes.extend(f"{tool} dtw: {x}" for x in r.get("notes", []))
        out[tool]["dtw"] = r
    return {"meta": meta, "results": out}


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.render is not None:
        earlier = json.loads(args.render.read_text())
        if args.label:
            earlier["label"] = args.label
        record(markdown(earlier), args.record)
        return 0
    WORK.mkdir(parents=True, exist_ok=True)
    notes: list[str] = []
    report: dict[str, Any] = {
        "label": args.label or ("smoke run (--quick)" if args.quick else "benchmark run"),
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": shlex.join(["python", "benchmarks/evaluate.py", *(sys.argv[1:] if argv is None else argv)]),
        "machine": machine(),
        "repeat": args.repeat,
        "timed": TIMED,
        "notes": notes,
        "tabular": {},
    }
    pythons = {tool: tool_python(tool, notes) for tool in args.tool_list}
    for tool, python in pythons.items():
        if python is None:
            notes.append(f"{tool}: its venv could not be made, so it did not run")
    report["columns"] = prepare_pools(args.seed)["columns"]
    history: dict[Any, Any] = {}
    for rows in args.size_list:
        spec_path, spec = prepare_size(rows, args)
        if args.setup_only:
            continue
        report["tabular"][str(rows)] = {"spec": spec, "results": run_size(rows, spec_path, pythons, args, history)}
    if args.setup_only:
        if args.signals > 0:
            prepare_signals(args)
        return 0
    if (signal := run_signals(pythons, args, notes)) is not None:
        report["signal"] = signal
    for block in [*report["tabular"].values(), report.get("signal") or {}]:
        for tool, units in block.get("results", {}).items():
            for unit, r in units.items():
                notes.extend(f"{tool} {unit}: {n}" for n in r.get("notes", []) if unit != "dtw")
    report["notes"] = list(dict.fromkeys(notes))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    _write(args.out, report)
    log(f"wrote {args.out}")
    record(markdown(report), args.record)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
