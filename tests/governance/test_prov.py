"""PROV-JSON export: the structure the W3C submission prescribes, and the lineage it carries."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from urllib.parse import urlparse

import pytest
from sqlalchemy import Engine

from medsyn.governance import _db
from medsyn.governance._lineage import lineage_graph
from medsyn.governance._prov import NAMESPACES, prov_document, write_prov
from tests.governance.catalog_helpers import Chain, build_chain, new_engine

# The record kinds of PROV-JSON (https://www.w3.org/Submission/prov-json/, section 2) and, for each
# relation, the attributes that name other records: (attribute, record kind it refers to, required).
RELATIONS: Mapping[str, tuple[tuple[str, str, bool], ...]] = {
    "used": (("prov:activity", "activity", True), ("prov:entity", "entity", False)),
    "wasGeneratedBy": (("prov:entity", "entity", True), ("prov:activity", "activity", False)),
    "wasDerivedFrom": (
        ("prov:generatedEntity", "entity", True),
        ("prov:usedEntity", "entity", True),
        ("prov:activity", "activity", False),
        ("prov:generation", "wasGeneratedBy", False),
        ("prov:usage", "used", False),
    ),
    "wasAssociatedWith": (("prov:activity", "activity", True), ("prov:agent", "agent", False)),
    "wasAttributedTo": (("prov:entity", "entity", True), ("prov:agent", "agent", True)),
}
ELEMENTS = ("entity", "activity", "agent")
TOP_LEVEL = {"prefix", *ELEMENTS, *RELATIONS, "wasInformedBy", "wasStartedBy", "wasEndedBy", "wasInvalidatedBy"}
TIMES = {"prov:startTime", "prov:endTime", "prov:time"}


def _literal_problems(value: object, where: str) -> list[str]:
    """A PROV-JSON attribute value: a string, number or boolean, a typed literal, or a list of these."""
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _literal_problems(v, f"{where}[{i}]")]
    if isinstance(value, bool | str):
        return []
    if isinstance(value, int | float):
        return [] if math.isfinite(value) else [f"{where}: {value} is not finite"]
    if isinstance(value, dict):
        if set(value) not in ({"$", "type"}, {"$", "type", "lang"}, {"$", "lang"}):
            return [f"{where}: typed literal with keys {sorted(value)}"]
        if not isinstance(value["$"], str | int | float | bool):
            return [f"{where}: typed literal value {value['$']!r}"]
        return []
    return [f"{where}: {value!r} is not a PROV-JSON literal"]


def _qualified(name: str, prefixes: Mapping[str, str]) -> bool:
    if name.startswith("_:"):
        return True
    prefix, sep, local = name.partition(":")
    return bool(sep) and bool(local) and (prefix in prefixes or prefix in ("prov", "xsd"))


def prov_json_problems(doc: Mapping[str, object]) -> list[str]:
    """Everything in ``doc`` that breaks the PROV-JSON structure (empty when it conforms)."""
    problems = [f"unknown top-level key {k!r}" for k in doc if k not in TOP_LEVEL]
    prefixes = doc.get("prefix", {})
    assert isinstance(prefixes, dict)
    for name, uri in prefixes.items():
        if name in ("prov", "xsd") or not urlparse(str(uri)).scheme:
            problems.append(f"prefix {name!r}: {uri!r}")
    ids: dict[str, set[str]] = {}
    for kind in (*ELEMENTS, *RELATIONS):
        records = doc.get(kind, {})
        if not isinstance(records, dict):
            problems.append(f"{kind}: not a map of records")
            continue
        ids[kind] = set(records)
        for rid, attrs in records.items():
            if not _qualified(rid, prefixes):
                problems.append(f"{kind} id {rid!r} is not a qualified name with a declared prefix")
            if not isinstance(attrs, dict):
                problems.append(f"{kind} {rid}: not a map of attributes")
                continue
            for key, value in attrs.items():
                if not _qualified(key, prefixes):
                    problems.append(f"{kind} {rid}: attribute {key!r} has no declared prefix")
                problems += _literal_problems(value, f"{kind} {rid} {key}")
                if key in TIMES:
                    try:
                        ok = datetime.fromisoformat(str(value)).utcoffset() is not None
                    except ValueError:
                        ok = False
                    if not ok:
                        problems.append(f"{kind} {rid} {key}: {value!r} is not an xsd:dateTime with offset")
    for kind, refs in RELATIONS.items():
        for rid, attrs in doc.get(kind, {}).items():  # type: ignore[attr-defined]
            for attr, target, required in refs:
                if attr not in attrs:
                    if required:
                        problems.append(f"{kind} {rid}: missing {attr}")
                elif str(attrs[attr]).startswith("_:"):  # a blank node names nothing outside its record
                    problems.append(f"{kind} {rid}: {attr} refers to the blank node {attrs[attr]!r}")
                elif attrs[attr] not in ids.get(target, set()):
                    problems.append(f"{kind} {rid}: {attr} {attrs[attr]!r} is not a declared {target}")
    return problems


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Engine, Chain]:
    tmp = tmp_path_factory.mktemp("prov")
    engine = new_engine(tmp)
    return engine, build_chain(tmp, engine)


def test_the_checker_catches_broken_documents() -> None:
    good = {
        "prefix": {"ex": "urn:example:"},
        "entity": {"ex:e": {"prov:label": "e"}},
        "activity": {"ex:a": {"prov:startTime": "2025-01-01T00:00:00+00:00"}},
        "used": {"_:u1": {"prov:activity": "ex:a", "prov:entity": "ex:e"}},
    }
    assert prov_json_problems(good) == []
    broken = json.loads(json.dumps(good))
    broken["entity"]["ex:e"]["ex:nested"] = {"a": 1}
    broken["entity"]["nope:x"] = {}
    broken["activity"]["ex:a"]["prov:startTime"] = "2025-01-01T00:00:00"
    broken["used"]["_:u1"]["prov:entity"] = "ex:missing"
    broken["wasGeneratedBy"] = {"_:g1": {"prov:activity": "ex:a"}}
    broken["wasDerivedFrom"] = {
        "_:d1": {"prov:generatedEntity": "ex:e", "prov:usedEntity": "ex:e", "prov:generation": "_:g1"}
    }
    assert len(prov_json_problems(broken)) == 6


def test_the_report_lineage_exports_as_prov_json(built: tuple[Engine, Chain]) -> None:
    engine, chain = built
    with _db.read(engine) as conn:
        doc = prov_document(lineage_graph(conn, [chain.report.version], direction="up"))
    assert prov_json_problems(doc) == []
    json.dumps(doc, allow_nan=False)
    assert doc["prefix"] == dict(NAMESPACES)
    entity, activity, agent = doc["entity"], doc["activity"], doc["agent"]
    assert isinstance(entity, dict)
    assert isinstance(activity, dict)
    assert isinstance(agent, dict)
    assert {e["prov:label"] for e in entity.values()} == {
        "heart",
        "heart-k5",
        "heart-copula",
        "heart-synthetic",
        "heart-scorecard",
    }
    anonymised = entity[f"dataset:{chain.anonymised.version}"]
    assert anonymised["medsyn:kind"] == "anonymised"
    assert anonymised["medsyn:privacy.k_reached"] == 5
    assert anonymised["prov:type"] == {"$": "medsyn:Dataset", "type": "prov:QUALIFIED_NAME"}
    assert entity[f"dataset:{chain.report.version}"]["prov:type"]["$"] == "medsyn:Report"
    assert entity[f"dataset:{chain.real.version}"]["medsyn:legalBasis"] == ["art6-1-e", "art9-2-j"]
    fit = activity[f"operation:{chain.operations['synth.fit'].id}"]
    assert fit["prov:startTime"] == "2025-03-02T10:00:00+00:00"
    assert fit["medsyn:parameter.generator"] == "gaussian_copula"
    assert json.loads(fit["medsyn:parameters"]) == {"generator": "gaussian_copula"}
    assert {a["prov:label"] for a in agent.values()} == {"ana", "ben", "medsyn 0.1.0"}
    assert agent["agent:ben@leeds"]["medsyn:role"] == "researcher"
    assert len(doc["used"]) == 5  # type: ignore[arg-type]
    assert len(doc["wasGeneratedBy"]) == 4  # type: ignore[arg-type]
    assert len(doc["wasAssociatedWith"]) == 8  # type: ignore[arg-type]  # a person and medsyn per operation
    assert len(doc["wasAttributedTo"]) == 5  # type: ignore[arg-type]
    derived = {
        (d["prov:generatedEntity"], d["prov:usedEntity"])
        for d in doc["wasDerivedFrom"].values()  # type: ignore[attr-defined]
    }
    assert derived == {
        (f"dataset:{chain.anonymised.version}", f"dataset:{chain.real.version}"),
        (f"dataset:{chain.model.version}", f"dataset:{chain.anonymised.version}"),
        (f"dataset:{chain.synthetic.version}", f"dataset:{chain.model.version}"),
        (f"dataset:{chain.report.version}", f"dataset:{chain.anonymised.version}"),
        (f"dataset:{chain.report.version}", f"dataset:{chain.synthetic.version}"),
    }


def test_export_is_deterministic_and_written_atomically(built: tuple[Engine, Chain], tmp_path: Path) -> None:
    engine, chain = built
    with _db.read(engine) as conn:
        one = prov_document(lineage_graph(conn, [chain.real.version], direction="down"))
        two = prov_document(lineage_graph(conn, [chain.real.version], direction="down"))
        whole = prov_document(lineage_graph(conn))
    assert one == two
    assert prov_json_problems(whole) == []
    assert set(whole["entity"]) == set(one["entity"])  # type: ignore[arg-type]  # everything descends from it
    out = write_prov(tmp_path / "lineage.prov.json", one)
    assert json.loads(out.read_text(encoding="utf-8")) == one
    assert list(tmp_path.iterdir()) == [out]
