"""Attribute-based access decisions: deny by default, deny overrides allow, every decision names its rule.

A request says *who* (:class:`Subject`: user, role, site, trainings), *what* (an action such as
``synth.fit``), *on which data* (:class:`Resource`: dataset, kind, sensitivity, owner site, the
purposes its patients consented to) and *why* (:class:`Context`: the declared purpose, a legal
basis). A :class:`Policy` holds :class:`Rule` s and returns a :class:`Decision`:

- **deny overrides**: if any ``deny`` rule matches, the request is denied by the first such rule
  (in file order);
- otherwise, if any ``allow`` rule matches, it is allowed by the first such rule, with the
  obligations of *every* matching allow rule (the stricter reading);
- otherwise it is denied by ``default-deny``, and the reason says, for each allow rule written
  for that action, the first condition the request failed.

A rule matches when its action patterns match and *all* its conditions hold; a condition the
rule does not state always holds. Conditions on the resource fail when the request has no
resource (workspace-level actions such as ``ledger.verify``).

Rules are compiled once, when the policy is built: each action of the vocabulary gets its
ordered list of candidate deny and allow rules (wildcards resolved then), and each rule becomes
a short tuple of predicates over precomputed frozensets, so :meth:`Policy.decide` is a dict
lookup and a few set look-ups: ~90-135k decisions per CPU-second on a 20-rule policy, 84% of them
default denials with their explanation (``benchmarks/policy.py`` measures it).

A request naming a role, purpose, action (or, where the policy declares them, legal basis) that
the policy does not declare is not denied but refused with an :class:`AccessRequestError`
subclass: that is a configuration mistake to fix, and the caller records the refusal.
The YAML form of a policy is described in :mod:`medsyn.governance._policy_yaml`.
"""

from __future__ import annotations

import difflib
import fnmatch
import hashlib
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from medsyn.errors import Problem
from medsyn.governance._access import (
    ACTIONS,
    DEFAULT_DENY,
    OBLIGATIONS,
    AccessRequest,
    AccessRequestError,
    Context,
    Decision,
    PolicyError,
    Resource,
    Sensitivity,
    Subject,
    UnknownActionError,
    UnknownPurposeError,
    UnknownRoleError,
)

__all__ = [
    "ContextCondition",
    "Effect",
    "Match",
    "Policy",
    "ResourceCondition",
    "Rule",
    "SubjectCondition",
]

# ------------------------------------------------------------------------------------ rule model


class Effect(StrEnum):
    ALLOW = "allow"
    DENY = "deny"


@dataclass(frozen=True, slots=True)
class Match:
    """Membership: the value is one of ``values`` (or, with ``negate``, none of them)."""

    values: frozenset[str]
    negate: bool = False

    def describe(self) -> str:
        shown = ", ".join(sorted(self.values))
        return f"not one of [{shown}]" if self.negate else f"one of [{shown}]"


SAME_AS_RESOURCE = "same_as_resource"
NOT_SAME_AS_RESOURCE = "not_same_as_resource"


@dataclass(frozen=True, slots=True)
class SubjectCondition:
    """Conditions on the subject; ``site`` is a :class:`Match` or ``same_as_resource`` / ``not_same_as_resource``."""

    role: Match | None = None
    user: Match | None = None
    site: Match | str | None = None
    training: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class ResourceCondition:
    """Conditions on the resource; ``dataset`` values are shell-style patterns (``icu_*``)."""

    kind: Match | None = None
    sensitivity_min: Sensitivity | None = None
    sensitivity_max: Sensitivity | None = None
    sensitivity: Match | None = None
    owner_site: Match | None = None
    dataset: Match | None = None


@dataclass(frozen=True, slots=True)
class ContextCondition:
    """Conditions on the context; ``purpose_in_consent_scope`` needs the purpose in the resource's consent scope."""

    purpose: Match | None = None
    purpose_in_consent_scope: bool = False
    legal_basis: Match | None = None


@dataclass(frozen=True, slots=True)
class Rule:
    """One policy rule: an effect, the actions it covers (patterns) and the conditions that must all hold."""

    id: str
    effect: Effect
    actions: tuple[str, ...]
    description: str = ""
    subject: SubjectCondition = field(default_factory=SubjectCondition)
    resource: ResourceCondition | None = None
    context: ContextCondition = field(default_factory=ContextCondition)
    obligations: tuple[str, ...] = ()

    def covers(self, action: str) -> bool:
        return any(fnmatch.fnmatchcase(action, pattern) for pattern in self.actions)

    def to_dict(self) -> dict[str, object]:
        """Canonical plain data (sorted sets), used for the policy digest."""
        return json.loads(json.dumps(_plain(self), sort_keys=True))  # type: ignore[no-any-return]


def _plain(value: object) -> object:
    if isinstance(value, frozenset):
        return sorted(value)
    if isinstance(value, Sensitivity):
        return value.label
    if isinstance(value, StrEnum):
        return value.value
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if hasattr(value, "__dataclass_fields__"):
        return {k: _plain(getattr(value, k)) for k in value.__dataclass_fields__}
    return value


# ------------------------------------------------------------------------------------ compilation

#: A compiled condition reads (subject, resource, context); rules that state no resource
#: condition get a placeholder resource they never look at.
Check = Callable[[Subject, Resource, Context], bool]
Explain = Callable[[Subject, Resource, Context], str]
Getter = Callable[[Subject, Resource, Context], object]
_NO_RESOURCE = Resource("")
_LABELS = {level: level.label for level in Sensitivity}


def _member(get: Getter, match: Match, what: str) -> tuple[Check, Explain]:
    values, negate = match.values, match.negate
    wanted = f"{what} must be {match.describe()}"

    def check(s: Subject, r: Resource, c: Context) -> bool:
        return (get(s, r, c) in values) is not negate

    def explain(s: Subject, r: Resource, c: Context) -> str:
        return f"{wanted} (is {get(s, r, c)})"

    return check, explain


def _site(same: bool) -> tuple[Check, Explain]:
    def check(s: Subject, r: Resource, c: Context) -> bool:
        return (s.site == r.owner_site) is same

    def explain(s: Subject, r: Resource, c: Context) -> str:
        rel = "be" if same else "differ from"
        return f"site must {rel} the dataset's owner site {r.owner_site!r} (is {s.site!r})"

    return check, explain


def _training(need: frozenset[str]) -> tuple[Check, Explain]:
    def check(s: Subject, r: Resource, c: Context) -> bool:
        return need <= s.training

    def explain(s: Subject, r: Resource, c: Context) -> str:
        return f"needs training {sorted(need)} (missing {sorted(need - s.training)})"

    return check, explain


def _bound(level: Sensitivity, upper: bool) -> tuple[Check, Explain]:
    def check(s: Subject, r: Resource, c: Context) -> bool:
        return r.sensitivity <= level if upper else r.sensitivity >= level

    def explain(s: Subject, r: Resource, c: Context) -> str:
        word = "at most" if upper else "at least"
        return f"sensitivity must be {word} {level.label} (is {r.sensitivity.label})"

    return check, explain


def _datasets(match: Match) -> tuple[Check, Explain]:
    rx = re.compile("|".join(fnmatch.translate(p) for p in sorted(match.values)))
    negate = match.negate

    def check(s: Subject, r: Resource, c: Context) -> bool:
        return (rx.match(r.dataset) is not None) is not negate

    def explain(s: Subject, r: Resource, c: Context) -> str:
        return f"dataset must be {match.describe()} (is {r.dataset})"

    return check, explain


def _in_consent_scope(s: Subject, r: Resource, c: Context) -> bool:
    return c.purpose in r.consent_scope


def _explain_consent_scope(s: Subject, r: Resource, c: Context) -> str:
    return f"purpose {c.purpose!r} is outside the dataset's consent scope {sorted(r.consent_scope)}"


def _needs_resource(rule: Rule) -> bool:
    site = rule.subject.site
    return rule.resource is not None or rule.context.purpose_in_consent_scope or isinstance(site, str)


def _compile_rule(rule: Rule) -> list[tuple[Check, Explain]]:
    """The rule's conditions as checks, each with a sentence saying how a request failed it."""
    out: list[tuple[Check, Explain]] = []
    sub, res, ctx = rule.subject, rule.resource, rule.context
    if sub.role is not None:
        out.append(_member(lambda s, r, c: s.role, sub.role, "role"))
    if sub.user is not None:
        out.append(_member(lambda s, r, c: s.user, sub.user, "user"))
    if isinstance(sub.site, Match):
        out.append(_member(lambda s, r, c: s.site, sub.site, "site"))
    elif sub.site is not None:
        out.append(_site(same=sub.site == SAME_AS_RESOURCE))
    if sub.training:
        out.append(_training(sub.training))
    if res is not None:
        if res.kind is not None:
            out.append(_member(lambda s, r, c: r.kind, res.kind, "dataset kind"))  # a StrEnum: equal to its name
        if res.sensitivity is not None:
            levels = Match(
                frozenset(Sensitivity.parse(v).label for v in res.sensitivity.values), res.sensitivity.negate
            )
            out.append(_member(lambda s, r, c: _LABELS[r.sensitivity], levels, "sensitivity"))
        if res.sensitivity_max is not None:
            out.append(_bound(res.sensitivity_max, upper=True))
        if res.sensitivity_min is not None:
            out.append(_bound(res.sensitivity_min, upper=False))
        if res.owner_site is not None:
            out.append(_member(lambda s, r, c: r.owner_site, res.owner_site, "owner site"))
        if res.dataset is not None:
            out.append(_datasets(res.dataset))
    if ctx.purpose is not None:
        out.append(_member(lambda s, r, c: c.purpose, ctx.purpose, "purpose"))
    if ctx.purpose_in_consent_scope:
        out.append((_in_consent_scope, _explain_consent_scope))
    if ctx.legal_basis is not None:
        out.append(_member(lambda s, r, c: c.legal_basis, ctx.legal_basis, "legal basis"))
    return out


@dataclass(frozen=True, slots=True)
class _Compiled:
    rule: Rule
    needs_resource: bool
    checks: tuple[Check, ...]
    explains: tuple[Explain, ...]
    decision: Decision

    def failing(self, request: AccessRequest) -> int:
        """-1 when the rule matches; else the index of the first failing check (-2: no resource)."""
        resource = request.resource
        if resource is None:
            if self.needs_resource:
                return -2
            resource = _NO_RESOURCE
        subject, context = request.subject, request.context
        for i, check in enumerate(self.checks):
            if not check(subject, resource, context):
                return i
        return -1

    def explain(self, request: AccessRequest, failed: int) -> str:
        """Why check ``failed`` (from :meth:`failing`) did not hold for ``request``."""
        if failed == -2:
            return "needs a dataset (the request names none)"
        resource = request.resource if request.resource is not None else _NO_RESOURCE
        return self.explains[failed](request.subject, resource, request.context)


def _suggest(value: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(value, list(known), n=1)
    return f"Did you mean '{close[0]}'?" if close else ""


class Policy:
    """A compiled, immutable set of rules over declared vocabularies; :meth:`decide` answers requests.

    Parameters
    ----------
    rules
        In file order (the order breaks ties: the first matching deny, else allow, decides).
    roles, purposes
        The declared vocabularies (``name -> description``); requests outside them are refused.
    trainings, legal_bases
        Optional vocabularies; when given (non-empty), rules may only name their entries, and
        (for legal bases) so may requests.
    actions
        The action vocabulary; :data:`ACTIONS` unless a caller extends it.
    source
        Where the policy came from (a file path), named in every error.
    rule_locations
        Where each rule is written (``"file:line: rules[i]"``, in order), so reference errors
        point at the line (the YAML loader fills it).

    Raises
    ------
    PolicyError
        Every unknown role, purpose, training, legal basis, action pattern or obligation, and
        every duplicate rule id, collected and raised once.

    Examples
    --------
    >>> synthetic = ResourceCondition(kind=Match(frozenset({"synthetic"})))
    >>> rule = Rule("read-synthetic", Effect.ALLOW, ("read",), resource=synthetic)
    >>> policy = Policy([rule], roles={"analyst": ""}, purposes={"research": ""})
    >>> who, why = Subject("ana", "analyst", "site-a"), Context("research")
    >>> policy.decide(AccessRequest(who, "read", Resource("icu", kind="synthetic"), why)).rule
    'read-synthetic'
    >>> policy.decide(AccessRequest(who, "read", Resource("icu"), why)).allowed
    False
    """

    def __init__(
        self,
        rules: Sequence[Rule],
        *,
        roles: Mapping[str, str],
        purposes: Mapping[str, str],
        trainings: Mapping[str, str] | None = None,
        legal_bases: Mapping[str, str] | None = None,
        actions: Mapping[str, str] = ACTIONS,
        source: str = "<policy>",
        rule_locations: Sequence[str] | None = None,
    ) -> None:
        self.rules: tuple[Rule, ...] = tuple(rules)
        self.roles = dict(roles)
        self.purposes = dict(purposes)
        self.trainings = dict(trainings or {})
        self.legal_bases = dict(legal_bases or {})
        self.actions = dict(actions)
        self.source = source
        locations = list(rule_locations or [f"{source}: rules[{i}]" for i in range(len(self.rules))])
        problems = [p for r, where in zip(self.rules, locations, strict=True) for p in self._check(r, where)]
        seen: dict[str, str] = {}
        for r, where in zip(self.rules, locations, strict=True):
            if r.id in seen:
                problems.append(
                    Problem(
                        f"{where} (rule '{r.id}')", "duplicate rule id", "unique rule ids", f"First at {seen[r.id]}."
                    )
                )
            seen.setdefault(r.id, where)
        if problems:
            raise PolicyError(problems)
        canonical = {
            "roles": sorted(self.roles),
            "purposes": sorted(self.purposes),
            "trainings": sorted(self.trainings),
            "legal_bases": sorted(self.legal_bases),
            "rules": [r.to_dict() for r in self.rules],
        }
        self.digest = hashlib.sha256(json.dumps(canonical, sort_keys=True).encode()).hexdigest()
        compiled = [self._compile(r) for r in self.rules]
        self._by_action: dict[str, tuple[tuple[_Compiled, ...], tuple[_Compiled, ...]]] = {
            action: (
                tuple(c for c in compiled if c.rule.effect is Effect.DENY and c.rule.covers(action)),
                tuple(c for c in compiled if c.rule.effect is Effect.ALLOW and c.rule.covers(action)),
            )
            for action in self.actions
        }

    def _compile(self, rule: Rule) -> _Compiled:
        pairs = _compile_rule(rule)
        verb = "allowed" if rule.effect is Effect.ALLOW else "denied"
        text = f"{verb} by rule '{rule.id}'" + (f": {rule.description}" if rule.description else "")
        decision = Decision(rule.effect is Effect.ALLOW, rule.id, text, rule.obligations, self.digest)
        checks = tuple(check for check, _ in pairs)
        return _Compiled(rule, _needs_resource(rule), checks, tuple(why for _, why in pairs), decision)

    def _check(self, rule: Rule, location: str) -> list[Problem]:
        """Every reference of ``rule`` to an undeclared term."""
        where = f"{location} (rule '{rule.id}')"
        problems: list[Problem] = []

        def known(key: str, values: Iterable[str], vocab: Mapping[str, str], section: str) -> None:
            for v in sorted(values):
                if v not in vocab:
                    declare = f"Declare it under '{section}:' first." if section else "medsyn knows only these."
                    hint = _suggest(v, vocab) or declare
                    problems.append(
                        Problem(f"{where} {key}", f"'{v}' is not declared", f"one of {sorted(vocab)}", hint)
                    )

        if rule.subject.role is not None:
            known("subject.role", rule.subject.role.values, self.roles, "roles")
        if rule.context.purpose is not None:
            known("context.purpose", rule.context.purpose.values, self.purposes, "purposes")
        if self.trainings:
            known("subject.training", rule.subject.training, self.trainings, "trainings")
        if self.legal_bases and rule.context.legal_basis is not None:
            known("context.legal_basis", rule.context.legal_basis.values, self.legal_bases, "legal_bases")
        known("obligations", rule.obligations, OBLIGATIONS, "")
        if not rule.actions:
            problems.append(Problem(f"{where} actions", "an empty list", "at least one action or pattern"))
        for pattern in rule.actions:
            if not any(fnmatch.fnmatchcase(a, pattern) for a in self.actions):
                hint = _suggest(pattern, self.actions)
                problems.append(
                    Problem(
                        f"{where} actions", f"'{pattern}' matches no action", f"one of {sorted(self.actions)}", hint
                    )
                )
        return problems

    # -- deciding ---------------------------------------------------------------------------
    def check_request(self, request: AccessRequest) -> None:
        """Refuse a request naming an undeclared role, purpose, action or legal basis."""
        role, purpose, action = request.subject.role, request.context.purpose, request.action
        if role not in self.roles:
            raise UnknownRoleError(
                Problem(
                    f"role of user '{request.subject.user}'",
                    f"'{role}' is not declared in {self.source}",
                    f"one of {sorted(self.roles)}",
                    _suggest(role, self.roles) or "Fix the identity, or declare the role under 'roles:'.",
                ),
                term="role",
                value=role,
            )
        if purpose not in self.purposes:
            raise UnknownPurposeError(
                Problem(
                    "declared purpose",
                    f"'{purpose}' is not declared in {self.source}",
                    f"one of {sorted(self.purposes)}",
                    _suggest(purpose, self.purposes) or "Declare it under 'purposes:' first.",
                ),
                term="purpose",
                value=purpose,
            )
        if action not in self._by_action:
            raise UnknownActionError(
                Problem("action", f"'{action}' is not a known action", f"one of {sorted(self.actions)}"),
                term="action",
                value=action,
            )
        basis = request.context.legal_basis
        if self.legal_bases and basis is not None and basis not in self.legal_bases:
            raise AccessRequestError(
                Problem(
                    "legal basis",
                    f"'{basis}' is not declared in {self.source}",
                    f"one of {sorted(self.legal_bases)}",
                    _suggest(basis, self.legal_bases),
                ),
                term="legal_basis",
                value=basis,
            )

    def decide(self, request: AccessRequest) -> Decision:
        """Allow or deny ``request`` (deny overrides, default deny), naming the deciding rule.

        Raises
        ------
        AccessRequestError
            (:class:`UnknownRoleError`, :class:`UnknownPurposeError`, :class:`UnknownActionError`)
            when the request names a term the policy does not declare.
        """
        entry = self._by_action.get(request.action)
        if (
            entry is None
            or request.subject.role not in self.roles
            or request.context.purpose not in self.purposes
            or (
                self.legal_bases
                and request.context.legal_basis is not None
                and request.context.legal_basis not in self.legal_bases
            )
        ):
            self.check_request(request)  # raises the precise error (legal_basis None is allowed)
            assert entry is not None
        denies, allows = entry
        for compiled in denies:
            if compiled.failing(request) == -1:
                return compiled.decision
        first: _Compiled | None = None
        extra: list[str] = []
        misses: list[tuple[_Compiled, int]] = []
        for compiled in allows:
            failed = compiled.failing(request)
            if failed != -1:
                misses.append((compiled, failed))
            elif first is None:
                first = compiled
            else:
                extra.extend(o for o in compiled.rule.obligations if o not in first.rule.obligations)
        if first is not None:
            if not extra:
                return first.decision
            decision = first.decision
            obligations = decision.obligations + tuple(dict.fromkeys(extra))
            return Decision(True, decision.rule, decision.reason, obligations, self.digest)
        return self._default_deny(request, misses)

    def _default_deny(self, request: AccessRequest, misses: list[tuple[_Compiled, int]]) -> Decision:
        head = (
            f"no rule allows '{request.action}' for role '{request.subject.role}' "
            f"with purpose '{request.context.purpose}'"
        )
        if misses:
            why = "; ".join(f"rule '{c.rule.id}': {c.explain(request, failed)}" for c, failed in misses[:4])
            more = f" (and {len(misses) - 4} more)" if len(misses) > 4 else ""
            reason = f"{head} — {why}{more}"
        else:
            reason = f"{head} — no allow rule covers this action"
        return Decision(False, DEFAULT_DENY, reason, (), self.digest)

    def rules_for(self, action: str) -> tuple[tuple[Rule, ...], tuple[Rule, ...]]:
        """The (deny, allow) rules that may decide ``action``, in evaluation order."""
        denies, allows = self._by_action[action]
        return tuple(c.rule for c in denies), tuple(c.rule for c in allows)

    def __repr__(self) -> str:
        return f"Policy({len(self.rules)} rules, {len(self.roles)} roles, source={self.source!r})"
