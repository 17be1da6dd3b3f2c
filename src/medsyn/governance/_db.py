"""The workspace database: every table of the governance layer, and how connections are made.

One SQLAlchemy ``MetaData`` holds the catalog, lineage, ledger, checkpoints and privacy budgets,
so one transaction can register a data set, draw lineage edges and append the ledger entry that
records it: a process killed before the commit leaves none of them, killed after leaves all.

SQLite (the default, a file in the workspace) runs in WAL mode with ``synchronous=FULL`` so a
committed transaction survives a power cut, and every *write* transaction starts with
``BEGIN IMMEDIATE``: it takes the write lock before it reads the ledger's last hash, so two
processes appending at once queue instead of forking the chain. On PostgreSQL the same
serialisation comes from a transaction-scoped advisory lock.

The schema is versioned with Alembic (``governance/migrations``). Opening a workspace checks
the stored revision against the ones this medsyn knows *without* importing Alembic (it is only
needed to create or upgrade a workspace), so commands stay quick to start.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Engine,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    event,
    text,
)

__all__ = [
    "KNOWN_REVISIONS",
    "SCHEMA_REVISION",
    "budgets",
    "checkpoints",
    "connect",
    "datasets",
    "ledger_entries",
    "lineage_edges",
    "metadata",
    "operations",
    "read",
    "workspace_meta",
    "write",
]

#: The Alembic revision this code writes; older ones are listed so an old workspace is told to upgrade.
SCHEMA_REVISION = "0001_initial"
KNOWN_REVISIONS: tuple[str, ...] = ("0001_initial",)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

#: One row per registered data set version (a file or folder in the object store).
datasets = Table(
    "datasets",
    metadata,
    Column("version", String(64), primary_key=True),  # sha-256 of the content, hex
    Column("name", String(200), nullable=False),
    Column("modality", String(20), nullable=False),
    Column("kind", String(20), nullable=False),  # identifiable | pseudonymised | anonymised | synthetic | derived
    Column("sensitivity", String(30), nullable=False),
    Column("owner_site", String(100), nullable=False),
    Column("legal_basis", Text, nullable=False),
    Column("purposes", Text, nullable=False),  # JSON list
    Column("retention", String(40), nullable=False),  # ISO date or ISO 8601 duration (e.g. P10Y)
    Column("consent_scope", Text, nullable=False),  # JSON list of purposes the data may serve
    Column("privacy", Text, nullable=False),  # JSON: k reached, epsilon spent, risk …
    Column("schema", Text, nullable=False),  # the data dictionary as JSON ("" when not a table)
    Column("object_key", String(80), nullable=False),  # key in the content-addressed store
    Column("object_type", String(10), nullable=False),  # file | tree
    Column("filename", String(255), nullable=False),  # the original file or folder name
    Column("size_bytes", BigInteger, nullable=False),
    Column("records", BigInteger, nullable=True),
    Column("registered_at", String(40), nullable=False),
    Column("registered_by", String(200), nullable=False),
    Column("operation_id", String(36), ForeignKey("operations.id"), nullable=True),  # NULL: registered by hand
    Column("description", Text, nullable=False, default=""),
)
Index("ix_datasets_name", datasets.c.name)

#: One row per governed operation that produced outputs (audit, anonymise, fit, sample, evaluate …).
operations = Table(
    "operations",
    metadata,
    Column("id", String(36), primary_key=True),  # uuid4
    Column("action", String(60), nullable=False),
    Column("actor", String(200), nullable=False),
    Column("purpose", String(100), nullable=False),
    Column("parameters", Text, nullable=False),  # JSON
    Column("code_version", String(60), nullable=False),
    Column("started_at", String(40), nullable=False),
    Column("finished_at", String(40), nullable=False),
    Column("ledger_seq", BigInteger, nullable=True),
)

#: Lineage: which data set versions an operation used and made (PROV ``used`` / ``wasGeneratedBy``).
lineage_edges = Table(
    "lineage_edges",
    metadata,
    Column("operation_id", String(36), ForeignKey("operations.id"), primary_key=True),
    Column("version", String(64), ForeignKey("datasets.version"), primary_key=True),
    Column("direction", String(3), primary_key=True),  # "in" | "out"
    Column("role", String(40), nullable=False, default=""),  # e.g. real, synthetic, holdout, model, report
)
Index("ix_lineage_edges_version", lineage_edges.c.version)

#: The ledger's leaves, in order. ``seq`` is the leaf index in the Merkle tree (0-based).
ledger_entries = Table(
    "ledger_entries",
    metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("time", String(40), nullable=False),
    Column("actor", String(200), nullable=False),
    Column("action", String(60), nullable=False),
    Column("decision", String(10), nullable=False),
    Column("body", LargeBinary, nullable=False),  # canonical JSON of the whole entry (what is hashed)
    Column("leaf_hash", LargeBinary(32), nullable=False),  # RFC 6962: SHA-256(0x00 || body)
    Column("chain_hash", LargeBinary(32), nullable=False),  # SHA-256(previous chain_hash || leaf_hash)
)
Index("ix_ledger_entries_action", ledger_entries.c.action)

#: Signed tree heads: (size, root) signed with the workspace's Ed25519 key.
checkpoints = Table(
    "ledger_checkpoints",
    metadata,
    Column("tree_size", BigInteger, primary_key=True, autoincrement=False),
    Column("root_hash", LargeBinary(32), nullable=False),
    Column("time", String(40), nullable=False),
    Column("key_id", String(64), nullable=False),
    Column("signature", LargeBinary(64), nullable=False),
)

#: The persisted privacy budget of each data set version (a PrivacyBudget as JSON).
budgets = Table(
    "privacy_budgets",
    metadata,
    Column("version", String(64), ForeignKey("datasets.version"), primary_key=True),
    Column("epsilon", Float, nullable=False),
    Column("delta", Float, nullable=False),
    Column("state", Text, nullable=False),  # PrivacyBudget.to_json()
    Column("updated_at", String(40), nullable=False),
    Column("revision", Integer, nullable=False, default=0),
)

#: Workspace facts that must travel with the database (its id, the public signing key).
workspace_meta = Table(
    "workspace_meta",
    metadata,
    Column("key", String(60), primary_key=True),
    Column("value", Text, nullable=False),
)


def connect(url: str) -> Engine:
    """An engine for ``url`` with durable, serialisable writes (see the module docstring)."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 60, "isolation_level": None})
        _sqlite_events(engine)
        return engine
    return create_engine(url, pool_pre_ping=True)


def _sqlite_events(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=60000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # pysqlite's own BEGIN is off (isolation_level=None); we choose the kind of transaction
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get("medsyn_write") else "BEGIN")


@contextmanager
def write(engine: Engine) -> Iterator[Connection]:
    """A write transaction that holds the database's write lock from its first statement.

    Commits when the block ends, rolls back on any exception. Appends to the ledger must run
    in one of these, so the last hash they read is still the last one when they commit.
    """
    with engine.connect().execution_options(medsyn_write=True) as conn, conn.begin():
        if engine.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(6962)"))
        yield conn


@contextmanager
def read(engine: Engine) -> Iterator[Connection]:
    """A read transaction: one consistent snapshot (WAL readers never wait for the writer)."""
    with engine.connect() as conn, conn.begin():
        yield conn
