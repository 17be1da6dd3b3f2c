"""`medsyn catalog list|show`, `medsyn lineage` and `medsyn records` on a workspace holding a real derivation chain."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from medsyn._catalog_cli import catalog_app, lineage_command, records_command
from medsyn._cli_common import SESSION
from medsyn.errors import InputError, UnknownNameError
from medsyn.governance import _db
from medsyn.governance._schema import create_schema
from medsyn.governance._workspace import CONFIG_NAME, WorkspaceConfig
from tests.governance.catalog_helpers import Chain, build_chain
from tests.governance.test_prov import prov_json_problems

app = typer.Typer(pretty_exceptions_enable=False)
app.add_typer(catalog_app, name="catalog")
app.command("lineage")(lineage_command)
app.command("records")(records_command)
runner = CliRunner()


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Chain]:
    """A workspace made as `medsyn init` makes its config and database (no key or policy needed to read)."""
    root = tmp_path_factory.mktemp("ws")
    config = WorkspaceConfig(
        id=str(uuid.uuid4()),
        name="cardio",
        site="cleveland",
        identity={"user": "ana", "role": "data_steward", "site": "cleveland"},
        controller={"name": "Cleveland Heart Institute", "contact": "privacy@chi.example", "dpo": "dpo@chi.example"},
    )
    engine = _db.connect(f"sqlite:///{root / 'medsyn.db'}")
    create_schema(engine)
    chain = build_chain(tmp_path_factory.mktemp("data"), engine)
    engine.dispose()
    (root / CONFIG_NAME).write_text(config.to_yaml(), encoding="utf-8")
    return root, chain


@pytest.fixture(autouse=True)
def _no_global_workspace(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(SESSION, "workspace", None)
    monkeypatch.delenv("MEDSYN_WORKSPACE", raising=False)


def run(*args: str) -> str:
    result = runner.invoke(app, list(args), env={"COLUMNS": "250"})
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert result.exit_code == 0, result.output
    return result.stdout


def test_catalog_list(workspace: tuple[Path, Chain]) -> None:
    root, chain = workspace
    text = run("catalog", "list", "--workspace", str(root))
    for name in ("heart", "heart-k5", "heart-copula", "heart-synthetic", "heart-scorecard"):
        assert name in text
    assert "k=5" in text
    rows = json.loads(run("catalog", "list", "--json", "--kind", "derived", "--workspace", str(root)))
    assert sorted(r["name"] for r in rows) == ["heart-copula", "heart-scorecard"]
    assert rows[0]["version"] in (chain.model.version, chain.report.version)
    assert json.loads(run("catalog", "list", "--json", "--site", "nowhere", "--workspace", str(root))) == []


def test_catalog_show(workspace: tuple[Path, Chain]) -> None:
    root, chain = workspace
    text = run("catalog", "show", "heart-k5", "--workspace", str(root))
    assert f"heart-k5 @ {chain.anonymised.version[:12]}" in text
    assert "Art. 6(1)(e) GDPR" in text
    assert "smallest equivalence class" in text  # what k_reached means
    assert "Made by anonymize (ana (data_steward@cleveland)" in text
    assert "Used by 2 operation(s): evaluate, synth.fit" in text
    assert "quasi_identifier" in text  # the data dictionary
    data = json.loads(run("catalog", "show", f"heart@{chain.real.version[:8]}", "--json", "--workspace", str(root)))
    assert data["version"] == chain.real.version
    assert data["lineage"]["descendant_versions"] == 4


def test_lineage_tree_and_prov(workspace: tuple[Path, Chain], tmp_path: Path) -> None:
    root, _ = workspace
    text = run("lineage", "heart-scorecard", "--prov", str(tmp_path / "up.json"), "--workspace", str(root))
    assert text.splitlines()[0].startswith("heart-scorecard @")
    assert "synth.fit by ben (researcher@leeds)" in text
    assert "PROV-JSON: 5 entities, 4 activities" in text
    doc = json.loads((tmp_path / "up.json").read_text(encoding="utf-8"))
    assert prov_json_problems(doc) == []
    down = run("lineage", "heart-scorecard", "--down", "--workspace", str(root))
    assert "nothing was made from it yet" in down
    tree = json.loads(
        run("lineage", "heart", "--down", "--json", "--prov", str(tmp_path / "down.json"), "--workspace", str(root))
    )
    assert tree["children"][0]["action"] == "anonymize"
    assert len(json.loads((tmp_path / "down.json").read_text(encoding="utf-8"))["entity"]) == 5


def test_records(workspace: tuple[Path, Chain], tmp_path: Path) -> None:
    root, _ = workspace
    out = tmp_path / "art30"
    text = run("records", "-o", str(out), "--since", "2020-01-01", "--workspace", str(root))
    assert "Records of processing for cardio: 1 purpose(s), 1 personal data set(s)" in text
    data = json.loads((out / "records.json").read_text(encoding="utf-8"))
    assert data["a_controller"]["dpo"] == "dpo@chi.example"
    assert data["workspace"]["site"] == "cleveland"
    assert (out / "records.html").is_file()


def test_clear_errors(workspace: tuple[Path, Chain], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root, _ = workspace
    with pytest.raises(UnknownNameError, match="did you mean 'heart-k5'"):
        run("catalog", "show", "heart-k4", "--workspace", str(root))
    with pytest.raises(InputError, match="--until: 'yesterday'"):
        run("records", "-o", str(tmp_path / "r"), "--until", "yesterday", "--workspace", str(root))
    with pytest.raises(InputError, match=r"holds no medsyn-workspace\.yaml"):
        run("catalog", "list", "--workspace", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(InputError, match=r"is not inside a medsyn workspace.*Run `medsyn init`"):
        run("catalog", "list")
    monkeypatch.setattr(SESSION, "workspace", root)  # the global --workspace of `medsyn`
    assert "heart-k5" in run("catalog", "list")
