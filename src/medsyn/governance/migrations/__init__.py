"""Alembic migrations of the workspace database (run by :mod:`medsyn.governance._schema`)."""
