"""Alembic environment: migrations run on the connection medsyn passes in (never from alembic.ini)."""

from __future__ import annotations

from alembic import context

from medsyn.governance._db import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
