"""The one governance entry point: check policy → run → register outputs → append the ledger.

Every data-touching command runs inside :meth:`Governor.operation`::

    with governor.operation("synth.fit", parameters={...}) as op:
        ds = op.read(path, role="real")          # resolve in the catalog, decide, filter consent
        model = fit(ds)                          # the algorithm, unaware of any of this
        model.save(out)
        op.output(out, kind="derived", role="model")

For each input the workspace's policy decides (deny by default) and the decision, allow or
deny, is appended to the ledger at once with the rule that made it: a refused operation leaves
its refusal on record and nothing else. Records without consent for the declared purpose are
dropped before the command sees the data. When the command ends, one write transaction stores
the outputs' catalog entries, the operation and its lineage edges, and the ledger entry that
closes the operation — all or nothing, so a process killed at any point leaves no half-registered
data set (objects copied into the store but never registered are harmless: they are
content-addressed and unreachable). A failure is recorded as such.

Without a workspace the same calls run ungoverned (nothing is checked or recorded) and the
command says so once; that keeps a first try (`make demo`, a notebook) free of set-up.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from medsyn.errors import InputError, MedsynError, PolicyDenied, PrivacyBudgetExceeded, Problem

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from medsyn.data.dataset import Dataset
    from medsyn.data.schema import Schema
    from medsyn.governance._access import Decision
    from medsyn.governance._catalog import DatasetRecord
    from medsyn.governance._workspace import Identity, Workspace
    from medsyn.privacy import PrivacyBudget

__all__ = ["Governor", "Operation", "Outcome", "now"]

#: Outcomes a closing ledger entry can state.
Outcome = str  # "ok" | "failed" | "refused" | "interrupted"


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


@dataclass
class _Input:
    record: DatasetRecord
    role: str
    decision: Decision


@dataclass
class _Output:
    record: DatasetRecord
    role: str
    path: Path


@dataclass
class Operation:
    """One governed run of a command: its inputs, decisions, outputs and what the ledger will say."""

    governor: Governor
    action: str
    parameters: dict[str, Any]
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    started_at: str = field(default_factory=now)
    inputs: list[_Input] = field(default_factory=list)
    outputs: list[_Output] = field(default_factory=list)
    consent: list[dict[str, Any]] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)
    measured: dict[str, dict[str, Any]] = field(default_factory=dict)
    on_commit: list[Callable[[Connection], None]] = field(default_factory=list)
    _links: list[Path] = field(default_factory=list)

    @property
    def governed(self) -> bool:
        return self.governor.workspace is not None

    @property
    def base_name(self) -> str:
        """The catalog name of the first input (what outputs are named after), or '' ungoverned."""
        return self.inputs[0].record.name if self.inputs else ""

    # ------------------------------------------------------------------ inputs
    def input(self, ref: Path | str, *, role: str = "input") -> Path:
        """Resolve an input (a path or a catalog reference), ask the policy; returns a readable path.

        Ungoverned, the path is returned as given. Governed, the input must be registered
        (found by its content digest, or by name in the catalog); the decision is recorded and
        a denial raises :class:`PolicyDenied`.
        """
        ws = self.governor.workspace
        if ws is None:
            return Path(ref)
        record, path = self._resolve(ws, ref)
        decision = self.governor.decide(self.action, record, self)
        self.governor.record_decision(self, record, decision)
        if not decision.allowed:
            raise PolicyDenied(
                f"{self.governor.identity.label()} may not {self.action} '{record.name}' "
                f"({record.kind}, {record.sensitivity}) for purpose '{self.governor.purpose}': {decision.reason} "
                f"[rule {decision.rule}]"
            )
        self.inputs.append(_Input(record, role, decision))
        return path

    def read(
        self,
        ref: Path | str,
        *,
        role: str = "input",
        schema: Path | Schema | None = None,
        fmt: str | None = None,
        **options: str | bool | None,
    ) -> Dataset:
        """:meth:`input`, read it, then drop the records without consent for the declared purpose."""
        from medsyn._cli_common import read_input

        path = self.input(ref, role=role)
        ds = read_input(path, schema, fmt, **options)
        if self.governor.workspace is None or self.inputs[-1].record.kind == "synthetic":
            return ds  # consent belongs to real people; a synthetic table's consent column is synthetic too
        from medsyn.governance._consent import filter_consent

        policy = self.governor.workspace.policy
        result = filter_consent(ds, self.governor.purpose, purposes=policy.purposes)
        if result.columns:
            summary = {k: v for k, v in result.to_dict().items() if k != "provenance"}
            record = self.inputs[-1].record
            self.consent.append({"input": record.version, "role": role, **summary})
            self.governor.notice(
                f"consent: {result.excluded:,} of {result.kept + result.excluded:,} records of '{record.name}' "
                f"excluded for purpose '{self.governor.purpose}' (column {', '.join(result.columns)})"
            )
        return result.dataset

    def _resolve(self, ws: Workspace, ref: Path | str) -> tuple[DatasetRecord, Path]:
        from medsyn.errors import UnknownNameError
        from medsyn.governance._catalog import get
        from medsyn.governance._db import read
        from medsyn.governance._store import ObjectRef, digest

        path = Path(ref)
        if path.exists():
            version = digest(path)
            with read(ws.engine) as conn:
                try:
                    return get(conn, version), path
                except UnknownNameError:
                    pass
            self.governor.record_refusal(
                self, f"input {path} (version {version[:12]}) is not registered", inputs=[version]
            )
            raise InputError(
                Problem(
                    str(path),
                    f"is not registered in workspace '{ws.config.name}' (content {version[:12]})",
                    "a registered data set",
                    f"Register it first: medsyn catalog register {path} --name NAME --kind KIND …",
                )
            )
        with read(ws.engine) as conn:
            record = get(conn, str(ref))  # a catalog name or version; unknown → UnknownNameError
        # readers detect formats by suffix: link the object under its original name
        folder = Path(tempfile.mkdtemp(prefix="medsyn-input-"))
        link = folder / record.filename
        obj = ObjectRef(record.object_key, record.object_type, record.size_bytes)  # type: ignore[arg-type]
        if obj.type == "file":
            link.symlink_to(ws.store.path(obj.key))
        else:
            ws.store.materialize(obj, link)
        self._links.append(folder)
        return record, link

    # ------------------------------------------------------------------ outputs
    def output(
        self,
        path: Path,
        *,
        kind: str,
        role: str,
        label: str | None = None,
        privacy: Mapping[str, Any] | None = None,
        data: bool = True,
        modality: str | None = None,
    ) -> None:
        """Register a written output (after the command wrote it) when the operation succeeds.

        ``data`` outputs (tables, signals, images) are read for their schema and record count;
        reports, models and files medsyn does not read back are stored as they are (``modality``
        names what they hold; default: model or report). The catalog name is the first input's
        name and ``label`` (default: the role), e.g. ``actg175-anonymised``. Outputs inherit their inputs' owner site,
        legal bases, purposes, consent scope and retention, and the most cautious sensitivity.
        """
        ws = self.governor.workspace
        if ws is None:
            return
        base = self.base_name or path.stem
        record = self.governor.describe_output(
            self, path, kind=kind, name=f"{base}-{label or role}", privacy=privacy or {}, data=data, modality=modality
        )
        self.outputs.append(_Output(record, role, path))

    @contextmanager
    def budget(self, role: str, *, data: Dataset | None = None) -> Iterator[PrivacyBudget | None]:
        """Hold the persisted privacy budget of an input while a DP step charges it (see ``_budgets``).

        Yields None when ungoverned (the caller then uses its own budget, if any). A charge that
        would exceed the budget raises :class:`PrivacyBudgetExceeded` before anything runs; the
        refusal is recorded. The new state is committed when the block ends without error.
        """
        ws = self.governor.workspace
        if ws is None:
            yield None
            return
        from medsyn.governance._budgets import drawing

        record = self._one(role)
        try:
            data_version = data.provenance.id if data is not None else ""
            with drawing(ws.engine, record.version, record.name, data_version=data_version, when=now()) as draw:
                spent_before = draw.budget.spent_epsilon
                yield draw.budget
                self.note(
                    epsilon_charged=draw.budget.spent_epsilon - spent_before,
                    epsilon_remaining=draw.budget.remaining_epsilon,
                )
        except PrivacyBudgetExceeded as exc:
            self.governor.record_refusal(self, f"privacy budget: {exc}"[:2000], inputs=[record.version])
            raise

    def set_budget(self, role: str, epsilon: float, delta: float = 0.0, *, mode: str = "pure") -> None:
        """Give the input read as ``role`` its privacy budget, in the operation's closing transaction."""
        from medsyn.governance._budgets import set_budget

        record = self._one(role)

        def store(conn: Connection) -> None:
            set_budget(conn, record.version, record.name, epsilon, delta, mode=mode, when=now())

        self.on_commit.append(store)
        self.note(epsilon_budget=epsilon, delta_budget=delta, mode=mode)

    def authorize_unregistered(self, name: str, *, kind: str, role: str, sensitivity: str = "special_category") -> None:
        """Ask the policy about a resource outside the catalog (a re-identification vault, a key)."""
        from medsyn.governance._catalog import DatasetRecord

        ws = self.governor.workspace
        if ws is None:
            return
        record = DatasetRecord.placeholder(name=name, kind=kind, sensitivity=sensitivity, owner_site=ws.config.site)
        decision = self.governor.decide(self.action, record, self)
        self.governor.record_decision(self, record, decision)
        if not decision.allowed:
            raise PolicyDenied(
                f"{self.governor.identity.label()} may not {self.action} '{name}' for purpose "
                f"'{self.governor.purpose}': {decision.reason} [rule {decision.rule}]"
            )
        self.inputs.append(_Input(record, role, decision))

    def _one(self, role: str) -> DatasetRecord:
        chosen = [i.record for i in self.inputs if i.role == role]
        if len(chosen) != 1:
            raise InputError(Problem(f"input '{role}'", f"{len(chosen)} inputs with that role", "exactly one"))
        return chosen[0]

    def input_kind(self, role: str) -> str:
        """The catalog kind of the input read as ``role`` (identifiable when ungoverned or unknown)."""
        kinds = [_policy_kind(i.record) for i in self.inputs if i.role == role]
        return kinds[0] if kinds else "identifiable"

    def measure(self, role: str, **figures: Any) -> None:
        """Privacy figures measured on an input (k reached, risk): the catalog keeps them."""
        self.measured.setdefault(role, {}).update(_jsonable(figures))
        self.note(**{f"{role}_{k}": v for k, v in figures.items()})

    def note(self, **facts: Any) -> None:
        """Add facts to the closing ledger entry (e.g. k reached, ε charged, gate passed)."""
        self.facts.update(facts)

    def _cleanup(self) -> None:
        import shutil

        for folder in self._links:
            shutil.rmtree(folder, ignore_errors=True)


class Governor:
    """The governance of one command run: workspace, who is acting, and for which purpose."""

    def __init__(
        self,
        workspace: Workspace | None,
        *,
        purpose: str | None = None,
        env: Mapping[str, str] | None = None,
        notice: Any = None,
    ) -> None:
        self.workspace = workspace
        env = os.environ if env is None else env
        self.purpose = purpose or env.get("MEDSYN_PURPOSE") or ""
        self._notice = notice
        self.identity: Identity
        if workspace is not None:
            self.identity = workspace.identity(env)
            if not self.purpose:
                raise InputError(
                    Problem(
                        "purpose",
                        "none declared",
                        "the purpose of this processing (GDPR Art. 5(1)(b))",
                        "Pass --purpose PURPOSE (before the command) or set MEDSYN_PURPOSE.",
                    )
                )

    def notice(self, message: str) -> None:
        if self._notice is not None and message:
            self._notice(message)

    # ------------------------------------------------------------------ the operation
    @contextmanager
    def operation(self, action: str, *, parameters: Mapping[str, Any] | None = None) -> Iterator[Operation]:
        """Run one governed operation (see the module docstring)."""
        op = Operation(self, action, _jsonable(dict(parameters or {})))
        from typer import Exit

        try:
            yield op
        except (PolicyDenied, PrivacyBudgetExceeded):
            raise  # already on record as a refusal
        except Exit as exc:  # the work finished; its exit code reports findings (audit --fail-on, a gate)
            if self.workspace is not None:
                op.note(exit_code=exc.exit_code)
                self._close(op, "ok")
            raise
        except BaseException as exc:
            if self.workspace is not None and op.inputs:
                outcome = (
                    "interrupted"
                    if isinstance(exc, KeyboardInterrupt)
                    else ("refused" if isinstance(exc, MedsynError) else "failed")
                )
                self._close(op, outcome, reason=f"{type(exc).__name__}: {exc}"[:2000])
            raise
        else:
            if self.workspace is not None:
                self._close(op, "ok")
        finally:
            op._cleanup()

    def register(
        self, path: Path, *, schema: Path | Schema | None = None, fmt: str | None = None, **fields: Any
    ) -> DatasetRecord:
        """Bring a data file or folder into the workspace (policy → store → catalog + ledger, atomically).

        ``fields`` are the catalog fields (name, kind, sensitivity, owner_site, legal_basis,
        purposes, retention, consent_scope, description). A refusal — by the policy, or because
        the same content is already registered — is recorded in the ledger and raised.
        """
        from medsyn.governance._catalog import AlreadyRegistered, describe, register
        from medsyn.governance._db import write
        from medsyn.governance._ledger import LedgerEntry

        ws = self.workspace
        if ws is None:
            raise InputError(Problem("register", "no workspace", "a workspace", "Run `medsyn init` first."))
        op = Operation(self, "register", _jsonable({"path": str(path), **fields}))
        try:
            record = describe(path, schema=schema, fmt=fmt, **fields)
        except MedsynError as exc:
            self.record_refusal(op, f"{type(exc).__name__}: {exc}"[:2000])
            raise
        decision = self.decide("register", record, op)
        self.record_decision(op, record, decision)
        if not decision.allowed:
            raise PolicyDenied(
                f"{self.identity.label()} may not register '{record.name}' ({record.kind}, {record.sensitivity}) "
                f"for purpose '{self.purpose}': {decision.reason} [rule {decision.rule}]"
            )
        ref = ws.store.put(path)
        record = replace(
            record,
            object_key=ref.key,
            object_type=ref.type,
            size_bytes=ref.size,
            registered_at=now(),
            registered_by=self.identity.label(),
        )
        entry = LedgerEntry(
            actor=self.identity.to_dict(),
            action="register",
            purpose=self.purpose,
            legal_basis=record.legal_basis,
            inputs=[],
            outputs=[record.version],
            parameters={"operation": op.id, **op.parameters},
            decision="allow",
            rule=decision.rule,
            outcome="ok",
            reason="",
            result_digest=record.version,
        )
        try:
            with write(ws.engine) as conn:
                ws.ledger.append(entry, conn=conn)
                register(conn, record)
        except AlreadyRegistered as exc:
            self.record_refusal(op, str(exc)[:2000], inputs=[record.version])
            raise
        return record

    def workspace_budget(self, ref: str) -> PrivacyBudget:
        """The persisted budget of a registered data set (by name, version or file)."""
        from medsyn.governance._budgets import load_budget
        from medsyn.governance._catalog import get
        from medsyn.governance._db import read
        from medsyn.governance._store import digest

        assert self.workspace is not None
        key = digest(Path(ref)) if Path(ref).exists() else ref
        with read(self.workspace.engine) as conn:
            record = get(conn, key)
            budget = load_budget(conn, record.version)
        if budget is None:
            raise InputError(
                Problem(f"data set '{record.name}'", "has no privacy budget", "one set by `medsyn dp budget`")
            )
        return budget

    def decide(self, action: str, record: DatasetRecord, op: Operation | None = None) -> Decision:
        """The policy's decision on ``action`` over ``record``; a malformed request is refused on record."""
        from medsyn.governance._access import (
            AccessRequest,
            Context,
            DataKind,
            Resource,
        )

        assert self.workspace is not None
        request = AccessRequest(
            subject=self.identity,
            action=action,
            resource=Resource(
                dataset=record.name,
                version=record.version or None,
                kind=DataKind(_policy_kind(record)),
                sensitivity=record.sensitivity_level,
                owner_site=record.owner_site,
                consent_scope=frozenset(record.consent_scope),
            ),
            context=Context(purpose=self.purpose),
        )
        try:
            return self.workspace.policy.decide(request)
        except InputError as exc:  # a missing or malformed policy; an undeclared role, purpose or action
            if op is not None:
                self.record_refusal(op, str(exc)[:2000], inputs=[record.version] if record.version else [])
            raise

    def record_decision(self, op: Operation, record: DatasetRecord, decision: Decision) -> None:
        from medsyn.governance._ledger import LedgerEntry

        assert self.workspace is not None
        entry = LedgerEntry(
            actor=self.identity.to_dict(),
            action=op.action,
            purpose=self.purpose,
            legal_basis=record.legal_basis,
            inputs=[record.version],
            outputs=[],
            parameters={"operation": op.id, "policy": self.workspace.policy.digest[:16], **op.parameters},
            decision="allow" if decision.allowed else "deny",
            rule=decision.rule,
            outcome="started" if decision.allowed else "refused",
            reason=decision.reason,
        )
        self.workspace.ledger.append(entry)

    def record_refusal(self, op: Operation, reason: str, *, inputs: Sequence[str] = ()) -> None:
        """A refusal that no policy rule made (unregistered input, budget exceeded, …)."""
        from medsyn.governance._ledger import LedgerEntry

        if self.workspace is None:
            return
        entry = LedgerEntry(
            actor=self.identity.to_dict(),
            action=op.action,
            purpose=self.purpose,
            legal_basis="",
            inputs=list(inputs),
            outputs=[],
            parameters={"operation": op.id, **op.parameters},
            decision="deny",
            rule="",
            outcome="refused",
            reason=reason,
        )
        self.workspace.ledger.append(entry)

    def describe_output(
        self,
        op: Operation,
        path: Path,
        *,
        kind: str,
        name: str,
        privacy: Mapping[str, Any],
        data: bool,
        modality: str | None = None,
    ) -> DatasetRecord:
        from medsyn.governance._catalog import DatasetRecord, describe

        assert self.workspace is not None
        sources = [i.record for i in op.inputs]
        inherited = _inherit(sources, site=self.workspace.config.site)
        info = {**dict(privacy), "source_kind": _source_kind(sources)} if kind == "derived" else dict(privacy)
        if data:
            record = describe(path, name=name, kind=kind, **inherited, description=f"{op.action} output")
            return replace(record, privacy={**record.privacy, **info}, registered_by=self.identity.label())
        return DatasetRecord(
            version="",  # set from the store key when the operation closes
            name=name,
            modality=modality or ("model" if path.is_dir() and (path / "model.json").exists() else "report"),
            kind=kind,
            sensitivity=inherited["sensitivity"],
            owner_site=inherited["owner_site"],
            legal_basis=inherited["legal_basis"],
            purposes=inherited["purposes"],
            retention=inherited["retention"],
            consent_scope=inherited["consent_scope"],
            privacy=info,
            schema=None,
            object_key="",
            object_type="tree" if path.is_dir() else "file",
            filename=path.name,
            size_bytes=0,
            records=None,
            registered_at="",
            registered_by=self.identity.label(),
            operation_id=None,
            description=f"{op.action} output",
        )

    def _close(self, op: Operation, outcome: Outcome, *, reason: str = "") -> None:
        """Store outputs, register them with lineage, append the closing entry: one transaction."""
        from medsyn.governance._catalog import get, register, update_privacy
        from medsyn.governance._db import operations, write
        from medsyn.governance._ledger import LedgerEntry
        from medsyn.governance._lineage import OperationRecord, record_operation

        ws = self.workspace
        assert ws is not None
        stored: list[tuple[DatasetRecord, str]] = []
        if outcome == "ok":
            for out in op.outputs:
                ref = ws.store.put(out.path)  # before the transaction: an orphan object is harmless
                stored.append(
                    (
                        replace(
                            out.record,
                            version=ref.key,
                            object_key=ref.key,
                            object_type=ref.type,
                            size_bytes=ref.size,
                            registered_at=now(),
                            operation_id=op.id,
                        ),
                        out.role,
                    )
                )
        versions = [r.version for r, _ in stored]
        digest = hashlib.sha256(json.dumps(sorted(versions)).encode()).hexdigest() if versions else ""
        entry = LedgerEntry(
            actor=self.identity.to_dict(),
            action=op.action,
            purpose=self.purpose,
            legal_basis="; ".join(sorted({i.record.legal_basis for i in op.inputs})),
            inputs=[i.record.version for i in op.inputs],
            outputs=versions,
            parameters={"operation": op.id, **op.parameters, **({"consent": op.consent} if op.consent else {})},
            decision="allow",
            rule=",".join(sorted({i.decision.rule for i in op.inputs})),
            outcome=outcome,
            reason=reason,
            result_digest=digest,
            facts=_jsonable(op.facts),
        )
        from medsyn.errors import UnknownNameError

        with write(ws.engine) as conn:
            receipt = ws.ledger.append(entry, conn=conn)
            if outcome != "ok":
                return
            fresh: list[tuple[DatasetRecord, str]] = []
            for record, role in stored:
                try:
                    get(conn, record.version)  # the same bytes made again: link, do not re-register
                except UnknownNameError:
                    fresh.append((record, role))
            record_op = OperationRecord(
                id=op.id,
                action=op.action,
                actor=self.identity.label(),
                purpose=self.purpose,
                parameters=op.parameters,
                started_at=op.started_at,
                finished_at=now(),
                ledger_seq=receipt.seq,
            )
            conn.execute(operations.insert().values(**record_op.to_row()))
            for record, _ in fresh:
                register(conn, record)
            for hook in op.on_commit:
                hook(conn)
            for i in op.inputs:
                if i.role in op.measured:
                    update_privacy(conn, i.record.version, **op.measured[i.role])
            record_operation(
                conn,
                record_op,
                inputs=[(i.record.version, i.role) for i in op.inputs if i.record.version],  # not vaults, keys
                outputs=[(r.version, role) for r, role in stored],
                insert_operation=False,
            )


def _policy_kind(record: DatasetRecord) -> str:
    """What a record counts as for access decisions: a model or report counts as its source data."""
    if record.kind == "derived":
        return str(record.privacy.get("source_kind") or "identifiable")
    return record.kind


_KIND_RISK = {"identifiable": 3, "pseudonymised": 2, "anonymised": 1, "synthetic": 0}
_SENSITIVITY = ("public", "internal", "confidential", "special_category")


def _source_kind(sources: Sequence[DatasetRecord]) -> str:
    kinds = [_policy_kind(r) for r in sources] or ["identifiable"]
    return max(kinds, key=lambda k: _KIND_RISK.get(k, 3))


def _inherit(sources: Sequence[DatasetRecord], *, site: str) -> dict[str, Any]:
    """What an output inherits from its inputs: the most cautious of each, the union of purposes."""
    if not sources:
        raise InputError(
            Problem("output", "made by an operation without registered inputs", "an output derived from catalog data")
        )
    scopes = [set(r.consent_scope) for r in sources]
    return {
        "sensitivity": max((r.sensitivity for r in sources), key=lambda s: _SENSITIVITY.index(s)),
        "owner_site": sources[0].owner_site,
        "legal_basis": sources[0].legal_basis,
        "purposes": tuple(sorted({p for r in sources for p in r.purposes})),
        "retention": sources[0].retention,
        "consent_scope": tuple(sorted(set.intersection(*scopes))),
    }


def _jsonable(value: Any) -> Any:
    """Parameters as JSON can hold them (paths → strings, sets → sorted lists)."""
    return json.loads(json.dumps(value, default=lambda v: sorted(v) if isinstance(v, set | frozenset) else str(v)))
