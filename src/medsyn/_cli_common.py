"""Options and helpers every ``medsyn`` command shares (kept apart so sub-apps can import them)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

if TYPE_CHECKING:
    from medsyn.data import Dataset
    from medsyn.data.schema import Schema
    from medsyn.governance import Governor

console = Console(stderr=False)
err_console = Console(stderr=True)

PathArg = Annotated[
    Path, typer.Argument(help="A table (CSV/Parquet/zip member), WFDB/EDF/DICOM file or folder, or an image folder.")
]
SchemaOpt = Annotated[
    Path | None, typer.Option("--schema", "-s", help="YAML overrides: fields: {col: {type:, role:, unit:}}.")
]
FormatOpt = Annotated[
    str | None, typer.Option("--format", "-f", help="Reader to use instead of detection (see `medsyn formats`).")
]
DelimiterOpt = Annotated[str | None, typer.Option("--delimiter", help="CSV field separator (detected if omitted).")]
EncodingOpt = Annotated[str | None, typer.Option("--encoding", help="CSV text encoding, e.g. cp1252 (default utf-8).")]
HeaderOpt = Annotated[
    bool | None,
    typer.Option("--header/--no-header", help="CSV: the first line holds column names (detected if omitted)."),
]
DecimalOpt = Annotated[str | None, typer.Option("--decimal", help="CSV decimal mark: '.' or ',' (guessed if omitted).")]
#: The workspace option of the commands that read a workspace (``catalog``, ``lineage``,
#: ``records``, ``ledger``); the root's ``medsyn --workspace/-W`` sets the same for every command.
WorkspaceOpt = Annotated[
    Path | None,
    typer.Option(
        "--workspace", "-w", help="Workspace folder (default: medsyn --workspace, $MEDSYN_WORKSPACE, or upwards)."
    ),
]


def read_input(path: Path, schema: Path | Schema | None, fmt: str | None, **options: str | bool | None) -> Dataset:
    """Read with the reader options that were given (``None`` means: let the reader detect it).

    ``schema`` is a YAML file of overrides, or a whole :class:`Schema` (e.g. the real data's,
    so synthetic data is read with the same types).
    """
    from medsyn.data import read

    given = {k: v for k, v in options.items() if v is not None}
    with console.status(f"Reading {path} …"):
        return read(path, format=fmt, schema=schema, **given)


@dataclass
class Session:
    """The governance options of one ``medsyn`` invocation (set by the root callback)."""

    workspace: Path | None = None
    purpose: str | None = None
    governor: Governor | None = field(default=None, repr=False)


SESSION = Session()


def governor() -> Governor:
    """The governance of this invocation: the workspace found (if any), who acts, for which purpose.

    Outside a workspace commands run ungoverned and say so once on stderr.
    """
    if SESSION.governor is None:
        from medsyn.governance import Governor, find_workspace

        ws = find_workspace(SESSION.workspace)
        if ws is None:
            err_console.print(
                "[dim]not inside a medsyn workspace: this run is neither checked nor recorded "
                "(`medsyn init` creates one)[/]",
                highlight=False,
            )
        SESSION.governor = Governor(
            ws,
            purpose=SESSION.purpose,
            notice=lambda m: err_console.print(f"[yellow]governance:[/] {m}", highlight=False),
        )
    return SESSION.governor
