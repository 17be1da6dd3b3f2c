"""Lineage as W3C PROV-JSON (https://www.w3.org/Submission/prov-json/), for tools outside medsyn.

The mapping is PROV's own reading of lineage:

- each data set version is an ``entity`` (``dataset:<sha-256>``) typed ``medsyn:Dataset``
  (``medsyn:Report`` / ``medsyn:Model`` for derived artefacts) with its catalog metadata as
  ``medsyn:*`` attributes (kind, sensitivity, legal basis, purposes, retention, privacy figures);
- each operation is an ``activity`` (``operation:<uuid>``) with ``prov:startTime``,
  ``prov:endTime``, its parameters (each scalar as ``medsyn:parameter.<name>``, all of them as
  JSON text in ``medsyn:parameters``), the medsyn version and its ledger entry;
- each person is an ``agent`` (``agent:<user>@<site>``, ``prov:Person``) and each medsyn
  version a ``prov:SoftwareAgent``; both are ``wasAssociatedWith`` the operations they ran;
- lineage edges are ``used`` and ``wasGeneratedBy`` (with the role as ``prov:role``; named
  ``lineage:used-…`` / ``lineage:generated-…``), every (output, input) pair of an operation is
  a ``wasDerivedFrom`` that names the activity, the generation and the usage, and each version
  ``wasAttributedTo`` whoever registered it. Relations nothing refers to have blank ids (``_:…``).

Literal values follow the submission's rules: strings, numbers and booleans as JSON values,
qualified names and times as typed literals (``{"$": …, "type": "prov:QUALIFIED_NAME"}``), no
nested objects and no nulls. Identifiers and blank-node ids are stable, so the same lineage
exports to the same bytes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

from medsyn.governance._catalog import DatasetRecord
from medsyn.governance._lineage import LineageGraph, OperationRecord

__all__ = ["NAMESPACES", "prov_document", "write_prov"]

#: The prefixes a medsyn PROV document declares (``prov`` and ``xsd`` are predefined by PROV-JSON).
NAMESPACES: Mapping[str, str] = {
    "medsyn": "urn:medsyn:terms#",
    "dataset": "urn:medsyn:dataset:",
    "operation": "urn:medsyn:operation:",
    "agent": "urn:medsyn:agent:",
    "lineage": "urn:medsyn:lineage:",
}
_LOCAL = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_ACTOR = re.compile(r"^(?P<user>.+?) \((?P<role>[^@()]*)@(?P<site>[^()]*)\)$")
_SCALAR = (str, int, float, bool)


def _qname(value: str) -> dict[str, str]:
    return {"$": value, "type": "prov:QUALIFIED_NAME"}


def _time(value: str) -> str | None:
    """ISO 8601 with an explicit offset (naive times read as UTC); None when unparseable."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.utcoffset() is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.isoformat()


def _local(text: str) -> str:
    """A PROV-N local name: percent-escape everything but letters, digits and ``_ - . @``."""
    return quote(text, safe="@-._")


def _agent(actor: str) -> tuple[str, dict[str, object]]:
    """The agent id and attributes of ``user (role@site)`` (any other text: the whole string)."""
    m = _ACTOR.match(actor.strip())
    if m is None:
        return f"agent:{_local(actor.strip() or 'unknown')}", {
            "prov:type": _qname("prov:Person"),
            "prov:label": actor,
        }
    user, role, site = m["user"], m["role"], m["site"]
    return f"agent:{_local(f'{user}@{site}')}", {
        "prov:type": _qname("prov:Person"),
        "prov:label": user,
        "medsyn:user": user,
        "medsyn:site": site,
        "medsyn:role": role,
    }


def _entity(d: DatasetRecord) -> dict[str, object]:
    kind_type = {"report": "medsyn:Report", "model": "medsyn:Model"}.get(d.modality, "medsyn:Dataset")
    attrs: dict[str, object] = {
        "prov:type": _qname(kind_type),
        "prov:label": d.name,
        "medsyn:name": d.name,
        "medsyn:version": d.version,
        "medsyn:kind": d.kind,
        "medsyn:modality": d.modality,
        "medsyn:sensitivity": d.sensitivity,
        "medsyn:ownerSite": d.owner_site,
        "medsyn:legalBasis": list(d.legal_bases),
        "medsyn:purposes": list(d.purposes),
        "medsyn:consentScope": list(d.consent_scope),
        "medsyn:retention": d.retention,
        "medsyn:objectType": d.object_type,
        "medsyn:filename": d.filename,
        "medsyn:sizeBytes": d.size_bytes,
    }
    if d.records is not None:
        attrs["medsyn:records"] = d.records
    registered = _time(d.registered_at)
    if registered:
        attrs["medsyn:registeredAt"] = {"$": registered, "type": "xsd:dateTime"}
    due = d.erase_by()
    if due is not None:
        attrs["medsyn:eraseBy"] = {"$": due.isoformat(), "type": "xsd:date"}
    if d.description:
        attrs["medsyn:description"] = d.description
    for key, value in sorted(d.privacy.items()):
        if isinstance(value, _SCALAR) and _LOCAL.match(key):
            attrs[f"medsyn:privacy.{key}"] = value
    return {k: v for k, v in attrs.items() if v != []}


def _activity(o: OperationRecord) -> dict[str, object]:
    attrs: dict[str, object] = {
        "prov:type": _qname(f"medsyn:{_local(o.action)}"),
        "prov:label": o.action,
        "medsyn:action": o.action,
        "medsyn:purpose": o.purpose,
        "medsyn:codeVersion": o.code_version,
        "medsyn:parameters": json.dumps(dict(o.parameters), sort_keys=True, ensure_ascii=False),
    }
    start, end = _time(o.started_at), _time(o.finished_at)
    if start:
        attrs["prov:startTime"] = start
    if end:
        attrs["prov:endTime"] = end
    if o.ledger_seq is not None:
        attrs["medsyn:ledgerSeq"] = o.ledger_seq
    for key, value in sorted(o.parameters.items()):
        if isinstance(value, _SCALAR) and _LOCAL.match(key):
            attrs[f"medsyn:parameter.{key}"] = value
    return attrs


def prov_document(graph: LineageGraph) -> dict[str, object]:
    """The PROV-JSON document of ``graph`` (see the module docstring for the mapping)."""
    entity = {f"dataset:{v}": _entity(d) for v, d in sorted(graph.datasets.items())}
    ops = sorted(graph.operations.values(), key=lambda o: (o.started_at, o.id))
    activity = {f"operation:{o.id}": _activity(o) for o in ops}
    agent: dict[str, dict[str, object]] = {}
    used: dict[str, dict[str, object]] = {}
    generated: dict[str, dict[str, object]] = {}
    derived: dict[str, dict[str, object]] = {}
    associated: dict[str, dict[str, object]] = {}
    attributed: dict[str, dict[str, object]] = {}

    def blank(table: dict[str, dict[str, object]], prefix: str, value: dict[str, object]) -> str:
        key = f"_:{prefix}{len(table) + 1}"
        table[key] = value
        return key

    def named(table: dict[str, dict[str, object]], key: str, value: dict[str, object]) -> str:
        # usages and generations are referred to by derivations, so they need resolvable names
        table[key] = value
        return key

    for o in ops:
        act = f"operation:{o.id}"
        who, attrs = _agent(o.actor)
        agent.setdefault(who, attrs)
        blank(associated, "assoc", {"prov:activity": act, "prov:agent": who})
        tool = f"agent:medsyn-{_local(o.code_version)}"
        agent.setdefault(
            tool,
            {"prov:type": _qname("prov:SoftwareAgent"), "prov:label": f"medsyn {o.code_version}"},
        )
        blank(associated, "assoc", {"prov:activity": act, "prov:agent": tool})
        ins = [e for e in graph.edges if e.operation == o.id and e.direction == "in" and e.version in graph.datasets]
        outs = [e for e in graph.edges if e.operation == o.id and e.direction == "out" and e.version in graph.datasets]
        usages: dict[str, str] = {}
        for e in ins:
            usage: dict[str, object] = {"prov:activity": act, "prov:entity": f"dataset:{e.version}"}
            if o.started_at and _time(o.started_at):
                usage["prov:time"] = _time(o.started_at)
            if e.role:
                usage["prov:role"] = e.role
            usages[e.version] = named(used, f"lineage:used-{o.id}-{e.version[:16]}", usage)
        for e in outs:
            generation: dict[str, object] = {"prov:entity": f"dataset:{e.version}", "prov:activity": act}
            if o.finished_at and _time(o.finished_at):
                generation["prov:time"] = _time(o.finished_at)
            if e.role:
                generation["prov:role"] = e.role
            gen_id = named(generated, f"lineage:generated-{o.id}-{e.version[:16]}", generation)
            for i in ins:
                if i.version == e.version:  # the same bytes in and out: not a derivation of itself
                    continue
                blank(
                    derived,
                    "d",
                    {
                        "prov:generatedEntity": f"dataset:{e.version}",
                        "prov:usedEntity": f"dataset:{i.version}",
                        "prov:activity": act,
                        "prov:generation": gen_id,
                        "prov:usage": usages[i.version],
                    },
                )
    for v, d in sorted(graph.datasets.items()):
        if d.registered_by:
            who, attrs = _agent(d.registered_by)
            agent.setdefault(who, attrs)
            blank(attributed, "a", {"prov:entity": f"dataset:{v}", "prov:agent": who})
    doc: dict[str, object] = {"prefix": dict(NAMESPACES)}
    for key, table in (
        ("entity", entity),
        ("activity", activity),
        ("agent", dict(sorted(agent.items()))),
        ("used", used),
        ("wasGeneratedBy", generated),
        ("wasDerivedFrom", derived),
        ("wasAssociatedWith", associated),
        ("wasAttributedTo", attributed),
    ):
        if table:
            doc[key] = table
    return doc


def write_prov(path: str | Path, document: Mapping[str, object]) -> Path:
    """Write a PROV-JSON document atomically (UTF-8, indented); returns the path."""
    from medsyn._atomic import write_text

    return write_text(path, json.dumps(document, indent=2, ensure_ascii=False) + "\n")
