"""Time: ISO-8601 timestamps in and out, granularities, their step lengths, and laying timestamps on a grid.

One table of steps serves both the v1.1 check that timestamps match ``granularity`` x
``customInterval`` (:func:`grid_positions`) and the pandas API's inference of them
(:func:`infer_granularity`).
"""
from __future__ import annotations

import datetime as dt
import functools
import re
from enum import Enum
from typing import Any

import numpy as np
import pandas as pd

from workbench.exceptions import ErrorCode, ValidationError

def parse_timestamp(value: Any, *, field_name: str = "timestamp") -> pd.Timestamp:
    """Parse an ISO-8601 timestamp as UTC (naive ones are taken as UTC).

    Strings are read exactly as CSV cells are (``format="ISO8601"``), so ``01/02/2021`` is
    refused everywhere with the ISO form to write instead (see :func:`not_iso_message`).
    """
    if isinstance(value, (pd.Timestamp, dt.datetime, np.datetime64)):
        ts = pd.Timestamp(value)
    else:
        if not isinstance(value, str) or not value.strip():
            raise ValidationError(
                ErrorCode.INVALID_TIMESTAMP, f"'{field_name}' must be an ISO-8601 timestamp string, got {value!r}"
            )
        try:
            ts = pd.to_datetime(value.strip(), format="ISO8601", utc=True)
        except (ValueError, TypeError, OverflowError):
            raise ValidationError(
                ErrorCode.INVALID_TIMESTAMP, f"'{field_name}': {not_iso_message(value)}"
            ) from None
    if ts is pd.NaT:
        raise ValidationError(ErrorCode.INVALID_TIMESTAMP, f"'{field_name}' is empty")
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def parse_timestamps(values: Any) -> pd.DatetimeIndex:
    """Many timestamps by the rule of :func:`parse_timestamp`, vectorised: a UTC ``DatetimeIndex`` in ns.

    ``values`` is a pandas Index (a DataFrame's or a Series' index: datetimes, or ISO-8601 text as
    ``read_csv(..., index_col="timestamp")`` leaves it), a Series, an array or a list.  Naive datetimes
    are UTC.  The first blank or non-ISO entry raises ``ValidationError`` (``InvalidTimestampFormat``)
    with its 0-based position as ``row``; callers add the file or variable and turn it into a line.
    """
    if isinstance(values, (list, tuple)):
        # a v1.1 body's list (the detect-last hot path): pandas refuses numbers with format="ISO8601"
        canonical = _canonical_utc(values)
        if canonical is not None:
            return canonical
    elif isinstance(values, pd.DatetimeIndex) or pd.api.types.is_datetime64_any_dtype(getattr(values, "dtype", None)):
        index = pd.DatetimeIndex(values)
        if index.hasnans:
            raise _no_timestamp(int(np.flatnonzero(index.isna())[0]))
        index = index.tz_localize("UTC") if index.tz is None else index.tz_convert("UTC")
        return _in_nanoseconds(index, index)
    else:
        values = values if isinstance(values, (pd.Index, pd.Series, np.ndarray)) else np.asarray(values)
        if values.dtype.kind != "U" and pd.api.types.infer_dtype(values, skipna=False) not in (
                "string", "empty", "datetime", "datetime64"):
            _check_each(values)
    try:
        # whitespace around a timestamp is allowed, as in CSV cells
        parsed = pd.DatetimeIndex(pd.to_datetime(values, format="ISO8601", utc=True))
    except (ValueError, TypeError, OverflowError, Warning):  # Warning: numbers, where warnings are errors
        parsed = None
    if parsed is None or parsed.hasnans:
        _check_each(values)
        where = 0 if parsed is None else int(np.flatnonzero(parsed.isna())[0])
        raise ValidationError(ErrorCode.INVALID_TIMESTAMP, not_iso_message(np.asarray(values, dtype=object)[where]),
                              row=where)
    return _in_nanoseconds(parsed, values)


def _in_nanoseconds(index: pd.DatetimeIndex, values: Any) -> pd.DatetimeIndex:
    """``index`` in nanoseconds; a time outside what they hold (about the years 1677-2262) is refused by its
    position, as any other bad timestamp, rather than raised from deep inside pandas."""
    outside = (index < pd.Timestamp.min.tz_localize("UTC")) | (index > pd.Timestamp.max.tz_localize("UTC"))
    if outside.any():
        where = int(np.flatnonzero(outside)[0])
        raise ValidationError(ErrorCode.INVALID_TIMESTAMP,
                              f"'{np.asarray(values, dtype=object)[where]}' lies outside the years "
                              f"{pd.Timestamp.min.year + 1}-{pd.Timestamp.max.year - 1} that timestamps can hold",
                              row=where)
    return index.as_unit("ns")


_CANONICAL = "YYYY-MM-DDTHH:MM:SSZ"
_CANONICAL_MARKS = np.array([i for i, c in enumerate(_CANONICAL) if c in "-T:Z"])
_CANONICAL_MARK_BYTES = np.frombuffer(_CANONICAL.encode(), dtype=np.uint8)[_CANONICAL_MARKS]
# the digits of year, month, day, hour, minute and second: one product reads all six fields
_CANONICAL_FIELDS = np.zeros((6, len(_CANONICAL)))
for _field, (_first, _width) in enumerate(((0, 4), (5, 2), (8, 2), (11, 2), (14, 2), (17, 2))):
    _CANONICAL_FIELDS[_field, _first:_first + _width] = [10.0 ** k for k in range(_width - 1, -1, -1)]
_CANONICAL_FIRST_YEAR, _CANONICAL_YEARS = 1900, 300  # years well inside what nanoseconds hold; others: pandas
_CANONICAL_LOW = np.array([[_CANONICAL_FIRST_YEAR], [1], [1], [0], [0], [0]])
_CANONICAL_HIGH = np.array([[_CANONICAL_FIRST_YEAR + _CANONICAL_YEARS - 1], [12], [31], [23], [59], [59]])
# per month of those years: its first day (days since 1970-01-01) and its length in days
_MONTH_STARTS = np.arange(f"{_CANONICAL_FIRST_YEAR}-01", f"{_CANONICAL_FIRST_YEAR + _CANONICAL_YEARS}-02",
                          dtype="datetime64[M]").astype("datetime64[D]").astype(np.int64)
_MONTH_LENGTHS = np.diff(_MONTH_STARTS)


def _canonical_utc(values: list | tuple) -> pd.DatetimeIndex | None:
    """``values`` parsed when every one is ``YYYY-MM-DDTHH:MM:SSZ`` and a real UTC time (what fleets and the
    SDK send), read as bytes by numpy; ``None`` for anything else, which pandas then reads or refuses.

    A shortcut inside the rule, not a second rule: it accepts only text that pandas reads to the same instant
    (``tests/test_timestamp_rule.py`` compares the two).
    """
    try:
        raw = "".join(values).encode("ascii")
    except (TypeError, UnicodeEncodeError):
        return None
    width = len(_CANONICAL)
    if not values or len(raw) != width * len(values):
        return None
    text = np.frombuffer(raw, dtype=np.uint8).reshape(len(values), width)
    if not (text[:, _CANONICAL_MARKS] == _CANONICAL_MARK_BYTES).all():
        return None
    digits = text - np.uint8(ord("0"))  # wraps below '0': any non-digit becomes > 9
    digits[:, _CANONICAL_MARKS] = 0
    if digits.max() > 9:
        return None
    fields = (_CANONICAL_FIELDS @ digits.T).astype(np.int64)  # (6, n); exact: at most 9999
    if (fields < _CANONICAL_LOW).any() or (fields > _CANONICAL_HIGH).any():
        return None
    year, month, day, hour, minute, second = fields
    months = (year - _CANONICAL_FIRST_YEAR) * 12 + month - 1
    if (day > _MONTH_LENGTHS[months]).any():
        return None  # no such day in that month
    days = _MONTH_STARTS[months] + day - 1
    seconds = ((days * 24 + hour) * 60 + minute) * 60 + second
    return pd.DatetimeIndex((seconds * 10**9).view("datetime64[ns]"), tz="UTC")


def _check_each(values: Any) -> None:
    """Raise the error of the first entry of ``values`` that is not a timestamp (the slow path, for errors)."""
    for i, value in enumerate(values):
        if value is None or value is pd.NaT or (isinstance(value, float) and np.isnan(value)) or \
                (isinstance(value, str) and not value.strip()):
            raise _no_timestamp(i)
        if isinstance(value, (pd.Timestamp, dt.datetime, np.datetime64)):
            continue
        if not isinstance(value, str):
            raise ValidationError(ErrorCode.INVALID_TIMESTAMP, not_iso_message(value), row=i)
        try:
            pd.to_datetime(value, format="ISO8601", utc=True)
        except (ValueError, TypeError, OverflowError):
            raise ValidationError(ErrorCode.INVALID_TIMESTAMP, not_iso_message(value), row=i) from None


def _no_timestamp(position: int) -> ValidationError:
    return ValidationError(ErrorCode.INVALID_TIMESTAMP, "a row has no timestamp", row=position)


_DAY_MONTH = re.compile(
    r"^\s*(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{4}|\d{2})(?:[ T,]+(\d{1,2}):(\d{2})(?::(\d{2}))?\s*([AaPp][Mm])?)?\s*$"
)


def not_iso_message(text: Any) -> str:
    """Why ``text`` is refused as a timestamp, and the ISO-8601 form to write instead.

    ``01/02/2021 12:00`` could be 1 February or 2 January: the message names both ISO forms
    rather than guessing, as pandas would (month first) and Excel does (by locale).
    """
    shown = str(text).strip()
    head = f"{shown!r} is not an ISO-8601 timestamp"
    match = _DAY_MONTH.match(shown)
    if match:
        a, b, year, hour, minute, second, ampm = match.groups()
        year = int(year) + (2000 if len(year) == 2 else 0)
        hour = int(hour or 0)
        if ampm:
            hour = hour % 12 + (12 if ampm.lower() == "pm" else 0)
        clock = f"T{hour:02d}:{int(minute or 0):02d}:{int(second or 0):02d}Z"
        a, b = int(a), int(b)
        forms = {f"{year:04d}-{month:02d}-{day:02d}{clock}": which
                 for day, month, which in ((a, b, "day first"), (b, a, "month first")) if 1 <= month <= 12 and day <= 31}
        if len(forms) == 2:
            (first, _), (second_form, _) = forms.items()
            return f"{head}; day and month are ambiguous: write {first} (day first) or {second_form} (month first)"
        if forms:
            return f"{head}; write {next(iter(forms))}"
    if re.fullmatch(r"\d{9,10}(\.\d+)?", shown):
        seconds = pd.Timestamp(float(shown), unit="s", tz="UTC")
        return f"{head}; if it is Unix time in seconds, write {format_timestamp(seconds)}"
    return f"{head}; write for example 2021-01-01T00:00:00Z"


@functools.lru_cache(maxsize=4096)
def format_timestamp(ts: pd.Timestamp) -> str:
    """UTC ISO-8601 with a ``Z``; sub-second digits only when present.

    Remembered for the last few thousand instants: a detect-last answer writes the same first and last
    timestamps for every variable (``strftime`` is most of its rendering)."""
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    if ts.microsecond or ts.nanosecond:
        return ts.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return ts.strftime("%Y-%m-%dT%H:%M:%SZ")



class TimeGranularity(str, Enum):
    YEARLY = "yearly"
    MONTHLY = "monthly"
    WEEKLY = "weekly"
    DAILY = "daily"
    HOURLY = "hourly"
    MINUTELY = "minutely"
    SECONDLY = "secondly"
    MICROSECOND = "microsecond"
    NONE = "none"


# Fixed-width grid steps in nanoseconds.  As in the retired service, a "microsecond" step is
# one millisecond; monthly and yearly steps are calendar months.
_GRID_STEP_NS = {
    TimeGranularity.WEEKLY: 7 * 86_400 * 10**9,
    TimeGranularity.DAILY: 86_400 * 10**9,
    TimeGranularity.HOURLY: 3_600 * 10**9,
    TimeGranularity.MINUTELY: 60 * 10**9,
    TimeGranularity.SECONDLY: 10**9,
    TimeGranularity.MICROSECOND: 10**6,
}


def grid_positions(timestamps: pd.DatetimeIndex, granularity: TimeGranularity, interval: int) -> list[int]:
    """Each timestamp's step number on the grid that starts at the first one.

    Raises InvalidSeries naming the first timestamp that is off the grid, the v1.1 check that
    the timestamps match ``granularity`` and ``customInterval``.
    """
    ts = timestamps.as_unit("ns")
    if granularity in _GRID_STEP_NS:
        delta = ts.asi8 - ts.asi8[0]
        step = _GRID_STEP_NS[granularity] * interval
        off = delta % step
        positions = delta // step
    else:
        # calendar steps: the same day of the month and time of day as the first point
        months = ((ts.year - ts[0].year) * 12 + (ts.month - ts[0].month)).to_numpy()
        per = interval * (12 if granularity is TimeGranularity.YEARLY else 1)
        same_anchor = (ts.day == ts[0].day) & (ts - ts.normalize() == ts[0] - ts[0].normalize())
        off = (months % per != 0) | ~same_anchor
        positions = months // per
    bad = off.nonzero()[0]
    if len(bad):
        i = int(bad[0])
        raise ValidationError(
            ErrorCode.INVALID_SERIES,
            f"The 'timestamp' at index {i} ({format_timestamp(ts[i])}) is invalid in {granularity.value} "
            f"granularity with {interval} as interval.",
            row=i,
        )
    return positions.tolist()



def _ordered(index: pd.DatetimeIndex) -> np.ndarray:
    ns = index.as_unit("ns").asi8
    return ns if len(ns) < 2 or (np.diff(ns) >= 0).all() else np.sort(ns)


def _dominant(steps: np.ndarray) -> int:
    """The most common positive step (ties: the smallest); 0 when there is none."""
    steps = steps[steps > 0]
    if not len(steps):
        return 0
    if (steps == steps[0]).all():  # a regular series: no need to count
        return int(steps[0])
    values, counts = np.unique(steps, return_counts=True)
    return int(values[np.argmax(counts)])


def _monthly(ts: pd.DatetimeIndex) -> np.ndarray | None:
    """Month numbers of timestamps that all share the first one's day of month and time of day."""
    if not ((ts.day == ts[0].day).all() and (ts - ts.normalize() == ts[0] - ts[0].normalize()).all()):
        return None
    return ((ts.year - ts[0].year) * 12 + (ts.month - ts[0].month)).to_numpy()


def infer_granularity(index: pd.Index) -> tuple[str, int]:
    """``(granularity, customInterval)`` of a DatetimeIndex's *dominant* step; ``("none", 1)`` otherwise.

    The most common step between consecutive (sorted, distinct) timestamps, not the greatest common
    divisor of all of them: one point off a 5-minute grid must not make the series minutely/1.  Points
    off that grid are reported by :func:`off_grid` and moved onto it by :func:`snap`.
    """
    if not isinstance(index, pd.DatetimeIndex) or len(index) < 2:
        return TimeGranularity.NONE.value, 1
    ts = pd.DatetimeIndex(_ordered(index)).tz_localize(None)
    months = _monthly(ts)
    if months is not None and (np.diff(months) >= 0).all():
        step = _dominant(np.diff(months))
        if step:
            if step % 12 == 0:
                return TimeGranularity.YEARLY.value, step // 12
            return TimeGranularity.MONTHLY.value, step
    step = _dominant(np.diff(ts.asi8))
    for granularity, unit in _GRID_STEP_NS.items():  # coarsest first
        if step > 0 and step % unit == 0:
            return granularity.value, step // unit
    return TimeGranularity.NONE.value, 1


def _anchor(ns: np.ndarray, step: int) -> int:
    """The grid's phase: the most common remainder of the timestamps modulo ``step``."""
    values, counts = np.unique(ns % step, return_counts=True)
    return int(values[np.argmax(counts)])


def off_grid(timestamps: pd.DatetimeIndex, granularity: str | TimeGranularity, interval: int = 1) -> np.ndarray:
    """Positions of the timestamps that are off the grid most of them lie on (fixed-width steps; for
    monthly and yearly, off the first timestamp's day of month and time of day)."""
    granularity = TimeGranularity(granularity)
    ts = timestamps.as_unit("ns")
    if granularity is TimeGranularity.NONE or not len(ts):
        return np.zeros(0, dtype=np.int64)
    if granularity not in _GRID_STEP_NS:
        same = (ts.day == ts[0].day) & (ts - ts.normalize() == ts[0] - ts[0].normalize())
        return np.flatnonzero(~np.asarray(same))
    step = _GRID_STEP_NS[granularity] * interval
    return np.flatnonzero(ts.asi8 % step != _anchor(ts.asi8, step))


def snap(timestamps: pd.DatetimeIndex, granularity: str | TimeGranularity, interval: int = 1) -> pd.DatetimeIndex:
    """Each timestamp moved to the nearest point of the grid most of them lie on (for monthly and
    yearly: its own month, on the first timestamp's day and time).  Points that land on the same
    grid point become duplicates (see ``TimestampPolicy.duplicates``)."""
    granularity = TimeGranularity(granularity)
    ts = timestamps.as_unit("ns")
    if granularity is TimeGranularity.NONE or not len(ts):
        return ts
    if granularity not in _GRID_STEP_NS:
        months = ((ts.year - ts[0].year) * 12 + (ts.month - ts[0].month)).to_numpy()
        return pd.DatetimeIndex([ts[0] + pd.DateOffset(months=int(m)) for m in months]).as_unit("ns")
    step = _GRID_STEP_NS[granularity] * interval
    anchor = _anchor(ts.asi8, step)
    ns = ts.asi8 - anchor
    snapped = (np.floor_divide(ns + step // 2, step) * step) + anchor
    return pd.DatetimeIndex(snapped, tz=ts.tz).as_unit("ns")


def regular_step(ns: np.ndarray) -> int:
    """The step (ns) between sorted timestamps that more than half of their steps are; 0 when none is.

    The median of the steps is that step whenever one exists, so this is linear (no sort), and a
    regular series with no gap costs one comparison per row.
    """
    if len(ns) < 3:
        return int(ns[1] - ns[0]) if len(ns) == 2 else 0
    steps = np.diff(ns)
    first = steps[0]
    if (steps == first).all():
        return int(first)
    candidate = np.partition(steps, len(steps) // 2)[len(steps) // 2]
    return int(candidate) if candidate > 0 and 2 * int((steps == candidate).sum()) > len(steps) else 0


def duration_text(delta: pd.Timedelta | int) -> str:
    """A duration for people: ``2 h 48 min``, ``1 min``, ``30 s``, ``0 s`` (an int is nanoseconds)."""
    seconds = int(round(pd.Timedelta(delta).total_seconds()))
    parts = []
    for unit, size in (("d", 86_400), ("h", 3_600), ("min", 60), ("s", 1)):
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count} {unit}")
    return " ".join(parts) or "0 s"


def step_text(granularity: str | TimeGranularity, interval: int) -> str:
    """``"5 minutes"`` for (minutely, 5): how an error names a grid step."""
    name = {"yearly": "year", "monthly": "month", "weekly": "week", "daily": "day", "hourly": "hour",
            "minutely": "minute", "secondly": "second", "microsecond": "millisecond"}.get(TimeGranularity(granularity).value)
    if name is None:
        return "no fixed step"
    return f"{interval} {name}s" if interval != 1 else f"1 {name}"
