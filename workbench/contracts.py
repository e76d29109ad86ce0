"""The Anomaly Detector v1.1 JSON contract, defined once.

Every request the workbench accepts and every response it returns goes through
the dataclasses here: ``from_json`` validates a camelCase dict (raising
:class:`~workbench.exceptions.ValidationError` with the v1.1 error code) and
``to_json`` writes one.  Field names, ranges and defaults follow the retired
service's v1.1 documents (``shared/seeds``).
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Mapping

import pandas as pd

from workbench.exceptions import ErrorCode, ValidationError

SLIDING_WINDOW_MIN = 28
SLIDING_WINDOW_MAX = 2880
SLIDING_WINDOW_DEFAULT = 300
MAX_TIMESTAMPS = 1_000_000
RECOMMENDED_MIN_TIMESTAMPS = 5_000
TOP_CONTRIBUTOR_COUNT_DEFAULT = 10
MAX_VARIABLES = 301
MODELS_PAGE_DEFAULT = 10
MAX_MODELS = 1000


class AlignMode(str, Enum):
    INNER = "Inner"
    OUTER = "Outer"


class FillNAMethod(str, Enum):
    LINEAR = "Linear"
    PREVIOUS = "Previous"
    SUBSEQUENT = "Subsequent"
    ZERO = "Zero"
    FIXED = "Fixed"


class DataSchema(str, Enum):
    ONE_TABLE = "OneTable"
    MULTI_TABLE = "MultiTable"


class ModelStatus(str, Enum):
    CREATED = "CREATED"
    RUNNING = "RUNNING"
    READY = "READY"
    FAILED = "FAILED"


DetectionStatus = ModelStatus  # the v1.1 spec uses the same four values for batch results

# snake_case field names whose camelCase is not the mechanical conversion
_JSON_NAME_OVERRIDES = {
    "filled_na_ratio": "filledNARatio",
    "fill_na_method": "fillNAMethod",
}


def _camel(name: str) -> str:
    if name in _JSON_NAME_OVERRIDES:
        return _JSON_NAME_OVERRIDES[name]
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def _to_json_value(value: Any) -> Any:
    if dataclasses.is_dataclass(value):
        return value.to_json()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, pd.Timestamp):
        return format_timestamp(value)
    if isinstance(value, list):
        return [_to_json_value(v) for v in value]
    if isinstance(value, dict):
        return {k: _to_json_value(v) for k, v in value.items()}
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


class _Contract:
    """Mixin: camelCase JSON output for a dataclass; ``None`` optionals are omitted."""

    _always: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            if value is None and f.name not in self._always:
                continue
            out[_camel(f.name)] = _to_json_value(value)
        return out


# ---------------------------------------------------------------- timestamps


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


# ---------------------------------------------------------------- helpers for from_json


def _require_mapping(body: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(body, Mapping):
        raise ValidationError(ErrorCode.BAD_ARGUMENT, f"{what} must be a JSON object, got {type(body).__name__}")
    return body


def _enum(enum_cls: type[Enum], value: Any, default: Enum, code: str, name: str) -> Any:
    if value is None:
        return default
    for member in enum_cls:
        if isinstance(value, str) and value.lower() == member.value.lower():
            return member
    allowed = ", ".join(m.value for m in enum_cls)
    raise ValidationError(code, f"'{name}' must be one of {allowed}; got {value!r}")


def _integer(value: Any, name: str, lo: int, hi: int, default: int, code: str) -> int:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)) or int(value) != value:
        raise ValidationError(code, f"'{name}' must be an integer between {lo} and {hi}; got {value!r}")
    value = int(value)
    if not lo <= value <= hi:
        raise ValidationError(code, f"'{name}' must be between {lo} and {hi}; got {value}")
    return value


def _string(body: Mapping[str, Any], name: str, *, required: bool, default: str | None = None) -> str | None:
    value = body.get(name)
    if value is None:
        if required:
            raise ValidationError(ErrorCode.BAD_ARGUMENT, f"'{name}' is required")
        return default
    if not isinstance(value, str):
        raise ValidationError(ErrorCode.BAD_ARGUMENT, f"'{name}' must be a string; got {type(value).__name__}")
    return value


def _time_range(body: Mapping[str, Any], *, required: bool) -> tuple[pd.Timestamp | None, pd.Timestamp | None]:
    start_raw, end_raw = body.get("startTime"), body.get("endTime")
    if required and (start_raw is None or end_raw is None):
        missing = [n for n, v in (("startTime", start_raw), ("endTime", end_raw)) if v is None]
        raise ValidationError(ErrorCode.BAD_ARGUMENT, f"{' and '.join(missing)} required")
    return time_range(start_raw, end_raw)


def time_range(start_raw: Any, end_raw: Any) -> tuple[pd.Timestamp | None, pd.Timestamp | None]:
    """Parse optional ``startTime``/``endTime``; ``endTime`` before ``startTime`` is an error (equal is fine)."""
    start = parse_timestamp(start_raw, field_name="startTime") if start_raw is not None else None
    end = parse_timestamp(end_raw, field_name="endTime") if end_raw is not None else None
    if start is not None and end is not None and end < start:
        raise ValidationError(
            ErrorCode.INVALID_TIMESTAMP_RANGE,
            f"endTime ({format_timestamp(end)}) must be later than or equal to startTime ({format_timestamp(start)})",
        )
    return start, end


# ---------------------------------------------------------------- shared pieces


@dataclass(frozen=True)
class ErrorResponse(_Contract):
    code: str
    message: str


@dataclass(frozen=True)
class AlignPolicy(_Contract):
    """How variables are joined on timestamps and how the gaps are filled."""

    align_mode: AlignMode = AlignMode.OUTER
    fill_na_method: FillNAMethod = FillNAMethod.LINEAR
    padding_value: float | None = None

    @classmethod
    def from_json(cls, body: Any) -> "AlignPolicy":
        if body is None:
            return cls()
        body = _require_mapping(body, "alignPolicy")
        mode = _enum(AlignMode, body.get("alignMode"), AlignMode.OUTER, ErrorCode.INVALID_ALIGN_MODE, "alignMode")
        method = _enum(
            FillNAMethod, body.get("fillNAMethod"), FillNAMethod.LINEAR, ErrorCode.INVALID_FILL_NA_METHOD, "fillNAMethod"
        )
        padding = body.get("paddingValue")
        if padding is not None and (isinstance(padding, bool) or not isinstance(padding, (int, float))
                                    or not math.isfinite(padding)):
            raise ValidationError(ErrorCode.INVALID_PADDING_VALUE, f"'paddingValue' must be a finite number; got {padding!r}")
        if method is FillNAMethod.FIXED and padding is None:
            raise ValidationError(
                ErrorCode.INVALID_PADDING_VALUE, "'paddingValue' is required when 'fillNAMethod' is 'Fixed'"
            )
        return cls(mode, method, None if padding is None else float(padding))


@dataclass(frozen=True)
class VariableState(_Contract):
    """Per-variable data-preparation diagnostics (``variableStates``)."""

    variable: str
    filled_na_ratio: float
    effective_count: int
    first_timestamp: pd.Timestamp | None
    last_timestamp: pd.Timestamp | None
    errors: list[ErrorResponse] = field(default_factory=list)


# ---------------------------------------------------------------- training


@dataclass(frozen=True)
class ModelInfo(_Contract):
    """The v1.1 training request (``ModelInfo``); status/errors/diagnostics are kept by the registry."""

    data_source: str
    data_schema: DataSchema = DataSchema.ONE_TABLE
    start_time: pd.Timestamp | None = None
    end_time: pd.Timestamp | None = None
    display_name: str = ""
    sliding_window: int = SLIDING_WINDOW_DEFAULT
    align_policy: AlignPolicy = field(default_factory=AlignPolicy)

    @classmethod
    def from_json(cls, body: Any) -> "ModelInfo":
        body = _require_mapping(body, "the training request")
        source = _string(body, "dataSource", required=False) or _string(body, "source", required=False)
        if not source:
            raise ValidationError(ErrorCode.BAD_ARGUMENT, "'dataSource' is required")
        schema = _enum(
            DataSchema, body.get("dataSchema"), DataSchema.ONE_TABLE, ErrorCode.INVALID_DATA_SCHEMA, "dataSchema"
        )
        start, end = _time_range(body, required=False)
        window = _integer(
            body.get("slidingWindow"), "slidingWindow", SLIDING_WINDOW_MIN, SLIDING_WINDOW_MAX,
            SLIDING_WINDOW_DEFAULT, ErrorCode.INVALID_SLIDING_WINDOW,
        )
        return cls(
            data_source=source,
            data_schema=schema,
            start_time=start,
            end_time=end,
            display_name=_string(body, "displayName", required=False, default="") or "",
            sliding_window=window,
            align_policy=AlignPolicy.from_json(body.get("alignPolicy")),
        )


@dataclass
class ModelState(_Contract):
    """Training progress recorded every 10 epochs (``diagnosticsInfo.modelState``)."""

    epoch_ids: list[int] = field(default_factory=list)
    train_losses: list[float] = field(default_factory=list)
    validation_losses: list[float] = field(default_factory=list)
    latencies_in_seconds: list[float] = field(default_factory=list)

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> "ModelState":
        return cls(
            list(body.get("epochIds", [])), list(body.get("trainLosses", [])),
            list(body.get("validationLosses", [])), list(body.get("latenciesInSeconds", [])),
        )


@dataclass
class DiagnosticsInfo(_Contract):
    model_state: ModelState = field(default_factory=ModelState)
    variable_states: list[VariableState] = field(default_factory=list)


# ---------------------------------------------------------------- inference


@dataclass(frozen=True)
class DetectionRequest(_Contract):
    """The v1.1 batch inference request (``MultivariateBatchDetectionOptions``)."""

    data_source: str
    top_contributor_count: int = TOP_CONTRIBUTOR_COUNT_DEFAULT
    start_time: pd.Timestamp | None = None
    end_time: pd.Timestamp | None = None

    @classmethod
    def from_json(cls, body: Any) -> "DetectionRequest":
        body = _require_mapping(body, "the detection request")
        source = _string(body, "dataSource", required=False) or _string(body, "source", required=False)
        if not source:
            raise ValidationError(ErrorCode.BAD_ARGUMENT, "'dataSource' is required")
        start, end = _time_range(body, required=False)
        top = _integer(
            body.get("topContributorCount"), "topContributorCount", 1, MAX_VARIABLES,
            TOP_CONTRIBUTOR_COUNT_DEFAULT, ErrorCode.INVALID_TOP_CONTRIBUTOR_COUNT,
        )
        return cls(source, top, start, end)


@dataclass(frozen=True)
class VariableValues(_Contract):
    """One variable of a detect-last request."""

    variable: str
    timestamps: list[str]
    values: list[float]


@dataclass(frozen=True)
class LastDetectionRequest(_Contract):
    """The v1.1 streaming request (``MultivariateLastDetectionOptions``)."""

    variables: list[VariableValues]
    top_contributor_count: int = TOP_CONTRIBUTOR_COUNT_DEFAULT

    @classmethod
    def from_json(cls, body: Any) -> "LastDetectionRequest":
        body = _require_mapping(body, "the detect-last request")
        raw = body.get("variables")
        if not isinstance(raw, list) or not raw:
            raise ValidationError(ErrorCode.BAD_ARGUMENT, "'variables' must be a non-empty list")
        variables = []
        for i, item in enumerate(raw):
            item = _require_mapping(item, f"variables[{i}]")
            name = item.get("variable", item.get("name"))
            stamps, values = item.get("timestamps"), item.get("values")
            if not isinstance(name, str) or not name:
                raise ValidationError(ErrorCode.BAD_ARGUMENT, f"variables[{i}].variable must be a non-empty string")
            if not isinstance(stamps, list) or not isinstance(values, list):
                raise ValidationError(
                    ErrorCode.BAD_ARGUMENT, f"variables[{i}] ('{name}') needs 'timestamps' and 'values' lists"
                )
            if len(stamps) != len(values):
                raise ValidationError(
                    ErrorCode.BAD_ARGUMENT,
                    f"variable '{name}' has {len(stamps)} timestamps but {len(values)} values",
                )
            variables.append(VariableValues(name, stamps, values))
        top = _integer(
            body.get("topContributorCount"), "topContributorCount", 1, MAX_VARIABLES,
            TOP_CONTRIBUTOR_COUNT_DEFAULT, ErrorCode.INVALID_TOP_CONTRIBUTOR_COUNT,
        )
        return cls(variables, top)


@dataclass(frozen=True)
class CorrelationChanges(_Contract):
    changed_variables: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Interpretation(_Contract):
    variable: str
    contribution_score: float
    correlation_changes: CorrelationChanges = field(default_factory=CorrelationChanges)


@dataclass(frozen=True)
class AnomalyValue(_Contract):
    is_anomaly: bool
    severity: float
    score: float
    interpretation: list[Interpretation] = field(default_factory=list)


@dataclass(frozen=True)
class AnomalyState(_Contract):
    """One timestamp of a detection result: a value, or errors such as InsufficientHistoricalData."""

    timestamp: pd.Timestamp
    value: AnomalyValue | None = None
    errors: list[ErrorResponse] = field(default_factory=list)


@dataclass(frozen=True)
class DetectionSetupInfo(_Contract):
    data_source: str
    top_contributor_count: int
    start_time: pd.Timestamp | None
    end_time: pd.Timestamp | None


@dataclass
class DetectionSummary(_Contract):
    status: ModelStatus
    errors: list[ErrorResponse] = field(default_factory=list)
    variable_states: list[VariableState] = field(default_factory=list)
    setup_info: DetectionSetupInfo | None = None


@dataclass
class DetectionResult(_Contract):
    result_id: str
    summary: DetectionSummary
    results: list[AnomalyState] = field(default_factory=list)


@dataclass
class LastDetectionResult(_Contract):
    variable_states: list[VariableState]
    results: list[AnomalyState]


# ---- univariate (v1.1 /timeseries) ----
# Requests and responses of /timeseries/entire/detect, /timeseries/last/detect and
# /timeseries/changepoint/detect.  ``from_json`` applies the retired service's checks in its
# order, with its error codes; series arrive as ``[{timestamp, value}]`` and are kept as a
# float ``pd.Series`` plus the points' positions on the regular time grid.

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


class ImputeMode(str, Enum):
    AUTO = "auto"
    PREVIOUS = "previous"
    LINEAR = "linear"
    FIXED = "fixed"
    ZERO = "zero"
    NOT_FILL = "notFill"


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


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


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
                ErrorCode.INVALID_SERIES, "The 'series' field must be sorted by timestamp in ascending order.", row=i
            )
        raise ValidationError(
            ErrorCode.INVALID_SERIES,
            f"The 'series' field cannot have duplicated timestamp ({format_timestamp(stamps[i])}).", row=i,
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
        stamps = pd.DatetimeIndex(pd.to_datetime([point["timestamp"] for point in series], utc=True, format="ISO8601"))
    except (TypeError, KeyError, ValueError) as exc:
        raise ValidationError(ErrorCode.BAD_ARGUMENT, "'timestamp' or 'value' is malformed in 'series' field.") from exc
    if stamps.hasnans:
        raise ValidationError(ErrorCode.BAD_ARGUMENT, "'timestamp' or 'value' is malformed in 'series' field.")
    return values, _check_order(stamps)


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
        stamps = pd.DatetimeIndex(values.index)
    except (TypeError, ValueError) as exc:
        raise ValidationError(ErrorCode.BAD_ARGUMENT, "the series must be indexed by timestamps") from exc
    stamps = stamps.tz_localize("UTC") if stamps.tz is None else stamps.tz_convert("UTC")
    return _check_values(values), _check_order(stamps)


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
    return None if stamps is None else grid_positions(stamps, granularity, interval)


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

    @classmethod
    def from_json(cls, body: Any) -> "UnivariateDetectionOptions":
        body = _require_mapping(body, "the detection request")
        params = cls._params(body)
        return cls._build(*_parse_series(body, params["granularity"]), params)

    @classmethod
    def from_series(cls, series: pd.Series, params: Mapping[str, Any]) -> "UnivariateDetectionOptions":
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
                    impute_fixed_value=float(fixed) if impute is ImputeMode.FIXED else None)

    @classmethod
    def _build(cls, values: pd.Series, stamps: pd.DatetimeIndex | None,
               params: dict[str, Any]) -> "UnivariateDetectionOptions":
        positions = _positions(stamps, params["granularity"], params["custom_interval"])
        grid_length = len(values) if positions is None else positions[-1] + 1
        _check_period_fits(params["period"], grid_length, len(values), params["impute_mode"] is not ImputeMode.NOT_FILL)
        return cls(values=values, timestamps=stamps, positions=positions, **params)

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

    @classmethod
    def from_json(cls, body: Any) -> "UnivariateChangePointDetectionOptions":
        body = _require_mapping(body, "the change-point request")
        params = cls._params(body, granularity_required=True)
        return cls._build(*_parse_series(body, params["granularity"]), params)

    @classmethod
    def from_series(cls, series: pd.Series, params: Mapping[str, Any]) -> "UnivariateChangePointDetectionOptions":
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
                    threshold=float(threshold))

    @classmethod
    def _build(cls, values: pd.Series, stamps: pd.DatetimeIndex | None,
               params: dict[str, Any]) -> "UnivariateChangePointDetectionOptions":
        window = params["stable_trend_window"]
        if isinstance(window, bool) or not isinstance(window, int) or window < 3 or window >= len(values) / 2:
            raise ValidationError(
                ErrorCode.INVALID_MODEL_ARGUMENT,
                "The 'stableTrendWindow' field must be an integer >= 3 and < half of series' length.",
            )
        positions = _positions(stamps, params["granularity"], params["custom_interval"])
        grid_length = len(values) if positions is None else positions[-1] + 1
        _check_period_fits(params["period"], grid_length, len(values), True)
        return cls(values=values, timestamps=stamps, positions=positions, **params)

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
