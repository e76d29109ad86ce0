"""Data preparation as the v1.1 service did it: read, validate, align, fill, clip, count.

``load`` takes a ``dataSource`` string; ``from_frame`` takes a pandas DataFrame
for notebook users.  Both return :class:`PreparedData`.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from workbench.contracts import (
    MAX_TIMESTAMPS, RECOMMENDED_MIN_TIMESTAMPS, AlignPolicy, DataSchema, VariableState, format_timestamp,
    time_range,
)
from workbench.data.align import AlignedData, align
from workbench.data.sources import SourcePolicy, resolve
from workbench.data.tables import CellError, CsvDialect, numeric_values, read_variables
from workbench.exceptions import DataError, ErrorCode, ValidationError, WorkbenchWarning
from workbench.timegrid import parse_timestamps


class DataWarning(WorkbenchWarning):
    """Data that can be used but is likely to give a weak model (e.g. under 5,000 timestamps, a gap where every
    variable is missing)."""


@dataclass
class PreparedData:
    """Aligned data clipped to the requested range, with the full source kept for history."""

    frame: pd.DataFrame                 # rows in [startTime, endTime], no NaN
    history: AlignedData                # every aligned row of the source
    variable_states: list[VariableState]
    warnings: list[str] = field(default_factory=list)
    gaps: pd.DataFrame | None = None    # where every variable is missing in [startTime, endTime] (AlignedData.gaps)

    @property
    def variables(self) -> list[str]:
        return [str(c) for c in self.frame.columns]

    def states_frame(self) -> pd.DataFrame:
        """``variableStates`` as a table (for notebooks)."""
        return pd.DataFrame([s.to_json() for s in self.variable_states])


def load(
    data_source: str,
    data_schema: DataSchema | str = DataSchema.ONE_TABLE,
    *,
    start_time: pd.Timestamp | str | None = None,
    end_time: pd.Timestamp | str | None = None,
    align_policy: AlignPolicy | dict | None = None,
    min_timestamps: int = 1,
    source_policy: SourcePolicy | None = None,
    sep: str = ",",
    decimal: str = ".",
) -> PreparedData:
    """Read ``data_source`` and prepare it; every failure is a WorkbenchError naming the file/column/row.

    ``sep`` and ``decimal`` read CSVs written another way (``sep=";", decimal=","`` as Excel saves them in
    much of Europe); a file that uses another separator than ``sep`` is refused with the one it uses.
    """
    schema = _schema(data_schema)
    policy = _policy(align_policy)
    dialect = CsvDialect.of(sep, decimal)
    start, end = time_range(start_time, end_time)
    raw = resolve(data_source, schema, policy=source_policy)
    variables = read_variables(raw, dialect)
    return _prepare(variables, policy, start, end, min_timestamps, label=raw.description)


def from_frame(
    frame: pd.DataFrame,
    *,
    start_time: pd.Timestamp | str | None = None,
    end_time: pd.Timestamp | str | None = None,
    align_policy: AlignPolicy | dict | None = None,
    min_timestamps: int = 1,
    decimal: str = ".",
) -> PreparedData:
    """Prepare a DataFrame with a DatetimeIndex or a ``timestamp`` column and one numeric column per variable.

    ``decimal=","`` reads text cells such as ``"1,5"``.  Errors name the column and the row (its 0-based
    position, ``frame.iloc[row]``, and its index label).
    """
    policy = _policy(align_policy)
    start, end = time_range(start_time, end_time)
    return _prepare(variables_from_frame(frame, decimal=decimal), policy, start, end, min_timestamps,
                    label="DataFrame")


def variables_from_frame(frame: pd.DataFrame, *, decimal: str = ".") -> dict[str, pd.Series]:
    """Split a wide DataFrame into per-variable float series on a sorted UTC index."""
    if not isinstance(frame, pd.DataFrame):
        raise ValidationError(ErrorCode.BAD_ARGUMENT, f"expected a pandas DataFrame, got {type(frame).__name__}")
    decimal = CsvDialect.of(";", decimal).decimal
    data = frame
    _check_frame_separator(data)
    if "timestamp" in data.columns:
        data = data.set_index("timestamp")
    index = _frame_index(data.index)
    if index.has_duplicates:  # the first repeat and the row it repeats, as frame.iloc[row] finds them
        second = int(np.flatnonzero(index.duplicated())[0])
        first = int(np.flatnonzero(index[:second] == index[second])[0])
        raise DataError(ErrorCode.DUPLICATE_TIMESTAMP,
                        f"timestamp {format_timestamp(index[second])} appears twice (rows {first} and {second})",
                        column="timestamp", row=int(second))
    if data.shape[1] == 0:
        raise DataError(ErrorCode.NO_VARIABLES, "the DataFrame has no variable column")
    repeated = sorted({str(c) for c in data.columns[data.columns.duplicated()]})
    if repeated:
        raise DataError(ErrorCode.DUPLICATE_VARIABLE, f"the DataFrame repeats column(s) {', '.join(repeated)}")
    order = np.argsort(index.asi8, kind="stable")
    out = {}
    for column in data.columns:
        cells = data[column]
        if pd.api.types.is_bool_dtype(cells):
            cells = cells.astype(np.float64)
        try:
            values = numeric_values(cells, decimal)
        except CellError as bad:
            raise DataError(bad.code, f"{bad.message}; index {_label(data.index[bad.position])}",
                            column=str(column), row=bad.position) from None
        out[str(column)] = pd.Series(values[order], index=index[order].as_unit("ns"), name=str(column))
    return out


def _check_frame_separator(frame: pd.DataFrame) -> None:
    """One column named ``timestamp;a;b``: the CSV was read with the wrong separator."""
    for name in [frame.index.name, *frame.columns]:
        text = str(name) if name is not None else ""
        for sep in (";", "\t", "|"):
            if sep in text and text.split(sep)[0].strip() == "timestamp":
                shown = "'\\t'" if sep == "\t" else repr(sep)
                raise DataError(ErrorCode.INVALID_SEPARATOR,
                                f"the DataFrame has a column {text!r}: the CSV was read with the wrong separator; "
                                f"read it with pandas.read_csv(..., sep={shown})", column=text)


def _frame_index(index: pd.Index) -> pd.DatetimeIndex:
    """The index as UTC timestamps by the one rule (:func:`workbench.timegrid.parse_timestamps`); a non-ISO
    one is refused at its first bad row, as in CSV files."""
    if pd.api.types.is_numeric_dtype(index) or pd.api.types.is_bool_dtype(index):
        raise DataError(ErrorCode.INVALID_TIMESTAMP,
                        "the DataFrame has no 'timestamp' column and its index holds numbers, not timestamps: read "
                        "it with pandas.read_csv(..., index_col='timestamp') or call set_index('timestamp')",
                        column="timestamp")
    try:
        return parse_timestamps(index)
    except ValidationError as bad:
        raise DataError(bad.code, bad.message, column="timestamp", row=bad.row) from None


def _label(value) -> str:
    return format_timestamp(value) if isinstance(value, pd.Timestamp) else repr(value)


def _prepare(variables, policy, start, end, min_timestamps, *, label) -> PreparedData:
    history = align(variables, policy)
    clipped = history.clip(start, end)
    rows = len(clipped.frame)
    span = f"{format_timestamp(start) if start is not None else 'the start'} .. " \
           f"{format_timestamp(end) if end is not None else 'the end'}"
    if rows == 0:
        raise DataError(ErrorCode.NOT_ENOUGH_DATA, f"no timestamp of the data lies in {span}", file=label)
    if rows > MAX_TIMESTAMPS:
        raise DataError(
            ErrorCode.TOO_MANY_TIMESTAMPS,
            f"{rows:,} timestamps in {span}; the limit is {MAX_TIMESTAMPS:,}: narrow startTime/endTime", file=label,
        )
    if rows < min_timestamps:
        raise DataError(
            ErrorCode.NOT_ENOUGH_DATA, f"{rows:,} timestamps in {span}; at least {min_timestamps:,} are needed",
            file=label,
        )
    notes = []
    if min_timestamps > 1 and rows < RECOMMENDED_MIN_TIMESTAMPS:
        notes.append(f"only {rows:,} timestamps; at least {RECOMMENDED_MIN_TIMESTAMPS:,} are recommended for training")
        warnings.warn(notes[-1], DataWarning, stacklevel=3)
    gaps = clipped.gaps_note(policy)
    if gaps:
        notes.append(gaps)
        warnings.warn(notes[-1], DataWarning, stacklevel=3)
    return PreparedData(clipped.frame, history, clipped.variable_states(), notes, clipped.gaps())


def _schema(value: DataSchema | str) -> DataSchema:
    if isinstance(value, DataSchema):
        return value
    for member in DataSchema:
        if isinstance(value, str) and value.lower() == member.value.lower():
            return member
    raise ValidationError(ErrorCode.INVALID_DATA_SCHEMA, f"'dataSchema' must be OneTable or MultiTable; got {value!r}")


def _policy(value: AlignPolicy | dict | None) -> AlignPolicy:
    if isinstance(value, AlignPolicy):
        return value
    return AlignPolicy.from_json(value)


