"""Parse OneTable and MultiTable CSVs into per-variable series, validating as the v1.1 service did.

Row numbers in errors are line numbers of the file (the header is line 1), so a
user can open the CSV and go straight to the offending line.
"""
from __future__ import annotations

import csv
import io
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd

from workbench.contracts import DataSchema
from workbench.data.sources import CsvTable, RawSource
from workbench.exceptions import DataError, ErrorCode

TIMESTAMP_COLUMN = "timestamp"
VALUE_COLUMN = "value"


def read_variables(raw: RawSource) -> dict[str, pd.Series]:
    """Every variable of the source as a float64 series on a sorted UTC index (NaN = missing cell)."""
    if raw.schema is DataSchema.ONE_TABLE:
        if len(raw.tables) != 1:
            raise DataError(ErrorCode.INVALID_DATA_SCHEMA, "OneTable needs exactly one CSV file", file=raw.description)
        return _read_one_table(raw.tables[0])
    # members are independent: decompressing and parsing them in threads uses every core (zlib and Arrow
    # release the GIL); the first error in file order is the one reported
    with ThreadPoolExecutor(max_workers=min(len(raw.tables), os.cpu_count() or 1)) as pool:
        series = list(pool.map(_read_multi_table_member, raw.tables))
    return {table.name: s for table, s in zip(raw.tables, series)}


def _read_one_table(table: CsvTable) -> dict[str, pd.Series]:
    payload, header = _payload_and_header(table)
    if not header or header[0] != TIMESTAMP_COLUMN:
        raise DataError(
            ErrorCode.INVALID_HEADER,
            f"the first column must be '{TIMESTAMP_COLUMN}' (lowercase); the header is {','.join(header)!r}",
            file=table.origin, row=1,
        )
    if len(header) < 2:
        raise DataError(ErrorCode.NO_VARIABLES, "the header names no variable after 'timestamp'", file=table.origin, row=1)
    fast = _fast_read(payload, header)
    if fast is not None:
        index, columns = fast
        order = _sorted_unique_order(index, table)
        return {name: pd.Series(columns[j][order], index=index[order], name=name)
                for j, name in enumerate(header[1:])}
    frame = _read_csv(payload, table)
    index = _parse_timestamps(frame[TIMESTAMP_COLUMN], table)
    order = _sorted_unique_order(index, table)
    out = {}
    for column in header[1:]:
        values = _parse_values(frame[column], table, column)
        out[column] = pd.Series(values[order], index=index[order], name=column)
    return out


def _read_multi_table_member(table: CsvTable) -> pd.Series:
    payload, header = _payload_and_header(table)
    if header != [TIMESTAMP_COLUMN, VALUE_COLUMN]:
        raise DataError(
            ErrorCode.INVALID_HEADER,
            f"a MultiTable file must have exactly the header 'timestamp,value'; got {','.join(header)!r}",
            file=table.origin, row=1,
        )
    fast = _fast_read(payload, header)
    if fast is not None:
        index, (values,) = fast
        order = _sorted_unique_order(index, table)
        return pd.Series(values[order], index=index[order], name=table.name)
    frame = _read_csv(payload, table)
    index = _parse_timestamps(frame[TIMESTAMP_COLUMN], table)
    order = _sorted_unique_order(index, table)
    values = _parse_values(frame[VALUE_COLUMN], table, VALUE_COLUMN)
    return pd.Series(values[order], index=index[order], name=table.name)


def _payload_and_header(table: CsvTable) -> tuple[bytes, list[str]]:
    with table.open() as handle:
        payload = handle.read()
    if not payload[:4096].strip():
        raise DataError(ErrorCode.EMPTY_FILE, "the file is empty", file=table.origin)
    text_head = payload[:65536].decode("utf-8-sig", errors="replace")
    header = next(csv.reader(io.StringIO(text_head)), [])
    header = [h.strip() for h in header]
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


def _fast_read(payload: bytes, header: list[str]) -> tuple[pd.DatetimeIndex, list[np.ndarray]] | None:
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
            parse_options=pacsv.ParseOptions(newlines_in_values=False),
            convert_options=pacsv.ConvertOptions(column_types=types, strings_can_be_null=True,
                                                 quoted_strings_can_be_null=True),
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


def _read_csv(payload: bytes, table: CsvTable) -> pd.DataFrame:
    try:
        frame = pd.read_csv(
            io.BytesIO(payload), dtype={TIMESTAMP_COLUMN: str}, encoding="utf-8-sig",
            skipinitialspace=True, na_values=[""], keep_default_na=False, skip_blank_lines=True,
        )
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        raise DataError(ErrorCode.INVALID_VALUE, f"the CSV cannot be parsed: {str(exc).strip()}", file=table.origin) \
            from exc
    frame.columns = [str(c).strip() for c in frame.columns]
    if frame.empty:
        raise DataError(ErrorCode.EMPTY_FILE, "the file has a header but no data rows", file=table.origin)
    return frame


def _parse_timestamps(column: pd.Series, table: CsvTable) -> pd.DatetimeIndex:
    raw = column.astype("string").str.strip()
    missing = raw.isna() | (raw == "")
    if missing.any():
        line = int(np.flatnonzero(missing.to_numpy())[0]) + 2
        raise DataError(ErrorCode.INVALID_TIMESTAMP, "a row has no timestamp", file=table.origin,
                        column=TIMESTAMP_COLUMN, row=line)
    parsed = pd.to_datetime(raw, format="ISO8601", utc=True, errors="coerce")
    bad = parsed.isna().to_numpy()
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise DataError(
            ErrorCode.INVALID_TIMESTAMP,
            f"{raw.iloc[first]!r} is not an ISO-8601 timestamp (for example 2021-01-01T00:00:00Z)",
            file=table.origin, column=TIMESTAMP_COLUMN, row=first + 2,
        )
    return pd.DatetimeIndex(parsed).as_unit("ns")


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


def _parse_values(column: pd.Series, table: CsvTable, name: str) -> np.ndarray:
    if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
        values = column.to_numpy(dtype=np.float64, na_value=np.nan)
    else:
        text = column.astype("string").str.strip()
        values = pd.to_numeric(text, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        bad = np.isnan(values) & text.notna().to_numpy() & (text != "").fillna(False).to_numpy()
        if bad.any():
            first = int(np.flatnonzero(bad)[0])
            raise DataError(
                ErrorCode.INVALID_VALUE, f"{text.iloc[first]!r} is not a number", file=table.origin, column=name,
                row=first + 2,
            )
    if np.isinf(values).any():
        first = int(np.flatnonzero(np.isinf(values))[0])
        raise DataError(ErrorCode.INVALID_VALUE, "the value is infinite", file=table.origin, column=name, row=first + 2)
    return values
