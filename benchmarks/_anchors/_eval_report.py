"""Agreement checks and Markdown tables of ``benchmarks/evaluate.py`` (driver side, the project's venv).

:data:`VERSUS` lists the side-by-side comparisons: our unit of work against one anchor's unit(s).
:func:`value_rows` puts the values the tools share next to each other with an "agree" verdict —
``exact`` (relative tolerance 1e-6) for deterministic metrics on the same inputs, ``within CI`` for
sampled ones (our value inside their interval or theirs inside ours) — and :func:`markdown`
renders a run's JSON as the tables recorded in ``RESULTS.md``, with the deliberate differences
between the tools' definitions (:data:`NOTES`) under them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from _harness import failure, heading
from _harness import fmt as _fmt

TIMED = (
    "s = wall time of the unit of work on data already in memory (ours: the metric's evaluate() with the "
    "shared encoding precomputed, as the anchors get the encoded .npy); no start-up, imports or loading. "
    "speedup = their s / our s; speedup (CPU) = their CPU s / our CPU s (user + system of all threads); "
    "fastest = their fastest run / our fastest run (with --repeat: a shared VM runs whole processes in a "
    "fast or a slow mode, and the medians of two tools can fall in different modes). "
    "peak MB = the tool process's whole peak resident memory during that work (imports and loaded data "
    "included; Linux VmHWM); memory = their peak / our peak, the ratio the targets use. work MB = that peak "
    "minus the resident memory just before the work (after imports, loading and a garbage collection): what "
    "the computation itself added; work memory = their work MB / our work MB. Each unit runs in its own process."
)


@dataclass(frozen=True)
class Versus:
    """One side-by-side row: our unit against one anchor's unit(s) (times summed, peaks maxed)."""

    label: str
    ours: str
    tool: str
    theirs: tuple[str, ...]
    modality: str = "tabular"


VERSUS = [
    *(Versus(m, m, "pymdma", (m,)) for m in ("precision", "recall", "density", "coverage")),
    Versus("PRDC, all four", "prdc", "pymdma", ("precision", "recall", "density", "coverage")),
    Versus("DCR", "dcr", "pymdma", ("dcr",)),
    Versus("NNDR", "nndr", "pymdma", ("nndr",)),
    Versus("quality report (KS, TV, pairs)", "quality", "sdmetrics", ("quality_report",)),
    Versus(
        "singling out (uni + multi)",
        "singling_out",
        "anonymeter",
        ("singling_out_univariate", "singling_out_multivariate"),
    ),
    Versus("linkability", "linkability", "anonymeter", ("linkability",)),
    Versus("inference", "inference", "anonymeter", ("inference",)),
]
DTW_VERSUS = Versus("DTW (ECG windows)", "dtw", "pymdma", ("dtw",), "signal")
PRDC = {"precision", "recall", "density", "coverage"}


# ------------------------------------------------------------------------------------- agreement


def _isclose(a: float, b: float, rel: float) -> bool:
    return math.isclose(a, b, rel_tol=rel, abs_tol=1e-12)


def _inside(x: float | None, v: dict[str, Any] | None) -> bool:
    if v is None or x is None or v.get("ci_low") is None or v.get("ci_high") is None:
        return False
    return bool(v["ci_low"] - 1e-12 <= x <= v["ci_high"] + 1e-12)


def agree(ours: Any, theirs: Any, kind: str, rel: float = 1e-6) -> str:
    """``exact`` / ``within CI`` / ``differs (Δ …)`` for two values (numbers, or dicts with value and CI)."""
    o = ours.get("value") if isinstance(ours, dict) else ours
    t = theirs.get("value") if isinstance(theirs, dict) else theirs
    if o is None or t is None:
        return "–"
    if kind == "exact":
        return "exact" if _isclose(o, t, rel) else f"differs (Δ {o - t:+.3g})"
    inside = _inside(o, theirs if isinstance(theirs, dict) else None) or _inside(
        t, ours if isinstance(ours, dict) else None
    )
    return "within CI" if inside else f"outside CI (Δ {o - t:+.3g})"


def ok(r: dict[str, Any] | None) -> bool:
    """Whether a unit's result ran through and has values."""
    return r is not None and "values" in r and not failure(r) and "not_run" not in r


def _pair(key: str, columns: Sequence[str]) -> frozenset[str] | None:
    """The two column names an item key of a pair metric names ("a ~ b", else any separator)."""
    parts = key.split(" ~ ")
    if len(parts) == 2 and all(p in columns for p in parts):
        return frozenset(parts)
    found = [c for c in sorted(columns, key=len, reverse=True) if c in key]
    hits: list[str] = []
    for c in found:
        if not any(c in h for h in hits):
            hits.append(c)
    return frozenset(hits) if len(hits) == 2 else None


def quality_rows(ours: dict[str, Any], theirs: dict[str, Any], columns: dict[str, Any]) -> list[list[str]]:
    """Column shapes and pair trends: ours (from per-column / per-pair items) against SDMetrics'."""
    m = ours["metrics"]
    rows: list[list[str]] = []
    per_col = theirs["per_column"]
    ks = {k: v for k, v, _ in m.get("ks", {}).get("items", [])}
    tv = {k: v for k, v, _ in m.get("tv", {}).get("items", [])}
    shapes, worst = [], 0.0
    for col, (metric, score) in per_col.items():
        mine = ks.get(col) if metric == "KSComplement" else tv.get(col)
        if mine is None or score is None:
            continue
        shapes.append(1 - mine)
        worst = max(worst, abs((1 - mine) - score))
    if len(shapes) == len(per_col):
        mean = sum(shapes) / len(shapes)
        rows.append(
            [
                "Column Shapes",
                f"{mean:.6f}",
                f"{theirs['column_shapes']:.6f}",
                agree(mean, theirs["column_shapes"], "exact"),
            ]
        )
    rows.append(
        ["per column (1 − KS or 1 − TV)", f"{len(shapes)} of {len(per_col)} columns", "", f"max |Δ| {worst:.2g}"]
    )
    corr = {_pair(k, list(columns)): v for k, v, _ in m.get("correlation", {}).get("items", [])}
    cont = {_pair(k, list(columns)): v for k, v, _ in m.get("contingency", {}).get("items", [])}
    # SDMetrics 0.32 scores only pairs whose real |ρ| > 0.5 or Cramér's V > 0.3 (others: NaN, not averaged)
    scored = [p for p in theirs["per_pair"] if p[3] is not None]
    scores, d_corr, d_cont = [], 0.0, 0.0
    for c1, c2, metric, score, real_r, syn_r in scored:
        key = frozenset((c1, c2))
        if metric == "CorrelationSimilarity" and key in corr and real_r is not None and syn_r is not None:
            d_corr = max(d_corr, abs(corr[key] - abs(real_r - syn_r)))
            scores.append(1 - corr[key] / 2)
        elif metric == "ContingencySimilarity" and key in cont:
            d_cont = max(d_cont, abs(cont[key] - score))
            scores.append(cont[key])
    if scores and len(scores) == len(scored):
        mean = sum(scores) / len(scores)
        trends = theirs["column_pair_trends"]
        rows.append(
            [
                "Column Pair Trends (pairs SDMetrics scores)",
                f"{mean:.6f}",
                f"{trends:.6f}",
                agree(mean, trends, "exact"),
            ]
        )
    rows.append(
        [
            "per pair: |Δρ| (Pearson) / contingency similarity",
            f"{len(scores)} of the {len(scored)} pairs SDMetrics scores (of {len(theirs['per_pair'])})",
            "",
            f"max |Δ| {d_corr:.2g} / {d_cont:.2g}" if scores else "no pair matched",
        ]
    )
    return rows


def value_rows(
    v: Versus, ours: dict[str, Any], theirs: dict[str, dict[str, Any]], columns: dict[str, Any]
) -> list[list[str]]:
    """[what, ours, theirs, agree] rows for one comparison."""
    o = ours["values"]
    t = {u: r["values"] for u, r in theirs.items() if ok(r)}

    def num(x: Any) -> str:
        x = x.get("value") if isinstance(x, dict) else x
        return _fmt(x, ".4f")

    def ci(x: dict[str, Any]) -> str:
        low, high = x.get("ci_low"), x.get("ci_high")
        return f"{num(x)} [{_fmt(low, '.3f')}, {_fmt(high, '.3f')}]" if low is not None else num(x)

    if v.ours in PRDC and v.ours in t:
        kind = "ci" if str(o.get("neighbours", "")).startswith("approximate") else "exact"
        return [[v.label, ci(o), num(t[v.ours]), agree(o, t[v.ours]["value"], kind)]]
    if v.ours == "prdc":
        return []  # the four values are compared on their own rows
    if v.ours in ("dcr", "nndr") and v.ours in t:
        th = t[v.ours]
        key = f"median_{v.ours}_synthetic"
        return [
            [f"{v.label} (headline)", ci(o), f"privacy {num(th['privacy'])}", "n/a: different definitions"],
            [
                f"median synthetic {v.label}",
                num(o.get(key)),
                num(th["median_synthetic"]),
                agree(o.get(key), th["median_synthetic"], "exact"),
            ],
        ]
    if v.ours == "quality" and "quality_report" in t:
        return quality_rows(o, t["quality_report"], columns)
    if v.ours == "singling_out":
        rows = []
        for mode in ("univariate", "multivariate"):
            th = t.get(f"singling_out_{mode}")
            if th is None or mode not in o:
                continue
            for what in ("risk", "attack_rate", "control_rate"):
                rows.append(
                    [
                        f"{mode} {what.replace('_', ' ')}",
                        ci(o[mode][what]),
                        ci(th[what]),
                        agree(o[mode][what], th[what], "ci"),
                    ]
                )
        return rows
    if v.ours in ("linkability", "inference") and v.ours in t and "attack" in o:
        th = t[v.ours]
        return [
            [f"{v.label} {w.replace('_', ' ')}", ci(o["attack"][w]), ci(th[w]), agree(o["attack"][w], th[w], "ci")]
            for w in ("risk", "attack_rate", "control_rate", "baseline_rate")
        ]
    if v.ours == "dtw" and "dtw" in t:
        return [[v.label, num(o), num(t["dtw"]), "n/a: different definitions"]]
    return []


# --------------------------------------------------------------------------------------- reports

NOTES = [
    "pyMDMA PRDC counts a distance equal to a radius (np.isclose) as inside; Naeem et al.'s reference code "
    "uses strict <. They differ only where distances tie with radii (duplicate records).",
    "pyMDMA DCRPrivacy / NNDRPrivacy report 100 − % of a KDE-smoothed synthetic-distance density below the "
    "real-to-real 25th percentile; ours report the share of synthetic records below the holdout's 5th "
    "percentile. Only the nearest-neighbour distances both compute are compared (median over synthetic records).",
    "NNDR: pyMDMA divides by d₂ + 1e-10 (0 when d₁ = d₂ = 0); ours counts 0/0 as ratio 1 (not singled out).",
    "SDMetrics 0.32's QualityReport scores a column pair only when the real data shows an association (|Pearson "
    "ρ| > 0.5, Cramér's V > 0.3) and averages those; our correlation_difference and contingency_similarity "
    "average every pair. Column Pair Trends is compared on the pairs SDMetrics scores.",
    "SDMetrics cuts a numerical column of a mixed pair into 10 equal-width bins of its *own* data (real and "
    "synthetic get different edges) and subsamples pairs above 50,000 rows without a seed; ours bins at up to "
    "10 real quantiles, the same edges for both sides. Per-pair contingency values differ by design for mixed "
    "pairs; our pair metrics list at most 200 pairs (the worst), so pair rows compare the pairs listed.",
    "anonymeter's neighbours use a Gower-like L1 distance on the raw columns; ours Euclidean on the shared "
    "encoding, so the attacks are alike, not identical: agreement is 'within CI'.",
    "anonymeter 1.1's inference baseline is not a random guess: it re-indexes the guesses drawn from the "
    "synthetic table onto the targets' index labels (guesses.reindex_like(targets)), so most become NaN and "
    "count as wrong; ours copies the secret of a random synthetic record. The risk does not use the baseline.",
    "pyMDMA's DTW (fastdtw, every channel at the recorded rate, |a − b| costs) compares every target with every "
    "reference but keeps only the last reference's distance per target; ours (dtw_nearest_neighbour) reduces "
    "each window to its first principal component at 50 Hz, z-normalised, and finds exact banded-DTW nearest "
    "neighbours of the synthetic and holdout windows. Times are compared; values are not.",
    "synthcity does not install beside torch 2.13 (see synth_tabular.py), so nothing is compared with it.",
]


def _peak(results: list[dict[str, Any]], key: str = "peak_mb") -> float | None:
    """The largest ``key`` (a memory figure) of the runs, each its own process."""
    peaks = [r[key] for r in results if isinstance(r.get(key), int | float)]
    return max(peaks) if peaks else None


def _total(results: list[dict[str, Any]], key: str) -> float | None:
    if not results or not all(isinstance(r.get(key), int | float) for r in results):
        return None
    return float(sum(r[key] for r in results))


def _theirs(theirs: dict[str, dict[str, Any]]) -> tuple[str, float | None, float | None]:
    """Their wall time as text, and their wall and CPU seconds (DTW: scaled from the pairs timed to all)."""
    if any("not_run" in r for r in theirs.values()):
        return "not run", None, None
    bad = [failure(r) for r in theirs.values() if failure(r)]
    if bad:
        return bad[0] or "–", None, None
    dtw = theirs.get("dtw")
    if dtw is not None and ok(dtw):
        scale = dtw["values"]["scale"]
        wall, cpu = dtw["work_s"] * scale, dtw["cpu_s"] * scale
        return f"~{wall:,.0f} (extrapolated)", wall, cpu
    wall = _total(list(theirs.values()), "work_s")
    return _fmt(wall), wall, _total(list(theirs.values()), "cpu_s")


def _fastest(results: list[dict[str, Any]]) -> float | None:
    """The fastest run's wall time (summed over units), or None with one run or a DTW extrapolation."""
    if not results or any("runs" not in r or r.get("unit") == "dtw" for r in results):
        return None
    return float(sum(min(run["work_s"] for run in r["runs"]) for r in results))


def _ratio(theirs: float | None, ours: float | None) -> float | None:
    return theirs / ours if theirs and ours else None


def _times(x: float | None, suffix: str = "×") -> str:
    return f"{x:,.1f}{suffix}" if x is not None else "–"


def comparison_table(block: dict[str, Any], versus: Sequence[Versus], columns: dict[str, Any]) -> list[str]:
    """The speed/memory table of one size (or the ECG block), the value table and what was not run."""
    res = block["results"]
    lines = [
        "| metric | anchor | our s | their s | speedup | speedup (CPU) | fastest | our peak MB | their peak MB "
        "| memory | our work MB | their work MB | work memory | targets |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    values: list[list[str]] = []
    reasons: list[str] = []
    for v in versus:
        if v.tool not in res:
            continue
        theirs = {u: res[v.tool].get(u, {"error": "not run"}) for u in v.theirs}
        ours = res.get("medsyn", {}).get(v.ours)
        t_text, t_s, t_cpu = _theirs(theirs)
        good = ours is not None and ok(ours)
        o_s, o_cpu, o_peak = (ours["work_s"], ours.get("cpu_s"), ours["peak_mb"]) if good else (None, None, None)
        o_work = ours.get("work_mb") if good else None
        o_text = _fmt(o_s) if good else (failure(ours) or "not run") if ours else "not run"
        t_peak = _peak([r for r in theirs.values() if ok(r)])
        t_work = _peak([r for r in theirs.values() if ok(r)], "work_mb")
        speed, mem, work_mem = _ratio(t_s, o_s), _ratio(t_peak, o_peak), _ratio(t_work, o_work)
        target = "–"
        if speed is not None and mem is not None:
            target = f"{'PASS' if speed >= 5 else 'FAIL'} / {'PASS' if mem >= 4 else 'FAIL'}"
        version = next((r.get("version") for r in theirs.values() if r.get("version")), "")
        cpu = _ratio(t_cpu, o_cpu)
        fastest = _ratio(_fastest(list(theirs.values())), _fastest([ours]) if good and ours else None)
        lines.append(
            f"| {v.label} | {v.tool} {version} | {o_text} | {t_text} | {_times(speed)} | {_times(cpu)} "
            f"| {_times(fastest)} | {_fmt(o_peak, '.0f')} | {_fmt(t_peak, '.0f')} | {_times(mem, '× lower')} "
            f"| {_fmt(o_work, '.0f')} | {_fmt(t_work, '.0f')} | {_times(work_mem, '× lower')} | {target} |"
        )
        reasons += [f"{v.tool} {u}: {r['not_run']}" for u, r in theirs.items() if "not_run" in r]
        if ours and "skipped" in ours:
            reasons.append(f"medsyn {v.ours}: {ours['skipped']}")
        if ours and good and any(ok(r) for r in theirs.values()):
            values += value_rows(v, ours, theirs, columns)
    lines += [
        "",
        "Targets: speedup ≥ 5× / peak memory ≥ 4× lower (PASS/FAIL each, wall time, whole-process peak). "
        "The work-memory columns leave out what each process holds before the work (imports, loaded data).",
    ]
    if reasons:
        lines += ["", "Not run or skipped:", "", *[f"- {r}" for r in reasons]]
    if values:
        lines += [
            "",
            "| value | ours | theirs | agree |",
            "|---|---|---|---|",
            *[f"| {' | '.join(r)} |" for r in values],
        ]
    return lines


def scorecard_table(report: dict[str, Any]) -> list[str]:
    lines = [
        "| rows per side | metrics | ran | total s | peak MB | slowest metrics | errors |",
        "|---|---|---|---|---|---|---|",
    ]
    for size, block in report.get("tabular", {}).items():
        r = block["results"].get("medsyn", {}).get("scorecard")
        if not r:
            continue
        if not ok(r):
            lines.append(f"| {int(size):,} | – | – | – | – | – | {failure(r)} |")
            continue
        metrics = r["values"]["metrics"]
        ran = [k for k, m in metrics.items() if m["status"] not in ("skipped", "error")]
        slow = sorted(((m.get("seconds") or 0.0, k) for k, m in metrics.items()), reverse=True)[:3]
        lines.append(
            f"| {int(size):,} | {len(metrics)} | {len(ran)} | {r['work_s']:.1f} | {r['peak_mb']:.0f} "
            f"| {', '.join(f'{k} {s:.1f} s' for s, k in slow)} | {len(r['values']['errors'])} |"
        )
    return lines


def markdown(report: dict[str, Any]) -> str:
    title, blank, machine_line = heading(report)
    lines = [title, blank, f"{machine_line}; repeat {report['repeat']} (median).", "", f"Timing: {TIMED}", ""]
    columns = report.get("columns", {})
    for size, block in report.get("tabular", {}).items():
        f = block["spec"]["facts"]
        lines += [
            f"#### {int(size):,} rows per side",
            "",
            f"Data: {f['source']}; {f['split']}; real: {f['sampling']['real']}; holdout: {f['sampling']['holdout']}; "
            f"synthetic: {f['synthetic']}. Encoding: {f['encoding_features']} features, {f['encode_s']:.1f} s "
            "(medsyn TableEncoding, once, shared by every tool; not in any time below).",
            "",
            *comparison_table(block, VERSUS, columns),
            "",
        ]
    if "signal" in report:
        s = report["signal"]
        lines += [f"#### ECG: {s['meta']['sampling']}", "", f"Data: {s['meta']['source']}.", ""]
        lines += [*comparison_table(s, [DTW_VERSUS], columns), ""]
    if any("scorecard" in b["results"].get("medsyn", {}) for b in report.get("tabular", {}).values()):
        lines += [
            "#### Ours alone: `medsyn.evaluate.evaluate` with every tabular metric (validation and encoding included)",
            "",
        ]
        lines += [*scorecard_table(report), ""]
    lines += ["Notes (deliberate differences):", "", *[f"- {n}" for n in NOTES + report["notes"]], ""]
    return "\n".join(lines)
