"""The governance entry point: decisions on record, refusals on record, consent, outputs with lineage, budgets."""

from __future__ import annotations

import json
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import select

from medsyn.errors import InputError, PolicyDenied, PrivacyBudgetExceeded
from medsyn.governance import Governor, Identity, Workspace
from medsyn.governance._access import UnknownRoleError
from medsyn.governance._catalog import AlreadyRegistered, get
from medsyn.governance._db import lineage_edges, operations, read

STEWARD = {"MEDSYN_ROLE": "data_steward", "MEDSYN_USER": "sam"}
SCIENTIST = {"MEDSYN_ROLE": "data_scientist", "MEDSYN_TRAINING": "gdpr", "MEDSYN_USER": "ada"}
FIELDS = {
    "kind": "identifiable",
    "sensitivity": "special_category",
    "owner_site": "st-mary",
    "legal_basis": "art6-1-e,art9-2-j",
    "purposes": ("research", "ai_development"),
    "retention": "P10Y",
    "consent_scope": ("research", "ai_development"),
}


@pytest.fixture(scope="module")
def actg(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """ACTG 175 (shipped with lifelines) with a consent column: 10 % opted out, 5 % research only."""
    pytest.importorskip("lifelines")
    with resources.as_file(resources.files("lifelines.datasets").joinpath("ACTG175.csv")) as src:
        df = pd.read_csv(src)
    consent = ["yes"] * len(df)
    for i in range(0, len(df), 10):
        consent[i] = "no"
    for i in range(5, len(df), 20):
        consent[i] = "research"
    df["consent"] = consent
    path = tmp_path_factory.mktemp("data") / "actg175.csv"
    df.to_csv(path, index=False)
    return path


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[Workspace]:
    workspace = Workspace.init(tmp_path / "ws", site="st-mary", identity=Identity("sam", "data_steward", "st-mary"))
    workspace.record_creation()
    yield workspace
    workspace.close()


def _gov(ws: Workspace, env: dict[str, str], purpose: str = "research") -> Governor:
    return Governor(ws, purpose=purpose, env=env)


def _entries(ws: Workspace) -> list[dict[str, object]]:
    return [json.loads(e.entry.canonical_bytes(e.seq)) for e in ws.ledger.entries()]


def test_register_then_refused_twice_both_on_record(ws: Workspace, actg: Path) -> None:
    gov = _gov(ws, STEWARD)
    record = gov.register(actg, name="actg175", **FIELDS)
    assert record.records == 2139
    assert record.kind == "identifiable"
    assert ws.store.path(record.version).is_file()
    with pytest.raises(AlreadyRegistered):
        gov.register(actg, name="actg175-again", **FIELDS)
    entries = _entries(ws)
    actions = [(e["action"], e["decision"], e["outcome"]) for e in entries]
    assert actions[1:] == [
        ("register", "allow", "started"),
        ("register", "allow", "ok"),
        ("register", "allow", "started"),
        ("register", "deny", "refused"),
    ]
    assert entries[2]["outputs"] == [record.version]
    assert ws.ledger.verify().ok


def test_a_denied_operation_is_recorded_and_runs_nothing(ws: Workspace, actg: Path) -> None:
    _gov(ws, STEWARD).register(actg, name="actg175", **FIELDS)
    gov = _gov(ws, SCIENTIST)
    ran: list[str] = []

    def fit() -> None:
        with gov.operation("synth.fit", parameters={"generator": "cart"}) as op:
            op.read(actg, role="real")
            ran.append("fit")

    with pytest.raises(PolicyDenied, match=r"may not synth.fit 'actg175'.*default-deny"):
        fit()
    assert not ran
    last = _entries(ws)[-1]
    assert (last["action"], last["decision"], last["outcome"], last["rule"]) == (
        "synth.fit",
        "deny",
        "refused",
        "default-deny",
    )
    assert last["actor"] == {"role": "data_scientist", "site": "st-mary", "training": ["gdpr"], "user": "ada"}


def test_unregistered_input_and_unknown_role_are_refused_on_record(ws: Workspace, actg: Path, tmp_path: Path) -> None:
    other = tmp_path / "other.csv"
    other.write_text("a,b\n1,2\n3,4\n")
    with pytest.raises(InputError, match="not registered"), _gov(ws, STEWARD).operation("audit") as op:
        op.read(other)
    assert _entries(ws)[-1]["outcome"] == "refused"
    _gov(ws, STEWARD).register(actg, name="actg175", **FIELDS)
    with pytest.raises(UnknownRoleError), _gov(ws, {"MEDSYN_ROLE": "janitor"}).operation("audit") as op:
        op.read("actg175")
    last = _entries(ws)[-1]
    assert last["outcome"] == "refused"
    assert "janitor" in str(last["reason"])


def test_outputs_are_registered_with_lineage_and_consent_is_applied(ws: Workspace, actg: Path, tmp_path: Path) -> None:
    real = _gov(ws, STEWARD).register(actg, name="actg175", **FIELDS)
    out = tmp_path / "subset.csv"
    with _gov(ws, STEWARD, purpose="ai_development").operation("anonymize", parameters={"k": 5}) as op:
        ds = op.read("actg175", role="input")
        ds.data.head(100).to_csv(out, index=False)
        op.output(out, kind="anonymised", role="anonymised", privacy={"k_reached": 5})
    # 214 opted out entirely, 107 consented to research only: both excluded for ai_development
    assert len(ds) == 2139 - 214 - 107
    closing = _entries(ws)[-1]
    consent = closing["parameters"]["consent"][0]  # type: ignore[index]
    assert consent["excluded"] == 321
    assert consent["columns"] == ["consent"]
    with read(ws.engine) as conn:
        made = get(conn, "actg175-anonymised")
        edges = conn.execute(select(lineage_edges.c.version, lineage_edges.c.direction)).all()
        op_row = conn.execute(select(operations)).one()
    assert made.kind == "anonymised"
    assert made.privacy["k_reached"] == 5
    assert made.records == 100
    assert set(made.consent_scope) == set(real.consent_scope)
    assert made.sensitivity == "special_category"
    assert set(edges) == {(real.version, "in"), (made.version, "out")}
    assert op_row.ledger_seq == len(_entries(ws)) - 1
    assert closing["outputs"] == [made.version]
    assert ws.ledger.verify().ok


def test_a_failing_command_registers_nothing_and_says_so(ws: Workspace, actg: Path, tmp_path: Path) -> None:
    _gov(ws, STEWARD).register(actg, name="actg175", **FIELDS)
    out = tmp_path / "never.csv"

    def fail() -> None:
        with _gov(ws, STEWARD).operation("audit") as op:
            op.read("actg175")
            out.write_text("x\n1\n")
            op.output(out, kind="derived", role="report", data=False)
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        fail()
    last = _entries(ws)[-1]
    assert (last["outcome"], last["outputs"]) == ("failed", [])
    assert "boom" in str(last["reason"])
    with read(ws.engine) as conn:
        assert conn.execute(select(operations)).all() == []


def test_privacy_budget_is_drawn_atomically_and_refusals_recorded(ws: Workspace, actg: Path) -> None:
    _gov(ws, STEWARD).register(actg, name="actg175", **FIELDS)
    with _gov(ws, STEWARD).operation("dp.budget") as op:
        op.input("actg175")
        op.set_budget("input", 1.0)

    def set_again() -> None:
        with _gov(ws, STEWARD).operation("dp.budget") as op:
            op.input("actg175")
            op.set_budget("input", 5.0)

    with pytest.raises(InputError, match="already set"):
        set_again()
    gov = _gov(ws, STEWARD)
    with gov.operation("dp.release") as op:
        ds = op.read("actg175")
        with op.budget("input", data=ds) as budget:
            assert budget is not None
            budget.spend("count", epsilon=0.75)

    def spend_again() -> None:
        with gov.operation("dp.release") as op:
            ds = op.read("actg175")
            with op.budget("input", data=ds) as budget:
                assert budget is not None
                budget.spend("count again", epsilon=0.5)

    with pytest.raises(PrivacyBudgetExceeded):
        spend_again()
    assert gov.workspace_budget("actg175").spent_epsilon == pytest.approx(0.75)
    with read(ws.engine) as conn:
        assert get(conn, "actg175").privacy["epsilon_spent"] == pytest.approx(0.75)
    last = _entries(ws)[-1]
    assert last["outcome"] == "refused"
    assert "budget" in str(last["reason"])


def test_ungoverned_runs_check_and_record_nothing(actg: Path, tmp_path: Path) -> None:
    gov = Governor(None)
    out = tmp_path / "o.csv"
    with gov.operation("audit") as op:
        ds = op.read(actg)
        out.write_text("x\n")
        op.output(out, kind="derived", role="report", data=False)
    assert len(ds) == 2139  # no consent filtering outside a workspace


def test_a_workspace_needs_a_declared_purpose(ws: Workspace) -> None:
    with pytest.raises(InputError, match="purpose"):
        Governor(ws, purpose=None, env=STEWARD)


def test_a_malformed_policy_is_a_refusal_on_record(ws: Workspace, actg: Path) -> None:
    _gov(ws, STEWARD).register(actg, name="actg175", **FIELDS)
    ws.policy_path.write_text("version: 1\nroles: {data_steward: x}\nrules:\n  - id: r\n    effect: perhaps\n")
    fresh = Workspace.open(ws.root)  # the policy is read once per opened workspace

    def audit() -> None:
        with _gov(fresh, STEWARD).operation("audit") as op:
            op.read("actg175")

    with pytest.raises(InputError, match="effect"):
        audit()
    last = _entries(fresh)[-1]
    assert (last["decision"], last["outcome"]) == ("deny", "refused")
    assert "effect" in str(last["reason"])
