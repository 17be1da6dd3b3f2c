"""``medsyn catalog list|show``, ``medsyn lineage`` and ``medsyn records``: reading what a workspace knows.

``catalog`` lists registered data set versions and shows one in full (governance metadata,
privacy figures, data dictionary, where it came from and what used it); ``lineage`` draws a
data set's history as a tree (``--down``: what was made from it) and exports it as W3C
PROV-JSON; ``records`` writes the GDPR Art. 30(1) records of processing as JSON and HTML.
None of them changes the workspace. Registering is ``medsyn catalog register`` (the governed
entry point, in :mod:`medsyn._governance_cli`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from medsyn._cli_common import SESSION, WorkspaceOpt, console, err_console
from medsyn.errors import InputError, Problem

if TYPE_CHECKING:
    from medsyn.governance._catalog import DatasetRecord
    from medsyn.governance._workspace import Workspace

__all__ = ["catalog_app", "lineage_command", "open_workspace", "records_command"]

catalog_app = typer.Typer(
    help="The data catalog: registered data set versions, their metadata and privacy figures.", no_args_is_help=True
)

RefArg = Annotated[str, typer.Argument(help="A data set: NAME (its latest version), NAME@VERSION-PREFIX or a version.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")]


def open_workspace(workspace: Path | None = None) -> Workspace:
    """The workspace to read: ``workspace``, else the global ``--workspace``, ``$MEDSYN_WORKSPACE`` or upwards.

    Raises :class:`~medsyn.errors.InputError` (with the fix) when there is none.
    """
    from medsyn.governance._workspace import find_workspace

    ws = find_workspace(workspace if workspace is not None else SESSION.workspace)
    if ws is None:
        raise InputError(
            Problem(
                str(Path.cwd()),
                "is not inside a medsyn workspace",
                "a workspace",
                "Run `medsyn init` to create one, or pass --workspace PATH (or set MEDSYN_WORKSPACE).",
            )
        )
    return ws


def _privacy_text(privacy: object) -> str:
    if not isinstance(privacy, dict) or not privacy:
        return ""
    short = {"k_reached": "k", "epsilon_spent": "ε", "delta_spent": "δ", "risk": "risk", "privacy_score": "privacy"}
    parts = []
    for key, label in short.items():
        value = privacy.get(key)
        if value is not None:
            parts.append(f"{label}={value:.3g}" if isinstance(value, float) else f"{label}={value}")
    return " ".join(parts)


@catalog_app.command("list")
def list_command(
    kind: Annotated[
        str | None, typer.Option("--kind", help="identifiable, pseudonymised, anonymised, synthetic or derived.")
    ] = None,
    site: Annotated[str | None, typer.Option("--site", help="Only data sets owned by this site.")] = None,
    name: Annotated[str | None, typer.Option("--name", help="Only the versions of this data set.")] = None,
    latest: Annotated[bool, typer.Option("--latest", help="Only the latest version of each data set.")] = False,
    as_json: JsonOpt = False,
    workspace: WorkspaceOpt = None,
) -> None:
    """List the registered data set versions (newest first within a name)."""
    from medsyn.governance._catalog import list_datasets
    from medsyn.governance._db import read

    ws = open_workspace(workspace)
    with read(ws.engine) as conn:
        rows = list_datasets(conn, kind=kind, site=site, name=name, latest_only=latest)
    if as_json:
        typer.echo(json.dumps([r.to_dict() for r in rows], indent=2, ensure_ascii=False))
        return
    if not rows:
        console.print(f"No data set registered in workspace [bold]{ws.config.name}[/] matches.", highlight=False)
        return
    table = Table(title=f"Catalog of {ws.config.name} ({len(rows)} versions)", header_style="bold")
    for col in (
        "name",
        "version",
        "kind",
        "modality",
        "records",
        "sensitivity",
        "site",
        "purposes",
        "privacy",
        "registered",
    ):
        table.add_column(col, overflow="fold")
    for r in rows:
        table.add_row(
            r.name,
            r.version[:12],
            r.kind,
            r.modality,
            "" if r.records is None else f"{r.records:,}",
            r.sensitivity,
            r.owner_site,
            ", ".join(r.purposes),
            _privacy_text(dict(r.privacy)),
            r.registered_at[:16].replace("T", " "),
        )
    console.print(table)


@catalog_app.command("show")
def show_command(ref: RefArg, as_json: JsonOpt = False, workspace: WorkspaceOpt = None) -> None:
    """Everything the catalog knows about one data set version, and where it came from."""
    from medsyn.governance._catalog import PRIVACY_FIGURES, get
    from medsyn.governance._db import read
    from medsyn.governance._lineage import lineage_summary

    ws = open_workspace(workspace)
    with read(ws.engine) as conn:
        record = get(conn, ref)
        lineage = lineage_summary(conn, record.version)
    if as_json:
        typer.echo(json.dumps({**record.to_dict(), "lineage": lineage}, indent=2, ensure_ascii=False))
        return
    facts = Table(show_header=False, title=f"{record.name} @ {record.version[:12]}", title_style="bold")
    facts.add_column(style="bold")
    facts.add_column(overflow="fold")
    data = record.to_dict()
    for key in ("version", "kind", "modality", "records", "sensitivity", "owner_site", "filename", "size_bytes"):
        facts.add_row(key, str(data[key]))
    facts.add_row("legal basis", "\n".join(str(t) for t in data["legal_basis_text"]))  # type: ignore[attr-defined]
    facts.add_row("purposes", ", ".join(record.purposes))
    facts.add_row("consent scope", ", ".join(record.consent_scope) or "—")
    due = record.erase_by()
    facts.add_row("retention", f"{record.retention} (erase by {due.isoformat() if due else '?'})")
    facts.add_row("registered", f"{record.registered_at} by {record.registered_by}")
    if record.description:
        facts.add_row("description", record.description)
    for key, value in record.privacy.items():
        meaning = PRIVACY_FIGURES[key][3] if key in PRIVACY_FIGURES else ""
        facts.add_row(f"privacy: {key}", f"{value}" + (f"  [dim]({meaning})[/]" if meaning else ""))
    console.print(facts)
    _print_schema(record)
    _print_lineage_summary(lineage)


def _print_schema(record: DatasetRecord) -> None:
    fields = (record.schema or {}).get("fields")
    if not isinstance(fields, dict) or not fields:
        return
    table = Table(title=f"Data dictionary ({len(fields)} fields)", header_style="bold")
    for col in ("field", "type", "role", "unit"):
        table.add_column(col)
    for name, spec in fields.items():
        role = spec.get("role")
        roles = ", ".join(role) if isinstance(role, list) else str(role)
        table.add_row(str(name), str(spec.get("type", "")), roles, str(spec.get("unit") or ""))
    console.print(table)


def _print_lineage_summary(lineage: dict[str, object]) -> None:
    made = lineage["generated_by"]
    assert isinstance(made, list)
    if made:
        for op in made:
            console.print(
                f"[bold]Made by[/] {op['action']} ({op['actor']}, {str(op['finished_at'])[:19]}) from "
                + (", ".join(lineage["inputs"]) or "—"),  # type: ignore[arg-type]
                highlight=False,
            )
    else:
        console.print("[bold]Registered by hand[/] (no recorded operation made it).")
    used = lineage["used_by"]
    assert isinstance(used, list)
    if used:
        actions = sorted({str(u["action"]) for u in used})
        console.print(
            f"[bold]Used by[/] {len(used)} operation(s): {', '.join(actions)}; "
            f"{lineage['descendant_versions']} version(s) descend from it (`medsyn lineage REF --down`).",
            highlight=False,
        )


def lineage_command(
    ref: RefArg,
    down: Annotated[bool, typer.Option("--down", help="What was made from it, instead of where it came from.")] = False,
    prov: Annotated[
        Path | None, typer.Option("--prov", help="Also write this lineage as W3C PROV-JSON to FILE.")
    ] = None,
    as_json: JsonOpt = False,
    workspace: WorkspaceOpt = None,
) -> None:
    """Where a data set came from (or, with --down, what was made from it), as a tree; --prov FILE exports it."""
    from medsyn.governance._catalog import get
    from medsyn.governance._db import read
    from medsyn.governance._lineage import ancestors, descendants, lineage_graph, lineage_tree
    from medsyn.governance._prov import prov_document, write_prov

    ws = open_workspace(workspace)
    with read(ws.engine) as conn:
        record = get(conn, ref)
        tree = (descendants if down else ancestors)(conn, record.version)
        graph = lineage_graph(conn, [record.version], direction="down" if down else "up") if prov else None
    if as_json:
        typer.echo(json.dumps(tree.to_dict(), indent=2, ensure_ascii=False))
    else:
        console.print(lineage_tree(tree))
        if not tree.children:
            console.print(
                "[dim]nothing was made from it yet[/]" if down else "[dim]registered by hand: no recorded ancestors[/]"
            )
    if graph is not None and prov is not None:
        out = write_prov(prov, prov_document(graph))
        (err_console if as_json else console).print(  # keep stdout pure JSON with --json
            f"PROV-JSON: {len(graph.datasets)} entities, {len(graph.operations)} activities → {out}",
            highlight=False,
        )


def records_command(
    output: Annotated[Path, typer.Option("--output", "-o", help="Folder for records.json and records.html.")] = Path(
        "records"
    ),
    since: Annotated[
        str | None, typer.Option("--since", help="Count ledger activity from this date (YYYY-MM-DD) or time.")
    ] = None,
    until: Annotated[
        str | None, typer.Option("--until", help="… up to this date (inclusive) or time; the catalog as it stood then.")
    ] = None,
    workspace: WorkspaceOpt = None,
) -> None:
    """Write the GDPR Art. 30(1) records of processing (a)–(g) from the catalog and the ledger."""
    from medsyn.governance._records import records_for_workspace

    ws = open_workspace(workspace)
    record = records_for_workspace(ws, since=since, until=until)
    files = record.write(output)
    overdue = [e for e in record.erasure if e.overdue]
    personal = sorted({ds for s in record.data_subjects for ds in s.datasets})
    console.print(
        f"Records of processing for [bold]{ws.config.name}[/]: {len(record.purposes)} purpose(s), "
        f"{len(personal)} personal data set(s), {len(record.recipients)} recipient(s), "
        f"{len(record.transfers)} transfer(s) outside the EEA, {record.ledger_entries} ledger entries in the period.",
        highlight=False,
    )
    for note in (*record.notes[:1], *record.transfer_notes):
        if not note.startswith("None recorded"):
            console.print(f"[yellow]note:[/] {note}", highlight=False)
    if overdue:
        names = ", ".join(f"{e.name}@{e.version}" for e in overdue)
        console.print(f"[red]past retention:[/] {names} should have been erased", highlight=False)
    console.print(f"Written: {files.json} and {files.html}", highlight=False)
