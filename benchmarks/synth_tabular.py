"""Benchmark: medsyn's tabular generators beside SDV (GaussianCopula, CTGAN, TVAE) and synthcity.

Real tables from ``../shared/data`` (FLCHAIN, ACTG 175, UCI heart disease Cleveland, UCI
Diabetes 130-US hospitals cut to 10,000 encounters), and FLCHAIN bootstrapped (rows resampled
with replacement, seeded) to 100k and 1M rows for timing. Every generator, ours and each anchor,
runs in its own subprocess (ours from this Python, each anchor from its own virtual environment
under ``benchmarks/.venvs/``, made on first use), fits the table and samples as many rows as it
has. Reported per generator: fit and sample time (wall and CPU), peak resident memory, and the
quality of the sample against the table it was fitted on:

- **SDMetrics quality**: SDMetrics' ``QualityReport`` score (MIT; mean of "Column Shapes" and
  "Column Pair Trends"), computed by the same code for every sample, ours included;
- **our fidelity**: this file's simple, transparent score: per column 1 − KS statistic (numeric)
  or 1 − total variation distance (categorical), averaged ("marginals"); per column pair
  1 − |Δ association| (Spearman ρ / 2 for numeric pairs, Cramér's V for categorical pairs,
  correlation ratio η for mixed pairs), averaged ("pairs"); fidelity = their mean.

SDV (Business Source License) and synthcity are benchmark anchors only, never dependencies.

Run ``python benchmarks/synth_tabular.py --quick`` to check that it works, and
``python benchmarks/synth_tabular.py --markdown`` for the full comparison.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from _anchors._align import align
from _harness import (
    CACHE,
    SHARED,
    VENVS,
    Steps,
    ensure_venv,
    failure,
    fmt,
    heading,
    log,
    machine,
    record,
    run_runner,
    speedup,
    write_json,
)

SURVIVAL = SHARED / "survival_sets_sksurv_lifelines"
WORK = CACHE / "synth"

#: Anchor venvs. sdv's also scores every sample with SDMetrics. torch first, from the local CPU wheel.
VENV_STEPS: dict[str, Steps] = {
    "sdv": [(True, ["torch==2.13.0"]), (True, ["sdv", "sdmetrics", "pyarrow"])],
    # synthcity ≥ 0.2.12 pins torch<2.3 and numpy<2 (a CUDA torch download), so it does not resolve beside
    # torch 2.13; unpinned, pip falls back to synthcity 0.2.4, which installs (4.5 min, 3 GB) but fails at
    # import (its torchvision breaks beside torch 2.13; scipy ≥ 1.14 dropped scipy.integrate.trapz; pydantic 2).
    "synthcity": [(True, ["torch==2.13.0"]), (True, ["synthcity>=0.2.12", "pyarrow"])],
}
#: Why a venv does not install, where known (pip's quiet log only says ResolutionImpossible).
INSTALL_PROBLEMS = {
    "synthcity": "synthcity ≥ 0.2.12 requires torch < 2.3 and numpy < 2 (pip: ResolutionImpossible beside torch 2.13)"
}
#: A pip step longer than this counts as "does not install".
INSTALL_TIMEOUT_S = 900

#: anchor name -> (venv, runner). Deep models (trained by epochs) are listed in DEEP.
ANCHORS: dict[str, tuple[str, str]] = {
    "sdv_gaussian_copula": ("sdv", "sdv_synth.py"),
    "sdv_ctgan": ("sdv", "sdv_synth.py"),
    "sdv_tvae": ("sdv", "sdv_synth.py"),
    "synthcity_bayesian_network": ("synthcity", "synthcity_synth.py"),
    "synthcity_ctgan": ("synthcity", "synthcity_synth.py"),
    "synthcity_tvae": ("synthcity", "synthcity_synth.py"),
}
#: Our tabular generators, in the order shown (``--generators all`` runs the registered ones among them).
OURS = ["gaussian_copula", "cart", "bayesian_network", "aim", "mst", "tvae", "ctgan"]
DEEP = {"sdv_ctgan", "sdv_tvae", "synthcity_ctgan", "synthcity_tvae", "tvae", "ctgan"}
#: Ours → the SDV synthesizer it is compared with in the "vs SDV" column (default: GaussianCopula).
COUNTERPART = {"tvae": "sdv_tvae", "ctgan": "sdv_ctgan"}
SDV_GC = "sdv_gaussian_copula"

TIMED = (
    "fit = from the table in memory to a fitted model (metadata / schema handling included); sample = "
    "drawing as many rows as the table has, to a DataFrame; both wall time, and CPU = user + system time "
    "of all the process's threads; none includes interpreter start-up, imports or reading the file. "
    "peak MB = the process's peak resident memory over load, fit and sample (imports included)."
)


# ------------------------------------------------------------------------------------------ data


@dataclass(frozen=True)
class Table:
    """A real table: where it is, what it is, which columns and how many rows the benchmark uses."""

    path: Path
    source: str
    columns: tuple[str, ...] | None = None
    max_rows: int | None = None


DIABETES_COLUMNS = (
    "race", "gender", "age", "admission_type_id", "discharge_disposition_id", "admission_source_id",
    "time_in_hospital", "payer_code", "medical_specialty", "num_lab_procedures", "num_procedures",
    "num_medications", "number_outpatient", "number_emergency", "number_inpatient", "number_diagnoses",
    "max_glu_serum", "A1Cresult", "metformin", "insulin", "change", "diabetesMed", "readmitted",
)  # fmt: skip
TABLES = {
    "flchain": Table(
        SURVIVAL / "flchain.csv",
        "FLCHAIN serum free light chains, Olmsted County residents (Dispenzieri et al. 2012; scikit-survival 0.28)",
    ),
    "actg175": Table(SHARED / "actg175_hiv_trial" / "ACTG175.csv", "ACTG 175 HIV trial (Hammer et al. 1996)"),
    "heart_cleveland": Table(
        SHARED / "heart_disease_cleveland" / "heart_cleveland.csv", "UCI Heart Disease, Cleveland Clinic"
    ),
    "diabetes": Table(
        SHARED / "diabetes_130us_hospitals" / "dataset_diabetes.zip" / "dataset_diabetes" / "diabetic_data.csv",
        "UCI Diabetes 130-US hospitals 1999–2008 (Strack et al. 2014), 23 of its 50 columns",
        DIABETES_COLUMNS,
        10_000,
    ),
}
BOOTSTRAP_BASE = "flchain"

SDTYPES = {
    "numeric": "numerical",
    "integer": "numerical",
    "categorical": "categorical",
    "boolean": "categorical",
    "datetime": "datetime",
}


def _save(frame: Any, path: Path, meta: dict[str, Any]) -> tuple[Path, dict[str, Any]]:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    frame.to_parquet(tmp, index=False)
    tmp.replace(path)
    meta["file_mb"] = path.stat().st_size / 1e6
    write_json(path.with_suffix(".meta.json"), meta)
    return path, meta


def _cached(path: Path) -> dict[str, Any] | None:
    meta_path = path.with_suffix(".meta.json")
    return json.loads(meta_path.read_text()) if path.exists() and meta_path.exists() else None


def prepare_real(name: str, max_rows: int | None, seed: int) -> tuple[Path, dict[str, Any]]:
    """The real table as Parquet in ``benchmarks/.cache/synth`` (made once) and its column metadata.

    Read with ``medsyn.data.read``; identifier and free-text columns and columns with a single value
    are dropped; every other column gets an SDV/SDMetrics sdtype from medsyn's inferred schema, the
    same description for every tool. Tables over the row cap are subsampled without replacement.
    """
    spec = TABLES[name]
    cap = min(x for x in (spec.max_rows, max_rows, sys.maxsize) if x is not None)
    path = WORK / f"{name}_{cap if cap < sys.maxsize else 'all'}_seed{seed}.parquet"
    if (meta := _cached(path)) is not None:
        return path, meta
    import numpy as np

    import medsyn.data

    if not SHARED.exists():
        raise SystemExit(f"{SHARED} is missing: the benchmark needs ../shared/data beside the checkout")
    log(f"preparing {path.name} from {spec.path.name}")
    ds = medsyn.data.read(spec.path)
    frame = ds.data if spec.columns is None else ds.data[list(spec.columns)]
    total = len(frame)
    sampling = f"all {total:,} rows"
    if len(frame) > cap:
        rng = np.random.default_rng(seed)
        frame = frame.iloc[np.sort(rng.choice(len(frame), size=cap, replace=False))].reset_index(drop=True)
        sampling = f"{cap:,} of {total:,} rows chosen without replacement, numpy default_rng({seed})"
    columns, dropped = {}, []
    for field in ds.schema.fields:
        if field.name not in frame.columns:
            continue
        sdtype = SDTYPES.get(field.type.value)
        if sdtype is None or frame[field.name].nunique(dropna=False) < 2:
            dropped.append(f"{field.name} ({field.type.value if sdtype is None else 'one value'})")
        else:
            columns[field.name] = {"sdtype": sdtype}
    frame = frame[list(columns)]
    meta = {
        "table": name,
        "kind": "real",
        "rows": len(frame),
        "source": spec.source,
        "sampling": sampling,
        "dropped": dropped,
        "columns": columns,
    }
    return _save(frame, path, meta)


def prepare_bootstrap(rows: int, seed: int) -> tuple[Path, dict[str, Any]]:
    """FLCHAIN bootstrapped to ``rows`` (resampled with replacement, seeded): resampled real data, for timing."""
    path = WORK / f"{BOOTSTRAP_BASE}_boot{rows}_seed{seed}.parquet"
    if (meta := _cached(path)) is not None:
        return path, meta
    import numpy as np
    import pandas as pd

    base_path, base = prepare_real(BOOTSTRAP_BASE, None, seed)
    log(f"preparing {path.name}: {rows:,} rows resampled with replacement from {base_path.name}")
    source = pd.read_parquet(base_path)
    rng = np.random.default_rng(seed)
    frame = source.iloc[rng.integers(0, len(source), size=rows)].reset_index(drop=True)
    meta = {
        **base,
        "table": f"{BOOTSTRAP_BASE}×{rows:,}",
        "kind": "bootstrap",
        "rows": rows,
        "sampling": f"{base['rows']:,} real rows resampled with replacement to {rows:,}, numpy default_rng({seed})",
    }
    return _save(frame, path, meta)


# ----------------------------------------------------------------------------------- our fidelity


def _codes(s: Any) -> Any:
    import pandas as pd

    return pd.factorize(s.fillna("<NA>"), sort=True)[0]


def _cramers_v(a: Any, b: Any) -> float:
    import numpy as np

    ka, kb = a.max() + 1, b.max() + 1
    if ka < 2 or kb < 2:
        return 0.0
    table = np.bincount(a * kb + b, minlength=ka * kb).reshape(ka, kb).astype(float)
    n = table.sum()
    expected = table.sum(1, keepdims=True) @ table.sum(0, keepdims=True) / n
    with np.errstate(divide="ignore", invalid="ignore"):
        chi2 = np.nansum((table - expected) ** 2 / expected)
    return float(np.sqrt(chi2 / n / (min(ka, kb) - 1)))


def _eta(codes: Any, x: Any) -> float:
    """Correlation ratio of a numeric column on a categorical one (rows with a missing number left out)."""
    import numpy as np

    ok = ~np.isnan(x)
    codes, x = codes[ok], x[ok]
    if len(x) < 2 or x.var() == 0:
        return 0.0
    counts = np.bincount(codes)
    sums = np.bincount(codes, weights=x)
    means = np.divide(sums, counts, out=np.zeros_like(sums), where=counts > 0)
    between = float((counts * (means - x.mean()) ** 2).sum())
    return float(np.sqrt(between / (x.var() * len(x))))


def _associations(frame: Any, columns: dict[str, dict[str, Any]]) -> dict[tuple[str, str], tuple[float, float]]:
    """Each column pair's association and the weight its difference gets (1/2 for Spearman's ρ in [-1, 1])."""
    import numpy as np

    numeric = [c for c, info in columns.items() if info["sdtype"] != "categorical"]
    ranks = frame[numeric].apply(lambda s: s.astype("int64") if s.dtype.kind == "M" else s).rank().corr()
    codes = {c: _codes(frame[c]) for c, info in columns.items() if info["sdtype"] == "categorical"}
    values = {c: frame[c].to_numpy(dtype=float, na_value=np.nan) for c in numeric if frame[c].dtype.kind != "M"}
    out: dict[tuple[str, str], tuple[float, float]] = {}
    names = list(columns)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            if a in codes and b in codes:
                out[a, b] = (_cramers_v(codes[a], codes[b]), 1.0)
            elif a in codes or b in codes:
                cat, num = (a, b) if a in codes else (b, a)
                out[a, b] = (_eta(codes[cat], values[num]) if num in values else 0.0, 1.0)
            else:
                rho = ranks.loc[a, b]
                out[a, b] = (0.0 if np.isnan(rho) else float(rho), 0.5)
    return out


def fidelity(real: Any, synthetic: Any, columns: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """This benchmark's fidelity: marginals (1 − KS / 1 − TVD per column) and pairs (1 − |Δ association|)."""
    import numpy as np
    from scipy.stats import ks_2samp

    r, s = align(real, synthetic, columns)
    per_column: dict[str, float] = {}
    for c, info in columns.items():
        if info["sdtype"] == "categorical":
            p = r[c].fillna("<NA>").value_counts(normalize=True)
            q = s[c].fillna("<NA>").value_counts(normalize=True)
            per_column[c] = 1 - 0.5 * float(p.sub(q, fill_value=0).abs().sum())
        else:
            a, b = (x[c].dropna() for x in (r, s))
            a, b = (x.astype("int64") if x.dtype.kind == "M" else x for x in (a, b))
            per_column[c] = float(len(a) == len(b) == 0) if min(len(a), len(b)) == 0 else 1 - ks_2samp(a, b).statistic
    ar, asyn = _associations(r, columns), _associations(s, columns)
    pairs = [1 - w * abs(ar[k][0] - asyn[k][0]) for k, (_, w) in ar.items()]
    marginals = float(np.mean(list(per_column.values())))
    pair_score = float(np.mean(pairs)) if pairs else 1.0
    worst = min(per_column, key=per_column.__getitem__)
    return {
        "fidelity": (marginals + pair_score) / 2,
        "marginals": marginals,
        "pairs": pair_score,
        "worst_column": f"{worst} {per_column[worst]:.2f}",
    }


# --------------------------------------------------------------------------------------- running


def registered_ours() -> tuple[list[str], str | None]:
    """Our registered tabular generators (in OURS order, then any others), or why medsyn.synth does not import."""
    try:
        import medsyn.synth as synth
        from medsyn.data import Modality

        names = []
        for name in synth.names():
            supports = getattr(synth.get(name), "supports", None)
            if supports is None or Modality.TABULAR in supports.modalities:
                names.append(name)
    except Exception as exc:
        return [], f"medsyn.synth does not import: {type(exc).__name__}: {exc}"
    return sorted(names, key=lambda n: (OURS.index(n) if n in OURS else len(OURS), n)), None


def run_generator(
    gen: str, path: Path, meta: dict[str, Any], args: argparse.Namespace, notes: list[str]
) -> dict[str, Any]:
    if gen in ANCHORS:
        tool, runner = ANCHORS[gen]
        python, install_notes = ensure_venv(tool, VENV_STEPS[tool], step_timeout=INSTALL_TIMEOUT_S)
        if python is None:
            why = INSTALL_PROBLEMS.get(tool) or "; ".join(install_notes) or "?"
            notes.append(f"{tool} does not install: {why}; pip log: {VENVS / (tool + '-install.log')}")
            return {"tool": tool, "skipped": f"does not install: {why}"}
        notes.extend(f"{tool}: {n}" for n in install_notes)
    else:
        tool, runner, python = "medsyn", "medsyn_synth.py", Path(sys.executable)
        if args.ours_error:
            return {"tool": tool, "skipped": args.ours_error}
        if gen not in args.registered:
            return {"tool": tool, "skipped": f"not registered (medsyn.synth has {', '.join(args.registered)})"}
    if gen in DEEP and meta["rows"] > args.max_deep_rows:
        return {"tool": tool, "skipped": f"deep model: tables over {args.max_deep_rows:,} rows are left out"}
    out = WORK / "samples" / path.stem / f"{gen}.parquet"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.unlink(missing_ok=True)
    cmd = ["--input", str(path), "--meta", str(path.with_suffix(".meta.json")), "--model", gen]
    cmd += ["--rows", str(meta["rows"]), "--seed", str(args.seed), "--output", str(out)]
    if gen in DEEP:
        cmd += ["--epochs", str(args.epochs)]
    log(f"{gen}: fitting {path.name} ({meta['rows']:,} rows)")
    res = run_runner(python, runner, cmd, args.timeout)
    res.setdefault("tool", tool)
    if _ok(res):
        log(f"{gen}: fit {res['fit_s']:.2f} s, sample {res['sample_s']:.2f} s, peak {res['peak_mb']:.0f} MB")
    else:
        log(f"{gen}: {res.get('skipped') or res.get('error')}")
    return res


def score_block(path: Path, meta: dict[str, Any], results: dict[str, dict[str, Any]], args: argparse.Namespace) -> None:
    """Add our fidelity and SDMetrics' quality to every result that has a sample."""
    import pandas as pd

    samples = {g: r["output"] for g, r in results.items() if _ok(r) and r.get("output")}
    if not samples:
        return
    real = pd.read_parquet(path)
    if len(real) > args.score_rows:
        real = real.sample(n=args.score_rows, random_state=args.seed).reset_index(drop=True)
    for gen, sample_path in samples.items():
        synthetic = pd.read_parquet(sample_path)
        if len(synthetic) > args.score_rows:
            synthetic = synthetic.sample(n=args.score_rows, random_state=args.seed + 1).reset_index(drop=True)
        try:
            results[gen]["ours"] = fidelity(real, synthetic, meta["columns"])
        except Exception as exc:
            results[gen]["ours"] = {"error": f"{type(exc).__name__}: {exc}"}
    python, _ = ensure_venv("sdv", VENV_STEPS["sdv"], step_timeout=INSTALL_TIMEOUT_S)
    if python is None:
        return
    log(f"SDMetrics: scoring {len(samples)} samples of {path.name}")
    cmd = ["--real", str(path), "--meta", str(path.with_suffix(".meta.json")), "--synthetic", *samples.values()]
    res = run_runner(python, "sdmetrics_quality.py", [*cmd, "--score-rows", str(args.score_rows)], args.timeout)
    scores = res.get("scores", {})
    for gen, sample_path in samples.items():
        results[gen]["sdmetrics"] = scores.get(sample_path) or {"error": res.get("error", "no score")}
        results[gen]["sdmetrics"]["version"] = res.get("version")


# --------------------------------------------------------------------------------------- reports


def _ok(r: dict[str, Any] | None) -> bool:
    return bool(r) and "fit_s" in r and "error" not in r and "skipped" not in r


def _total(r: dict[str, Any], cpu: bool = False) -> float:
    return r["fit_cpu_s"] + r["sample_cpu_s"] if cpu else r["fit_s"] + r["sample_s"]


def _quality(r: dict[str, Any]) -> float | None:
    q = (r.get("sdmetrics") or {}).get("quality")
    return q if isinstance(q, float) else None


def _ratio(theirs: dict[str, Any] | None, ours: dict[str, Any], cpu: bool = False) -> str:
    if not (theirs and _ok(theirs) and _ok(ours)) or _total(ours, cpu) <= 0:
        return "–"
    return speedup(_total(theirs, cpu), _total(ours, cpu))


def _status(r: dict[str, Any]) -> str:
    if failed := failure(r):
        return failed
    errs = [f"{k}: {r[k]['error']}" for k in ("sdmetrics", "ours") if "error" in (r.get(k) or {})]
    return "; ".join(errs) or "ok"


def block_rows(block: dict[str, Any]) -> list[list[str]]:
    results = block["results"]
    rows = []
    for gen, r in results.items():
        ours_side = r.get("tool") == "medsyn"
        rows.append([gen, *_row_numbers(gen, r), _versus(gen, r, results) if ours_side else "–", _status(r)])
    return rows


def _versus(gen: str, r: dict[str, Any], results: dict[str, dict[str, Any]]) -> str:
    """Ours against its SDV counterpart: time ratio (fit + sample wall) and quality difference."""
    name = COUNTERPART.get(gen, SDV_GC)
    other = results.get(name)
    if _ratio(other, r) == "–" or other is None:
        return "–"
    q, qo = _quality(r), _quality(other)
    dq = f", quality {q - qo:+.3f}" if q is not None and qo is not None else ""
    return f"{name}: {_ratio(other, r)}{dq}"


def _row_numbers(gen: str, r: dict[str, Any]) -> list[str]:
    sd, mine = r.get("sdmetrics") or {}, r.get("ours") or {}
    return [
        f"{r.get('tool', '?')} {r.get('version', '')}".strip(),
        str(r.get("epochs") or "–") if gen in DEEP else "–",
        fmt(r.get("fit_s")),
        fmt(r.get("fit_cpu_s")),
        fmt(r.get("sample_s")),
        fmt(r.get("sample_cpu_s")),
        fmt(r.get("peak_mb"), ".0f"),
        fmt(sd.get("quality"), ".3f"),
        fmt(sd.get("Column Shapes"), ".3f"),
        fmt(sd.get("Column Pair Trends"), ".3f"),
        fmt(mine.get("fidelity"), ".3f"),
        fmt(mine.get("marginals"), ".3f"),
        fmt(mine.get("pairs"), ".3f"),
    ]


HEADER = [
    "generator", "tool", "epochs", "fit s", "fit CPU s", "sample s", "sample CPU s", "peak MB",
    "SDMetrics quality", "shapes", "pair trends", "our fidelity", "marginals", "pairs",
    "ours vs SDV (fit+sample wall, quality)", "status",
]  # fmt: skip


def targets(block: dict[str, Any]) -> list[str]:
    """The issue's targets that this block can decide, PASS/FAIL."""
    res = block["results"]
    lines = []
    ours = {g: r for g, r in res.items() if r.get("tool") == "medsyn" and _ok(r)}
    sdv = {g: r for g, r in res.items() if g.startswith("sdv_") and _ok(r)}
    if block["kind"] == "real" and ours and sdv:
        scored_ours = {g: r for g, r in ours.items() if _quality(r) is not None}
        scored_sdv = {g: r for g, r in sdv.items() if _quality(r) is not None}
        if scored_ours and scored_sdv:
            best = max(scored_ours, key=lambda g: _quality(scored_ours[g]) or 0)
            theirs = max(scored_sdv, key=lambda g: _quality(scored_sdv[g]) or 0)
            qo, qt = _quality(res[best]) or 0, _quality(res[theirs]) or 0
            co, ct = _total(res[best], cpu=True), _total(res[theirs], cpu=True)
            ok = qo >= qt and co * 5 <= ct
            lines.append(
                f"Target: our best generator's quality ≥ SDV's best in ≤ 1/5 of its CPU time: ours `{best}` "
                f"{qo:.3f} in {co:.1f} CPU s vs SDV `{theirs}` {qt:.3f} in {ct:.1f} CPU s "
                f"({ct / co if co > 0 else float('inf'):.1f}× less CPU): **{'PASS' if ok else 'FAIL'}**."
            )
    gc, sgc = res.get("gaussian_copula"), res.get(SDV_GC)
    if block["kind"] == "bootstrap" and block["rows"] == 100_000 and gc and sgc and _ok(gc) and _ok(sgc):
        speed = _total(sgc) / _total(gc)
        qo, qt = _quality(gc), _quality(sgc)
        ok = speed >= 10 and qo is not None and qt is not None and qo >= qt
        lines.append(
            f"Target at 100k rows: `gaussian_copula` ≥ 10× faster than SDV's GaussianCopula (fit + sample) with no "
            f"worse quality: **{speed:.1f}×**, quality {fmt(qo, '.3f')} vs {fmt(qt, '.3f')}: "
            f"**{'PASS' if ok else 'FAIL'}**."
        )
    if block["rows"] >= 1_000_000:
        for gen in ("gaussian_copula", "cart"):
            r = res.get(gen)
            if r and _ok(r):
                ok = r["sample_s"] < 10
                lines.append(
                    f"Target: `{gen}` samples {r['rows_sampled']:,} rows in < 10 s: **{r['sample_s']:.2f} s** "
                    f"{'PASS' if ok else 'FAIL'}."
                )
    return lines


def render(rows: list[list[str]], markdown: bool) -> list[str]:
    if markdown:
        return [
            "| " + " | ".join(HEADER) + " |",
            "|" + "---|" * len(HEADER),
            *("| " + " | ".join(r) + " |" for r in rows),
        ]
    keep = [i for i, h in enumerate(HEADER) if h not in {"tool", "marginals", "pairs"}]
    table = [[HEADER[i] for i in keep], *([r[i] for i in keep] for r in rows)]
    widths = [max(len(r[i]) for r in table) for i in range(len(keep) - 1)]
    return ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=False)) + "  " + r[-1] for r in table]


def report_text(report: dict[str, Any], markdown: bool) -> str:
    title, blank, machine_line = heading(report)
    lines = [
        title,
        blank,
        f"{machine_line}. Deep models ({', '.join(sorted(DEEP))}): {report['epochs']} epochs, "
        f"tables over {report['max_deep_rows']:,} rows left out. Quality is scored on at most "
        f"{report['score_rows']:,} rows of each table (seeded sample).",
        "",
        f"Timing: {TIMED}",
        "",
    ]
    for block in report["blocks"]:
        dropped = f"; dropped: {', '.join(block['dropped'])}" if block.get("dropped") else ""
        lines += [
            f"#### {block['table']} — {block['rows']:,} rows × {len(block['columns'])} columns ({block['kind']})",
            "",
            f"Data: {block['source']}; {block['sampling']}{dropped}.",
            "",
            *render(block_rows(block), markdown),
            "",
        ]
        if t := targets(block):
            lines += [*t, ""]
    if report["notes"]:
        lines += ["Notes:", "", *[f"- {n}" for n in report["notes"]], ""]
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------ main


def _names(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--tables", default=",".join(TABLES), help=f"real tables, from {', '.join(TABLES)} ('' for none)")
    p.add_argument("--sizes", default="100000,1000000", help="FLCHAIN bootstrapped to these row counts ('' for none)")
    p.add_argument("--generators", default="all", help=f"ours on the real tables: 'all' registered, or from {OURS}")
    p.add_argument("--anchors", default=",".join(ANCHORS), help=f"anchors on the real tables, from {list(ANCHORS)}")
    p.add_argument(
        "--timing-generators",
        default="gaussian_copula,cart,bayesian_network,sdv_gaussian_copula",
        help="ours and anchors run on the bootstrapped tables",
    )
    p.add_argument("--epochs", type=int, default=50, help="training epochs of every deep model")
    p.add_argument("--max-deep-rows", type=int, default=10_000, help="deep models skip larger tables")
    p.add_argument("--max-rows", type=int, default=None, help="subsample each real table to at most this many rows")
    p.add_argument("--score-rows", type=int, default=100_000, help="quality is scored on at most this many rows")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--timeout", type=float, default=3600, help="seconds per generator run")
    p.add_argument(
        "--quick", action="store_true", help="smoke run: flchain + heart, ≤ 2,000 rows, 10k bootstrap, 2 epochs"
    )
    p.add_argument("--markdown", action="store_true", help="print RESULTS.md-ready Markdown tables")
    p.add_argument("--out", type=Path, default=CACHE / "synth_results.json", help="JSON with every number")
    p.add_argument("--record", type=Path, default=None, help="append the Markdown tables to this file (RESULTS.md)")
    p.add_argument("--label", default=None, help="heading of the tables")
    p.add_argument("--render", type=Path, default=None, help="print the tables of an earlier results JSON; run nothing")
    p.add_argument("--setup-only", action="store_true", help="create the anchor venvs and the inputs, run nothing")
    args = p.parse_args(argv)
    if args.quick:
        args.tables, args.sizes, args.epochs = "flchain,heart_cleveland", "10000", 2
        args.max_rows = args.max_rows or 2000
        args.score_rows = min(args.score_rows, 10_000)
    args.table_list = _names(args.tables)
    args.size_list = [int(s.replace("_", "")) for s in _names(args.sizes)]
    args.anchor_list = _names(args.anchors)
    args.timing_list = _names(args.timing_generators)
    if unknown := set(args.table_list) - set(TABLES):
        p.error(f"unknown tables {sorted(unknown)}; choose from {list(TABLES)}")
    if unknown := set(args.anchor_list) - set(ANCHORS):
        p.error(f"unknown anchors {sorted(unknown)}; choose from {list(ANCHORS)}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    markdown = args.markdown or args.record is not None
    if args.render is not None:
        report = json.loads(args.render.read_text())
        report["label"] = args.label or report["label"]
        record(report_text(report, markdown), args.record)
        return 0
    registered, args.ours_error = registered_ours()
    args.registered = registered
    ours = registered if args.generators == "all" else _names(args.generators)
    if args.generators == "all" and not registered:
        ours = [g for g in OURS if g in {"gaussian_copula", "cart"}]  # rows that say why they did not run
    if args.generators != "all" and registered and (unknown := set(ours) - set(registered)):
        raise SystemExit(f"--generators: {sorted(unknown)} are not registered; registered: {registered}")
    notes: list[str] = [args.ours_error] if args.ours_error else []
    report: dict[str, Any] = {
        "label": args.label or ("smoke run (--quick)" if args.quick else "benchmark run"),
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": shlex.join(["python", "benchmarks/synth_tabular.py", *(sys.argv[1:] if argv is None else argv)]),
        "machine": machine(),
        "epochs": args.epochs,
        "max_deep_rows": args.max_deep_rows,
        "score_rows": args.score_rows,
        "timed": TIMED,
        "notes": notes,
        "blocks": [],
    }
    inputs = [(prepare_real(t, args.max_rows, args.seed), [*ours, *args.anchor_list]) for t in args.table_list]
    inputs += [(prepare_bootstrap(n, args.seed), args.timing_list) for n in args.size_list]
    if args.setup_only:
        for tool, steps in VENV_STEPS.items():
            python, tool_notes = ensure_venv(tool, steps, step_timeout=INSTALL_TIMEOUT_S)
            log(f"{tool}: {python or 'does not install'} {tool_notes or ''}")
        return 0
    for (path, meta), generators in inputs:
        results = {gen: run_generator(gen, path, meta, args, notes) for gen in generators}
        score_block(path, meta, results, args)
        report["blocks"].append({**meta, "input": str(path), "results": results})
        write_json(args.out, report)  # after every table, so an interrupted run keeps what it measured
    report["notes"] = list(dict.fromkeys(notes))
    write_json(args.out, report)
    log(f"wrote {args.out}")
    record(report_text(report, markdown), args.record)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
