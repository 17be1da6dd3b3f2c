"""Anchor: pycasbin (pure Python) deciding the benchmark's access requests with an ABAC model.

Input: the JSON written by ``benchmarks/policy.py``. The model is casbin's "ABAC with policy
rules" pattern: each policy line holds a Python expression over the request's attributes
(``r.sub.role in (...) and ...``), evaluated by ``eval()`` in the matcher, an action pattern for
``keyMatch`` and an effect; the policy effect is deny-overrides
(``some(where (p.eft == allow)) && !some(where (p.eft == deny))``). Requests are pre-built
objects. Timed: ``enforcer.enforce(sub, obj, act, ctx)`` per request.
"""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path
from types import SimpleNamespace

import _common

try:
    import casbin
    from casbin.model import Model
except Exception as exc:
    _common.skip("pycasbin", f"import failed: {type(exc).__name__}: {exc}")
    raise SystemExit(0) from None

MODEL = """
[request_definition]
r = sub, obj, act, ctx

[policy_definition]
p = rule, act, eft, id

[policy_effect]
e = some(where (p.eft == allow)) && !some(where (p.eft == deny))

[matchers]
m = keyMatch(r.act, p.act) && eval(p.rule)
"""


def main() -> None:
    args = _common.parse_args()
    spec = json.loads(Path(args.input).read_text())
    model = Model()
    model.load_model_from_text(MODEL)
    enforcer = casbin.Enforcer(model)
    enforcer.add_policies([tuple(line) for line in spec["casbin"]])
    users = [SimpleNamespace(**{**u, "training": tuple(u["training"])}) for u in spec["subjects"]]
    datasets = [SimpleNamespace(**{**d, "consent_scope": tuple(d["consent_scope"])}) for d in spec["resources"]]
    requests = [
        (
            users[r["subject"]],
            datasets[r["resource"]],
            r["action"],
            SimpleNamespace(purpose=r["purpose"], legal_basis=r["legal_basis"]),
        )
        for r in spec["requests"]
    ]
    first = [enforcer.enforce(*q) for q in requests]
    seconds = float(spec["seconds"])
    done, started, cpu = 0, time.perf_counter(), time.process_time()
    while time.perf_counter() - started < seconds:
        for q in requests:
            enforcer.enforce(*q)
            done += 1
            if done % 200 == 0 and time.perf_counter() - started >= seconds:
                break
    rate = done / (time.perf_counter() - started)
    cpu_rate = done / max(time.process_time() - cpu, 1e-9)
    lat = []
    for q in requests[:2000]:
        t0 = time.perf_counter_ns()
        enforcer.enforce(*q)
        lat.append(time.perf_counter_ns() - t0)
    qs = statistics.quantiles(lat, n=100)
    _common.emit(
        {
            "tool": "pycasbin",
            "version": _common.version("pycasbin"),
            "decisions_per_s": rate,
            "decisions_per_cpu_s": cpu_rate,
            "p50_us": qs[49] / 1e3,
            "p99_us": qs[98] / 1e3,
            "allowed": "".join("1" if a else "0" for a in first),
        }
    )


if __name__ == "__main__":
    main()
