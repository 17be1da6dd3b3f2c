"""Anchor: Cedar (cedarpy, Rust) deciding the benchmark's access requests.

Input: the JSON written by ``benchmarks/policy.py`` (subjects, resources, requests, the policy in
Cedar). The entity store (every user and dataset with its attributes) is parsed once into an
``Entities`` handle and the policies into a ``PolicySet`` handle, the documented way to reuse
them across calls; requests are pre-built dicts. Timed: ``is_authorized(request, policies,
entities)`` per request, and ``is_authorized_batch`` over chunks of 1,000.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

import _common

try:
    import cedarpy
except Exception as exc:
    _common.skip("cedarpy", f"import failed: {type(exc).__name__}: {exc}")
    raise SystemExit(0) from None


def main() -> None:
    args = _common.parse_args()
    spec = json.loads(Path(args.input).read_text())
    users = spec["subjects"]
    datasets = spec["resources"]
    store = [
        {
            "uid": {"type": "User", "id": u["id"]},
            "attrs": {k: u[k] for k in ("user", "role", "site", "training")},
            "parents": [],
        }
        for u in users
    ] + [
        {"uid": {"type": "Dataset", "id": d["id"]}, "attrs": {k: v for k, v in d.items() if k != "id"}, "parents": []}
        for d in datasets
    ]
    ents = cedarpy.Entities.from_json_str(json.dumps(store))
    policies = cedarpy.PolicySet.from_str(spec["cedar"]) if hasattr(cedarpy.PolicySet, "from_str") else spec["cedar"]
    requests = []
    for r in spec["requests"]:
        context = {"purpose": r["purpose"]}
        if r["legal_basis"] is not None:
            context["legal_basis"] = r["legal_basis"]
        requests.append(
            {
                "principal": {"type": "User", "id": users[r["subject"]]["id"]},
                "action": {"type": "Action", "id": r["action"]},
                "resource": {"type": "Dataset", "id": datasets[r["resource"]]["id"]},
                "context": context,
            }
        )
    first = [cedarpy.is_authorized(q, policies, ents) for q in requests]
    errors = [e for res in first for e in res.diagnostics.errors]
    if errors:
        print(f"cedar evaluation errors (first 3): {errors[:3]}", file=sys.stderr)
    rules = []
    for res in first:
        ids = res.diagnostics.id_annotations_by_reason
        rules.append(sorted(ids.get(reason, reason) for reason in res.diagnostics.reasons))
    seconds = float(spec["seconds"])
    done, started, cpu = 0, time.perf_counter(), time.process_time()
    while time.perf_counter() - started < seconds:
        for q in requests:
            cedarpy.is_authorized(q, policies, ents)
        done += len(requests)
    rate = done / (time.perf_counter() - started)
    cpu_rate = done / max(time.process_time() - cpu, 1e-9)
    done, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        for i in range(0, len(requests), 1000):
            cedarpy.is_authorized_batch(requests[i : i + 1000], policies, ents)
        done += len(requests)
    batch = done / (time.perf_counter() - started)
    lat = []
    for q in requests:
        t0 = time.perf_counter_ns()
        cedarpy.is_authorized(q, policies, ents)
        lat.append(time.perf_counter_ns() - t0)
    qs = statistics.quantiles(lat, n=100)
    _common.emit(
        {
            "tool": "cedarpy",
            "version": _common.version("cedarpy"),
            "decisions_per_s": rate,
            "decisions_per_cpu_s": cpu_rate,
            "batch_per_s": batch,
            "p50_us": qs[49] / 1e3,
            "p99_us": qs[98] / 1e3,
            "allowed": "".join("1" if res.allowed else "0" for res in first),
            "rules": rules,
            "evaluation_errors": len(errors),
        }
    )


if __name__ == "__main__":
    main()
