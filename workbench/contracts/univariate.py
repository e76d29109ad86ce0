"""The univariate v1.1 contract (/timeseries entire, last and change-point detection).

``from_json`` applies the retired service's checks in its order, with its error codes; series
arrive as ``[{timestamp, value}]`` and are kept as a float ``pd.Series`` plus the points'
positions on the regular time grid (:mod:`workbench.timegrid`).
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

import numpy as np
import pandas as pd

from workbench.contracts.base import _Contract, _enum, _require_mapping
from workbench.exceptions import ErrorCode, ValidationError
from workbench.timegrid import (
    TimeGranularity,
    format_timestamp,
    grid_positions,
    infer_granularity,
    off_grid,
    parse_timestamps,
    snap,
    step_text,
)

UNIVARIATE_MIN_POINTS = 12
UNIVARIATE_MAX_POINTS = 1_000_000  # the service stopped at 8,640
UNIVARIATE_VALUE_BOUND = 1.0e100
SENSITIVITY_DEFAULT = 99
MAX_ANOMALY_RATIO_DEFAULT = 0.25
MAX_ANOMALY_RATIO_LIMIT = 0.49
CHANGE_POINT_THRESHOLD_DEFAULT = 0.9
# stableTrendWindow defaults per granularity (the service's)
CHANGE_POINT_WINDOW_DEFAULTS = {
    "yearly": 3, "monthly": 6, "weekly": 3, "daily": 5, "hourly": 24,
    "minutely": 72, "secondly": 72, "microsecond": 100, "none": 100,
}


class ImputeMode(str, Enum):
    AUTO = "auto"
    PREVIOUS = "previous"
    LINEAR = "linear"
    FIXED = "fixed"
    ZERO = "zero"
    NOT_FILL = "notFill"


class DuplicateRule(str, Enum):
    ERROR = "error"
    FIRST = "first"
    LAST = "last"
    MEAN = "mean"


_FIX_SNAP = "set timestampPolicy.snap to true (pandas: timestamp_policy='lenient') to move each point to its nearest grid step"
_FIX_DUPLICATES = ("set timestampPolicy.duplicates to 'first', 'last' or 'mean' (pandas: timestamp_policy='lenient'), "
                   "e.g. for the repeated hour of a daylight-saving change in local time")
_FIX_SORT = "set timestampPolicy.sort to true (pandas: timestamp_policy='lenient')"


@dataclass(frozen=True)
class TimestampPolicy(_Contract):
    """Opt-in handling of irregular timestamps, as ``alignPolicy`` is for multivariate data.

    The retired service (and this contract by default) rejects a point off the granularity's grid,
    a repeated timestamp and an unsorted series.  ``snap`` moves each point to the nearest step of
    the grid most points lie on; ``duplicates`` keeps the first or last value of a repeated (or
    snapped together) timestamp or their mean, e.g. the repeated hour when clocks go back;
    ``sort`` orders the points by time first.  ``lenient`` is all three, with the mean.
    """

    snap: bool = False
    duplicates: DuplicateRule = DuplicateRule.ERROR
    sort: bool = False

    @property
    def strict(self) -> bool:
        return not self.snap and not self.sort and self.duplicates is DuplicateRule.ERROR

    @classmethod
    def from_json(cls, body: Any) -> TimestampPolicy:
        if body is None:
            return cls()
        body = _require_mapping(body, "timestampPolicy")
        flags = {}
        for name in ("snap", "sort"):
            value = body.get(name, False)
            if not isinstance(value, bool):
                raise ValidationError(ErrorCode.BAD_ARGUMENT, f"'timestampPolicy.{name}' must be true or false")
            flags[name] = value
        duplicates = _enum(DuplicateRule, body.get("duplicates"), DuplicateRule.ERROR, ErrorCode.BAD_ARGUMENT,
                           "timestampPolicy.duplicates")
        return cls(duplicates=duplicates, **flags)

    @classmethod
    def of(cls, value: Any) -> TimestampPolicy:
        """The pandas API's argument: None or ``"strict"``, ``"lenient"``, a dict (JSON names) or a policy."""
        if isinstance(value, cls):
            return value
        if value is None or value == "strict":
            return cls()
        if value == "lenient":
            return cls(snap=True, duplicates=DuplicateRule.MEAN, sort=True)
        if isinstance(value, Mapping):
            return cls.from_json(value)
        raise ValidationError(ErrorCode.BAD_ARGUMENT,
                              f"timestamp_policy must be 'strict', 'lenient', a dict or a TimestampPolicy; got {value!r}")


def _regularize(values: pd.Series, stamps: pd.DatetimeIndex, policy: TimestampPolicy, granularity: TimeGranularity,
                interval: int) -> tuple[pd.Series, pd.DatetimeIndex, np.ndarray | None]:
    """Apply ``policy``: sort, snap, merge repeats.  Returns the values, their timestamps and, when
    points were merged or reordered, each input point's row among the results (else None)."""
    if policy.strict:
        return values, stamps, None
    ns = stamps.as_unit("ns")
    order = np.argsort(ns.asi8, kind="stable") if policy.sort else np.arange(len(ns))
    ns, x = ns[order], values.to_numpy()[order]
    if policy.snap:
        ns = snap(ns, granularity, interval)
        if not policy.sort and len(ns) > 1 and (np.diff(ns.asi8) < 0).any():
            order2 = np.argsort(ns.asi8, kind="stable")
            ns, x, order = ns[order2], x[order2], order[order2]
    keys = ns.asi8
    if policy.duplicates is DuplicateRule.ERROR or len(keys) < 2 or (np.diff(keys) > 0).all():
        rows = np.empty(len(order), dtype=np.int64)
        rows[order] = np.arange(len(order))
        return pd.Series(x), ns, rows
    starts = np.flatnonzero(np.r_[True, np.diff(keys) != 0])  # runs of equal timestamps (sorted here)
    group = np.cumsum(np.r_[True, np.diff(keys) != 0]) - 1
    if policy.duplicates is DuplicateRule.FIRST:
        merged = x[starts]
    elif policy.duplicates is DuplicateRule.LAST:
        merged = x[np.r_[starts[1:] - 1, len(x) - 1]]
    else:
        merged = np.bincount(group, weights=x) / np.bincount(group)
    rows = np.empty(len(order), dtype=np.int64)
    rows[order] = group
    return pd.Series(merged), ns[starts], rows


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _series_count_check(count: int) -> None:
    if count < UNIVARIATE_MIN_POINTS:
        raise ValidationError(
            ErrorCode.INVALID_SERIES, f"The 'series' field must have at least {UNIVARIATE_MIN_POINTS} points."
        )
    if count > UNIVARIATE_MAX_POINTS:
        raise ValidationError(
            ErrorCode.INVALID_SERIES, f"The 'series' field cannot have more than {UNIVARIATE_MAX_POINTS} points."
        )


def _check_values(values: pd.Series) -> pd.Series:
    if values.isna().any():
        i = int(values.isna().to_numpy().nonzero()[0][0])
        raise ValidationError(ErrorCode.BAD_ARGUMENT, "The 'series' field cannot have none values.", row=i)
    if (values.abs() > UNIVARIATE_VALUE_BOUND).any():
        raise ValidationError(ErrorCode.INVALID_SERIES, "The magnitude of data in 'value' in 'series' is too large.")
    return values.reset_index(drop=True)


def _check_order(stamps: pd.DatetimeIndex) -> pd.DatetimeIndex:
    stamps = stamps.as_unit("ns")
    steps = stamps.asi8[1:] - stamps.asi8[:-1]
    bad = (steps <= 0).nonzero()[0]
    if len(bad):
        i = int(bad[0]) + 1
        if steps[i - 1] < 0:
            raise ValidationError(
                ErrorCode.INVALID_SERIES,
                f"The 'series' field must be sorted by timestamp in ascending order: the 'timestamp' at index {i} "
                f"({format_timestamp(stamps[i])}) comes before the one above it; {_FIX_SORT}.", row=i,
            )
        raise ValidationError(
            ErrorCode.INVALID_SERIES,
            f"The 'series' field cannot have duplicated timestamp ({format_timestamp(stamps[i])}, index {i}); "
            f"{_FIX_DUPLICATES}.", row=i,
        )
    return stamps


def _parse_series(body: Mapping[str, Any], granularity: TimeGranularity) -> tuple[pd.Series, pd.DatetimeIndex | None]:
    """``series`` of a JSON body: ``[{timestamp, value}]``, timestamps needed unless granularity is none."""
    series = body.get("series")
    if series is None:
        raise ValidationError(ErrorCode.REQUIRED_SERIES, "The 'series' field is required in request.")
    if not isinstance(series, list):
        raise ValidationError(ErrorCode.BAD_ARGUMENT, "The 'series' field must be array/list type.")
    _series_count_check(len(series))
    try:
        raw_values = [point["value"] for point in series]
    except (TypeError, KeyError) as exc:
        raise ValidationError(ErrorCode.BAD_ARGUMENT, "'timestamp' or 'value' is malformed in 'series' field.") from exc
    values = pd.Series(raw_values)
    if values.dtype.kind not in "if":
        bad = next((i for i, v in enumerate(raw_values) if not (v is None or _is_number(v))), None)
        if bad is not None:
            raise ValidationError(
                ErrorCode.BAD_ARGUMENT, f"'value' at index {bad} in 'series' is not a number: {raw_values[bad]!r}",
                row=bad,
            )
    values = _check_values(values.astype("float64"))
    if granularity is TimeGranularity.NONE:
        return values, None
    try:
        raw_stamps = [point["timestamp"] for point in series]
        bad = next((i for i, t in enumerate(raw_stamps) if not isinstance(t, str)), None)
        if bad is not None:
            raise ValidationError(ErrorCode.BAD_ARGUMENT, f"'timestamp' at index {bad} in 'series' is not an "
                                  f"ISO-8601 string: {raw_stamps[bad]!r}", row=bad)
        stamps = parse_timestamps(raw_stamps)
    except ValidationError as exc:
        raise ValidationError(ErrorCode.BAD_ARGUMENT, f"'timestamp' at index {exc.row} in 'series': {exc.message}",
                              row=exc.row) from None
    except (TypeError, KeyError, ValueError, OverflowError) as exc:
        raise ValidationError(ErrorCode.BAD_ARGUMENT, "'timestamp' or 'value' is malformed in 'series' field.") from exc
    if stamps.hasnans:
        raise ValidationError(ErrorCode.BAD_ARGUMENT, "'timestamp' or 'value' is malformed in 'series' field.")
    return values, stamps


def _series_from_pandas(series: Any, granularity: TimeGranularity) -> tuple[pd.Series, pd.DatetimeIndex | None]:
    """A pandas Series indexed by timestamp; NaN values are missing points, imputed like gaps."""
    if not isinstance(series, pd.Series):
        raise ValidationError(ErrorCode.BAD_ARGUMENT, f"expected a pandas Series, got {type(series).__name__}")
    try:
        values = series.astype("float64")
    except (TypeError, ValueError) as exc:
        raise ValidationError(ErrorCode.BAD_ARGUMENT, f"series values are not numeric: {exc}") from exc
    values = values[values.notna()]
    _series_count_check(len(values))
    if granularity is TimeGranularity.NONE:
        return _check_values(values), None
    try:
        stamps = parse_timestamps(values.index)
    except ValidationError as exc:
        raise ValidationError(exc.code, f"the series must be indexed by timestamps: {exc.message}",
                              row=exc.row) from None
    return _check_values(values), stamps


def _granularity(body: Mapping[str, Any], *, required: bool) -> TimeGranularity:
    if body.get("granularity") is None and required:
        raise ValidationError(ErrorCode.REQUIRED_GRANULARITY, "The 'granularity' field is required in request.")
    return _enum(TimeGranularity, body.get("granularity"), TimeGranularity.NONE, ErrorCode.INVALID_GRANULARITY,
                 "granularity")


def _custom_interval(body: Mapping[str, Any]) -> int:
    value = body.get("customInterval")
    if value is None:
        return 1
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValidationError(ErrorCode.INVALID_CUSTOM_INTERVAL, "The 'customInterval' field must be an integer > 0.")
    return value


def _period(body: Mapping[str, Any]) -> int | None:
    value = body.get("period")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValidationError(ErrorCode.INVALID_PERIOD, "The 'period' field must be an integer >= 0.")
    return value


def _check_period_fits(period: int | None, grid_length: int, point_count: int, fills: bool) -> None:
    """The service needs more than two periods of points (on the grid, or given when not filling)."""
    if period is None or period < 2:
        return
    if grid_length < 2 * period + 1 or (not fills and point_count < 2 * period + 1):
        raise ValidationError(
            ErrorCode.INVALID_MODEL_ARGUMENT,
            f"The 'series' field must have more than 2 periods points ({2 * period + 1} for period {period}).",
        )


def _positions(stamps: pd.DatetimeIndex | None, granularity: TimeGranularity, interval: int) -> list[int] | None:
    """Grid steps of sorted, distinct timestamps; an off-grid point is an error naming the series'
    dominant step, how many points are off and the option that fixes it."""
    if stamps is None:
        return None
    try:
        return grid_positions(stamps, granularity, interval)
    except ValidationError as exc:
        dominant = infer_granularity(stamps)
        off = len(off_grid(stamps, granularity, interval))
        raise ValidationError(
            ErrorCode.INVALID_SERIES,
            f"{exc.message} The series' most common step is {step_text(*dominant)}"
            f"{f' and {off} point(s) are off that grid' if off else ''}: give granularity/customInterval "
            f"for that step, or {_FIX_SNAP}.", row=exc.row,
        ) from None


def _regular(values: pd.Series, stamps: pd.DatetimeIndex | None,
             params: dict[str, Any]) -> tuple[pd.Series, pd.DatetimeIndex | None, Any]:
    """The series after ``timestampPolicy`` and the strict order checks."""
    if stamps is None:
        return values, None, None
    values, stamps, rows = _regularize(values, stamps, params["timestamp_policy"], params["granularity"],
                                       params["custom_interval"])
    return values, _check_order(stamps), rows


@dataclass(frozen=True)
class UnivariateDetectionOptions(_Contract):
    """The v1.1 entire/last detection request (``UnivariateDetectionOptions``)."""

    values: pd.Series
    timestamps: pd.DatetimeIndex | None = None
    granularity: TimeGranularity = TimeGranularity.NONE
    custom_interval: int = 1
    period: int | None = None
    max_anomaly_ratio: float = MAX_ANOMALY_RATIO_DEFAULT
    sensitivity: int = SENSITIVITY_DEFAULT
    impute_mode: ImputeMode = ImputeMode.AUTO
    impute_fixed_value: float | None = None
    positions: list[int] | None = None  # grid step of each point; None for granularity none
    timestamp_policy: TimestampPolicy = TimestampPolicy()
    source_rows: Any = None  # with a timestampPolicy: each input point's row in ``values`` (None: the same)

    @classmethod
    def from_json(cls, body: Any) -> UnivariateDetectionOptions:
        body = _require_mapping(body, "the detection request")
        params = cls._params(body)
        return cls._build(*_parse_series(body, params["granularity"]), params)

    @classmethod
    def from_series(cls, series: pd.Series, params: Mapping[str, Any]) -> UnivariateDetectionOptions:
        """The pandas-native request: ``series`` indexed by timestamp, the other fields camelCase in ``params``."""
        params = cls._params(_require_mapping(params, "the detection parameters"))
        return cls._build(*_series_from_pandas(series, params["granularity"]), params)

    @staticmethod
    def _params(body: Mapping[str, Any]) -> dict[str, Any]:
        granularity = _granularity(body, required=False)
        interval = _custom_interval(body)
        period = _period(body)
        ratio = body.get("maxAnomalyRatio", MAX_ANOMALY_RATIO_DEFAULT)
        if not _is_number(ratio) or not 0 < ratio <= MAX_ANOMALY_RATIO_LIMIT:
            raise ValidationError(
                ErrorCode.INVALID_MODEL_ARGUMENT,
                "The 'maxAnomalyRatio' field must be less than 50% of the series points (0 < maxAnomalyRatio < 0.5).",
            )
        sensitivity = body.get("sensitivity", SENSITIVITY_DEFAULT)
        if isinstance(sensitivity, bool) or not isinstance(sensitivity, int) or not 0 <= sensitivity <= 99:
            raise ValidationError(
                ErrorCode.INVALID_MODEL_ARGUMENT, "The 'sensitivity' field must be an integer between 0 and 99."
            )
        impute = _enum(ImputeMode, body.get("imputeMode"), ImputeMode.AUTO, ErrorCode.INVALID_IMPUTE_MODE,
                       "imputeMode")
        fixed = body.get("imputeFixedValue")
        if impute is ImputeMode.FIXED and (not _is_number(fixed) or not math.isfinite(fixed)):
            raise ValidationError(
                ErrorCode.INVALID_IMPUTE_FIXED_VALUE, "The 'imputeFixedValue' field must be a number."
            )
        return dict(granularity=granularity, custom_interval=interval, period=period, max_anomaly_ratio=float(ratio),
                    sensitivity=sensitivity, impute_mode=impute,
                    impute_fixed_value=float(fixed) if impute is ImputeMode.FIXED else None,
                    timestamp_policy=TimestampPolicy.from_json(body.get("timestampPolicy")))

    @classmethod
    def _build(cls, values: pd.Series, stamps: pd.DatetimeIndex | None,
               params: dict[str, Any]) -> UnivariateDetectionOptions:
        values, stamps, rows = _regular(values, stamps, params)
        positions = _positions(stamps, params["granularity"], params["custom_interval"])
        grid_length = len(values) if positions is None else positions[-1] + 1
        _check_period_fits(params["period"], grid_length, len(values), params["impute_mode"] is not ImputeMode.NOT_FILL)
        return cls(values=values, timestamps=stamps, positions=positions, source_rows=rows, **params)

    def to_json(self) -> dict[str, Any]:
        out = _series_fields_json(self)
        out.update(maxAnomalyRatio=self.max_anomaly_ratio, sensitivity=self.sensitivity,
                   imputeMode=self.impute_mode.value)
        if self.impute_fixed_value is not None:
            out["imputeFixedValue"] = self.impute_fixed_value
        return out


@dataclass(frozen=True)
class UnivariateChangePointDetectionOptions(_Contract):
    """The v1.1 change-point request (``UnivariateChangePointDetectionOptions``)."""

    values: pd.Series
    timestamps: pd.DatetimeIndex | None
    granularity: TimeGranularity
    custom_interval: int = 1
    period: int | None = None
    stable_trend_window: int = CHANGE_POINT_WINDOW_DEFAULTS["none"]
    threshold: float = CHANGE_POINT_THRESHOLD_DEFAULT
    positions: list[int] | None = None
    timestamp_policy: TimestampPolicy = TimestampPolicy()
    source_rows: Any = None

    @classmethod
    def from_json(cls, body: Any) -> UnivariateChangePointDetectionOptions:
        body = _require_mapping(body, "the change-point request")
        params = cls._params(body, granularity_required=True)
        return cls._build(*_parse_series(body, params["granularity"]), params)

    @classmethod
    def from_series(cls, series: pd.Series, params: Mapping[str, Any]) -> UnivariateChangePointDetectionOptions:
        """The pandas-native request; granularity may be left out there (none)."""
        params = cls._params(_require_mapping(params, "the change-point parameters"), granularity_required=False)
        return cls._build(*_series_from_pandas(series, params["granularity"]), params)

    @staticmethod
    def _params(body: Mapping[str, Any], *, granularity_required: bool) -> dict[str, Any]:
        granularity = _granularity(body, required=granularity_required)
        interval = _custom_interval(body)
        period = _period(body)
        threshold = body.get("threshold", CHANGE_POINT_THRESHOLD_DEFAULT)
        if not _is_number(threshold) or not 0.01 <= threshold <= 0.99:
            raise ValidationError(
                ErrorCode.INVALID_MODEL_ARGUMENT, "The 'threshold' field must be a float between 0.01 and 0.99."
            )
        window = body.get("stableTrendWindow", CHANGE_POINT_WINDOW_DEFAULTS[granularity.value])
        return dict(granularity=granularity, custom_interval=interval, period=period, stable_trend_window=window,
                    threshold=float(threshold), timestamp_policy=TimestampPolicy.from_json(body.get("timestampPolicy")))

    @classmethod
    def _build(cls, values: pd.Series, stamps: pd.DatetimeIndex | None,
               params: dict[str, Any]) -> UnivariateChangePointDetectionOptions:
        values, stamps, rows = _regular(values, stamps, params)
        window = params["stable_trend_window"]
        if isinstance(window, bool) or not isinstance(window, int) or window < 3 or window >= len(values) / 2:
            raise ValidationError(
                ErrorCode.INVALID_MODEL_ARGUMENT,
                "The 'stableTrendWindow' field must be an integer >= 3 and < half of series' length.",
            )
        positions = _positions(stamps, params["granularity"], params["custom_interval"])
        grid_length = len(values) if positions is None else positions[-1] + 1
        _check_period_fits(params["period"], grid_length, len(values), True)
        return cls(values=values, timestamps=stamps, positions=positions, source_rows=rows, **params)

    def to_json(self) -> dict[str, Any]:
        out = _series_fields_json(self)
        out.update(stableTrendWindow=self.stable_trend_window, threshold=self.threshold)
        return out


def _series_fields_json(options: Any) -> dict[str, Any]:
    """The request fields both univariate option types share: series, granularity, customInterval, period."""
    out: dict[str, Any] = {"series": _series_json(options.values, options.timestamps),
                           "granularity": options.granularity.value}
    if options.custom_interval != 1:
        out["customInterval"] = options.custom_interval
    if options.period is not None:
        out["period"] = options.period
    if not options.timestamp_policy.strict:
        out["timestampPolicy"] = options.timestamp_policy.to_json()
    return out


def _series_json(values: pd.Series, timestamps: pd.DatetimeIndex | None) -> list[dict[str, Any]]:
    if timestamps is None:
        return [{"value": v} for v in values.tolist()]
    return [{"timestamp": format_timestamp(t), "value": v} for t, v in zip(timestamps, values.tolist())]


def _floats(values: Any) -> list[float]:
    if getattr(values, "dtype", None) is not None and values.dtype.kind == "f":
        return values.astype("float64").tolist()  # already Python floats, one C loop
    return [float(v) for v in values]


def _bools(values: Any) -> list[bool]:
    if getattr(values, "dtype", None) is not None and values.dtype.kind == "b":
        return values.tolist()
    return [bool(v) for v in values]


@dataclass(frozen=True)
class UnivariateEntireDetectionResult(_Contract):
    """One entry per input point (``UnivariateEntireDetectionResult``)."""

    period: int
    expected_values: list[float]
    upper_margins: list[float]
    lower_margins: list[float]
    is_anomaly: list[bool]
    is_negative_anomaly: list[bool]
    is_positive_anomaly: list[bool]
    severity: list[float]

    def to_json(self) -> dict[str, Any]:  # list-at-a-time: a million points must not go value by value
        return {"period": int(self.period), "expectedValues": _floats(self.expected_values),
                "upperMargins": _floats(self.upper_margins), "lowerMargins": _floats(self.lower_margins),
                "isAnomaly": _bools(self.is_anomaly), "isNegativeAnomaly": _bools(self.is_negative_anomaly),
                "isPositiveAnomaly": _bools(self.is_positive_anomaly), "severity": _floats(self.severity)}


@dataclass(frozen=True)
class UnivariateLastDetectionResult(_Contract):
    """The latest point's status (``UnivariateLastDetectionResult``)."""

    period: int
    suggested_window: int
    expected_value: float
    upper_margin: float
    lower_margin: float
    is_anomaly: bool
    is_negative_anomaly: bool
    is_positive_anomaly: bool
    severity: float


@dataclass(frozen=True)
class UnivariateChangePointDetectionResult(_Contract):
    """One entry per input point (``UnivariateChangePointDetectionResult``)."""

    period: int
    is_change_point: list[bool]
    confidence_scores: list[float]

    def to_json(self) -> dict[str, Any]:
        return {"period": int(self.period), "isChangePoint": _bools(self.is_change_point),
                "confidenceScores": _floats(self.confidence_scores)}

__all__ = [
    "CHANGE_POINT_THRESHOLD_DEFAULT",
    "CHANGE_POINT_WINDOW_DEFAULTS",
    "MAX_ANOMALY_RATIO_DEFAULT",
    "MAX_ANOMALY_RATIO_LIMIT",
    "SENSITIVITY_DEFAULT",
    "UNIVARIATE_MAX_POINTS",
    "UNIVARIATE_MIN_POINTS",
    "UNIVARIATE_VALUE_BOUND",
    "DuplicateRule",
    "ImputeMode",
    "TimestampPolicy",
    "UnivariateChangePointDetectionOptions",
    "UnivariateChangePointDetectionResult",
    "UnivariateDetectionOptions",
    "UnivariateEntireDetectionResult",
    "UnivariateLastDetectionResult",
]
