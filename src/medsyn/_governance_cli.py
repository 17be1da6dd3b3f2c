"""``medsyn init``, ``medsyn workspace …`` and ``medsyn catalog register``: setting up governance.

``init`` makes a workspace (database, object store, signing key, starter policy) and records
its creation as the ledger's first entry. ``catalog register`` is the door through which data
enters a workspace: the policy decides whether this identity may register it, the file is
copied into the content-addressed store and its catalog entry and ledger entry are written in
one transaction. Every other data-touching command then finds it by content or by name.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from medsyn._cli_common import SESSION, FormatOpt, PathArg, SchemaOpt, console, governor
from medsyn.errors import InputError, Problem

__all__ = ["init_command", "register_command", "workspace_app"]

workspace_app = typer.Typer(help="The workspace: where it is, what it holds, schema upgrades.", no_args_is_help=True)


def init_command(
    path: Annotated[Path, typer.Argument(help="Folder for the new workspace (new or empty).")] = Path("."),
    site: Annotated[str, typer.Option("--site", help="This site's name (owner of data registered here).")] = "local",
    name: Annotated[str | None, typer.Option("--name", help="Workspace name (default: the folder's).")] = None,
    database: Annotated[
        str | None, typer.Option("--database", help="SQLAlchemy URL (default: sqlite:///medsyn.db in the folder).")
    ] = None,
    user: Annotated[str | None, typer.Option("--user", help="Default user (default: the login name).")] = None,
    role: Annotated[str, typer.Option("--role", help="Default role of the CLI user here.")] = "data_steward",
    controller: Annotated[str, typer.Option("--controller", help="Controller's name (GDPR Art. 30 records).")] = "",
    dpo: Annotated[str, typer.Option("--dpo", help="Data protection officer's contact.")] = "",
) -> None:
    """Create a workspace: database, object store, ledger signing key and a starter policy."""
    import getpass

    from medsyn.governance import Identity, Workspace

    who = Identity(user=user or getpass.getuser(), role=role, site=site)
    ws = Workspace.init(
        path, name=name, site=site, database=database, identity=who, controller={"name": controller, "dpo": dpo}
    )
    seq = ws.record_creation()
    console.print(f"Workspace [bold]{ws.config.name}[/] (site {site}) created in [bold]{ws.root}[/]")
    console.print(f"  database: {ws.database_label}\n  policy:   {ws.policy_path}  (deny by default; edit it)")
    console.print(f"  ledger:   entry {seq} records the creation; checkpoint signed with key {ws.key_id[:16]}…")
    console.print("Next: medsyn catalog register DATA --name NAME --kind identifiable --legal-basis … --purpose …")


@workspace_app.command("info")
def info() -> None:
    """Where the workspace is and what it holds."""
    from medsyn._catalog_cli import open_workspace

    ws = open_workspace(SESSION.workspace)
    summary = ws.summary()
    table = Table(show_header=False)
    for key, value in summary.items():
        table.add_row(key, str(value))
    console.print(table)


@workspace_app.command("upgrade")
def upgrade() -> None:
    """Migrate the workspace database to this medsyn's schema (back it up first)."""
    from medsyn.governance._schema import upgrade_schema
    from medsyn.governance._workspace import CONFIG_NAME, Workspace, WorkspaceConfig, find_root

    root = find_root(SESSION.workspace)
    ws = Workspace(root, WorkspaceConfig.read(root / CONFIG_NAME))
    before = upgrade_schema(ws.engine)
    console.print(f"Workspace database upgraded from {before or 'nothing'} to the current schema.")


def register_command(
    path: PathArg,
    name: Annotated[str, typer.Option("--name", help="Catalog name (versions share it).")],
    kind: Annotated[str, typer.Option("--kind", help="identifiable, pseudonymised, anonymised or synthetic.")],
    legal_basis: Annotated[
        list[str],
        typer.Option(
            "--legal-basis", help="GDPR basis, e.g. art6-1-e --legal-basis art9-2-j for health data (repeat)."
        ),
    ],
    purpose: Annotated[list[str], typer.Option("--allowed-purpose", help="A purpose the data may serve (repeat).")],
    retention: Annotated[str, typer.Option("--retention", help="Keep until YYYY-MM-DD, or for an ISO period (P10Y).")],
    sensitivity: Annotated[
        str, typer.Option("--sensitivity", help="public, internal, confidential or special_category.")
    ] = "special_category",
    owner_site: Annotated[str | None, typer.Option("--owner-site", help="Default: the workspace's site.")] = None,
    consent_scope: Annotated[
        list[str] | None, typer.Option("--consent-scope", help="Purposes patients consented to (repeat).")
    ] = None,
    description: Annotated[str, typer.Option("--description", help="What the data is, who it is about.")] = "",
    schema: SchemaOpt = None,
    fmt: FormatOpt = None,
) -> None:
    """Register a data file or folder in the workspace catalog (copied into its store)."""
    gov = governor()
    if gov.workspace is None:
        raise InputError(
            Problem("catalog register", "no workspace found", "a workspace", "Run `medsyn init` or pass --workspace.")
        )
    record = gov.register(
        path,
        name=name,
        kind=kind,
        sensitivity=sensitivity,
        owner_site=owner_site or gov.workspace.config.site,
        legal_basis=",".join(legal_basis),
        purposes=tuple(purpose),
        retention=retention,
        consent_scope=tuple(consent_scope or purpose),
        description=description,
        schema=schema,
        fmt=fmt,
    )
    console.print(
        f"Registered [bold]{record.name}[/] version {record.version[:12]} ({record.modality}, {record.kind}, "
        f"{record.records if record.records is not None else '?'} records)"
    )
