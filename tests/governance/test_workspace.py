"""The workspace: created complete, found from the folder, refused when malformed, identity from config and env."""

from __future__ import annotations

from pathlib import Path

import pytest

from medsyn.errors import InputError
from medsyn.governance import Identity, Workspace, find_workspace
from medsyn.governance._workspace import CONFIG_NAME, WorkspaceConfig


def test_init_makes_everything_and_open_finds_it(tmp_path: Path) -> None:
    ws = Workspace.init(tmp_path / "ws", site="st-mary", identity=Identity("sam", "data_steward", "st-mary"))
    assert ws.record_creation() == 0
    for part in (CONFIG_NAME, "medsyn.db", "policies.yaml", "keys/ledger-ed25519.pem", "objects"):
        assert (ws.root / part).exists(), part
    assert (ws.root / "keys/ledger-ed25519.pem").stat().st_mode & 0o077 == 0
    again = Workspace.open(ws.root)
    assert again.config == ws.config
    assert again.config.database == "sqlite:///medsyn.db"
    assert again.ledger.verify().ok
    assert again.ledger.size() == 1
    (ws.root / "a" / "b").mkdir(parents=True)
    found = find_workspace(cwd=ws.root / "a" / "b", env={})
    assert found is not None
    assert found.root == ws.root
    assert find_workspace(cwd=tmp_path, env={}) is None
    assert find_workspace(env={"MEDSYN_WORKSPACE": str(ws.root)}) is not None


def test_identity_comes_from_config_then_environment(tmp_path: Path) -> None:
    ws = Workspace.init(tmp_path / "ws", site="st-mary", identity=Identity("sam", "data_steward", "st-mary"))
    assert ws.identity(env={}) == Identity("sam", "data_steward", "st-mary")
    who = ws.identity(env={"MEDSYN_ROLE": "data_scientist", "MEDSYN_TRAINING": "gdpr, ich-gcp"})
    assert who.role == "data_scientist"
    assert who.training == frozenset({"gdpr", "ich-gcp"})
    assert who.user == "sam"


def test_init_refuses_a_used_folder_and_bad_names(tmp_path: Path) -> None:
    ws = Workspace.init(tmp_path / "ws", site="st-mary")
    with pytest.raises(InputError, match="already a medsyn workspace"):
        Workspace.init(ws.root, site="st-mary")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x.txt").write_text("x")
    with pytest.raises(InputError, match="not empty"):
        Workspace.init(tmp_path / "full", site="st-mary")
    with pytest.raises(InputError, match="site"):
        Workspace.init(tmp_path / "new", site="st mary; drop table")
    assert not (tmp_path / "new" / CONFIG_NAME).exists()


def test_a_malformed_config_names_every_problem(tmp_path: Path) -> None:
    ws = Workspace.init(tmp_path / "ws", site="st-mary")
    cfg = ws.root / CONFIG_NAME
    cfg.write_text("format: 9\nname: ''\nsite: st-mary\nid: x\ncolour: blue\n")
    with pytest.raises(InputError) as err:
        Workspace.open(ws.root)
    text = str(err.value)
    assert "format" in text
    assert "name" in text
    assert "colour" in text
    cfg.write_text(": : :\n")
    with pytest.raises(InputError, match="YAML"):
        WorkspaceConfig.read(cfg)
    with pytest.raises(InputError, match="medsyn init"):
        Workspace.open(tmp_path / "nowhere")
