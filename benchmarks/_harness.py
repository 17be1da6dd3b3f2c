"""Driver-side helpers shared by the benchmark scripts (``audit.py``, ``synth_tabular.py``).

The scripts run in the project's ``.venv``; each anchor tool runs from its own virtual
environment under ``benchmarks/.venvs/<tool>``, made here on first use, and every tool (ours too)
runs in its own subprocess that prints one ``RESULT_JSON: {...}`` line (see ``_anchors/_common.py``).
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
RUNNERS = HERE / "_anchors"
CACHE = HERE / ".cache"
VENVS = HERE / ".venvs"
SHARED = REPO.parent / "shared" / "data"
MARKER = "RESULT_JSON: "

#: One pip step: (required, pip arguments). A failed optional step is noted and the venv is still used.
Steps = list[tuple[bool, list[str]]]


def log(msg: str) -> None:
    print(f"[{datetime.now(UTC):%H:%M:%S}] {msg}", file=sys.stderr, flush=True)


def venv_python(tool: str) -> Path:
    return VENVS / tool / "bin" / "python"


def ensure_venv(tool: str, steps: Steps, *, step_timeout: float | None = None) -> tuple[Path | None, list[str]]:
    """Create ``benchmarks/.venvs/<tool>`` on first use; return its python (None if it failed) and install notes.

    Every pip call gets ``-c constraints.txt`` pinning ``torch==2.13.0`` (the CPU wheel on this
    machine's disk; an unpinned torch downloads a multi-GB CUDA build). The outcome is remembered
    beside the venv, a failure too, so a tool that does not install is not retried on every run;
    the venv is rebuilt when ``steps`` change, or when its folder is deleted.
    """
    python = venv_python(tool)
    ready = VENVS / tool / ".bench-ready.json"
    failed = VENVS / tool / ".bench-failed.json"
    spec = json.dumps(steps)
    for marker, ok in ((ready, True), (failed, False)):
        if marker.exists():
            state = json.loads(marker.read_text())
            if state.get("spec") == spec:
                return (python if ok else None), state.get("notes", [])
    VENVS.mkdir(parents=True, exist_ok=True)
    constraints = VENVS / "constraints.txt"
    constraints.write_text("torch==2.13.0\n")
    logfile = VENVS / f"{tool}-install.log"
    notes: list[str] = []
    log(f"creating {VENVS / tool} (pip log: {logfile})")
    started = time.perf_counter()
    with logfile.open("w") as fh:
        if not python.exists():
            # venv builds on the base interpreter even when called from the project's .venv
            subprocess.run(
                [sys.executable, "-m", "venv", str(VENVS / tool)], check=True, stdout=fh, stderr=subprocess.STDOUT
            )
        for required, args in steps:
            cmd = [str(python), "-m", "pip", "install", "-q", "-c", str(constraints), *args]
            fh.write(f"$ {' '.join(cmd)}\n")
            fh.flush()
            try:
                proc = subprocess.run(
                    cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=step_timeout
                )
                output, code = proc.stdout, proc.returncode
            except subprocess.TimeoutExpired as exc:
                out = exc.stdout or b""
                output = out.decode(errors="replace") if isinstance(out, bytes) else out
                code = f"did not finish within {step_timeout:.0f} s"
            fh.write(output)
            if code != 0:
                lines = [ln for ln in output.splitlines() if "is ignored" not in ln]
                errors = [ln for ln in lines if "ERROR" in ln or "error" in ln.lower()]
                note = f"pip install {' '.join(args)} failed: {' | '.join(errors[-3:]) or code}"
                notes.append(note)
                log(note)
                if required:
                    failed.write_text(json.dumps({"spec": spec, "notes": notes}))
                    return None, notes
    log(f"{tool}: venv ready in {time.perf_counter() - started:.0f} s")
    ready.write_text(json.dumps({"spec": spec, "notes": notes, "install_s": time.perf_counter() - started}))
    return python, notes


def run_runner(python: Path, runner: str, args: list[str], timeout: float) -> dict[str, Any]:
    """Run ``<python> _anchors/<runner> <args>`` and return its ``RESULT_JSON`` (or an ``error``)."""
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME"}}
    env["PYTHONWARNINGS"] = "ignore"
    cmd = [str(python), str(RUNNERS / runner), *args]
    started = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env, cwd=REPO)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    wall = time.perf_counter() - started
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith(MARKER):
            result: dict[str, Any] = json.loads(line[len(MARKER) :])
            result["process_wall_s"] = wall
            if "error" in result:
                result["stderr_tail"] = proc.stderr.strip().splitlines()[-5:]
            return result
    tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
    return {"error": f"no result (exit {proc.returncode}): {' | '.join(tail)}", "process_wall_s": wall}


def machine() -> dict[str, Any]:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return {
        "cores": os.cpu_count(),
        "arch": platform.machine(),
        "cpu": cpu,
        "memory_gib": round(mem_gb, 1),
        "python": platform.python_version(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def heading(report: dict[str, Any]) -> list[str]:
    """The title of a report's tables and a sentence on the machine and the command (no full stop after it)."""
    m = report["machine"]
    return [
        f"### {report['label']} — {report['date']}",
        "",
        f"Machine: {m['cores']} cores, {m['arch']}, {m['cpu'] or 'cpu ?'}, {m['memory_gib']} GiB; "
        f"Python {m['python']}; load average at start {m['load_average'][0]:.1f}. Command: `{report['command']}`",
    ]


def fmt(x: Any, spec: str = ".2f") -> str:
    return format(x, spec) if isinstance(x, int | float) else "–"


def speedup(theirs_s: float, ours_s: float) -> str:
    """``"7.3× faster"`` (their time / ours) or ``"2.0× slower"``."""
    r = theirs_s / ours_s
    return f"{r:.1f}× faster" if r >= 1 else f"{1 / r:.1f}× slower"


def failure(r: dict[str, Any]) -> str | None:
    """``"skipped: why"`` or ``"error: what"`` for a runner result that did not run through, else None."""
    if "skipped" in r:
        return f"skipped: {r['skipped']}"
    if "error" in r:
        return f"error: {r['error']}"
    return None


def write_json(path: Path, data: Any) -> None:
    """Write JSON atomically (temporary file, then rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str))
    tmp.replace(path)


def record(text: str, path: Path | None) -> None:
    """Print the Markdown tables and, with ``--record FILE``, append them to that file."""
    print(text)
    if path is not None:
        with path.open("a") as fh:
            fh.write("\n" + text + "\n")
        log(f"appended the tables to {path}")
