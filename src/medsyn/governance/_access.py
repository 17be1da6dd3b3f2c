"""What an access request and its decision are made of: subject, action, resource, context, decision.

These are the typed values the entry points (CLI, service, federated jobs) build and the
:class:`~medsyn.governance._policy.Policy` reads: a :class:`Subject` (user, role, site, trainings;
from the workspace config and ``MEDSYN_*`` environment for the CLI), an action from
:data:`ACTIONS`, a :class:`Resource` (dataset kind, sensitivity, owner site, consent scope) and
a :class:`Context` (declared purpose, legal basis). A :class:`Decision` names the rule that
decided; the caller writes it to the ledger. Nothing here reads files or databases.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import IntEnum, StrEnum

from medsyn.errors import InputError, PolicyDenied, Problem

__all__ = [
    "ACTIONS",
    "DEFAULT_DENY",
    "OBLIGATIONS",
    "AccessRequest",
    "AccessRequestError",
    "Context",
    "DataKind",
    "Decision",
    "PolicyError",
    "Resource",
    "Sensitivity",
    "Subject",
    "UnknownActionError",
    "UnknownPurposeError",
    "UnknownRoleError",
]

#: The data-touching operations a policy speaks about (``name: what it does``). Rules may use
#: ``*`` wildcards (``synth.*``); a pattern that matches none of these is a load error.
ACTIONS: Mapping[str, str] = {
    "register": "add a dataset (or a new version) to the catalog",
    "read": "read a dataset's records (inspect, schema, load into a tool)",
    "audit": "run the data-quality audit",
    "risk": "measure re-identification risk",
    "anonymize": "release an anonymised version (k-anonymity, l-diversity, t-closeness)",
    "pseudonymize": "replace identifiers by keyed pseudonyms",
    "reidentify": "map pseudonyms back to identifiers through the vault",
    "deid": "de-identify DICOM / EDF / WFDB headers",
    "synth.fit": "fit a generator to a dataset",
    "synth.sample": "sample synthetic data from a fitted generator",
    "synth.augment": "add synthetic records to a real dataset (balancing, conditions)",
    "evaluate": "compare synthetic data with real data",
    "dp.release": "release differentially private statistics (spends privacy budget)",
    "dp.budget": "set a dataset's total privacy budget (once)",
    "export": "write a dataset out of the workspace",
    "catalog.show": "list datasets and their metadata (no records)",
    "lineage.show": "show where a dataset came from",
    "ledger.verify": "verify the hash chain of the ledger",
}

#: What an allow rule may oblige the caller to do before it acts.
OBLIGATIONS: Mapping[str, str] = {
    "exclude_without_consent": "drop records without consent for the declared purpose before any processing",
}

DEFAULT_DENY = "default-deny"


class PolicyError(InputError):
    """A policy file or policy model is missing or invalid (each problem names the file, rule and key)."""


class AccessRequestError(InputError):
    """A request names a term (role, purpose, action, legal basis) that the policy does not declare."""

    def __init__(self, problem: Problem, *, term: str, value: str) -> None:
        super().__init__(problem)
        self.term = term
        self.value = value


class UnknownRoleError(AccessRequestError):
    """The subject's role is not declared under ``roles:`` in the policy."""


class UnknownPurposeError(AccessRequestError):
    """The declared purpose is not declared under ``purposes:`` in the policy."""


class UnknownActionError(AccessRequestError):
    """The action is not in the policy's action vocabulary (:data:`ACTIONS`)."""


class DataKind(StrEnum):
    """How far a dataset is from the patients it describes (most to least identifying)."""

    IDENTIFIABLE = "identifiable"
    PSEUDONYMISED = "pseudonymised"
    ANONYMISED = "anonymised"
    SYNTHETIC = "synthetic"


class Sensitivity(IntEnum):
    """Ordered sensitivity levels; ``special_category`` is GDPR Art. 9 data (health, genetics)."""

    PUBLIC = 0
    INTERNAL = 1
    CONFIDENTIAL = 2
    SPECIAL_CATEGORY = 3

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, value: object, *, location: str = "sensitivity") -> Sensitivity:
        """A level from its name (``"confidential"``) or the level itself; clear error otherwise."""
        if isinstance(value, Sensitivity):
            return value
        try:
            return cls[str(value).strip().upper()]
        except KeyError:
            raise InputError(Problem(location, repr(value), f"one of {[s.label for s in cls]}")) from None


def _parse_kind(value: object, location: str) -> DataKind:
    try:
        return DataKind(str(value))
    except ValueError:
        raise InputError(Problem(location, repr(value), f"one of {[k.value for k in DataKind]}")) from None


@dataclass(frozen=True, slots=True)
class Subject:
    """Who asks: a user with one role at one site, and the trainings they hold."""

    user: str
    role: str
    site: str
    training: frozenset[str] = frozenset()

    def label(self) -> str:
        """How messages and the ledger name the subject: ``user (role@site)``."""
        return f"{self.user} ({self.role}@{self.site})"

    def to_dict(self) -> dict[str, object]:
        return {"user": self.user, "role": self.role, "site": self.site, "training": sorted(self.training)}

    @classmethod
    def from_mapping(cls, data: Mapping[str, object], *, source: str = "identity") -> Subject:
        """Build from a config mapping ``{user, role, site, training: [..] or "a,b"}``, naming bad keys."""
        problems: list[Problem] = []
        unknown = sorted(set(map(str, data)) - {"user", "role", "site", "training"})
        if unknown:
            problems.append(Problem(source, f"unknown key(s) {unknown}", "user, role, site, training"))
        values: dict[str, str] = {}
        for key in ("user", "role", "site"):
            raw = data.get(key)
            if not isinstance(raw, str) or not raw.strip():
                problems.append(
                    Problem(
                        f"{source}: {key}",
                        "missing" if raw is None else repr(raw),
                        "a non-empty string",
                        f"Set it in the workspace config or with MEDSYN_{key.upper()}.",
                    )
                )
            else:
                values[key] = raw.strip()
        raw_training = data.get("training", ())
        if isinstance(raw_training, str):
            training = frozenset(t.strip() for t in raw_training.split(",") if t.strip())
        elif isinstance(raw_training, list | tuple | set | frozenset) and all(isinstance(t, str) for t in raw_training):
            training = frozenset(str(t).strip() for t in raw_training)
        else:
            problems.append(Problem(f"{source}: training", repr(raw_training), "a list of training names"))
            training = frozenset()
        if problems:
            raise InputError(problems)
        return cls(values["user"], values["role"], values["site"], training)

    @classmethod
    def from_env(cls, env: Mapping[str, str], *, base: Mapping[str, object] | None = None) -> Subject:
        """``base`` (the workspace config's identity) overridden by MEDSYN_USER/ROLE/SITE/TRAINING in ``env``."""
        merged: dict[str, object] = dict(base or {})
        for key in ("user", "role", "site", "training"):
            value = env.get(f"MEDSYN_{key.upper()}")
            if value is not None:
                merged[key] = value
        return cls.from_mapping(merged, source="identity (workspace config + MEDSYN_* environment)")


@dataclass(frozen=True, slots=True)
class Resource:
    """The data acted on. Defaults are the most restrictive reading (identifiable, special category).

    ``consent_scope`` is the set of purposes the dataset's patients consented to (empty: none
    recorded). ``kind`` and ``sensitivity`` also accept their names as strings.
    """

    dataset: str
    version: str | None = None
    kind: DataKind = DataKind.IDENTIFIABLE
    sensitivity: Sensitivity = Sensitivity.SPECIAL_CATEGORY
    owner_site: str = ""
    consent_scope: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        if not isinstance(self.kind, DataKind):
            object.__setattr__(self, "kind", _parse_kind(self.kind, f"resource '{self.dataset}': kind"))
        if not isinstance(self.sensitivity, Sensitivity):
            level = Sensitivity.parse(self.sensitivity, location=f"resource '{self.dataset}': sensitivity")
            object.__setattr__(self, "sensitivity", level)
        if not isinstance(self.consent_scope, frozenset):
            object.__setattr__(self, "consent_scope", frozenset(self.consent_scope))


@dataclass(frozen=True, slots=True)
class Context:
    """Why: the declared purpose (required) and, optionally, the GDPR legal basis relied on."""

    purpose: str
    legal_basis: str | None = None


@dataclass(frozen=True, slots=True)
class AccessRequest:
    """One question to the policy. ``resource`` is None for workspace-level actions."""

    subject: Subject
    action: str
    resource: Resource | None
    context: Context

    def to_dict(self) -> dict[str, object]:
        res = self.resource
        return {
            "subject": {
                "user": self.subject.user,
                "role": self.subject.role,
                "site": self.subject.site,
                "training": sorted(self.subject.training),
            },
            "action": self.action,
            "resource": None
            if res is None
            else {
                "dataset": res.dataset,
                "version": res.version,
                "kind": res.kind.value,
                "sensitivity": res.sensitivity.label,
                "owner_site": res.owner_site,
                "consent_scope": sorted(res.consent_scope),
            },
            "context": {"purpose": self.context.purpose, "legal_basis": self.context.legal_basis},
        }


@dataclass(frozen=True, slots=True)
class Decision:
    """The answer: allowed or not, the id of the rule that decided (or ``default-deny``), and why."""

    allowed: bool
    rule: str
    reason: str
    obligations: tuple[str, ...] = ()
    policy_digest: str = ""

    def to_dict(self) -> dict[str, object]:
        return {
            "allowed": self.allowed,
            "rule": self.rule,
            "reason": self.reason,
            "obligations": list(self.obligations),
            "policy_digest": self.policy_digest,
        }

    def enforce(self) -> None:
        """Raise :class:`~medsyn.errors.PolicyDenied` (exit 3, HTTP 403) when not allowed."""
        if not self.allowed:
            raise PolicyDenied(f"access denied ({self.rule}): {self.reason}")
