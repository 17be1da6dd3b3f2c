"""Benchmark: access-policy decisions per second, medsyn's evaluator beside Cedar (cedarpy) and pycasbin.

The same 20-rule attribute policy (the starter policy ``medsyn init`` writes plus 11 rules with
more roles, sensitivity bounds, dataset patterns, legal bases, named users and negations) is
translated from medsyn's rule model into Cedar (``permit``/``forbid`` with ``when`` clauses,
``@id`` per rule; Cedar is deny-by-default with forbid-overrides, as ours) and into a pycasbin
ABAC model (``eval()`` of a per-rule Python expression, ``keyMatch`` on the action, effect
``some(allow) && !some(deny)``). A seeded stream of requests (subjects, datasets and purposes
drawn from pools) is decided by each tool, each in its own process (anchors from their venvs
under ``benchmarks/.venvs/``):

- ``decisions/s``: one call per request, requests pre-built in the tool's native form, repeated
  until ``--seconds`` have passed; per wall-clock second and per CPU-second of the process (the
  second is steadier on a shared machine, and the ratio column uses it);
- ``batch/s`` (Cedar only): ``is_authorized_batch`` over chunks of 1,000;
- ``p50``/``p99``: per-call latency over one pass (``perf_counter_ns`` around each call);
- ``agree``: share of requests where the tool's allow/deny equals ours (the translation check);
  for Cedar, also whether our deciding rule is among the policies Cedar reports.

Cedar needs its entities parsed once into an ``Entities`` handle (the fastest documented use);
pycasbin re-parses each rule's expression on every request (its documented ABAC-with-eval use).

``python benchmarks/policy.py --quick`` is a short smoke run; the default runs 3 s per tool.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from _harness import CACHE, Steps, ensure_venv, failure, log, machine, record, run_runner, write_json
from medsyn.governance._access import ACTIONS, AccessRequest, Context, DataKind, Resource, Sensitivity, Subject
from medsyn.governance._policy import NOT_SAME_AS_RESOURCE, SAME_AS_RESOURCE, Match, Policy, Rule
from medsyn.governance._policy_yaml import default_policy_yaml, parse_policy

WORK = CACHE / "policy"
VENV_STEPS: dict[str, Steps] = {"cedarpy": [(True, ["cedarpy"])], "pycasbin": [(True, ["pycasbin"])]}
RUNNER = {"cedarpy": "cedarpy_policy.py", "pycasbin": "pycasbin_policy.py"}
TOOLS = ["medsyn", "cedarpy", "pycasbin"]

EXTRA_ROLES = """\
  external_researcher: A researcher from outside the hospital, under a data-use agreement.
  quality_officer: Runs quality-improvement audits at a site.
  epidemiologist: Public-health analyst.
"""
EXTRA_RULES = """
  - id: external-anonymised-research
    effect: allow
    description: External researchers read and evaluate anonymised or synthetic data, consent permitting.
    actions: [read, audit, evaluate, catalog.show]
    subject: {role: external_researcher, training: [gdpr]}
    resource: {kind: [anonymised, synthetic], sensitivity: {max: confidential}}
    context: {purpose: research, purpose_in_consent_scope: true}
  - id: quality-own-site
    effect: allow
    description: Quality officers audit non-identifiable data of their own site.
    actions: [read, audit, risk]
    subject: {role: quality_officer, site: same_as_resource}
    resource: {kind: {not: [identifiable]}}
    context: {purpose: quality_improvement}
  - id: epidemiology-dp
    effect: allow
    description: Trained epidemiologists release differentially private statistics for public health.
    actions: [dp.release, catalog.show]
    subject: {role: epidemiologist, training: [gdpr]}
    context: {purpose: public_health}
  - id: clinician-own-patients
    effect: allow
    description: Clinicians read identifiable or pseudonymised records of their own site for treatment.
    actions: [read]
    subject: {role: clinician, site: same_as_resource}
    resource: {kind: [identifiable, pseudonymised]}
    context: {purpose: treatment}
  - id: steward-catalog-everywhere
    effect: allow
    description: Data stewards see the catalog and lineage of every site.
    actions: [catalog.show, lineage.show]
    subject: {role: data_steward}
  - id: icu-model-building
    effect: allow
    description: ICU data of sites a and b may train models under consent or public interest.
    actions: [synth.*, evaluate]
    subject: {role: data_scientist, training: [gdpr]}
    resource: {owner_site: [site-a, site-b], dataset: ["icu_*"], kind: [pseudonymised, anonymised]}
    context: {purpose: ai_development, legal_basis: [consent, public_interest]}
  - id: dpo-audit
    effect: allow
    description: The DPO may audit and measure risk on any data for quality improvement.
    actions: [audit, risk]
    subject: {role: dpo}
    context: {purpose: quality_improvement}
  - id: no-special-category-externally
    effect: deny
    description: External researchers never touch special-category data.
    actions: ["*"]
    subject: {role: external_researcher}
    resource: {sensitivity: {min: special_category}}
  - id: revoked-account
    effect: deny
    description: A revoked account is refused everything.
    actions: ["*"]
    subject: {user: [mallory]}
  - id: no-special-category-export
    effect: deny
    description: Only data stewards export special-category data.
    actions: [export]
    subject: {role: {not: [data_steward]}}
    resource: {sensitivity: {min: special_category}}
  - id: ward-data-for-care-only
    effect: deny
    description: Ward datasets serve care and its quality only.
    actions: [synth.*, evaluate, dp.release]
    resource: {dataset: ["ward_*"]}
    context: {purpose: {not: [treatment, quality_improvement]}}
"""


def benchmark_policy() -> Policy:
    text = default_policy_yaml().replace("roles:\n", "roles:\n" + EXTRA_ROLES, 1)
    text = text.replace("\npurposes:\n", "\nlegal_bases: [consent, public_interest, vital_interest]\npurposes:\n", 1)
    return parse_policy(text.rstrip("\n") + "\n" + EXTRA_RULES, source="benchmark policy")


# ------------------------------------------------------------------------------------ requests


def make_requests(policy: Policy, n: int, seed: int) -> tuple[list[Subject], list[Resource], list[dict[str, Any]]]:
    """Pools of subjects and datasets, and ``n`` requests over them (seeded)."""
    rng = random.Random(seed)
    sites = ["site-a", "site-b", "site-c"]
    roles = sorted(policy.roles)
    purposes = sorted(policy.purposes)
    subjects = [
        Subject(
            "mallory" if i == 0 else f"user{i}",
            rng.choice(roles),
            rng.choice(sites),
            frozenset({"gdpr"}) if rng.random() < 0.7 else frozenset(),
        )
        for i in range(60)
    ]
    resources = [
        Resource(
            f"{rng.choice(['icu', 'ward', 'registry'])}_{i}",
            "1",
            rng.choice(list(DataKind)),
            rng.choice(list(Sensitivity)),
            rng.choice(sites),
            frozenset(p for p in purposes if rng.random() < 0.5),
        )
        for i in range(40)
    ]
    actions = sorted(ACTIONS)
    requests = [
        {
            "subject": rng.randrange(len(subjects)),
            "action": rng.choice(actions),
            "resource": rng.randrange(len(resources)),
            "purpose": rng.choice(purposes),
            "legal_basis": rng.choice([None, None, "consent", "public_interest"]),
        }
        for _ in range(n)
    ]
    return subjects, resources, requests


def as_access_requests(
    subjects: list[Subject], resources: list[Resource], requests: list[dict[str, Any]]
) -> list[AccessRequest]:
    return [
        AccessRequest(
            subjects[r["subject"]], r["action"], resources[r["resource"]], Context(r["purpose"], r["legal_basis"])
        )
        for r in requests
    ]


# ------------------------------------------------------------------------------------ translations


def _q(value: str) -> str:
    return json.dumps(value)


def _actions(rule: Rule) -> list[str]:
    return [a for a in sorted(ACTIONS) if rule.covers(a)]


@dataclass(frozen=True)
class _Dialect:
    """How one engine spells the conditions of a rule (the walk over them is shared)."""

    subject: str  # the request's subject, resource and context
    resource: str
    context: str
    member: Callable[[Match, str], str]  # "expr is one of match.values" (or not)
    training: Callable[[frozenset[str], str], list[str]]  # "the subject holds every one of these"
    name_like: Callable[[Match, str], str]  # the resource name matches one of the glob patterns (or none)
    consent: str  # "the purpose is in the resource's consent scope"
    legal_basis: Callable[[Match, str], str]


def _cedar_set(values: frozenset[str]) -> str:
    return "[" + ", ".join(_q(v) for v in sorted(values)) + "]"


def _cedar_member(match: Match, expr: str) -> str:
    test = f"{_cedar_set(match.values)}.contains({expr})"
    return f"!{test}" if match.negate else test


def _cedar_like(match: Match, name: str) -> str:
    likes = " || ".join(f"{name} like {_q(p)}" for p in sorted(match.values))
    return f"!({likes})" if match.negate else f"({likes})"


def _cedar_basis(match: Match, context: str) -> str:
    hit = f"({context} has legal_basis && {_cedar_set(match.values)}.contains({context}.legal_basis))"
    return f"!{hit}" if match.negate else hit


def _py_set(values: frozenset[str]) -> str:
    return "(" + "".join(f"{_q(v)}, " for v in sorted(values)) + ")"


def _py_member(match: Match, expr: str) -> str:
    return f"{expr} {'not in' if match.negate else 'in'} {_py_set(match.values)}"


def _py_like(match: Match, name: str) -> str:
    likes = " or ".join(f"keyMatch({name}, {_q(p)})" for p in sorted(match.values))
    return f"not ({likes})" if match.negate else f"({likes})"


CEDAR = _Dialect(
    "principal",
    "resource",
    "context",
    _cedar_member,
    lambda values, who: [f"{who}.training.containsAll({_cedar_set(values)})"] if values else [],
    _cedar_like,
    "resource.consent_scope.contains(context.purpose)",
    _cedar_basis,
)
CASBIN = _Dialect(
    "r.sub",
    "r.obj",
    "r.ctx",
    _py_member,
    lambda values, who: [f"{_q(t)} in {who}.training" for t in sorted(values)],
    _py_like,
    "r.ctx.purpose in r.obj.consent_scope",
    lambda match, context: _py_member(match, f"{context}.legal_basis"),
)


def _conditions(rule: Rule, d: _Dialect) -> list[str]:
    """Every condition of ``rule`` in dialect ``d`` (all must hold)."""
    conds: list[str] = []
    s, res, ctx = rule.subject, rule.resource, rule.context
    if s.role is not None:
        conds.append(d.member(s.role, f"{d.subject}.role"))
    if s.user is not None:
        conds.append(d.member(s.user, f"{d.subject}.user"))
    if isinstance(s.site, Match):
        conds.append(d.member(s.site, f"{d.subject}.site"))
    elif s.site == SAME_AS_RESOURCE:
        conds.append(f"{d.subject}.site == {d.resource}.owner_site")
    elif s.site == NOT_SAME_AS_RESOURCE:
        conds.append(f"{d.subject}.site != {d.resource}.owner_site")
    conds += d.training(s.training, d.subject)
    if res is not None:
        if res.kind is not None:
            conds.append(d.member(res.kind, f"{d.resource}.kind"))
        if res.sensitivity is not None:
            conds.append(d.member(res.sensitivity, f"{d.resource}.sensitivity_label"))
        if res.sensitivity_max is not None:
            conds.append(f"{d.resource}.sensitivity <= {int(res.sensitivity_max)}")
        if res.sensitivity_min is not None:
            conds.append(f"{d.resource}.sensitivity >= {int(res.sensitivity_min)}")
        if res.owner_site is not None:
            conds.append(d.member(res.owner_site, f"{d.resource}.owner_site"))
        if res.dataset is not None:
            conds.append(d.name_like(res.dataset, f"{d.resource}.name"))
    if ctx.purpose is not None:
        conds.append(d.member(ctx.purpose, f"{d.context}.purpose"))
    if ctx.purpose_in_consent_scope:
        conds.append(d.consent)
    if ctx.legal_basis is not None:
        conds.append(d.legal_basis(ctx.legal_basis, d.context))
    return conds


def to_cedar(policy: Policy) -> str:
    """The policy in Cedar: one permit/forbid per rule, conditions in ``when``, ``@id`` the rule id."""
    out = []
    for rule in policy.rules:
        conds = _conditions(rule, CEDAR)
        actions = ", ".join(f"Action::{_q(a)}" for a in _actions(rule))
        verb = "permit" if rule.effect.value == "allow" else "forbid"
        when = f"\nwhen {{ {' && '.join(conds)} }}" if conds else ""
        out.append(f"@id({_q(rule.id)})\n{verb} (principal, action in [{actions}], resource){when};")
    return "\n\n".join(out)


def to_casbin(policy: Policy) -> list[list[str]]:
    """The policy as pycasbin ABAC lines ``[expression, action pattern, allow|deny, id]``."""
    lines = []
    for rule in policy.rules:
        expression = " and ".join(_conditions(rule, CASBIN)) or "True"
        for pattern in rule.actions:
            lines.append([expression, pattern, rule.effect.value, rule.id])
    return lines


def entities(subjects: list[Subject], resources: list[Resource]) -> dict[str, Any]:
    """The pools as plain attributes (what each runner turns into its native request form)."""
    return {
        "subjects": [
            {"id": s.user + f"#{i}", "user": s.user, "role": s.role, "site": s.site, "training": sorted(s.training)}
            for i, s in enumerate(subjects)
        ],
        "resources": [
            {
                "id": r.dataset,
                "name": r.dataset,
                "kind": r.kind.value,
                "sensitivity": int(r.sensitivity),
                "sensitivity_label": r.sensitivity.label,
                "owner_site": r.owner_site,
                "consent_scope": sorted(r.consent_scope),
            }
            for r in resources
        ],
    }


# ------------------------------------------------------------------------------------ ours


def run_ours(policy: Policy, requests: list[AccessRequest], seconds: float) -> dict[str, Any]:
    decisions = [policy.decide(r) for r in requests]  # first pass: warm-up and the decisions
    done, started, cpu = 0, time.perf_counter(), time.process_time()
    while time.perf_counter() - started < seconds:
        for request in requests:
            policy.decide(request)
        done += len(requests)
    rate = done / (time.perf_counter() - started)
    cpu_rate = done / max(time.process_time() - cpu, 1e-9)
    lat = []
    clock = time.perf_counter_ns
    for request in requests:
        t0 = clock()
        policy.decide(request)
        lat.append(clock() - t0)
    qs = statistics.quantiles(lat, n=100)
    return {
        "tool": "medsyn",
        "version": _version(),
        "decisions_per_s": rate,
        "decisions_per_cpu_s": cpu_rate,
        "p50_us": qs[49] / 1e3,
        "p99_us": qs[98] / 1e3,
        "allowed": "".join("1" if d.allowed else "0" for d in decisions),
        "rules": [d.rule for d in decisions],
        "allowed_share": sum(d.allowed for d in decisions) / len(decisions),
    }


def _version() -> str:
    from importlib.metadata import version

    return version("medsyn")


# ------------------------------------------------------------------------------------ report


def table(report: dict[str, Any]) -> str:
    ours = report["results"]["medsyn"]
    lines = [
        f"### Access-policy decisions — {report['date']}",
        "",
        f"Machine: {report['machine']['cores']} cores, {report['machine']['cpu'] or 'cpu ?'}; Python "
        f"{report['machine']['python']}; load average at start {report['machine']['load_average'][0]:.1f}. "
        f"Policy: {report['rules']} rules ({report['deny_rules']} deny); {report['requests']:,} distinct requests, "
        f"{ours['allowed_share']:.0%} allowed. Command: `{report['command']}`",
        "",
        "| tool | version | decisions/s (wall) | per CPU-second | batch, per second | p50 µs | p99 µs "
        "| ours ÷ theirs (CPU) | agrees with ours |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for tool in TOOLS:
        r = report["results"].get(tool)
        if r is None:
            continue
        why = failure(r)
        if why:
            lines.append(f"| {tool} | – | {why} | | | | | | |")
            continue
        ratio = "1.0×" if tool == "medsyn" else f"{ours['decisions_per_cpu_s'] / r['decisions_per_cpu_s']:.1f}×"
        batch = f"{r['batch_per_s']:,.0f}" if r.get("batch_per_s") else "–"
        agree = "–" if tool == "medsyn" else f"{r['agreement']:.2%}"
        if tool == "cedarpy" and "rule_agreement" in r:
            agree += f" (rule {r['rule_agreement']:.1%})"
        lines.append(
            f"| {tool} | {r['version']} | {r['decisions_per_s']:,.0f} | {r['decisions_per_cpu_s']:,.0f} | {batch} "
            f"| {r['p50_us']:.1f} | "
            f"{r['p99_us']:.1f} | {ratio} | {agree} |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--requests", type=int, default=5000, help="distinct requests in the stream")
    p.add_argument("--seconds", type=float, default=3.0, help="timed seconds per tool")
    p.add_argument("--tools", default=",".join(TOOLS))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quick", action="store_true", help="1,000 requests, 0.5 s per tool")
    p.add_argument("--timeout", type=float, default=600)
    p.add_argument("--out", type=Path, default=WORK / "results.json")
    p.add_argument("--record", type=Path, default=None, help="append the table to this file (RESULTS.md)")
    args = p.parse_args(argv)
    if args.quick:
        args.requests, args.seconds = 1000, 0.5
    tools = [t for t in args.tools.split(",") if t]

    policy = benchmark_policy()
    subjects, resources, raw = make_requests(policy, args.requests, args.seed)
    requests = as_access_requests(subjects, resources, raw)
    spec = {
        **entities(subjects, resources),
        "requests": raw,
        "cedar": to_cedar(policy),
        "casbin": to_casbin(policy),
        "seconds": args.seconds,
    }
    WORK.mkdir(parents=True, exist_ok=True)
    spec_path = WORK / f"spec_{args.requests}_seed{args.seed}.json"
    write_json(spec_path, spec)

    results: dict[str, Any] = {}
    if "medsyn" in tools:
        log("medsyn: deciding")
        results["medsyn"] = run_ours(policy, requests, args.seconds)
    ours_allowed = results["medsyn"]["allowed"] if "medsyn" in results else None
    for tool in (t for t in tools if t != "medsyn"):
        python, notes = ensure_venv(tool, VENV_STEPS[tool])
        if python is None:
            results[tool] = {"error": f"venv failed: {'; '.join(notes)}"}
            continue
        log(f"{tool}: deciding")
        r = run_runner(python, RUNNER[tool], ["--input", str(spec_path)], args.timeout)
        if ours_allowed and "allowed" in r:
            r["agreement"] = sum(a == b for a, b in zip(r["allowed"], ours_allowed, strict=True)) / len(ours_allowed)
            if "rules" in r:
                ours_rules = results["medsyn"]["rules"]
                hits = [
                    o in theirs or (o == "default-deny" and not theirs)
                    for o, theirs in zip(ours_rules, r["rules"], strict=True)
                ]
                r["rule_agreement"] = sum(hits) / len(hits)
        results[tool] = r
    for r in results.values():
        r.pop("rules", None)
        r.pop("allowed", None)
    report = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "machine": machine(),
        "command": "python benchmarks/policy.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "rules": len(policy.rules),
        "deny_rules": sum(r.effect.value == "deny" for r in policy.rules),
        "requests": args.requests,
        "results": results,
    }
    write_json(args.out, report)
    record(table(report), args.record)


if __name__ == "__main__":
    main()
