"""The access policy as a YAML file a data protection officer can read, check and sign off.

::

    version: 1
    roles:                       # who may appear as a subject (name: description)
      data_steward: Manages a site's data.
      data_scientist: Analyses protected data.
    purposes:                    # what requests may be for (name: description)
      research: Scientific research (GDPR Art. 9(2)(j)).
    trainings:                   # optional; when present, rules may only name these
      gdpr: Yearly data-protection training.
    legal_bases:                 # optional; when present, rules and requests may only name these
      consent: GDPR Art. 6(1)(a) / 9(2)(a).
    rules:
      - id: scientists-synthesise         # unique; written to the ledger with every decision
        effect: allow                     # allow | deny
        description: Trained scientists may synthesise pseudonymised data with consent.
        actions: [synth.*, evaluate]      # names, or patterns with * (synth.* = synth.fit, synth.sample)
        subject:
          role: data_scientist            # one value, a list, or {not: [..]}
          site: same_as_resource          # or not_same_as_resource, or site names / {not: [..]}
          training: [gdpr]                # the subject must hold all of these
          user: [ana]                     # rarely needed: named users
        resource:
          kind: [pseudonymised, anonymised, synthetic]   # identifiable|pseudonymised|anonymised|synthetic
          sensitivity: {max: special_category}           # {min:, max:} on the order
                                                         # public < internal < confidential < special_category,
                                                         # or a list of levels
          owner_site: [site-a]
          dataset: [icu_*]                # shell-style patterns on the dataset name
        context:
          purpose: [research, ai_development]
          purpose_in_consent_scope: true  # the purpose must be one the patients consented to
          legal_basis: [consent]
        obligations: [exclude_without_consent]

A rule matches when every condition it states holds (unstated ones always do). Decisions: a
matching ``deny`` always wins (the first in file order is named); otherwise the first matching
``allow``; otherwise ``default-deny``. Every problem in the file (unknown keys, wrong types,
undeclared roles, purposes or trainings, unknown actions, duplicate ids or YAML keys) is
reported at once, with the file, line, rule id and key.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from pathlib import Path

import yaml

from medsyn.errors import Problem
from medsyn.governance._access import ACTIONS, DataKind, PolicyError, Sensitivity
from medsyn.governance._policy import (
    NOT_SAME_AS_RESOURCE,
    SAME_AS_RESOURCE,
    ContextCondition,
    Effect,
    Match,
    Policy,
    ResourceCondition,
    Rule,
    SubjectCondition,
)

__all__ = ["default_policy_yaml", "load_policy", "parse_policy"]

_TOP_KEYS = ("version", "roles", "purposes", "trainings", "legal_bases", "rules")
_RULE_KEYS = ("id", "effect", "description", "actions", "subject", "resource", "context", "obligations")
_SUBJECT_KEYS = ("role", "user", "site", "training")
_RESOURCE_KEYS = ("kind", "sensitivity", "owner_site", "dataset")
_CONTEXT_KEYS = ("purpose", "purpose_in_consent_scope", "legal_basis")
_LEVELS = [s.label for s in Sensitivity]  # in order, for messages


class _Map(dict[str, object]):
    """A YAML mapping that remembers its line and each key's line (1-based; 0 when unknown)."""

    def __init__(self) -> None:
        super().__init__()
        self.line = 0
        self.key_lines: dict[str, int] = {}


class _Loader(yaml.SafeLoader):
    pass


def _construct_map(loader: _Loader, node: yaml.MappingNode) -> _Map:
    out = _Map()
    out.line = node.start_mark.line + 1
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        line = key_node.start_mark.line + 1
        if not isinstance(key, Hashable):
            raise yaml.constructor.ConstructorError(
                None, None, "a mapping key must be a plain value", key_node.start_mark
            )
        name = str(key)
        if name in out:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key '{name}' (first on line {out.key_lines[name]})", key_node.start_mark
            )
        out[name] = loader.construct_object(value_node, deep=True)
        out.key_lines[name] = line
    return out


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_map)


class _Parser:
    """Turns the loaded YAML into rules, collecting every structural problem with its line."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.problems: list[Problem] = []

    def at(self, node: object, key: str | None = None) -> str:
        line = 0
        if isinstance(node, _Map):
            line = node.key_lines.get(key, node.line) if key is not None else node.line
        return f"{self.source}:{line}" if line else self.source

    def problem(self, where: str, found: str, expected: str = "", fix: str = "") -> None:
        self.problems.append(Problem(where, found, expected, fix))

    def keys(self, node: _Map, allowed: tuple[str, ...], where: str) -> None:
        for key in node:
            if key not in allowed:
                self.problem(f"{self.at(node, key)}: {where}{key}", "unknown key", f"one of {list(allowed)}")

    def strings(self, value: object, where: str) -> list[str] | None:
        """A scalar or a list of scalars, as strings."""
        items = value if isinstance(value, list) else [value]
        if not items or any(isinstance(v, dict | list) or v is None or isinstance(v, bool) for v in items):
            self.problem(where, repr(value), "a name or a list of names")
            return None
        return [str(v) for v in items]

    def match(self, value: object, where: str, allowed: frozenset[str] | None = None) -> Match | None:
        negate = False
        if isinstance(value, dict):
            if set(value) != {"not"}:
                self.problem(where, f"mapping with keys {sorted(value)}", "a value, a list, or {not: [..]}")
                return None
            negate, value = True, value["not"]
        names = self.strings(value, where)
        if names is None:
            return None
        if allowed is not None:
            bad = [n for n in names if n not in allowed]
            if bad:
                self.problem(where, f"{bad}", f"values among {sorted(allowed)}")
                return None
        return Match(frozenset(names), negate)

    def mapping(self, value: object, where: str) -> _Map | None:
        if value is None:
            return _Map()
        if not isinstance(value, _Map):
            self.problem(where, repr(value), "a mapping")
            return None
        return value

    def rule(self, index: int, node: object) -> tuple[Rule, str] | None:
        if not isinstance(node, _Map):
            self.problem(f"{self.source}: rules[{index}]", repr(node), "a mapping with id, effect, actions, ...")
            return None
        before = len(self.problems)
        rid = node.get("id")
        label = f"rules[{index}] (rule '{rid}')" if rid is not None else f"rules[{index}]"
        self.keys(node, _RULE_KEYS, f"{label} ")
        if not isinstance(rid, str) or not rid.strip():
            self.problem(f"{self.at(node, 'id')}: {label} id", "missing" if rid is None else repr(rid), "a name")
            rid = f"rules[{index}]"
        effect: Effect | None = None
        try:
            effect = Effect(str(node.get("effect")))
        except ValueError:
            raw = node.get("effect")
            self.problem(
                f"{self.at(node, 'effect')}: {label} effect", "missing" if raw is None else repr(raw), "allow or deny"
            )
        description = node.get("description", "")
        if not isinstance(description, str):
            self.problem(f"{self.at(node, 'description')}: {label} description", repr(description), "text")
            description = ""
        actions = self.strings(node.get("actions"), f"{self.at(node, 'actions')}: {label} actions") or []
        obligations = node.get("obligations") or []
        obl = self.strings(obligations, f"{self.at(node, 'obligations')}: {label} obligations") if obligations else []
        subject = self.subject(node, label)
        resource = self.resource(node, label)
        context = self.context(node, label)
        if len(self.problems) > before or effect is None or subject is None or context is None:
            return None
        rule = Rule(rid, effect, tuple(actions), description.strip(), subject, resource, context, tuple(obl or ()))
        return rule, f"{self.source}:{node.line}: rules[{index}]"

    def subject(self, rule: _Map, label: str) -> SubjectCondition | None:
        node = self.mapping(rule.get("subject"), f"{self.at(rule, 'subject')}: {label} subject")
        if node is None:
            return None
        self.keys(node, _SUBJECT_KEYS, f"{label} subject.")
        loc = {k: f"{self.at(node, k)}: {label} subject.{k}" for k in _SUBJECT_KEYS}
        role = self.match(node["role"], loc["role"]) if "role" in node else None
        user = self.match(node["user"], loc["user"]) if "user" in node else None
        site: Match | str | None = None
        if node.get("site") in (SAME_AS_RESOURCE, NOT_SAME_AS_RESOURCE):
            site = str(node["site"])
        elif "site" in node:
            site = self.match(node["site"], loc["site"])
        training: frozenset[str] = frozenset()
        if "training" in node:
            if isinstance(node["training"], dict):
                self.problem(loc["training"], repr(node["training"]), "a list of trainings the subject must all hold")
            else:
                training = frozenset(self.strings(node["training"], loc["training"]) or ())
        return SubjectCondition(role, user, site, training)

    def resource(self, rule: _Map, label: str) -> ResourceCondition | None:
        if rule.get("resource") is None:
            return None
        node = self.mapping(rule["resource"], f"{self.at(rule, 'resource')}: {label} resource")
        if node is None:
            return None
        self.keys(node, _RESOURCE_KEYS, f"{label} resource.")
        loc = {k: f"{self.at(node, k)}: {label} resource.{k}" for k in _RESOURCE_KEYS}
        kinds = frozenset(k.value for k in DataKind)
        kind = self.match(node["kind"], loc["kind"], kinds) if "kind" in node else None
        levels = frozenset(s.label for s in Sensitivity)
        lo = hi = None
        sens: Match | None = None
        raw = node.get("sensitivity")
        if isinstance(raw, dict) and "not" not in raw:
            if not raw or set(raw) - {"min", "max"}:
                self.problem(loc["sensitivity"], repr(raw), "{min: level, max: level}, a level, a list, or {not: [..]}")
            for bound in ("min", "max"):
                if bound not in raw:
                    continue
                if str(raw[bound]) not in levels:
                    self.problem(f"{loc['sensitivity']}.{bound}", repr(raw[bound]), f"one of {_LEVELS}")
                elif bound == "min":
                    lo = Sensitivity.parse(raw[bound])
                else:
                    hi = Sensitivity.parse(raw[bound])
            if lo is not None and hi is not None and lo > hi:
                self.problem(loc["sensitivity"], f"min {lo.label} above max {hi.label}", "min <= max")
        elif raw is not None:
            sens = self.match(raw, loc["sensitivity"], levels)
        owner = self.match(node["owner_site"], loc["owner_site"]) if "owner_site" in node else None
        dataset = self.match(node["dataset"], loc["dataset"]) if "dataset" in node else None
        return ResourceCondition(kind, lo, hi, sens, owner, dataset)

    def context(self, rule: _Map, label: str) -> ContextCondition | None:
        node = self.mapping(rule.get("context"), f"{self.at(rule, 'context')}: {label} context")
        if node is None:
            return None
        self.keys(node, _CONTEXT_KEYS, f"{label} context.")
        loc = {k: f"{self.at(node, k)}: {label} context.{k}" for k in _CONTEXT_KEYS}
        purpose = self.match(node["purpose"], loc["purpose"]) if "purpose" in node else None
        in_scope = node.get("purpose_in_consent_scope", False)
        if not isinstance(in_scope, bool):
            self.problem(loc["purpose_in_consent_scope"], repr(in_scope), "true or false")
            in_scope = False
        basis = self.match(node["legal_basis"], loc["legal_basis"]) if "legal_basis" in node else None
        return ContextCondition(purpose, in_scope, basis)

    def vocabulary(self, top: _Map, key: str, required: bool) -> dict[str, str]:
        raw = top.get(key)
        where = f"{self.at(top, key)}: {key}"
        if raw is None:
            if required:
                self.problem(where, "missing", f"a mapping of {key} (name: description)", f"Declare the {key} first.")
            return {}
        if isinstance(raw, list) and all(isinstance(v, str) for v in raw):
            return dict.fromkeys(raw, "")
        if isinstance(raw, _Map) and all(isinstance(v, str) or v is None for v in raw.values()):
            return {k: str(v or "") for k, v in raw.items()}
        self.problem(where, repr(raw), "a mapping name: description (or a list of names)")
        return {}


def parse_policy(text: str, *, source: str = "<policy>", actions: Mapping[str, str] = ACTIONS) -> Policy:
    """Build a :class:`Policy` from YAML text; every problem is raised at once as :class:`PolicyError`."""
    try:
        loaded = yaml.load(text, Loader=_Loader)  # _Loader is a SafeLoader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark is not None else source
        what = getattr(exc, "problem", None) or str(exc)
        raise PolicyError(Problem(where, f"not valid YAML ({what})", "a YAML access policy")) from None
    if not isinstance(loaded, _Map):
        raise PolicyError(
            Problem(source, f"top level is {type(loaded).__name__}", "a mapping with version, roles, purposes, rules")
        )
    parser = _Parser(source)
    parser.keys(loaded, _TOP_KEYS, "")
    if loaded.get("version") != 1:
        found = "missing" if "version" not in loaded else repr(loaded["version"])
        parser.problem(f"{parser.at(loaded, 'version')}: version", found, "1")
    roles = parser.vocabulary(loaded, "roles", required=True)
    purposes = parser.vocabulary(loaded, "purposes", required=True)
    trainings = parser.vocabulary(loaded, "trainings", required=False)
    bases = parser.vocabulary(loaded, "legal_bases", required=False)
    raw_rules = loaded.get("rules")
    rules: list[Rule] = []
    locations: list[str] = []
    if not isinstance(raw_rules, list):
        found = "missing" if raw_rules is None else repr(raw_rules)
        parser.problem(
            f"{parser.at(loaded, 'rules')}: rules", found, "a list of rules", "With no rules, everything is denied."
        )
    else:
        for i, node in enumerate(raw_rules):
            parsed = parser.rule(i, node)
            if parsed is not None:
                rules.append(parsed[0])
                locations.append(parsed[1])
    problems = list(parser.problems)
    try:
        policy = Policy(
            rules,
            roles=roles,
            purposes=purposes,
            trainings=trainings,
            legal_bases=bases,
            actions=actions,
            source=source,
            rule_locations=locations,
        )
    except PolicyError as exc:
        problems.extend(exc.problems)
    if problems:
        raise PolicyError(problems)
    return policy


def load_policy(path: str | Path, *, actions: Mapping[str, str] = ACTIONS) -> Policy:
    """Read and check the policy file at ``path``.

    Raises
    ------
    PolicyError
        The file is missing (the message says how to create one), not YAML, or not a valid policy.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PolicyError(
            Problem(
                str(path),
                "policy file not found",
                "a YAML access policy (deny by default: without it nothing is allowed)",
                "Run `medsyn init` to write the commented starter policy, then adapt it (format: docs/governance.md).",
            )
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyError(Problem(str(path), f"cannot be read ({exc})", "a UTF-8 YAML file")) from None
    return parse_policy(text, source=str(path), actions=actions)


def default_policy_yaml() -> str:
    """The commented starter policy ``medsyn init`` writes; it parses to a valid :class:`Policy`."""
    return _DEFAULT_POLICY


_DEFAULT_POLICY = """\
# medsyn access policy: who may do what with which data, and for which purpose.
#
# Deny by default: a request is allowed only when an `allow` rule matches it and no `deny`
# rule does (a matching deny always wins). Every decision, allow or deny, is written to the
# ledger with the id of the rule that decided it (or `default-deny`).
# A rule matches when ALL the conditions it states hold; a condition left out always holds.
# Format: docs/governance.md. Check your edits with any medsyn command: a mistake in this
# file is reported with its line.
version: 1

roles:
  data_steward: Manages a site's data; registers, de-identifies and releases it.
  data_scientist: Analyses protected data; builds and evaluates synthetic data and models.
  clinician: Treats patients; may re-identify the records of their own site for care.
  dpo: Data protection officer; oversees the catalog, lineage and ledger.

purposes:
  treatment: Direct care of the patient (GDPR Art. 9(2)(h)).
  quality_improvement: Audit and improvement of care at the hospital.
  research: Scientific research (GDPR Art. 9(2)(j) with Art. 89 safeguards).
  ai_development: Training and validating AI models.
  public_health: Public-health surveillance (GDPR Art. 9(2)(i)).

trainings:
  gdpr: Data-protection (GDPR) training, renewed every year.

rules:
  # --- what the data stewards do at their own site -------------------------------------
  - id: steward-manage-own-site
    effect: allow
    description: >-
      Data stewards register, inspect, audit and de-identify the data of their own site, set
      its privacy budgets and make differentially private releases from it (the budget bounds them).
    actions: [register, read, audit, risk, anonymize, pseudonymize, deid, dp.budget, dp.release,
              catalog.show, lineage.show]
    subject: {role: data_steward, site: same_as_resource}

  - id: steward-release-own-site
    effect: allow
    description: Data stewards export de-identified or synthetic data of their own site.
    actions: [export]
    subject: {role: data_steward, site: same_as_resource}
    resource: {kind: [pseudonymised, anonymised, synthetic]}

  # --- analysis of protected data ------------------------------------------------------
  - id: scientist-protected-data
    effect: allow
    description: >-
      GDPR-trained data scientists audit, synthesise and evaluate pseudonymised, anonymised
      or synthetic data, for a purpose the patients consented to; records without consent
      for that purpose are dropped first.
    actions: [read, audit, risk, synth.*, evaluate, dp.release, catalog.show, lineage.show]
    subject: {role: data_scientist, training: [gdpr]}
    resource: {kind: [pseudonymised, anonymised, synthetic]}
    context:
      purpose: [quality_improvement, research, ai_development, public_health]
      purpose_in_consent_scope: true
    obligations: [exclude_without_consent]

  - id: anyone-read-synthetic
    effect: allow
    description: Anyone with a role may read synthetic data released as such.
    actions: [read, catalog.show, lineage.show]
    resource: {kind: synthetic}

  # --- re-identification ---------------------------------------------------------------
  - id: reidentify-for-treatment
    effect: allow
    description: Only data stewards and clinicians re-identify, for treatment, at their own site.
    actions: [reidentify]
    subject: {role: [data_steward, clinician], site: same_as_resource}
    context: {purpose: treatment}

  # --- oversight -----------------------------------------------------------------------
  - id: dpo-oversight
    effect: allow
    description: The data protection officer inspects the catalog and lineage and verifies the ledger.
    actions: [catalog.show, lineage.show, ledger.verify]
    subject: {role: dpo}

  - id: anyone-verify-ledger
    effect: allow
    description: Anyone with a role may verify that the ledger has not been tampered with.
    actions: [ledger.verify]

  # --- hard limits (a matching deny wins over every allow) ------------------------------
  - id: no-identifiable-export-off-site
    effect: deny
    description: Identifiable data never leaves its site.
    actions: [export, read]
    subject: {site: not_same_as_resource}
    resource: {kind: identifiable}

  - id: no-reidentify-beyond-treatment
    effect: deny
    description: Re-identification serves patient care only, never research or model building.
    actions: [reidentify]
    context: {purpose: {not: [treatment]}}
"""
