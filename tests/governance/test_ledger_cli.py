"""`medsyn ledger verify|verify-export|show|prove|export|checkpoint` on a small workspace: output, files,
and exit codes (0 fine, 5 tampered, 2 bad input)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from medsyn._ledger_cli import EXIT_TAMPERED, ledger_app
from medsyn.errors import InputError, MedsynError
from medsyn.governance import Identity, Workspace
from medsyn.governance._ledger import LedgerEntry
from medsyn.governance._proofs import ConsistencyProof, InclusionProof
from medsyn.governance._signing import Checkpoint

app = typer.Typer(pretty_exceptions_enable=False)
app.add_typer(ledger_app, name="ledger")
runner = CliRunner()


def run(*args: str, code: int = 0, env: dict[str, str] | None = None) -> str:
    """Run ``medsyn ledger …``; medsyn errors map to their exit codes as :func:`medsyn.cli.main` maps them."""
    result = runner.invoke(app, ["ledger", *args], env={"COLUMNS": "250", **(env or {})})
    got = result.exit_code
    if isinstance(result.exception, MedsynError):
        got = result.exception.exit_code
    elif result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert got == code, result.output
    return result.stdout


@pytest.fixture
def ws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("MEDSYN_WORKSPACE", raising=False)
    workspace = Workspace.init(tmp_path / "ws", site="cleveland", identity=Identity("ana", "data_steward", "cleveland"))
    root, ledger = workspace.root, workspace.ledger
    ledger.append_many(
        LedgerEntry(
            actor={"user": "ana", "role": "data_steward", "site": "cleveland"},
            action="register" if i % 3 == 0 else "synth.sample",
            purpose="research",
            inputs=[f"{i:064x}"],
            outputs=[f"{i + 100:064x}"],
            decision="allow",
            rule="steward-may-register",
            reason=f"run {i}",
        )
        for i in range(12)
    )
    ledger.checkpoint()
    ledger.append_many(LedgerEntry(actor={"user": "bob"}, action="evaluate", reason=f"late {i}") for i in range(3))
    workspace.close()
    return root


def tamper(ws: Path, *statements: str) -> None:
    db = sqlite3.connect(ws / "medsyn.db")
    for statement in statements:
        db.execute(statement)
    db.commit()
    db.close()


@pytest.mark.parametrize("command", ["verify", "verify-export", "show", "prove", "export", "checkpoint"])
def test_help(command: str) -> None:
    assert "Usage" in run(command, "--help")


def test_verify_a_sound_ledger(ws: Path) -> None:
    out = run("--workspace", str(ws), "verify")
    assert "verifies" in out
    assert "15" in out
    assert "1 of 1 stored checked; signatures checked" in out
    assert "3 entries come after the latest checkpoint" in out
    data = json.loads(run("--workspace", str(ws), "verify", "--json"))
    assert data["ok"] is True
    assert (data["size"], data["latest_checkpoint"], data["unsigned_tail"]) == (15, 12, 3)


def test_workspace_from_the_environment(ws: Path) -> None:
    assert "verifies" in run("verify", "--workers", "1", env={"MEDSYN_WORKSPACE": str(ws)})


def test_verify_lists_problems_and_exits_5(ws: Path) -> None:
    tamper(
        ws,
        "UPDATE ledger_entries SET body = CAST(replace(CAST(body AS TEXT), 'run 4', 'run X') AS BLOB) WHERE seq = 4",
        "DELETE FROM ledger_entries WHERE seq = 9",
    )
    out = run("--workspace", str(ws), "verify", code=EXIT_TAMPERED)
    assert EXIT_TAMPERED == 5
    assert "DOES NOT VERIFY" in out
    assert "edited" in out
    assert "entry 9 is missing: rows were deleted" in out
    problems = json.loads(run("--workspace", str(ws), "verify", "--json", code=5))["problems"]
    assert {"kind": "edited", "seq": 4} in [{k: p[k] for k in ("kind", "seq")} for p in problems]


def test_a_checkpoint_kept_outside_catches_truncation(ws: Path, tmp_path: Path) -> None:
    note = tmp_path / "head.note"
    out = run("--workspace", str(ws), "checkpoint", "-o", str(note))
    assert "size 15" in out
    assert "Verifier key: medsyn/" in out
    tamper(ws, "DELETE FROM ledger_checkpoints WHERE tree_size = 15", "DELETE FROM ledger_entries WHERE seq >= 13")
    assert "verifies" in run("--workspace", str(ws), "verify")
    out = run("--workspace", str(ws), "verify", "--checkpoint", str(note), code=5)
    assert "truncated" in out
    assert "covers 15 entries but only 13 are left" in out
    note.write_text(note.read_text().replace("\n15\n", "\n16\n"))
    run("--workspace", str(ws), "verify", "--checkpoint", str(note), code=2)  # a forged note is bad input


def test_show(ws: Path) -> None:
    out = run("--workspace", str(ws), "show", "--last", "4")
    assert "late 2" in out
    assert "run 11" in out
    assert "run 10" not in out
    assert "ana (data_steward@cleveland)" in out
    rows = json.loads(run("--workspace", str(ws), "show", "--action", "register", "--json"))
    assert [r["seq"] for r in rows] == [0, 3, 6, 9]
    assert rows[0]["rule"] == "steward-may-register"
    assert "no entries of action 'nothing'" in run("--workspace", str(ws), "show", "--action", "nothing")


def test_prove_inclusion_and_consistency(ws: Path, tmp_path: Path) -> None:
    out_file = tmp_path / "proof.json"
    out = run("--workspace", str(ws), "prove", "5", "-o", str(out_file))
    assert "entry 5 in the tree of 12" in out  # the checkpoint that covers it, by default
    assert "against signed checkpoint(s) [12]" in out
    proof = InclusionProof.from_dict(json.loads(out_file.read_text()))
    assert proof.checkpoint is not None
    from medsyn.governance._signing import load_public_key

    key = load_public_key(ws / "keys" / "ledger-ed25519.pem")
    assert proof.verify(proof.checkpoint, public_key=key)
    latest = InclusionProof.from_dict(json.loads(run("--workspace", str(ws), "prove", "13")))
    assert latest.tree_size == 15
    assert latest.checkpoint is None
    cons = json.loads(run("--workspace", str(ws), "prove", "--consistency", "12"))
    assert cons["old_checkpoint"]["size"] == 12
    assert ConsistencyProof.from_dict(cons).verify(Checkpoint.from_dict(cons["old_checkpoint"]), public_key=key)
    run("--workspace", str(ws), "prove", code=2)
    run("--workspace", str(ws), "prove", "99", code=2)


def test_export_and_verify_export(ws: Path, tmp_path: Path) -> None:
    exported = tmp_path / "ledger.jsonl"
    out = run("--workspace", str(ws), "export", "-o", str(exported))
    assert "Exported 15 entries" in out
    pub = tmp_path / "pub.pem"
    from medsyn.governance._signing import load_public_key

    pub.write_text(load_public_key(ws / "keys" / "ledger-ed25519.pem").to_pem())
    out = run("verify-export", str(exported), "--key", str(pub))
    assert "verifies" in out
    assert "2 of 2 stored checked" in out  # the export signed a head of its full size first
    lines = exported.read_text().splitlines()
    lines[5] = lines[5].replace("run 4", "run 5")
    exported.write_text("\n".join(lines) + "\n")
    assert "DOES NOT VERIFY" in run("verify-export", str(exported), "--key", str(pub), code=5)


def test_bad_input(tmp_path: Path, ws: Path) -> None:
    with pytest.raises(InputError, match="--workspace"):
        runner.invoke(app, ["ledger", "verify"], catch_exceptions=False, env={"MEDSYN_WORKSPACE": None})
    run("--workspace", str(tmp_path / "nowhere"), "verify", code=2)
    (ws / "keys" / "ledger-ed25519.pem").unlink()
    run("--workspace", str(ws), "checkpoint", code=2)
    out = run("--workspace", str(ws), "verify")
    assert "signatures NOT checked (no key)" in out
    run("verify-export", str(tmp_path / "missing.jsonl"), code=2)
