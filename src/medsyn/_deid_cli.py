"""``medsyn deid …``: de-identify DICOM, EDF/EDF+ and WFDB files or folders.

The commands are thin: they read the key and options, call :mod:`medsyn.privacy.deid` (which
checks every input before writing and writes atomically), print a summary and write a JSON
report beside the output. Errors surface through :func:`medsyn.cli.main` like every command.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from medsyn._cli_common import console, governor

if TYPE_CHECKING:
    from medsyn.privacy._keys import SecretKey
    from medsyn.privacy.deid import DeidOptions, DeidRun

deid_app = typer.Typer(
    name="deid",
    help="De-identify medical files: DICOM (PS3.15 Basic Profile + options), EDF/EDF+ and WFDB headers.",
    no_args_is_help=True,
    rich_markup_mode="rich",
)

InArg = Annotated[Path, typer.Argument(help="A file or a folder (every file under it is de-identified).")]
KeyOpt = Annotated[
    Path | None,
    typer.Option(
        "--key",
        help="Secret key file (mode 0600): the same key gives the same UIDs, pseudonyms and date offsets. "
        "Without it a one-off key is used and the output links to no other run.",
    ),
]
RetainDatesOpt = Annotated[
    bool,
    typer.Option("--retain-dates", help="Shift dates by one secret offset per patient instead of removing them."),
]
RetainPatientOpt = Annotated[
    bool,
    typer.Option("--retain-patient-characteristics", help="Keep sex, age, size, weight (PS3.15 option)."),
]
ReportOpt = Annotated[
    Path | None,
    typer.Option("--report", help="JSON report to write (default: <OUTPUT>.deid-report.json beside the output)."),
]


def _key(path: Path | None) -> SecretKey | None:
    from medsyn.privacy._keys import load_key

    return None if path is None else load_key(path)


def _finish(run: DeidRun, report: Path | None) -> None:
    from medsyn._atomic import write_text

    target = report or Path(run.output).with_name(Path(run.output).name + ".deid-report.json")
    write_text(target, json.dumps(run.to_dict(), indent=2) + "\n")
    totals = run.totals()
    table = Table(title=f"De-identified {len(run.reports)} {run.format.upper()} file(s)", header_style="bold")
    for code, meaning in (
        ("X", "removed"),
        ("Z", "emptied"),
        ("D", "dummy"),
        ("U", "UID replaced"),
        ("C", "cleaned/shifted"),
        ("K", "kept"),
    ):
        table.add_column(f"{code} {meaning}", justify="right")
    table.add_row(*(f"{totals.get(code, 0):,}" for code in ("X", "Z", "D", "U", "C", "K")))
    console.print(table)
    removed_private = sum(len(r.removed_private) for r in run.reports)
    if removed_private:
        console.print(f"private attributes removed: {removed_private:,}")
    for finding in run.warnings:
        console.print(f"[yellow]warning:[/] {finding}", highlight=False)
    if run.skipped:
        console.print(f"[dim]not copied ({len(run.skipped)}): {', '.join(run.skipped[:5])}[/]", highlight=False)
    console.print(f"key fingerprint {run.key_fingerprint} → [bold]{run.output}[/]  (report: {target})")


#: What each format's de-identified output holds, for the catalog.
_MODALITY = {"dicom": "image", "edf": "signal", "wfdb": "signal"}


def _governed(
    fmt: str, path: Path, output: Path, options: DeidOptions, report: Path | None, run: Callable[[Path], DeidRun]
) -> None:
    """Run one de-identification as a governed operation; the output is catalogued as pseudonymised."""
    with governor().operation("deid", parameters={"format": fmt, **options.to_dict()}) as op:
        source = op.input(path, role="input")
        with console.status(f"De-identifying {path} …"):
            done = run(source)
        op.output(output, kind="pseudonymised", role="deidentified", modality=_MODALITY[fmt])
    _finish(done, report)


def _options(**flags: bool) -> DeidOptions:
    from medsyn.privacy.deid import DeidOptions

    return DeidOptions(**flags)


@deid_app.command("dicom")
def dicom(
    path: InArg,
    output: Annotated[Path, typer.Option("--output", "-o", help="Output file (for a file) or folder (for a folder).")],
    key: KeyOpt = None,
    retain_dates: RetainDatesOpt = False,
    retain_patient_characteristics: RetainPatientOpt = False,
    clean_descriptors: Annotated[
        bool, typer.Option("--clean-descriptors", help="Keep descriptions after cleaning them (PS3.15 option).")
    ] = False,
    retain_uids: Annotated[bool, typer.Option("--retain-uids", help="Keep UIDs instead of replacing them.")] = False,
    safe_private: Annotated[
        Path | None,
        typer.Option("--safe-private", help="File of private tags to keep, one '(0019,xx0C) CREATOR' per line."),
    ] = None,
    report: ReportOpt = None,
) -> None:
    """De-identify DICOM with the PS3.15 Basic Profile; a folder is one study (consistent UIDs)."""
    from medsyn.privacy.deid import deidentify_dicom_files, read_safe_private

    options = _options(
        retain_dates=retain_dates,
        retain_patient_characteristics=retain_patient_characteristics,
        clean_descriptors=clean_descriptors,
        retain_uids=retain_uids,
    )
    safe = read_safe_private(safe_private) if safe_private is not None else ()
    _governed(
        "dicom",
        path,
        output,
        options,
        report,
        lambda src: deidentify_dicom_files(src, output, options=options, key=_key(key), safe_private=safe),
    )


@deid_app.command("edf")
def edf(
    path: InArg,
    output: Annotated[Path, typer.Option("--output", "-o", help="Output file (for a file) or folder (for a folder).")],
    key: KeyOpt = None,
    retain_dates: RetainDatesOpt = False,
    retain_patient_characteristics: RetainPatientOpt = False,
    scrub_annotations: Annotated[
        bool, typer.Option("--scrub-annotations", help="Also clean EDF+ annotation texts (dates, ids, names).")
    ] = False,
    report: ReportOpt = None,
) -> None:
    """De-identify EDF/EDF+ headers (patient, recording, start date); data records are copied unchanged."""
    from medsyn.privacy.deid import deidentify_edf_files

    options = _options(retain_dates=retain_dates, retain_patient_characteristics=retain_patient_characteristics)
    _governed(
        "edf",
        path,
        output,
        options,
        report,
        lambda src: deidentify_edf_files(
            src, output, options=options, key=_key(key), scrub_annotations=scrub_annotations
        ),
    )


@deid_app.command("wfdb")
def wfdb(
    path: InArg,
    output: Annotated[Path, typer.Option("--output", "-o", help="Output folder for the record(s).")],
    key: KeyOpt = None,
    retain_dates: RetainDatesOpt = False,
    report: ReportOpt = None,
) -> None:
    """De-identify WFDB headers (base date/time, comments); signal and annotation files are copied unchanged."""
    from medsyn.privacy.deid import deidentify_wfdb_files

    options = _options(retain_dates=retain_dates)
    _governed(
        "wfdb",
        path,
        output,
        options,
        report,
        lambda src: deidentify_wfdb_files(src, output, options=options, key=_key(key)),
    )
