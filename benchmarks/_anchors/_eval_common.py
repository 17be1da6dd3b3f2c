"""The protocol of the evaluation-benchmark runners (ours and the anchors), standard library only.

A runner is started as ``<venv python> <runner>.py --spec SPEC.json --unit NAME``. ``SPEC.json``
is written by ``benchmarks/evaluate.py`` once per size and names every prepared input (the
Parquet tables, their column description, the shared encoded ``.npy`` matrices, the ECG arrays)
and the attack parameters, so that every tool reads the same files with the same settings. A
*unit* is one timed piece of work of one tool (one metric, one report, one attack). The runner

1. notes the resident memory after imports (``rss_base_mb``),
2. loads what the unit needs (``load_s``, ``peak_load_mb``; not part of the comparison),
3. notes the resident memory just before the work (``rss_work_start_mb``: imports and loaded
   data, after a garbage collection),
4. runs the unit on the data in memory (``work_s`` wall, ``cpu_s`` user + system of all threads,
   ``peak_mb``: the process's peak resident memory during the work, loaded data included;
   ``work_mb``: that peak minus ``rss_work_start_mb``, the memory the work itself added),

and prints one ``RESULT_JSON`` line with those numbers and the unit's ``values`` (what the
driver compares across tools; a unit the tool has nothing for returns ``{"_skipped": why}``).
One unit per process, so a unit that runs out of memory loses only itself and peaks never carry
over from an earlier unit.

Standard library only at import: this module is imported from every anchor venv.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import _common

#: ``load(spec) -> data``; ``work(data, spec) -> values`` (JSON-able; ``"_notes"``: a list of notes).
Load = Callable[[dict[str, Any]], Any]
Work = Callable[[Any, dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class Unit:
    """One timed piece of work and how to load its input."""

    load: Load
    work: Work
    what: str


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser()
    p.add_argument("--spec", required=True, help="JSON written by benchmarks/evaluate.py")
    p.add_argument("--unit", required=True, help="which unit of work to run")
    return p.parse_args()


def run(tool: str, units: dict[str, Unit], *, extra: dict[str, Any] | None = None) -> None:
    """Load, work, measure and print one RESULT_JSON line (also on failure, with ``error``)."""
    args = parse_args()
    spec = json.loads(Path(args.spec).read_text())
    out: dict[str, Any] = {"tool": tool, "unit": args.unit, "pid": os.getpid(), **(extra or {})}
    unit = units.get(args.unit)
    if unit is None:
        _common.emit({**out, "error": f"unknown unit '{args.unit}'; this runner has {sorted(units)}"})
        return
    out["timed"] = unit.what
    out["rss_base_mb"] = _common.rss_mb()
    try:
        with _common.Phase() as p_load:
            data = unit.load(spec)
        out["load_s"], out["peak_load_mb"] = p_load.wall_s, p_load.peak_mb
        gc.collect()
        out["rss_work_start_mb"] = start = _common.rss_mb()
        with _common.Phase() as p_work:
            values = unit.work(data, spec)
        out["work_s"], out["cpu_s"], out["peak_mb"] = p_work.wall_s, p_work.cpu_s, p_work.peak_mb
        out["work_mb"] = max(0.0, p_work.peak_mb - start)
        out["peak_method"] = p_work.method
        out["notes"] = list(values.pop("_notes", []))
        if "_skipped" in values:  # the tool has nothing that does this unit's work (e.g. not registered)
            out["skipped"] = values.pop("_skipped")
        out["values"] = values
    except Exception as exc:
        out["error"] = f"{type(exc).__name__}: {exc}"
        traceback.print_exc()
    out["ru_maxrss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e6
    _common.emit(out)


def skip(tool: str, reason: str) -> None:
    """Report that the tool cannot run here at all (its import failed)."""
    args = parse_args()
    _common.emit({"tool": tool, "unit": args.unit, "skipped": reason})


def finite(x: Any) -> float | None:
    """A float for JSON, ``None`` for NaN / inf / missing."""
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if v == v and abs(v) != float("inf") else None


def with_ci(value: Any, low: Any, high: Any) -> dict[str, float | None]:
    """A value with its confidence interval, as the driver compares it."""
    return {"value": finite(value), "ci_low": finite(low), "ci_high": finite(high)}
