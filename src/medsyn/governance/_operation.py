"""One governed run of a command: its inputs resolved and decided, consent applied, outputs collected.

:class:`Operation` is what a command holds inside ``Governor.operation`` (see
:mod:`medsyn.governance._govern`): ``op.read`` / ``op.input`` resolve an input in the catalog and
ask the policy (the decision goes to the ledger at once), ``op.output`` collects what the command
wrote, ``op.budget`` holds a privacy budget while a DP step charges it, ``op.note`` and
``op.measure`` add facts for the closing ledger entry and the catalog. Ungoverned (no workspace),
the same calls just read and return.
"""

from __future__ import annotations

import json
import tempfile
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from medsyn.errors import InputError, PolicyDenied, PrivacyBudgetExceeded, Problem

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from medsyn.data.dataset import Dataset
    from medsyn.data.schema import Schema
    from medsyn.governance._access import Decision
    from medsyn.governance._catalog import DatasetRecord
    from medsyn.governance._govern import Governor
    from medsyn.governance._workspace import Workspace
    from medsyn.privacy import PrivacyBudget

__all__ = ["Operation", "jsonable", "now", "policy_kind"]


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
        kinds = [policy_kind(i.record) for i in self.inputs if i.role == role]
        return kinds[0] if kinds else "identifiable"

    def measure(self, role: str, **figures: Any) -> None:
        """Privacy figures measured on an input (k reached, risk): the catalog keeps them."""
        self.measured.setdefault(role, {}).update(jsonable(figures))
        self.note(**{f"{role}_{k}": v for k, v in figures.items()})

    def note(self, **facts: Any) -> None:
        """Add facts to the closing ledger entry (e.g. k reached, ε charged, gate passed)."""
        self.facts.update(facts)

    def _cleanup(self) -> None:
        import shutil

        for folder in self._links:
            shutil.rmtree(folder, ignore_errors=True)


def policy_kind(record: DatasetRecord) -> str:
    """What a record counts as for access decisions: a model or report counts as its source data."""
    if record.kind == "derived":
        return str(record.privacy.get("source_kind") or "identifiable")
    return record.kind


def jsonable(value: Any) -> Any:
    """Parameters as JSON can hold them (paths → strings, sets → sorted lists)."""
    return json.loads(json.dumps(value, default=lambda v: sorted(v) if isinstance(v, set | frozenset) else str(v)))
