"""Create, check and upgrade the workspace database schema (Alembic revisions).

A workspace made by a newer medsyn may hold tables or columns this version does not know;
writing to it could corrupt what the newer code relies on, so opening it is refused with the
version found and the fix. An older workspace is refused too until ``medsyn workspace upgrade``
migrates it: a hospital wants to decide when its records change shape, not find out later.
"""

from __future__ import annotations

from importlib import resources

from sqlalchemy import Engine, inspect, text

from medsyn.errors import InputError, MedsynError, Problem
from medsyn.governance._db import KNOWN_REVISIONS, SCHEMA_REVISION

__all__ = ["SchemaVersionError", "check_revision", "create_schema", "current_revision", "upgrade_schema"]


class SchemaVersionError(MedsynError):
    """The workspace database's schema revision is not the one this medsyn writes."""

    exit_code = 2


def _alembic_config(engine: Engine, connection: object) -> object:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(resources.files("medsyn.governance") / "migrations"))
    cfg.attributes["connection"] = connection
    return cfg


def create_schema(engine: Engine) -> None:
    """Create every table of a new workspace (Alembic ``upgrade head`` on an empty database)."""
    upgrade_schema(engine)


def upgrade_schema(engine: Engine) -> str:
    """Migrate the database to this medsyn's revision; returns the revision it was at before."""
    from alembic import command

    before = current_revision(engine)
    if before is not None and before not in KNOWN_REVISIONS:
        raise _too_new(before, str(engine.url))
    with engine.connect() as conn:
        command.upgrade(_alembic_config(engine, conn), "head")  # type: ignore[arg-type]
        conn.commit()
    return before or ""


def current_revision(engine: Engine) -> str | None:
    """The revision stamped in the database, or None when it has no medsyn schema."""
    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return None
        row = conn.execute(text("SELECT version_num FROM alembic_version")).first()
    return None if row is None else str(row[0])


def check_revision(engine: Engine, where: str) -> None:
    """Refuse a database that is not at this medsyn's schema revision (see the module docstring)."""
    found = current_revision(engine)
    if found == SCHEMA_REVISION:
        return
    if found is None:
        raise InputError(
            Problem(where, "holds no medsyn workspace tables", "a database made by `medsyn init`", "Run `medsyn init`.")
        )
    if found not in KNOWN_REVISIONS:
        raise _too_new(found, where)
    raise SchemaVersionError(
        f"{where}: the workspace database is at schema revision {found}; this medsyn writes {SCHEMA_REVISION}. "
        "Run `medsyn workspace upgrade` (back the workspace up first)."
    )


def _too_new(found: str, where: str) -> SchemaVersionError:
    return SchemaVersionError(
        f"{where}: the workspace database is at schema revision {found!r}, which this medsyn does not know "
        f"(it knows {', '.join(KNOWN_REVISIONS)}): it was made by a newer medsyn. Upgrade medsyn to open it; "
        "nothing was changed."
    )
