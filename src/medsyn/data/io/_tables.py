"""Readers and writers for tables: CSV (plain or inside a zip), Parquet, and pandas DataFrames.

CSV goes through ``pyarrow.csv`` (multithreaded, typed columns, no Python row loop) and is
handed to pandas without an extra copy. The reader sniffs the delimiter, understands decimal
commas and the usual missing-value tokens (``?``, ``NA``, empty, ...), and turns every
malformed-file situation into one :class:`DataFormatError` that names the file and what to do.
"""

from __future__ import annotations

import bz2
import csv as _csv
import gzip
import io
import lzma
import re
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from medsyn._atomic import atomic_path
from medsyn.data.dataset import Modality, Provenance, TabularDataset, file_digest, frame_digest
from medsyn.data.io._base import READERS, Reader
from medsyn.errors import DataFormatError, InputError, Problem

__all__ = ["DEFAULT_NA_TOKENS", "ArffReader", "CsvReader", "ParquetReader", "from_frame", "write_table"]

#: Tokens read as missing. "?" is UCI's marker (the diabetes and heart-disease tables use it).
DEFAULT_NA_TOKENS: tuple[str, ...] = ("", "?", "NA", "N/A", "n/a", "NaN", "nan", "NULL", "null", "None", "#N/A", ".")
_SNIFF_BYTES = 64 * 1024
_DELIMITERS = ",;\t|"


def _split_zip(path: Path) -> tuple[Path, str | None]:
    """``data.zip/inner/x.csv`` → (``data.zip``, ``inner/x.csv``); other paths unchanged."""
    if path.exists():
        return path, None
    for parent in path.parents:
        if parent.suffix.lower() == ".zip" and parent.is_file():
            return parent, path.relative_to(parent).as_posix()
    return path, None


#: Single-file compression around a table, by suffix (``visits.csv.gz``).
_DECOMPRESS: dict[str, Callable[[bytes], bytes]] = {
    ".gz": gzip.decompress,
    ".bz2": bz2.decompress,
    ".xz": lzma.decompress,
}
_TEXT_SUFFIXES = (".csv", ".tsv", ".txt", ".data")


def _open_bytes(path: Path) -> tuple[bytes, str]:
    """Return the raw bytes of a CSV (from disk, a compressed file or a zip member) and a display name."""
    archive, member = _split_zip(path)
    if not archive.exists():
        raise DataFormatError(Problem(str(path), "does not exist", "a CSV file"))
    decompress = _DECOMPRESS.get(archive.suffix.lower())
    if decompress is not None:
        try:
            return decompress(archive.read_bytes()), str(archive)
        except (OSError, EOFError, lzma.LZMAError) as exc:
            raise DataFormatError(
                Problem(str(archive), f"cannot be decompressed ({exc})", f"a complete {archive.suffix} file")
            ) from None
    if archive.suffix.lower() != ".zip":
        return archive.read_bytes(), str(archive)
    try:
        with zipfile.ZipFile(archive) as zf:
            names = [n for n in zf.namelist() if not n.endswith("/")]
            if member is None:
                csvs = [n for n in names if n.lower().endswith((".csv", ".tsv", ".txt"))]
                if len(csvs) != 1:
                    raise DataFormatError(
                        Problem(
                            str(archive),
                            f"archive holds {len(csvs)} table files {csvs[:10]}",
                            "exactly one, or a member named in the path",
                            f"Read e.g. '{archive}/{csvs[0]}'" if csvs else "Check the archive.",
                        )
                    )
                member = csvs[0]
            if member not in names:
                raise DataFormatError(Problem(f"{archive}/{member}", "no such member", f"one of {names[:10]}"))
            return zf.read(member), f"{archive}/{member}"
    except zipfile.BadZipFile as exc:
        raise DataFormatError(Problem(str(archive), f"not a readable zip archive ({exc})", "a zip file")) from None


def _decode_check(raw: bytes, encoding: str, where: str) -> str:
    head = raw[: _SNIFF_BYTES * 4]
    try:
        return head.decode(encoding)
    except UnicodeDecodeError as exc:
        if (
            len(raw) > len(head) and exc.start >= len(head) - 4
        ):  # cut in the middle of a multi-byte char at the sniff edge
            return head[: exc.start].decode(encoding)
        guess = "cp1252" if encoding.lower().replace("-", "") in {"utf8", "utf8sig"} else "utf-8"
        raise DataFormatError(
            Problem(
                where,
                f"byte 0x{raw[exc.start]:02x} at offset {exc.start} is not valid {encoding}",
                f"text in the {encoding} encoding",
                f"Pass encoding='{guess}' (CLI: --encoding {guess}) if the file was saved by Excel on Windows.",
            )
        ) from None
    except LookupError:
        raise DataFormatError(
            Problem(where, f"unknown encoding '{encoding}'", "a Python codec name such as utf-8")
        ) from None


def _sniff_delimiter(text: str) -> str:
    lines = [ln for ln in text.splitlines()[:50] if ln.strip()]
    if not lines:
        return ","
    try:
        return _csv.Sniffer().sniff("\n".join(lines), delimiters=_DELIMITERS).delimiter
    except _csv.Error:
        counts = {d: lines[0].count(d) for d in _DELIMITERS}
        best = max(counts, key=lambda d: counts[d])
        if counts[best]:
            return best
        # Whitespace-separated tables (R, sklearn, Fortran-era exports): fields split by spaces.
        return " " if len(lines[0].split()) > 1 else ","


def _looks_like_data(line: str, delimiter: str) -> bool:
    """A first line made only of numbers is data, not a header."""
    fields = line.split() if delimiter == " " else line.split(delimiter)
    try:
        [float(f.replace(",", ".")) for f in fields if f.strip()]
    except ValueError:
        return False
    return True


def _guess_decimal(text: str, delimiter: str) -> str:
    """A decimal comma is likely when fields are ';'- or tab-separated and hold ``12,5``."""
    if delimiter == ",":
        return "."
    sample = text.splitlines()[1:50]
    commas = sum(
        len(re.findall(rf"(?:^|{re.escape(delimiter)})-?\d+,\d+(?={re.escape(delimiter)}|$)", ln)) for ln in sample
    )
    return "," if commas else "."


#: Text columns with at most this share of distinct values are held as pandas categoricals.
_DICTIONARY_MAX_RATIO = 0.5


def arrow_to_pandas(table: pa.Table) -> pd.DataFrame:
    """Hand an Arrow table to pandas without needless copies, text columns as categoricals.

    Low-cardinality text (sex, diagnosis codes, drug changes) becomes a pandas ``Categorical``
    via Arrow dictionary encoding: integer codes plus one copy of each distinct string, instead
    of one Python object per cell. A million-row table shrinks about tenfold and every check
    that groups or hashes by value works on the codes. High-cardinality text (identifiers,
    free text) stays as plain strings.
    """
    for i, col in enumerate(table.columns):
        if pa.types.is_dictionary(col.type):
            n = len(col) - col.null_count
            col = col.combine_chunks() if col.num_chunks != 1 else col.chunk(0)
            if n and len(col.dictionary) > max(1, _DICTIONARY_MAX_RATIO * n):  # identifiers, free text
                table = table.set_column(i, table.field(i).name, col.cast(col.type.value_type))
        elif pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
            n = len(col) - col.null_count
            if not n:
                continue
            encoded = pc.dictionary_encode(col).combine_chunks()
            if len(encoded.dictionary) <= max(1, _DICTIONARY_MAX_RATIO * n):
                table = table.set_column(i, table.field(i).name, encoded)
    frame: pd.DataFrame = table.to_pandas(split_blocks=True, self_destruct=True)
    del table
    pa.default_memory_pool().release_unused()  # hand Arrow's freed buffers back to the system
    return frame


@READERS.register("csv")
class CsvReader(Reader):
    """Delimited text tables (``.csv``, ``.tsv``, ``.txt``, ``.data``; also a member of a ``.zip``).

    Parameters
    ----------
    delimiter
        Field separator; sniffed from the first lines when ``None``.
    encoding
        Text encoding (default UTF-8; a BOM is accepted).
    decimal
        ``"."`` or ``","``; guessed when ``None`` (a decimal comma with ``;`` separators).
    na_values
        Tokens read as missing, default :data:`DEFAULT_NA_TOKENS`.
    header
        Whether the first line holds column names; otherwise columns are ``col_0``, ``col_1``...
        ``None`` (default): yes, unless the first line holds only numbers.

    Files may be compressed (``.csv.gz``, ``.bz2``, ``.xz``); whitespace-separated tables are
    recognised when no other separator is found.
    """

    name = "csv"
    modality = Modality.TABULAR
    suffixes = (".csv", ".tsv", ".txt", ".data", ".zip")

    def __init__(
        self,
        *,
        delimiter: str | None = None,
        encoding: str = "utf-8",
        decimal: str | None = None,
        na_values: Sequence[str] = DEFAULT_NA_TOKENS,
        header: bool | None = None,
    ) -> None:
        self.delimiter = delimiter
        self.encoding = encoding
        self.decimal = decimal
        self.na_values = tuple(na_values)
        self.header = header

    @classmethod
    def claims(cls, path: Path) -> bool:
        if _split_zip(path)[1] is not None:
            return True
        suffixes = [x.lower() for x in path.suffixes[-2:]]
        if path.is_file() and len(suffixes) == 2 and suffixes[1] in _DECOMPRESS and suffixes[0] in _TEXT_SUFFIXES:
            return True
        return super().claims(path)

    def read(self, path: Path) -> TabularDataset:
        path = Path(path)
        raw, where = _open_bytes(path)
        if not raw.strip():
            raise DataFormatError(Problem(where, "the file is empty", "a header line and at least one row"))
        encoding = "utf-8-sig" if self.encoding.lower().replace("-", "") == "utf8" else self.encoding
        head = _decode_check(raw, encoding, where)
        delimiter = self.delimiter or _sniff_delimiter(head)
        decimal = self.decimal or _guess_decimal(head, delimiter)
        if decimal not in {".", ","}:
            raise InputError(Problem("decimal", repr(decimal), "'.' or ','"))
        lines = [ln for ln in head.splitlines() if ln.strip()]
        header = self.header if self.header is not None else not (lines and _looks_like_data(lines[0], delimiter))
        if delimiter == " ":  # runs of spaces are one separator; leading spaces are indentation
            raw = re.sub(rb"(?m)^[ \t]+", b"", re.sub(rb"[ \t]+", b" ", raw))
        if self.delimiter is not None and lines and delimiter not in lines[0]:
            found = {d: lines[0].count(d) for d in _DELIMITERS if d != delimiter and lines[0].count(d)}
            if found:
                likely = max(found, key=lambda d: found[d])
                raise DataFormatError(
                    Problem(
                        where,
                        f"the header has no '{delimiter}' but {found[likely]} '{likely}'",
                        f"fields separated by '{delimiter}'",
                        f"Pass delimiter='{likely}' (CLI: --delimiter '{likely}'), or leave it out to detect it.",
                    )
                )
        table = self._parse(raw, where, encoding, delimiter, decimal, header)
        frame = arrow_to_pandas(table)
        del table
        frame.columns = [str(c) for c in frame.columns] if header else [f"col_{i}" for i in range(frame.shape[1])]
        warnings = self._check_frame(frame, where, delimiter)
        if not header and self.header is None:
            warnings.append("the first line holds only numbers: read as data; columns are named col_0, col_1, …")
        digest = file_digest([_split_zip(path)[0]])
        prov = Provenance(source=where, reader=self.name, digest=digest, warnings=tuple(warnings))
        return TabularDataset(frame, provenance=prov)

    def _parse(self, raw: bytes, where: str, encoding: str, delimiter: str, decimal: str, header: bool) -> pa.Table:
        read_opts = pacsv.ReadOptions(encoding=encoding, autogenerate_column_names=not header, block_size=1 << 24)
        parse_opts = pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=False)
        convert = pacsv.ConvertOptions(
            null_values=list(self.na_values),
            strings_can_be_null=True,
            quoted_strings_can_be_null=True,
            decimal_point=decimal,
        )
        try:
            return pacsv.read_csv(
                io.BytesIO(raw), read_options=read_opts, parse_options=parse_opts, convert_options=convert
            )
        except pa.ArrowInvalid as exc:
            message = str(exc)
            row = re.search(r"Expected (\d+) columns, got (\d+)", message)
            if row:
                raise DataFormatError(
                    Problem(
                        where,
                        f"a row has {row.group(2)} fields where the header has {row.group(1)} "
                        f"({message.splitlines()[-1][:120]})",
                        f"{row.group(1)} '{delimiter}'-separated fields on every row",
                        "Check the delimiter and quoting of that row.",
                    )
                ) from None
            if "Empty CSV file" in message:
                raise DataFormatError(Problem(where, "the file is empty", "a header line and rows")) from None
            if "invalid UTF8" in message or "UTF8" in message:
                raise DataFormatError(
                    Problem(where, "contains bytes that are not valid UTF-8", "UTF-8 text", "Pass encoding='cp1252'.")
                ) from None
            problem = Problem(where, f"cannot be parsed as CSV ({message[:200]})", "a delimited text table")
            raise DataFormatError(problem) from None

    def _check_frame(self, frame: pd.DataFrame, where: str, delimiter: str) -> list[str]:
        warnings: list[str] = []
        if frame.empty and frame.shape[1] > 0:
            raise DataFormatError(Problem(where, "has a header line but no data rows", "at least one data row"))
        if frame.shape[1] == 1:
            name = str(frame.columns[0])
            others = [d for d in _DELIMITERS if d != delimiter and d in name]
            if others:
                raise DataFormatError(
                    Problem(
                        where,
                        f"read as one column named '{name[:60]}'",
                        f"several columns separated by '{delimiter}'",
                        f"The file seems to use '{others[0]}': pass delimiter='{others[0]}' (CLI: --delimiter).",
                    )
                )
        dupes = [c for c in frame.columns if list(frame.columns).count(c) > 1]
        if dupes:
            raise DataFormatError(Problem(where, f"duplicate column names {sorted(set(dupes))}", "unique column names"))
        unnamed = [i for i, c in enumerate(frame.columns) if not c.strip()]
        if unnamed:
            frame.columns = [f"unnamed_{i}" if i in unnamed else c for i, c in enumerate(frame.columns)]
            warnings.append(f"{len(unnamed)} column(s) have an empty name; read as unnamed_<position>")
        if len(frame) == 1:
            warnings.append("the table has a single row: most statistics are not meaningful")
        return warnings


@READERS.register("parquet")
class ParquetReader(Reader):
    """Apache Parquet tables, read column-wise with pyarrow."""

    name = "parquet"
    modality = Modality.TABULAR
    suffixes = (".parquet", ".pq")

    def __init__(self, *, columns: Sequence[str] | None = None) -> None:
        self.columns = list(columns) if columns is not None else None

    def read(self, path: Path) -> TabularDataset:
        path = Path(path)
        try:
            # Text columns come straight out of Parquet's dictionary pages, never as one string per cell.
            schema = pq.read_schema(path)
            text = [f.name for f in schema if pa.types.is_string(f.type) or pa.types.is_large_string(f.type)]
            table = pq.read_table(path, columns=self.columns, read_dictionary=text)
        except FileNotFoundError:
            raise DataFormatError(Problem(str(path), "does not exist", "a Parquet file")) from None
        except (pa.ArrowInvalid, OSError) as exc:
            raise DataFormatError(
                Problem(str(path), f"is not a readable Parquet file ({exc})", "a Parquet file")
            ) from None
        if table.num_rows == 0:
            raise DataFormatError(Problem(str(path), "holds no rows", "at least one row"))
        frame = arrow_to_pandas(table)
        prov = Provenance(source=str(path), reader=self.name, digest=file_digest([path]))
        return TabularDataset(frame, provenance=prov)


@READERS.register("arff")
class ArffReader(Reader):
    """Weka ARFF tables (numeric and nominal attributes; ``?`` is missing), e.g. WHAS500, GBSG2.

    Nominal attributes keep their declared category order as pandas categoricals.
    """

    name = "arff"
    modality = Modality.TABULAR
    suffixes = (".arff",)

    def read(self, path: Path) -> TabularDataset:
        from scipy.io import arff

        path = Path(path)
        try:
            data, meta = arff.loadarff(path)
        except FileNotFoundError:
            raise DataFormatError(Problem(str(path), "does not exist", "an ARFF file")) from None
        except (ValueError, NotImplementedError, arff.ParseArffError) as exc:
            raise DataFormatError(Problem(str(path), f"is not a readable ARFF file ({exc})", "an ARFF table")) from None
        if len(data) == 0:
            raise DataFormatError(Problem(str(path), "holds no data rows", "at least one row after @DATA"))
        columns: dict[str, object] = {}
        for name in meta.names():
            kind, levels = meta[name]
            values = data[name]
            if kind == "nominal":
                text = [v.decode() if isinstance(v, bytes) else str(v) for v in values]
                columns[name] = pd.Categorical([None if t == "?" else t for t in text], categories=list(levels))
            else:
                columns[name] = values
        frame = pd.DataFrame(columns)
        prov = Provenance(source=str(path), reader=self.name, digest=file_digest([path]))
        return TabularDataset(frame, provenance=prov)


def from_frame(frame: pd.DataFrame, *, name: str = "<dataframe>") -> TabularDataset:
    """Wrap a pandas DataFrame (copied, so later changes to it do not leak in)."""
    if not isinstance(frame, pd.DataFrame):
        raise InputError(Problem(name, f"a {type(frame).__name__}", "a pandas DataFrame"))
    if frame.shape[1] == 0:
        raise InputError(Problem(name, "no columns", "at least one column"))
    frame = frame.copy()
    frame.columns = [str(c) for c in frame.columns]
    return TabularDataset(frame, provenance=Provenance(source=name, reader="dataframe", digest=frame_digest(frame)))


_WRITERS: dict[str, str] = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}


def write_table(data: TabularDataset | pd.DataFrame, path: str | Path) -> Path:
    """Write a table to CSV or Parquet (by suffix), atomically.

    Examples
    --------
    >>> import pandas as pd, tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "t.parquet"
    >>> _ = write_table(pd.DataFrame({"a": [1, 2]}), out)
    >>> out.exists()
    True
    """
    path = Path(path)
    frame = data.data if isinstance(data, TabularDataset) else data
    kind = _WRITERS.get(path.suffix.lower())
    if kind is None:
        raise InputError(Problem(str(path), f"suffix '{path.suffix}'", f"one of {sorted(_WRITERS)}"))
    with atomic_path(path) as tmp:
        if kind == "csv":
            frame.to_csv(tmp, index=False)
        else:
            pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), tmp)
    return path
