"""``medsyn ledger …``: verify the workspace ledger, show its entries, prove, export and checkpoint it.

The commands are thin: :func:`open_ledger` finds the ledger, the library does the work, and the
command prints what it found. ``verify`` exits with :data:`EXIT_TAMPERED` (5) when the ledger
does not verify, after listing every problem; bad input exits 2 like every command.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from medsyn._cli_common import WorkspaceOpt, console, err_console
from medsyn.errors import InputError, Problem

if TYPE_CHECKING:
    from medsyn.governance._ledger import Ledger, StoredEntry
    from medsyn.governance._ledger_verify import Verification
    from medsyn.governance._signing import Checkpoint, PublicKey

__all__ = ["EXIT_TAMPERED", "ledger_app", "open_ledger"]

#: Exit code of ``verify`` (and of any command meeting a damaged ledger): the evidence itself is bad.
EXIT_TAMPERED = 5
_SHOWN_PROBLEMS = 50

ledger_app = typer.Typer(
    name="ledger",
    help="The tamper-evident ledger: verify it, show entries, prove inclusion or consistency, export, checkpoint.",
    no_args_is_help=True,
    rich_markup_mode="rich",
)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")]
KeyOpt = Annotated[
    Path | None,
    typer.Option(
        "--key",
        help="A public key to check signatures with (PEM or signed-note verifier key); default: the workspace's.",
    ),
]


@ledger_app.callback()
def _options(
    ctx: typer.Context,
    workspace: WorkspaceOpt = None,
) -> None:
    """The tamper-evident ledger of a workspace."""
    ctx.ensure_object(dict)["ledger_workspace"] = workspace


def open_ledger(ctx: typer.Context, *, need_signer: bool = False) -> Ledger:
    """The ledger of the workspace (``medsyn ledger --workspace``, else ``medsyn --workspace``, else found).

    Its signing key is loaded (it makes checkpoints and, through its public half, checks them);
    ``need_signer`` is kept for callers that make checkpoints and says so in the error.
    """
    from medsyn._catalog_cli import open_workspace

    obj = ctx.find_object(dict) or {}
    ws = open_workspace(obj.get("ledger_workspace"))
    if need_signer and not (ws.root / ws.config.signing_key).is_file():
        key = ws.root / ws.config.signing_key
        raise InputError(Problem(str(key), "no signing key", "the workspace's Ed25519 key", "Checkpoints need it."))
    return ws.ledger


def _public_key(ledger: Ledger, key: Path | None) -> PublicKey | None:
    from medsyn.governance._signing import load_public_key

    return load_public_key(key) if key is not None else ledger.public_key


def _print_verification(result: Verification, *, as_json: bool, source: str) -> None:
    if as_json:
        console.print_json(data=result.to_dict())
    else:
        table = Table(show_header=False, title=f"Ledger: {source}", title_justify="left")
        table.add_column(style="bold")
        table.add_column(overflow="fold")
        table.add_row("entries", f"{result.size:,}")
        table.add_row("root", result.root.hex())
        signed = "signatures checked" if result.signatures_checked else "[yellow]signatures NOT checked (no key)[/]"
        given = max(0, result.checkpoints_checked - result.checkpoints)  # a --checkpoint kept outside
        stored = f"{min(result.checkpoints_checked, result.checkpoints)} of {result.checkpoints} stored"
        table.add_row("checkpoints", f"{stored}{f' and {given} given' if given else ''} checked; {signed}")
        latest = "none" if result.latest_checkpoint is None else f"size {result.latest_checkpoint:,}"
        table.add_row("latest checkpoint", latest)
        verdict = "[green]verifies[/]" if result.ok else f"[bold red]DOES NOT VERIFY[/] ({_count(result)} problems)"
        table.add_row("result", verdict)
        console.print(table)
        if result.problems:
            found = Table("kind", "entry", "problem", header_style="bold", title="Problems", title_justify="left")
            for p in result.problems[:_SHOWN_PROBLEMS]:
                found.add_row(p.kind.value, "" if p.seq is None else str(p.seq), p.message)
            console.print(found)
            more = _count(result) - min(len(result.problems), _SHOWN_PROBLEMS)
            if more > 0:
                console.print(f"… and {more} more (use --json for the first {len(result.problems)})")
        if result.ok and result.unsigned_tail:
            console.print(
                f"[yellow]note:[/] {result.unsigned_tail:,} entries come after the latest checkpoint; removing them "
                "cannot be detected from the database alone. Run `medsyn ledger checkpoint -o FILE` and keep FILE "
                "elsewhere, then verify with --checkpoint FILE."
            )
    if not result.ok:
        raise typer.Exit(EXIT_TAMPERED)


def _count(result: Verification) -> int:
    return len(result.problems) + result.problems_omitted


@ledger_app.command("verify")
def verify(
    ctx: typer.Context,
    checkpoint: Annotated[
        Path | None,
        typer.Option(
            "--checkpoint",
            help="A signed checkpoint kept outside the workspace (from `ledger checkpoint -o`): catches "
            "truncation or rewriting of entries the workspace's own checkpoints no longer cover.",
        ),
    ] = None,
    key: KeyOpt = None,
    workers: Annotated[
        int | None,
        typer.Option("--workers", min=1, help="Processes to hash with (default: the idle cores for large ledgers)."),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Check every entry, the hash chain, the Merkle root and every signed checkpoint; exit 5 if anything is wrong."""

    ledger = open_ledger(ctx)
    public = _public_key(ledger, key)
    if key is not None:
        from medsyn.governance._ledger import Ledger

        ledger = Ledger(ledger.engine, public_key=public)
    trusted = None
    if checkpoint is not None:
        trusted = _read_checkpoint(checkpoint, public)
    with console.status("Verifying the ledger …"):
        result = ledger.verify(trusted=trusted, workers=workers)
    _print_verification(result, as_json=as_json, source=str(ledger.engine.url.database))


def _read_checkpoint(path: Path, public: PublicKey | None) -> Checkpoint:
    from medsyn.governance._signing import Checkpoint

    if not path.is_file():
        raise InputError(Problem(str(path), "no such file", "a signed checkpoint (`medsyn ledger checkpoint -o`)"))
    if public is None:
        raise InputError(Problem(str(path), "cannot be checked without a public key", fix="Pass --key PUBLIC_KEY_FILE"))
    return Checkpoint.from_note(path.read_text(encoding="utf-8"), public, where=str(path))


@ledger_app.command("verify-export")
def verify_export_command(
    path: Annotated[Path, typer.Argument(help="A file written by `medsyn ledger export`.")],
    key: Annotated[
        Path | None,
        typer.Option(
            "--key", help="The workspace's public key as published (PEM or verifier key); default: the file's."
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Check an exported ledger without the workspace (for a data protection officer or an auditor)."""
    from medsyn.governance._ledger_verify import verify_export
    from medsyn.governance._signing import load_public_key

    public = load_public_key(key) if key is not None else None
    with console.status(f"Verifying {path} …"):
        result = verify_export(path, public_key=public)
    if key is None and not as_json:
        console.print(
            "[yellow]note:[/] signatures were checked with the key inside the file; pass --key with the key "
            "the workspace published to rule out a forged export."
        )
    _print_verification(result, as_json=as_json, source=str(path))


@ledger_app.command("show")
def show(
    ctx: typer.Context,
    last: Annotated[int, typer.Option("--last", "-n", min=1, help="How many of the latest entries.")] = 20,
    action: Annotated[str | None, typer.Option("--action", help="Only entries of this action.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Show the latest entries (who did what, why, with which data, and what came of it)."""
    ledger = open_ledger(ctx)
    entries = ledger.last(last, action=action)
    if as_json:
        console.print_json(data=[e.to_dict() for e in entries])
        return
    if not entries:
        console.print("no entries" + (f" of action {action!r}" if action else ""))
        return
    table = Table(header_style="bold")
    for col in ("seq", "time (UTC)", "who", "action", "purpose", "decision", "outcome", "in → out", "reason"):
        table.add_column(col, overflow="fold")
    for stored in entries:
        table.add_row(*_row(stored))
    console.print(table)


def _row(stored: StoredEntry) -> list[str]:
    e = stored.entry
    who = f"{e.actor.get('user')} ({e.actor.get('role') or '-'}@{e.actor.get('site') or '-'})"
    data = f"{', '.join(v[:12] for v in e.inputs) or '-'} → {', '.join(v[:12] for v in e.outputs) or '-'}"
    style = {"ok": "green", "refused": "red", "failed": "magenta", "started": "blue"}.get(e.outcome, "")
    verdict = {"allow": "green", "deny": "red"}.get(e.decision, "dim")
    decision = f"[{verdict}]{e.decision}[/]" + (f" ({e.rule})" if e.rule else "")
    when = e.time.replace("T", " ").rstrip("Z")[:23]
    return [str(stored.seq), when, who, e.action, e.purpose, decision, f"[{style}]{e.outcome}[/]", data, e.reason]


@ledger_app.command("prove")
def prove(
    ctx: typer.Context,
    seq: Annotated[
        int | None,
        typer.Argument(help="The entry to prove; with --consistency, the newer tree size (default: the latest)."),
    ] = None,
    size: Annotated[
        int | None,
        typer.Option("--size", help="Tree size to prove inclusion in (default: the latest checkpoint covering SEQ)."),
    ] = None,
    consistency: Annotated[
        int | None,
        typer.Option("--consistency", help="Prove the tree of this older size is a prefix of the newer one."),
    ] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write the proof (JSON) here.")] = None,
) -> None:
    """Prove one entry is in the ledger (inclusion), or that an older tree head is a prefix of a newer one."""
    ledger = open_ledger(ctx)
    heads = {cp.size: cp for cp in ledger.checkpoints()}
    data: dict[str, Any]
    if consistency is not None:
        with console.status("Computing the consistency proof …"):
            proof = ledger.prove_consistency(consistency, seq)
        data = proof.to_dict()
        for name, n in (("old_checkpoint", proof.old_size), ("new_checkpoint", proof.new_size)):
            data[name] = heads[n].to_dict() if n in heads else None
        summary = f"consistency {proof.old_size:,} → {proof.new_size:,}: {len(proof.path)} hashes"
        signed = [n for n in (proof.old_size, proof.new_size) if n in heads]
    else:
        if seq is None:
            raise InputError(Problem("SEQ", "not given", "the entry to prove, or --consistency OLD"))
        if size is None:
            covering = [n for n in heads if n > seq]
            size = min(covering) if covering else None
        with console.status("Computing the inclusion proof …"):
            inclusion = ledger.prove_inclusion(seq, size)
        data = inclusion.to_dict()
        summary = f"entry {seq} in the tree of {inclusion.tree_size:,}: {len(inclusion.path)} hashes"
        signed = [inclusion.tree_size] if inclusion.checkpoint is not None else []
    note = f"against signed checkpoint(s) {signed}" if signed else "[yellow]no signed checkpoint at this size[/]"
    text = json.dumps(data, indent=2)
    if output is not None:
        from medsyn._atomic import write_text

        write_text(output, text + "\n")
        console.print(f"{summary}, {note}. Written to [bold]{output}[/]")
    else:
        typer.echo(text)
        err_console.print(f"{summary}, {note}.", highlight=False)


@ledger_app.command("export")
def export(
    ctx: typer.Context,
    output: Annotated[Path, typer.Option("--output", "-o", help="The JSON-lines file to write.")],
) -> None:
    """Write the whole ledger, its signed checkpoints and public key to one file that checks on its own.

    With the workspace key at hand, a checkpoint of the current size is signed first, so the
    export ends with a signed head.
    """
    ledger = open_ledger(ctx)
    if ledger.signer is not None:
        ledger.checkpoint()
    with console.status(f"Exporting to {output} …"):
        result = ledger.export(output)
    console.print(f"Exported {result.size:,} entries, root {result.root.hex()[:16]}…, to [bold]{output}[/]")
    console.print(f"Check it anywhere with: medsyn ledger verify-export {output} --key PUBLIC_KEY")
    if not result.ok:
        err_console.print(f"[bold red]the exported ledger does not verify[/] ({_count(result)} problems)")
        raise typer.Exit(EXIT_TAMPERED)


@ledger_app.command("checkpoint")
def checkpoint(
    ctx: typer.Context,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Also write the signed checkpoint (a C2SP signed note) here.")
    ] = None,
) -> None:
    """Sign the current tree head with the workspace key (after checking the entries it covers)."""
    ledger = open_ledger(ctx, need_signer=True)
    with console.status("Checking and signing …"):
        head = ledger.checkpoint()
    assert ledger.public_key is not None
    console.print(f"Checkpoint: size [bold]{head.size:,}[/], root {head.root.hex()}, key {head.key_id[:16]}…")
    if output is not None:
        from medsyn._atomic import write_text

        write_text(output, head.to_note(ledger.public_key))
        console.print(f"Signed note written to [bold]{output}[/]; keep it outside the workspace.")
    console.print(f"Verifier key: {ledger.public_key.vkey(ledger.origin)}")
