"""Triage for analysts: sift anomalies by severity and group them into episodes.

The v1.1 tutorial warns that taking every ``isAnomaly`` point as an incident
gives too many false positives; these functions implement its advice (filter
by severity, group by duration) and back the notebook widgets, so they work on
cached scores without re-running inference.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from workbench.contracts import format_timestamp
from workbench.exceptions import ErrorCode, ValidationError

EPISODE_COLUMNS = ["start", "end", "duration", "points", "peak_severity", "mean_severity", "top_contributors"]


def flagged(frame: pd.DataFrame, min_severity: float = 0.0) -> np.ndarray:
    """Boolean mask of rows that are anomalies with severity at least ``min_severity``."""
    _check_fraction(min_severity, "min_severity")
    severity = frame["severity"].fillna(0.0).to_numpy()
    return frame["is_anomaly"].to_numpy(dtype=bool) & (severity >= min_severity)


def filter_by_severity(frame: pd.DataFrame, min_severity: float = 0.0) -> pd.DataFrame:
    """The anomalous rows whose severity is at least ``min_severity``."""
    return frame[flagged(frame, min_severity)]


def group_episodes(
    frame: pd.DataFrame,
    contributions: pd.DataFrame | None = None,
    *,
    min_severity: float = 0.0,
    merge_gap: int | str | pd.Timedelta = 0,
    min_duration: int | str | pd.Timedelta = 1,
    top_k: int = 3,
) -> pd.DataFrame:
    """Group flagged timestamps into episodes.

    ``merge_gap``: anomalies separated by at most this many normal rows (an int)
    or this much time (a Timedelta or string like ``"5min"``) join one episode.
    ``min_duration``: keep episodes spanning at least this many rows (int) or
    this much time from first to last anomaly.  ``top_contributors`` lists the
    variables with the highest mean contribution over the episode's anomalies.
    """
    if top_k < 0:
        raise ValidationError(ErrorCode.BAD_ARGUMENT, f"top_k must be >= 0; got {top_k}")
    mask = flagged(frame, min_severity)
    rows = np.flatnonzero(mask)
    if rows.size == 0:
        return pd.DataFrame(columns=EPISODE_COLUMNS)
    stamps = frame.index
    gap_is_time, gap = _rows_or_time(merge_gap, "merge_gap")
    if gap_is_time:
        times = stamps[rows]
        split = np.flatnonzero((times[1:] - times[:-1]) > gap) + 1
    else:
        split = np.flatnonzero(np.diff(rows) - 1 > gap) + 1
    severity = frame["severity"].fillna(0.0).to_numpy()
    min_is_time, minimum = _rows_or_time(min_duration, "min_duration")
    records = []
    for members in np.split(rows, split):
        first, last = int(members[0]), int(members[-1])
        duration = stamps[last] - stamps[first]
        if (min_is_time and duration < minimum) or (not min_is_time and last - first + 1 < minimum):
            continue
        records.append({
            "start": stamps[first], "end": stamps[last], "duration": duration, "points": int(members.size),
            "peak_severity": float(severity[members].max()), "mean_severity": float(severity[members].mean()),
            "top_contributors": _top_contributors(contributions, members, top_k),
        })
    return pd.DataFrame(records, columns=EPISODE_COLUMNS)


def episodes_to_json(episodes: pd.DataFrame) -> list[dict[str, Any]]:
    """Episodes as camelCase JSON objects (timestamps ISO-8601, duration in seconds)."""
    return [
        {
            "startTime": format_timestamp(row.start), "endTime": format_timestamp(row.end),
            "durationInSeconds": row.duration.total_seconds(), "points": int(row.points),
            "peakSeverity": row.peak_severity, "meanSeverity": row.mean_severity,
            "topContributors": [{"variable": v, "contributionScore": s} for v, s in row.top_contributors],
        }
        for row in episodes.itertuples(index=False)
    ]


def _top_contributors(contributions: pd.DataFrame | None, members: np.ndarray, top_k: int) -> list[tuple[str, float]]:
    if contributions is None or top_k == 0:
        return []
    mean = np.nan_to_num(contributions.to_numpy()[members].mean(axis=0))
    order = np.argsort(-mean, kind="stable")[:top_k]
    return [(str(contributions.columns[j]), float(mean[j])) for j in order]


def _rows_or_time(value: int | str | pd.Timedelta, name: str) -> tuple[bool, Any]:
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        if value < 0:
            raise ValidationError(ErrorCode.BAD_ARGUMENT, f"{name} must be >= 0; got {value}")
        return False, int(value)
    try:
        delta = pd.Timedelta(value)
    except (ValueError, TypeError) as exc:
        raise ValidationError(ErrorCode.BAD_ARGUMENT,
                              f"{name} must be a number of rows or a duration like '5min'; got {value!r}") from exc
    if delta < pd.Timedelta(0):
        raise ValidationError(ErrorCode.BAD_ARGUMENT, f"{name} must not be negative; got {value!r}")
    return True, delta


def _check_fraction(value: float, name: str) -> None:
    if not isinstance(value, (int, float)) or not 0.0 <= float(value) <= 1.0:
        raise ValidationError(ErrorCode.BAD_ARGUMENT, f"{name} must be between 0 and 1; got {value!r}")
