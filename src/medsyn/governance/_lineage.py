"""Lineage: which operation made each data set version, from which inputs, with which parameters and code.

Every governed derivation (audit, anonymise, fit, sample, evaluate, export) is one
:class:`OperationRecord` (who, what, why, parameters, medsyn version, when, its ledger entry)
and edges to the data set versions it used (``in``) and made (``out``), each with a role
(``real``, ``holdout``, ``model``, ``report`` …). That is the PROV model (``used`` /
``wasGeneratedBy``), so the same rows answer "where did this synthetic table come from?"
(:func:`ancestors`), "what was made from this patient table?" (:func:`descendants`, e.g. before
erasing it) and export as W3C PROV-JSON (:mod:`medsyn.governance._prov`).

The graph is acyclic by construction (an output is new content, or the same content made
again), but an operation can make bytes identical to one of its inputs (anonymising data that
already met k); walks keep a set of visited nodes, so no input can make them loop.
"""

from __future__ import annotations

import json
import math
import re
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from sqlalchemy import Connection, select

from medsyn import __version__
from medsyn.errors import InputError, Problem, UnknownNameError
from medsyn.governance._catalog import DatasetRecord, register
from medsyn.governance._db import datasets, lineage_edges, operations

if TYPE_CHECKING:
    from rich.tree import Tree

_T = TypeVar("_T")

__all__ = [
    "Direction",
    "Edge",
    "LineageGraph",
    "LineageNode",
    "OperationRecord",
    "ancestors",
    "descendants",
    "lineage_graph",
    "lineage_summary",
    "lineage_tree",
    "node_label",
    "record_operation",
]

Direction = Literal["up", "down", "both"]
_ACTION = re.compile(r"^[a-z][a-z0-9_.\-]{0,59}$")
_MAX_ROLE = 40
#: How many derivation steps a tree shows before it stops (a guard, far above real chains).
MAX_DEPTH = 100


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


@dataclass(frozen=True, slots=True)
class OperationRecord:
    """One governed operation that produced outputs (a row of ``operations``)."""

    id: str
    action: str
    actor: str
    purpose: str
    parameters: Mapping[str, object] = field(default_factory=dict)
    started_at: str = ""
    finished_at: str = ""
    ledger_seq: int | None = None
    code_version: str = __version__

    @classmethod
    def start(
        cls, action: str, *, actor: str, purpose: str, parameters: Mapping[str, object] | None = None
    ) -> OperationRecord:
        """A new operation (fresh uuid), started now; :meth:`finished` stamps its end."""
        return cls(str(uuid.uuid4()), action, actor, purpose, dict(parameters or {}), started_at=_now())

    def finished(self, when: str | None = None) -> OperationRecord:
        return replace(self, finished_at=when or _now())

    def problems(self) -> list[Problem]:
        """Everything wrong with the record, each naming its field."""
        out: list[Problem] = []
        try:
            uuid.UUID(self.id)
        except ValueError:
            out.append(Problem("operation id", repr(self.id), "a UUID"))
        if not _ACTION.match(self.action):
            out.append(Problem("action", repr(self.action), "an action name: lowercase, 1–60 characters (synth.fit)"))
        if not self.actor.strip() or len(self.actor) > 200:
            out.append(Problem("actor", repr(self.actor), "who ran it: 1–200 characters"))
        if len(self.purpose) > 100:
            out.append(Problem("purpose", f"{len(self.purpose)} characters", "at most 100"))
        out += _json_problems(self.parameters, "parameters")
        for name in ("started_at", "finished_at"):
            value = getattr(self, name)
            if value and _parse_time(value) is None:
                out.append(Problem(name, repr(value), "ISO 8601 with a time zone"))
        return out

    def to_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "action": self.action,
            "actor": self.actor,
            "purpose": self.purpose,
            "parameters": dict(self.parameters),
            "code_version": self.code_version,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "ledger_seq": self.ledger_seq,
        }

    def to_row(self) -> dict[str, object]:
        row = self.to_dict()
        row["parameters"] = json.dumps(dict(self.parameters), sort_keys=True, allow_nan=False, ensure_ascii=False)
        return row

    @classmethod
    def from_row(cls, row: Mapping[Any, Any]) -> OperationRecord:
        return cls(
            id=str(row["id"]),
            action=str(row["action"]),
            actor=str(row["actor"]),
            purpose=str(row["purpose"]),
            parameters=json.loads(str(row["parameters"] or "{}")),
            started_at=str(row["started_at"]),
            finished_at=str(row["finished_at"]),
            ledger_seq=None if row["ledger_seq"] is None else int(row["ledger_seq"]),
            code_version=str(row["code_version"]),
        )


def _parse_time(value: str) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.utcoffset() is not None else None


def _json_problems(value: object, where: str) -> list[Problem]:
    if value is None or isinstance(value, str | bool | int):
        return []
    if isinstance(value, float):
        return [] if math.isfinite(value) else [Problem(where, repr(value), "a finite number")]
    if isinstance(value, list | tuple):
        return [p for i, v in enumerate(value) for p in _json_problems(v, f"{where}[{i}]")]
    if isinstance(value, Mapping):
        out: list[Problem] = []
        for k, v in value.items():
            if not isinstance(k, str):
                out.append(Problem(where, f"key {k!r}", "string keys"))
            out += _json_problems(v, f"{where}.{k}")
        return out
    return [Problem(where, f"a {type(value).__name__}", "JSON values: str, number, bool, None, list, dict")]


# ---------------------------------------------------------------------- recording
def record_operation(
    conn: Connection,
    op: OperationRecord,
    *,
    inputs: Sequence[tuple[str, str]],
    outputs: Sequence[tuple[str | DatasetRecord, str]],
    insert_operation: bool = True,
) -> OperationRecord:
    """Record ``op`` and its lineage edges in the caller's (write) transaction; returns the stored record.

    Parameters
    ----------
    inputs
        ``(version, role)`` of each registered data set the operation used.
    outputs
        ``(version or DatasetRecord, role)`` of each version it made. A record not yet in the
        catalog is registered here, linked to ``op``; one already there (the same bytes made
        again) is linked, not registered twice.
    insert_operation
        False when the caller already inserted ``op``'s row.

    Raises
    ------
    InputError
        An invalid operation, a version that is not registered, or a role longer than 40
        characters, all named; nothing is written then.
    """
    if not op.finished_at:
        op = op.finished()
    problems = op.problems()
    ins = _merge_roles("input", [(v, r) for v, r in inputs], problems)
    outs_raw = [(o.version if isinstance(o, DatasetRecord) else o, r) for o, r in outputs]
    outs = _merge_roles("output", outs_raw, problems)
    new_records = {o.version: o for o, _ in outputs if isinstance(o, DatasetRecord)}
    known = _registered(conn, set(ins) | set(outs))
    for side, versions in (("input", ins), ("output", outs)):
        for v in versions:
            if v not in known and not (side == "output" and v in new_records):
                problems.append(
                    Problem(
                        f"{side} {v[:12]}",
                        "is not a registered data set version",
                        "a version in the catalog (register it first; only catalog data sets have lineage)",
                    )
                )
    if problems:
        raise InputError(problems)
    if insert_operation:
        conn.execute(operations.insert().values(**op.to_row()))
    for version, record in new_records.items():
        if version not in known:
            register(conn, replace(record, operation_id=record.operation_id or op.id))
    rows = [
        {"operation_id": op.id, "version": v, "direction": direction, "role": role}
        for direction, side in (("in", ins), ("out", outs))
        for v, role in side.items()
    ]
    if rows:
        conn.execute(lineage_edges.insert(), rows)
    return op


def _merge_roles(side: str, pairs: Sequence[tuple[str, str]], problems: list[Problem]) -> dict[str, str]:
    """version → role; a version listed twice keeps both roles (``real+holdout``)."""
    merged: dict[str, list[str]] = {}
    for i, (version, role) in enumerate(pairs):
        if not version:
            problems.append(
                Problem(
                    f"{side} #{i + 1}", "has no version", "a catalog data set (resources outside it have no lineage)"
                )
            )
            continue
        roles = merged.setdefault(version, [])
        if role and role not in roles:
            roles.append(role)
    out = {v: "+".join(r) for v, r in merged.items()}
    problems += [
        Problem(f"{side} {v[:12]} role", repr(r), f"at most {_MAX_ROLE} characters")
        for v, r in out.items()
        if len(r) > _MAX_ROLE
    ]
    return out


def _registered(conn: Connection, versions: Iterable[str]) -> set[str]:
    wanted = list(versions)
    if not wanted:
        return set()
    found = conn.execute(select(datasets.c.version).where(datasets.c.version.in_(wanted))).scalars()
    return set(found)


# ---------------------------------------------------------------------- graph
@dataclass(frozen=True, slots=True)
class Edge:
    """One lineage edge: ``operation`` used (``in``) or made (``out``) ``version`` in ``role``."""

    operation: str
    version: str
    direction: Literal["in", "out"]
    role: str


@dataclass(frozen=True, slots=True)
class LineageGraph:
    """A connected piece of the lineage: its data set versions, operations and edges."""

    datasets: Mapping[str, DatasetRecord]
    operations: Mapping[str, OperationRecord]
    edges: tuple[Edge, ...]


def _edges_of_versions(conn: Connection, versions: Sequence[str], direction: str) -> list[Edge]:
    if not versions:
        return []
    query = select(lineage_edges).where(lineage_edges.c.version.in_(versions), lineage_edges.c.direction == direction)
    return [_edge(r) for r in conn.execute(query).mappings()]


def _edges_of_operations(conn: Connection, ops: Sequence[str], direction: str) -> list[Edge]:
    if not ops:
        return []
    query = select(lineage_edges).where(lineage_edges.c.operation_id.in_(ops), lineage_edges.c.direction == direction)
    return [_edge(r) for r in conn.execute(query).mappings()]


def _edge(row: Mapping[Any, Any]) -> Edge:
    return Edge(str(row["operation_id"]), str(row["version"]), row["direction"], str(row["role"] or ""))


def lineage_graph(
    conn: Connection, versions: Iterable[str] | None = None, *, direction: Direction = "up"
) -> LineageGraph:
    """The lineage reachable from ``versions`` (``up``: ancestors, ``down``: descendants, or both).

    ``versions=None`` is the whole catalog: every data set, operation and edge.
    """
    if versions is None:
        ds = {r["version"]: DatasetRecord.from_row(r) for r in conn.execute(select(datasets)).mappings()}
        ops = {r["id"]: OperationRecord.from_row(r) for r in conn.execute(select(operations)).mappings()}
        edges = tuple(_edge(r) for r in conn.execute(select(lineage_edges)).mappings())
        return LineageGraph(ds, ops, tuple(sorted(edges, key=_edge_key)))
    start = list(dict.fromkeys(versions))
    seen_versions: set[str] = set(start)
    seen_ops: set[str] = set()
    edges_found: set[Edge] = set()
    walks = {"up": ("out", "in"), "down": ("in", "out")}
    for name, (to_op, from_op) in walks.items():
        if direction not in (name, "both"):
            continue
        visited_versions, visited_ops = set(start), set[str]()
        frontier = list(start)
        while frontier:  # breadth first; each version and operation is expanded once
            step = _edges_of_versions(conn, frontier, to_op)
            edges_found.update(step)
            new_ops = sorted({e.operation for e in step} - visited_ops)
            visited_ops.update(new_ops)
            far = _edges_of_operations(conn, new_ops, from_op)
            edges_found.update(far)
            frontier = sorted({e.version for e in far} - visited_versions)
            visited_versions.update(frontier)
        seen_versions |= visited_versions
        seen_ops |= visited_ops
    ds = _datasets_by_version(conn, seen_versions)
    missing = [v for v in start if v not in ds]
    if missing:
        raise UnknownNameError(f"no data set version {missing[0][:12]!r} in the catalog")
    ops = _operations_by_id(conn, seen_ops)
    return LineageGraph(ds, ops, tuple(sorted(edges_found, key=_edge_key)))


def _edge_key(e: Edge) -> tuple[str, str, str]:
    return (e.operation, e.direction, e.version)


def _datasets_by_version(conn: Connection, versions: Iterable[str]) -> dict[str, DatasetRecord]:
    return _rows_by(conn, datasets.c.version, versions, DatasetRecord.from_row)


def _operations_by_id(conn: Connection, ids: Iterable[str]) -> dict[str, OperationRecord]:
    return _rows_by(conn, operations.c.id, ids, OperationRecord.from_row)


def _rows_by(conn: Connection, key: Any, values: Iterable[str], build: Callable[[Any], _T]) -> dict[str, _T]:
    """Rows whose ``key`` column is one of ``values``, built and keyed by it (500 per query: SQL parameter limits)."""
    wanted = sorted(values)
    out: dict[str, _T] = {}
    for i in range(0, len(wanted), 500):
        query = select(key.table).where(key.in_(wanted[i : i + 500]))
        out.update({r[key.name]: build(r) for r in conn.execute(query).mappings()})
    return out


# ---------------------------------------------------------------------- trees
@dataclass(frozen=True, slots=True)
class LineageNode:
    """A node of a lineage tree: a data set version or an operation, with its children.

    Going up, a data set's children are the operations that made it and an operation's
    children the data sets it used; going down, the other way round. ``role`` is the role of
    the edge to the parent. A node reached a second time (a data set used twice in one
    history) is ``repeated`` and not expanded again; ``cycle`` marks a node that is its own
    ancestor (identical bytes in and out), ``truncated`` one at :data:`MAX_DEPTH`.
    """

    kind: Literal["dataset", "operation"]
    id: str
    role: str = ""
    dataset: DatasetRecord | None = None
    operation: OperationRecord | None = None
    children: tuple[LineageNode, ...] = ()
    repeated: bool = False
    cycle: bool = False
    truncated: bool = False
    #: for an operation: True when its parent in the tree is one of its outputs (a tree going up)
    parent_made: bool = False

    def walk(self) -> Iterable[LineageNode]:
        """This node and every node below it, depth first."""
        yield self
        for child in self.children:
            yield from child.walk()

    def to_dict(self) -> dict[str, object]:
        out: dict[str, object] = {"kind": self.kind, "id": self.id, "role": self.role}
        if self.dataset is not None:
            d = self.dataset
            out.update(name=d.name, ref=d.ref, data_kind=d.kind, modality=d.modality, records=d.records)
        if self.operation is not None:
            o = self.operation
            out.update(
                action=o.action,
                actor=o.actor,
                purpose=o.purpose,
                finished_at=o.finished_at,
                code_version=o.code_version,
                parameters=dict(o.parameters),
            )
        out.update(repeated=self.repeated, cycle=self.cycle, truncated=self.truncated)
        out["children"] = [c.to_dict() for c in self.children]
        return out


def ancestors(conn: Connection, version: str, *, max_depth: int = MAX_DEPTH) -> LineageNode:
    """Where ``version`` came from: a tree down to the data registered by hand."""
    return _tree(conn, version, "up", max_depth)


def descendants(conn: Connection, version: str, *, max_depth: int = MAX_DEPTH) -> LineageNode:
    """What was made from ``version``: every operation that used it and what they made, recursively."""
    return _tree(conn, version, "down", max_depth)


def _tree(conn: Connection, version: str, direction: Literal["up", "down"], max_depth: int) -> LineageNode:
    graph = lineage_graph(conn, [version], direction=direction)
    to_op, from_op = ("out", "in") if direction == "up" else ("in", "out")
    ops_of: dict[str, list[Edge]] = {}
    versions_of: dict[str, list[Edge]] = {}
    for e in graph.edges:
        if e.direction == to_op:
            ops_of.setdefault(e.version, []).append(e)
        if e.direction == from_op:
            versions_of.setdefault(e.operation, []).append(e)
    expanded: set[str] = set()

    def op_sort(e: Edge) -> tuple[str, str]:
        op = graph.operations.get(e.operation)
        return (op.started_at if op else "", e.operation)

    def dataset_node(v: str, role: str, path: frozenset[str], depth: int) -> LineageNode:
        record = graph.datasets.get(v)
        if v in path:
            return LineageNode("dataset", v, role, record, cycle=True)
        if v in expanded:
            return LineageNode("dataset", v, role, record, repeated=bool(ops_of.get(v)))
        expanded.add(v)
        if depth >= max_depth and ops_of.get(v):
            return LineageNode("dataset", v, role, record, truncated=True)
        inner = path | {v}
        children = tuple(op_node(e.operation, e.role, inner, depth + 1) for e in sorted(ops_of.get(v, []), key=op_sort))
        return LineageNode("dataset", v, role, record, children=children)

    def op_node(op_id: str, role: str, path: frozenset[str], depth: int) -> LineageNode:
        op = graph.operations.get(op_id)
        up = direction == "up"
        if op_id in expanded:
            return LineageNode("operation", op_id, role, operation=op, repeated=True, parent_made=up)
        expanded.add(op_id)
        edges = sorted(versions_of.get(op_id, []), key=lambda e: (e.role, e.version))
        children = tuple(dataset_node(e.version, e.role, path, depth) for e in edges)
        return LineageNode("operation", op_id, role, operation=op, children=children, parent_made=up)

    return dataset_node(version, "", frozenset(), 0)


def lineage_summary(conn: Connection, version: str) -> dict[str, object]:
    """A few facts for ``catalog show``: what made this version, what used it, how far each way."""
    up = lineage_graph(conn, [version], direction="up")
    down = lineage_graph(conn, [version], direction="down")
    made_by = [e.operation for e in up.edges if e.version == version and e.direction == "out"]
    used_by = [e.operation for e in down.edges if e.version == version and e.direction == "in"]
    sources = sorted(
        {e.version for e in up.edges if e.direction == "in" and e.operation in made_by and e.version != version}
    )
    return {
        "generated_by": [up.operations[o].to_dict() for o in made_by if o in up.operations],
        "inputs": [up.datasets[v].ref for v in sources if v in up.datasets],
        "used_by": [
            {"action": down.operations[o].action, "id": o, "finished_at": down.operations[o].finished_at}
            for o in used_by
            if o in down.operations
        ],
        "ancestor_versions": len(set(up.datasets) - {version}),
        "descendant_versions": len(set(down.datasets) - {version}),
    }


# ---------------------------------------------------------------------- rendering
def _params_text(params: Mapping[str, object], limit: int = 4) -> str:
    scalars = [(k, v) for k, v in params.items() if isinstance(v, str | int | float | bool) and k != "operation"]
    shown = ", ".join(f"{k}={v}" for k, v in scalars[:limit])
    return shown + (" …" if len(scalars) > limit else "")


def _privacy_text(figures: Mapping[str, object]) -> str:
    labels = {"k_reached": "k", "epsilon_spent": "ε", "delta_spent": "δ", "risk": "risk", "privacy_score": "privacy"}
    parts = [
        f"{labels[k]}={figures[k]:.3g}" if isinstance(figures[k], float) else f"{labels[k]}={figures[k]}"
        for k in labels
        if k in figures
    ]
    return " ".join(parts)


def node_label(node: LineageNode) -> str:
    """A one-line rich-markup label for a tree node."""
    from rich.markup import escape

    role = f"[magenta]{escape(node.role)}:[/] " if node.role and node.kind == "dataset" else ""
    if node.kind == "dataset":
        d = node.dataset
        if d is None:
            text = f"[red]missing data set {node.id[:12]}[/]"
        else:
            records = f" · {d.records:,} records" if d.records is not None else ""
            privacy = _privacy_text(d.privacy)
            text = (
                f"[bold]{escape(d.name)}[/] [dim]@{d.version[:12]}[/] · {d.kind} · {d.modality}{records}"
                f" · {escape(d.owner_site)}" + (f" · [green]{escape(privacy)}[/]" if privacy else "")
            )
    else:
        o = node.operation
        if o is None:
            text = f"[red]missing operation {node.id[:8]}[/]"
        else:
            params = _params_text(o.parameters)
            text = (
                f"[cyan]{escape(o.action)}[/] by {escape(o.actor)}"
                + (f" for {escape(o.purpose)}" if o.purpose else "")
                + f" · {o.finished_at[:19].replace('T', ' ')} · medsyn {escape(o.code_version)}"
                + (f" · [dim]{escape(params)}[/]" if params else "")
            )
            if node.role:  # the parent's role in this operation
                text += f" · [magenta]{'made it' if node.parent_made else 'used it'} as '{escape(node.role)}'[/]"
    marks = (
        (" [dim](shown above)[/]" if node.repeated else "")
        + (" [red](cycle: same bytes in and out)[/]" if node.cycle else "")
        + (" [yellow](… deeper steps not shown)[/]" if node.truncated else "")
    )
    return role + text + marks


def lineage_tree(root: LineageNode, *, title: str | None = None) -> Tree:
    """The tree as a :class:`rich.tree.Tree` for the terminal."""
    from rich.tree import Tree

    top = Tree(title or node_label(root), guide_style="dim")
    # iterative, so a deep history cannot hit the recursion limit while rendering
    stack: list[tuple[LineageNode, Tree]] = [(c, top) for c in reversed(root.children)]
    while stack:
        node, parent = stack.pop()
        branch = parent.add(node_label(node))
        stack.extend((c, branch) for c in reversed(node.children))
    return top
