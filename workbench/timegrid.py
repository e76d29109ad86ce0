"""Time: ISO-8601 timestamps in and out, granularities, their step lengths, and laying timestamps on a grid.

One table of steps serves both the v1.1 check that timestamps match ``granularity`` x
``customInterval`` (:func:`grid_positions`) and the pandas API's inference of them
(:func:`infer_granularity`).
"""
from __future__ import annotations

from enum import Enum
from typing import Any

import numpy as np
import pandas as pd

from workbench.exceptions import ErrorCode, ValidationError

def parse_timestamp(value: Any, *, field_name: str = "timestamp") -> pd.Timestamp:
    """Parse an ISO-8601 timestamp as UTC (naive ones are taken as UTC)."""
    if isinstance(value, pd.Timestamp):
        ts = value
    else:
        if not isinstance(value, str) or not value.strip():
            raise ValidationError(
                ErrorCode.INVALID_TIMESTAMP, f"'{field_name}' must be an ISO-8601 timestamp string, got {value!r}"
            )
        try:
            ts = pd.Timestamp(value.strip())
        except (ValueError, TypeError) as exc:
            raise ValidationError(
                ErrorCode.INVALID_TIMESTAMP, f"'{field_name}' is not an ISO-8601 timestamp: {value!r}"
            ) from exc
    if ts is pd.NaT:
        raise ValidationError(ErrorCode.INVALID_TIMESTAMP, f"'{field_name}' is empty")
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def format_timestamp(ts: pd.Timestamp) -> str:
    """UTC ISO-8601 with a ``Z``; sub-second digits only when present."""
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



def infer_granularity(index: pd.Index) -> tuple[str, int]:
    """``(granularity, customInterval)`` that lays a DatetimeIndex on its grid; ``("none", 1)`` otherwise."""
    if not isinstance(index, pd.DatetimeIndex) or len(index) < 2:
        return TimeGranularity.NONE.value, 1
    ts = index.as_unit("ns")
    months = ((ts.year - ts[0].year) * 12 + (ts.month - ts[0].month)).to_numpy()
    if (ts.day == ts[0].day).all() and (ts - ts.normalize() == ts[0] - ts[0].normalize()).all() \
            and (np.diff(months) > 0).all():
        step = int(np.gcd.reduce(np.diff(months)))
        if step % 12 == 0:
            return TimeGranularity.YEARLY.value, step // 12
        return TimeGranularity.MONTHLY.value, step
    step = int(np.gcd.reduce(np.diff(ts.asi8)))
    for granularity, unit in _GRID_STEP_NS.items():  # coarsest first
        if step > 0 and step % unit == 0:
            return granularity.value, step // unit
    return TimeGranularity.NONE.value, 1
