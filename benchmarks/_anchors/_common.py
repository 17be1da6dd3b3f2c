"""Measurement helpers shared by every runner (standard library only: runners live in other venvs).

A runner is started as ``<venv python> <runner>.py --input PATH``. It imports its tool, then

1. notes the resident memory after imports (``rss_base_mb``),
2. resets the peak-RSS mark and times *loading* the prepared input (``load_s``, ``peak_load_mb``),
3. resets the peak-RSS mark again and times the *audit* on the loaded data (``audit_s``,
   ``peak_audit_mb``: the process's high-water mark while auditing, loaded data included),

and prints one line ``RESULT_JSON: {...}`` that the driver (``benchmarks/audit.py``) parses.

The peak is Linux's ``VmHWM``, reset by writing ``5`` to ``/proc/self/clear_refs``. Where that
cannot be done, a thread samples ``VmRSS`` every 2 ms instead (``peak_method`` says which).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import threading
import time
import traceback
import types
from collections.abc import Callable
from typing import Any

MARKER = "RESULT_JSON: "


def _status_kb(key: str) -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(key + ":"):
                return float(line.split()[1])
    raise KeyError(key)


def rss_mb() -> float:
    """Resident memory of this process now, in MB (10^6 bytes)."""
    try:
        return _status_kb("VmRSS") * 1024 / 1e6
    except (OSError, KeyError):
        return float("nan")


class PeakMeter:
    """Peak resident memory of this process over a ``with`` block, in MB."""

    def __init__(self) -> None:
        self.peak_mb = float("nan")
        self.method = "VmHWM"
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._polled = 0.0

    def __enter__(self) -> PeakMeter:
        try:
            with open("/proc/self/clear_refs", "w") as fh:
                fh.write("5")
            _status_kb("VmHWM")
        except (OSError, KeyError):
            self.method = "VmRSS poll 2 ms"
            self._polled = rss_mb()
            self._thread = threading.Thread(target=self._poll, daemon=True)
            self._thread.start()
        return self

    def _poll(self) -> None:
        while not self._stop.is_set():
            self._polled = max(self._polled, rss_mb())
            time.sleep(0.002)

    def __exit__(self, *exc: object) -> None:
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self.peak_mb = max(self._polled, rss_mb())
        else:
            self.peak_mb = _status_kb("VmHWM") * 1024 / 1e6


class Phase:
    """Wall time, CPU time and peak resident memory of a ``with`` block.

    ``cpu_s`` is this process's user + system time (all its threads: BLAS, torch) plus that of
    child processes it waited for during the block.
    """

    def __init__(self) -> None:
        self.wall_s = self.cpu_s = float("nan")
        self._meter = PeakMeter()

    @staticmethod
    def _cpu() -> float:
        t = os.times()
        return t.user + t.system + t.children_user + t.children_system

    def __enter__(self) -> Phase:
        self._meter.__enter__()
        self._cpu0, self._wall0 = self._cpu(), time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall_s = time.perf_counter() - self._wall0
        self.cpu_s = self._cpu() - self._cpu0
        self._meter.__exit__(*exc)

    @property
    def peak_mb(self) -> float:
        return self._meter.peak_mb

    @property
    def method(self) -> str:
        return self._meter.method


class _StubMeta(type):
    """Any attribute of a stub class is another stub class, so ``class X(models.inception.InceptionA)`` works."""

    def __getattr__(cls, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return _StubMeta(name, (_Stub,), {})


class _Stub(metaclass=_StubMeta):
    def __init__(self, *_: object, **__: object) -> None:
        raise RuntimeError(
            f"{type(self).__name__} comes from a benchmark stub of torchvision, which is not usable here"
        )


STUBBED_TORCHVISION = ("torchvision", "torchvision.models", "torchvision.models.utils", "torchvision.transforms")


def stub_torchvision() -> None:
    """Stand in for torchvision where a tool imports it at package level but the timed work never calls it.

    PyPI's torchvision is broken beside the CPU torch 2.13 (``operator torchvision::nms does not
    exist``, see shared/DEPENDENCIES.md), or not installed. Any half-imported ``torchvision``
    modules are dropped first; calling anything from the stub raises.
    """

    def missing(name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return _StubMeta(name, (_Stub,), {})

    for name in [m for m in sys.modules if m == "torchvision" or m.startswith("torchvision.")]:
        del sys.modules[name]
    for name in STUBBED_TORCHVISION:
        mod = types.ModuleType(name)
        mod.__getattr__ = missing  # type: ignore[attr-defined]
        sys.modules[name] = mod
    for name in STUBBED_TORCHVISION[1:]:
        parent, _, child = name.rpartition(".")
        setattr(sys.modules[parent], child, sys.modules[name])


def version(dist: str) -> str:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as _v

    try:
        return _v(dist)
    except PackageNotFoundError:
        return "?"


def frame_mb(frame: Any) -> float:
    """``df.memory_usage(deep=True).sum()`` in MB: the table's in-memory size in this process."""
    return float(frame.memory_usage(deep=True).sum()) / 1e6


def emit(result: dict[str, Any]) -> None:
    sys.stdout.write(MARKER + json.dumps(result, default=str) + "\n")
    sys.stdout.flush()


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--input", required=True, help="prepared Parquet file or image folder")
    return parser.parse_args()


def run(
    tool: str,
    load: Callable[[str], Any],
    audit: Callable[[Any], dict[str, Any]],
    *,
    size_of: Callable[[Any], float] | None = None,
    timed: str,
    extra: dict[str, Any] | None = None,
) -> None:
    """Load, audit, measure and print one RESULT_JSON line (also on failure, with ``error``)."""
    args = parse_args()
    out: dict[str, Any] = {"tool": tool, "timed": timed, "pid": os.getpid(), **(extra or {})}
    out["rss_base_mb"] = rss_mb()
    try:
        with PeakMeter() as m_load:
            t0 = time.perf_counter()
            data = load(args.input)
            out["load_s"] = time.perf_counter() - t0
        out["peak_load_mb"] = m_load.peak_mb
        if size_of is not None:
            out["table_mb"] = size_of(data)
        with PeakMeter() as m_audit:
            t1 = time.perf_counter()
            details = audit(data)
            out["audit_s"] = time.perf_counter() - t1
        out["peak_audit_mb"] = m_audit.peak_mb
        out["peak_method"] = m_audit.method
        out["e2e_s"] = out["load_s"] + out["audit_s"]
        out["peak_mb"] = max(out["peak_load_mb"], out["peak_audit_mb"])
        out.update(details)
    except Exception as exc:
        out["error"] = f"{type(exc).__name__}: {exc}"
        traceback.print_exc()
    out["ru_maxrss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e6
    emit(out)


def skip(tool: str, reason: str, **extra: Any) -> None:
    """Report that a tool could not run here (missing import, nothing to audit)."""
    emit({"tool": tool, "skipped": reason, **extra})
