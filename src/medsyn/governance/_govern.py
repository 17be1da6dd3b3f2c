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
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from medsyn.errors import InputError, MedsynError, PolicyDenied, PrivacyBudgetExceeded, Problem
from medsyn.governance._operation import Operation, jsonable, now, policy_kind

if TYPE_CHECKING:
    from medsyn.data.schema import Schema
    from medsyn.governance._access import Decision
    from medsyn.governance._catalog import DatasetRecord
    from medsyn.governance._workspace import Identity, Workspace
    from medsyn.privacy import PrivacyBudget

__all__ = ["Governor", "Operation", "Outcome"]

#: Outcomes a closing ledger entry can state.
Outcome = str  # "ok" | "failed" | "refused" | "interrupted"


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
        op = Operation(self, action, jsonable(dict(parameters or {})))
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
        op = Operation(self, "register", jsonable({"path": str(path), **fields}))
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
                kind=DataKind(policy_kind(record)),
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
            facts=jsonable(op.facts),
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


_KIND_RISK = {"identifiable": 3, "pseudonymised": 2, "anonymised": 1, "synthetic": 0}
_SENSITIVITY = ("public", "internal", "confidential", "special_category")


def _source_kind(sources: Sequence[DatasetRecord]) -> str:
    kinds = [policy_kind(r) for r in sources] or ["identifiable"]
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
