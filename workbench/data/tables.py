"""Parse OneTable and MultiTable CSVs into per-variable series, validating as the v1.1 service did.

Row numbers in errors are line numbers of the file (the header is line 1), so a
user can open the CSV and go straight to the offending line.
"""
from __future__ import annotations

import csv
import io
import os
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from itertools import pairwise

import numpy as np
import pandas as pd

from workbench.contracts import DataSchema
from workbench.data.sources import CsvTable, RawSource
from workbench.exceptions import DataError, ErrorCode, ValidationError
from workbench.timegrid import parse_timestamps

TIMESTAMP_COLUMN = "timestamp"
VALUE_COLUMN = "value"
# separators recognised (and named in the error) when a file does not use the one asked for
_SEPARATORS = {",": "','", ";": "';'", "\t": "tabs", "|": "'|'"}
_DECIMAL_COMMA = re.compile(r"^[+-]?\d*,\d+([eE][+-]?\d+)?$")
# what a file that is not CSV text is, by its first bytes: (code, description)
_MAGIC = {
    b"PK\x03\x04": (ErrorCode.INVALID_FILE, "a zip archive or an Excel .xlsx workbook"),
    b"\xd0\xcf\x11\xe0": (ErrorCode.INVALID_FILE, "an Excel .xls workbook (or another Office file)"),
    b"\x1f\x8b": (ErrorCode.INVALID_FILE, "a gzip archive"),
    b"%PDF": (ErrorCode.INVALID_FILE, "a PDF document"),
    b"PAR1": (ErrorCode.INVALID_FILE, "a Parquet file"),
    b"SQLite format 3": (ErrorCode.INVALID_FILE, "an SQLite database"),
    b"\xff\xfe": (ErrorCode.INVALID_ENCODING, "UTF-16 text"),
    b"\xfe\xff": (ErrorCode.INVALID_ENCODING, "UTF-16 text"),
}


@dataclass(frozen=True)
class CsvDialect:
    """How the CSV is written: the column separator and the decimal mark (``,`` in much of Europe)."""

    sep: str = ","
    decimal: str = "."

    @classmethod
    def of(cls, sep: str | None = None, decimal: str | None = None) -> "CsvDialect":
        sep = "," if sep is None else sep
        decimal = "." if decimal is None else decimal
        if not isinstance(sep, str) or len(sep) != 1 or sep in "\"\r\n":
            raise ValidationError(ErrorCode.BAD_ARGUMENT, f"sep must be one character such as ',' or ';'; got {sep!r}")
        if decimal not in (".", ","):
            raise ValidationError(ErrorCode.BAD_ARGUMENT, f"decimal must be '.' or ','; got {decimal!r}")
        if sep == decimal:
            raise ValidationError(ErrorCode.BAD_ARGUMENT, f"sep and decimal cannot both be {sep!r}")
        return cls(sep, decimal)


def read_variables(raw: RawSource, dialect: CsvDialect = CsvDialect()) -> dict[str, pd.Series]:
    """Every variable of the source as a float64 series on a sorted UTC index (NaN = missing cell)."""
    if raw.schema is DataSchema.ONE_TABLE:
        if len(raw.tables) != 1:
            raise DataError(ErrorCode.INVALID_DATA_SCHEMA, "OneTable needs exactly one CSV file", file=raw.description)
        return _read_one_table(raw.tables[0], dialect)
    # members are independent: decompressing and parsing them in threads uses every core (zlib and Arrow
    # release the GIL); the first error in file order is the one reported
    with ThreadPoolExecutor(max_workers=min(len(raw.tables), os.cpu_count() or 1)) as pool:
        series = list(pool.map(partial(_read_multi_table_member, dialect=dialect), raw.tables))
    return {table.name: s for table, s in zip(raw.tables, series)}


def _read_one_table(table: CsvTable, dialect: CsvDialect) -> dict[str, pd.Series]:
    payload, header = _payload_and_header(table, dialect)
    if not header or header[0] != TIMESTAMP_COLUMN:
        raise DataError(
            ErrorCode.INVALID_HEADER,
            f"the first column must be '{TIMESTAMP_COLUMN}' (lowercase); the header is {','.join(header)!r}",
            file=table.origin, row=1,
        )
    if len(header) < 2:
        raise DataError(ErrorCode.NO_VARIABLES, "the header names no variable after 'timestamp'", file=table.origin, row=1)
    fast = _fast_read(payload, header, dialect)
    if fast is not None:
        index, columns = fast
        order = _sorted_unique_order(index, table)
        return {name: pd.Series(columns[j][order], index=index[order], name=name)
                for j, name in enumerate(header[1:])}
    frame = _read_csv(payload, len(header), table, dialect)
    index = _parse_timestamps(frame[TIMESTAMP_COLUMN], table)
    order = _sorted_unique_order(index, table)
    out = {}
    for column in header[1:]:
        values = _parse_values(frame[column], table, column, dialect)
        out[column] = pd.Series(values[order], index=index[order], name=column)
    return out


def _read_multi_table_member(table: CsvTable, dialect: CsvDialect) -> pd.Series:
    payload, header = _payload_and_header(table, dialect)
    if header != [TIMESTAMP_COLUMN, VALUE_COLUMN]:
        raise DataError(
            ErrorCode.INVALID_HEADER,
            f"a MultiTable file must have exactly the header 'timestamp,value'; got {','.join(header)!r}",
            file=table.origin, row=1,
        )
    fast = _fast_read(payload, header, dialect)
    if fast is not None:
        index, (values,) = fast
        order = _sorted_unique_order(index, table)
        return pd.Series(values[order], index=index[order], name=table.name)
    frame = _read_csv(payload, len(header), table, dialect)
    index = _parse_timestamps(frame[TIMESTAMP_COLUMN], table)
    order = _sorted_unique_order(index, table)
    values = _parse_values(frame[VALUE_COLUMN], table, VALUE_COLUMN, dialect)
    return pd.Series(values[order], index=index[order], name=table.name)


def _payload_and_header(table: CsvTable, dialect: CsvDialect) -> tuple[bytes, list[str]]:
    try:
        with table.open() as handle:
            payload = handle.read()
    except FileNotFoundError:
        raise DataError(ErrorCode.DATA_SOURCE_NOT_FOUND, "the file does not exist", file=table.origin) from None
    except OSError as exc:
        raise DataError(ErrorCode.FILE_NOT_READABLE, f"the file cannot be read ({exc.strerror or exc})",
                        file=table.origin) from None
    if not payload[:4096].strip():
        raise DataError(ErrorCode.EMPTY_FILE, "the file is empty", file=table.origin)
    head = payload[:65536]
    _check_text(head, len(payload) > len(head), table)
    first_line = (head.decode("utf-8-sig", errors="replace").splitlines() or [""])[0]
    header = [h.strip() for h in _split(first_line, dialect.sep, table)]
    if not header or header[0] != TIMESTAMP_COLUMN:
        _check_separator(first_line, head, dialect, table)
    if any(not h for h in header):
        raise DataError(ErrorCode.INVALID_HEADER, "the header has an empty column name", file=table.origin, row=1)
    duplicates = sorted({h for h in header if header.count(h) > 1})
    if duplicates:
        raise DataError(
            ErrorCode.INVALID_HEADER, f"the header repeats column(s) {', '.join(duplicates)}", file=table.origin, row=1
        )
    first_newline = payload.find(b"\n")
    if first_newline < 0 or not payload[first_newline:first_newline + 4096].strip():
        raise DataError(ErrorCode.EMPTY_FILE, "the file has a header but no data rows", file=table.origin)
    return payload, header


def _split(line: str, sep: str, table: CsvTable) -> list[str]:
    try:
        return next(csv.reader([line], delimiter=sep), [])
    except csv.Error as exc:
        raise DataError(ErrorCode.INVALID_HEADER, f"the header cannot be read as CSV ({exc})", file=table.origin,
                        row=1) from None


def _check_text(head: bytes, truncated: bool, table: CsvTable) -> None:
    """Refuse files that are not UTF-8 CSV text (a workbook, an archive, random bytes) by what they are."""
    for magic, (code, what) in _MAGIC.items():
        if head.startswith(magic):
            raise DataError(code, f"the file is {what}, not UTF-8 CSV text: save or export it as CSV (UTF-8)",
                            file=table.origin)
    try:
        head.decode("utf-8")
        binary = b"\x00" in head
    except UnicodeDecodeError as exc:
        if truncated and exc.start >= len(head) - 3:
            return  # a character cut in two at the end of the sample
        latin = head.decode("latin-1")
        controls = sum(1 for ch in latin if (ord(ch) < 32 and ch not in "\t\r\n") or 127 <= ord(ch) < 160)
        binary = b"\x00" in head or controls > len(latin) // 100
        if not binary:
            line = head.count(b"\n", 0, exc.start) + 1
            raise DataError(ErrorCode.INVALID_ENCODING,
                            f"the file is not UTF-8 text (byte 0x{head[exc.start]:02x}): save it as CSV UTF-8",
                            file=table.origin, row=line) from None
    if binary:
        raise DataError(ErrorCode.INVALID_FILE, "the file holds binary data, not CSV text", file=table.origin)


def _check_separator(first_line: str, head: bytes, dialect: CsvDialect, table: CsvTable) -> None:
    """A header that reads as ``timestamp`` first with another separator: name that separator."""
    for sep, name in _SEPARATORS.items():
        if sep == dialect.sep or sep not in first_line:
            continue
        if next(csv.reader([first_line], delimiter=sep), [""])[0].strip() != TIMESTAMP_COLUMN:
            continue
        shown = "'\\t'" if sep == "\t" else repr(sep)
        advice, flags = f"sep={shown}", f"--sep {shown}"
        lines = head.decode("utf-8-sig", errors="replace").splitlines()[1:20]
        if dialect.decimal == "." and any(_DECIMAL_COMMA.match(f.strip()) for line in lines
                                          for f in line.split(sep)[1:]):
            advice, flags = advice + ", decimal=','", flags + " --decimal ','"
        raise DataError(
            ErrorCode.INVALID_SEPARATOR,
            f"the columns are separated by {name}, not {_SEPARATORS.get(dialect.sep, repr(dialect.sep))}: pass "
            f"{advice} (in Python; {flags} to the workbench command), or save the file comma-separated",
            file=table.origin, row=1,
        )


def _fast_read(payload: bytes, header: list[str],
               dialect: CsvDialect) -> tuple[pd.DatetimeIndex, list[np.ndarray]] | None:
    """Parse a well-formed CSV with Arrow (multi-threaded, ~10x pandas); ``None`` sends it to the careful path.

    Any irregularity (a non-ISO timestamp, text in a value column, ragged rows)
    makes Arrow fail, and the pandas path then finds and reports the exact line.
    """
    import pyarrow as pa
    import pyarrow.csv as pacsv

    types = {name: pa.float64() for name in header[1:]}
    types[TIMESTAMP_COLUMN] = pa.timestamp("ns", tz="UTC")
    try:
        table = pacsv.read_csv(
            pa.BufferReader(payload[3:] if payload.startswith(b"\xef\xbb\xbf") else payload),
            parse_options=pacsv.ParseOptions(delimiter=dialect.sep, newlines_in_values=False),
            convert_options=pacsv.ConvertOptions(column_types=types, strings_can_be_null=True,
                                                 quoted_strings_can_be_null=True, decimal_point=dialect.decimal),
        )
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        return None
    if [c.strip() for c in table.column_names] != header or table.num_rows == 0:
        return None
    stamps = table.column(0)
    if stamps.null_count:
        return None
    index = pd.DatetimeIndex(stamps.cast(pa.int64()).to_numpy().view("datetime64[ns]")).tz_localize("UTC")
    columns = [table.column(j).to_numpy(zero_copy_only=False).astype(np.float64, copy=False)
               for j in range(1, table.num_columns)]
    if any(np.isinf(c).any() for c in columns):
        return None
    return index, columns


def _read_csv(payload: bytes, width: int, table: CsvTable, dialect: CsvDialect) -> pd.DataFrame:
    """The careful path: decode, check every row's field count, then let pandas read the columns as text."""
    try:
        text = payload.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(ErrorCode.INVALID_ENCODING,
                        f"the file is not UTF-8 text (byte 0x{payload[exc.start]:02x}): save it as CSV UTF-8",
                        file=table.origin, row=payload.count(b"\n", 0, exc.start) + 1) from None
    _check_row_lengths(text, width, table, dialect)
    try:
        frame = pd.read_csv(
            io.StringIO(text), sep=dialect.sep, decimal=dialect.decimal, dtype={TIMESTAMP_COLUMN: str},
            skipinitialspace=True, na_values=[""], keep_default_na=False, skip_blank_lines=True, index_col=False,
        )
    except (pd.errors.ParserError, ValueError) as exc:
        raise DataError(ErrorCode.INVALID_ROW, f"the CSV cannot be parsed: {str(exc).strip()}", file=table.origin) \
            from exc
    frame.columns = [str(c).strip() for c in frame.columns]
    if frame.empty:
        raise DataError(ErrorCode.EMPTY_FILE, "the file has a header but no data rows", file=table.origin)
    return frame


def _check_row_lengths(text: str, width: int, table: CsvTable, dialect: CsvDialect) -> None:
    """Every non-blank row has as many fields as the header (pandas would shift or drop them silently)."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=dialect.sep)
    try:
        for row in reader:
            if len(row) != width and any(field.strip() for field in row):
                hint = ""
                if len(row) > width and dialect.sep == "," and any(_DECIMAL_COMMA.match(f"{a},{b}".strip())
                                                                   for a, b in pairwise(row)):
                    hint = ("; a decimal comma (1,5) splits a number in two: save the file with ';' separators "
                            "and pass sep=';', decimal=','")
                raise DataError(ErrorCode.INVALID_ROW, f"the row has {len(row)} fields but the header has {width}{hint}",
                                file=table.origin, row=reader.line_num)
    except csv.Error as exc:
        raise DataError(ErrorCode.INVALID_ROW, f"the row cannot be read as CSV ({exc})", file=table.origin,
                        row=reader.line_num) from None


def _parse_timestamps(column: pd.Series, table: CsvTable) -> pd.DatetimeIndex:
    """The timestamp cells by the one rule (:func:`workbench.timegrid.parse_timestamps`); errors name the line."""
    try:
        return parse_timestamps(column)
    except ValidationError as bad:
        raise DataError(bad.code, bad.message, file=table.origin, column=TIMESTAMP_COLUMN,
                        row=None if bad.row is None else bad.row + 2) from None


def _sorted_unique_order(index: pd.DatetimeIndex, table: CsvTable) -> np.ndarray:
    """Row order that sorts the timestamps; duplicates are an error naming both lines."""
    stamps = index.asi8
    if stamps.size < 2 or bool((stamps[1:] > stamps[:-1]).all()):
        return np.arange(stamps.size)  # already sorted and unique: the common case, no sort needed
    order = np.argsort(stamps, kind="stable")
    ordered = stamps[order]
    dup = np.flatnonzero(ordered[1:] == ordered[:-1])
    if dup.size:
        first, second = sorted((int(order[dup[0]]), int(order[dup[0] + 1])))
        raise DataError(
            ErrorCode.DUPLICATE_TIMESTAMP,
            f"timestamp {index[first].isoformat()} appears twice (lines {first + 2} and {second + 2})",
            file=table.origin, column=TIMESTAMP_COLUMN, row=second + 2,
        )
    return order


def _parse_values(column: pd.Series, table: CsvTable, name: str, dialect: CsvDialect = CsvDialect()) -> np.ndarray:
    """Float values of a column; the first cell that is not a number is an error naming its line."""
    try:
        values = numeric_values(column, dialect.decimal, sep=dialect.sep)
    except CellError as bad:
        raise DataError(bad.code, bad.message, file=table.origin, column=name, row=bad.position + 2) from None
    return values


class CellError(Exception):
    """The first cell of a column that is not a number: its 0-based position, code and message."""

    def __init__(self, position: int, code: str, message: str) -> None:
        self.position, self.code, self.message = position, code, message


def numeric_values(column: pd.Series, decimal: str = ".", *, sep: str | None = None) -> np.ndarray:
    """A column as float64 (blank = NaN); raises ``CellError`` at the first text, decimal comma or infinity."""
    if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
        values = column.to_numpy(dtype=np.float64, na_value=np.nan)
    else:
        text = column.astype("string").str.strip()
        readable = text.str.replace(",", ".", regex=False) if decimal == "," else text
        values = pd.to_numeric(readable, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        bad = np.isnan(values) & text.notna().to_numpy() & (text != "").fillna(False).to_numpy()
        if bad.any():
            first = int(np.flatnonzero(bad)[0])
            cell = text.iloc[first]
            if decimal == "." and _DECIMAL_COMMA.match(cell):
                advice = ("save the file with ';' separators and pass sep=';', decimal=','" if sep == "," else
                          "pass decimal=','" + (" (from_frame or pandas.read_csv)" if sep is None else ""))
                raise CellError(first, ErrorCode.INVALID_DECIMAL, f"{cell!r} has a decimal comma: {advice}")
            raise CellError(first, ErrorCode.INVALID_VALUE, f"{cell!r} is not a number")
    if np.isinf(values).any():
        raise CellError(int(np.flatnonzero(np.isinf(values))[0]), ErrorCode.INVALID_VALUE, "the value is infinite")
    return values
