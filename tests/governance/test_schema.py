"""The workspace schema: the Alembic migration builds exactly the tables the code declares; versions are checked."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from medsyn.errors import InputError
from medsyn.governance import _db
from medsyn.governance._schema import (
    SchemaVersionError,
    check_revision,
    create_schema,
    current_revision,
    upgrade_schema,
)


def _engine(tmp_path: Path):  # type: ignore[no-untyped-def]
    return _db.connect(f"sqlite:///{tmp_path / 'ws.db'}")


def test_migration_builds_the_declared_schema(tmp_path: Path) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    engine = _engine(tmp_path)
    create_schema(engine)
    assert current_revision(engine) == _db.SCHEMA_REVISION
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), _db.metadata)
    assert diff == [], f"the migration and _db.metadata disagree: {diff}"
    check_revision(engine, "ws.db")


def test_a_database_without_medsyn_tables_is_not_a_workspace(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no medsyn workspace tables"):
        check_revision(_engine(tmp_path), "ws.db")


def test_a_newer_schema_is_refused_and_left_untouched(tmp_path: Path) -> None:
    engine = _engine(tmp_path)
    create_schema(engine)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0099_future'"))
    with pytest.raises(SchemaVersionError, match=r"0099_future.*newer medsyn"):
        check_revision(engine, "ws.db")
    with pytest.raises(SchemaVersionError, match="newer medsyn"):
        upgrade_schema(engine)
    assert current_revision(engine) == "0099_future"


def test_an_older_known_schema_asks_for_an_upgrade(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = _engine(tmp_path)
    create_schema(engine)
    monkeypatch.setattr("medsyn.governance._schema.SCHEMA_REVISION", "0002_next")
    monkeypatch.setattr("medsyn.governance._schema.KNOWN_REVISIONS", ("0001_initial", "0002_next"))
    with pytest.raises(SchemaVersionError, match="medsyn workspace upgrade"):
        check_revision(engine, "ws.db")
