"""The multivariate (MVAD) v1.1 contract: training requests, model documents, detection requests and results.

Field names, ranges and defaults follow the retired service's v1.1 documents (``shared/seeds``);
each default is defined here once and every other module takes it from here.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, ClassVar, Mapping

import pandas as pd

from workbench.contracts.base import (
    ErrorResponse,
    _Contract,
    _enum,
    _integer,
    _require_mapping,
    _string,
    time_range,
)
from workbench.exceptions import ErrorCode, ValidationError
from workbench.timegrid import parse_timestamp

SLIDING_WINDOW_MIN = 28
SLIDING_WINDOW_MAX = 2880
SLIDING_WINDOW_DEFAULT = 300
EPOCHS_DEFAULT = 100  # not a v1.1 field (the service chose); every front door takes it from here
MAX_TIMESTAMPS = 1_000_000
RECOMMENDED_MIN_TIMESTAMPS = 5_000
TOP_CONTRIBUTOR_COUNT_DEFAULT = 10
# not a v1.1 field: the severity a fleet entity's episode must reach for the entity to need attention (the
# service's advice: sift flags by severity); near-threshold flags leave it quiet (results/selection/triage.md)
FLEET_ATTENTION_SEVERITY = 0.5
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

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> "VariableState":
        first, last = body.get("firstTimestamp"), body.get("lastTimestamp")
        return cls(str(body["variable"]), float(body.get("filledNARatio", 0.0)), int(body.get("effectiveCount", 0)),
                   parse_timestamp(first) if first else None, parse_timestamp(last) if last else None,
                   _errors(body.get("errors")))


# ---------------------------------------------------------------- training


@dataclass
class ModelState(_Contract):
    """Training progress recorded every ``RECORD_EVERY`` epochs and at the last (``diagnosticsInfo.modelState``)."""

    RECORD_EVERY: ClassVar[int] = 10

    epoch_ids: list[int] = field(default_factory=list)
    train_losses: list[float | None] = field(default_factory=list)
    validation_losses: list[float | None] = field(default_factory=list)
    latencies_in_seconds: list[float] = field(default_factory=list)

    def record(self, epoch: int, epochs: int, train_loss: float, validation_loss: float, seconds: float) -> bool:
        """Keep this epoch if it is one v1.1 reports (every 10th and the last); True when it was kept."""
        if epoch % self.RECORD_EVERY and epoch != epochs:
            return False
        self.epoch_ids.append(int(epoch))
        self.train_losses.append(_finite(train_loss))
        self.validation_losses.append(_finite(validation_loss))
        self.latencies_in_seconds.append(float(seconds))
        return True

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

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> "DiagnosticsInfo":
        return cls(ModelState.from_json(body.get("modelState") or {}),
                   [VariableState.from_json(v) for v in body.get("variableStates") or []])


@dataclass
class ModelInfo(_Contract):
    """The v1.1 ``ModelInfo``: the training request, plus the read-only status, errors and diagnostics.

    ``from_json`` and :meth:`create` read a request (read-only fields in it are ignored);
    :meth:`Model.from_json` reads a stored document, state included.
    """

    data_source: str
    data_schema: DataSchema = DataSchema.ONE_TABLE
    start_time: pd.Timestamp | None = None
    end_time: pd.Timestamp | None = None
    display_name: str = ""
    sliding_window: int = SLIDING_WINDOW_DEFAULT
    align_policy: AlignPolicy = field(default_factory=AlignPolicy)
    status: ModelStatus = ModelStatus.CREATED
    errors: list[ErrorResponse] = field(default_factory=list)
    diagnostics_info: DiagnosticsInfo = field(default_factory=lambda: DiagnosticsInfo())

    @classmethod
    def create(cls, data_source: str, *, data_schema: DataSchema | str | None = None,
               start_time: Any = None, end_time: Any = None, display_name: str | None = None,
               sliding_window: int | None = None, align_policy: AlignPolicy | Mapping[str, Any] | None = None,
               ) -> "ModelInfo":
        """A validated training request from Python values (the pandas front door's way in)."""
        if not isinstance(data_source, str) or not data_source:
            raise ValidationError(ErrorCode.BAD_ARGUMENT, "'dataSource' is required")
        if display_name is not None and not isinstance(display_name, str):
            raise ValidationError(ErrorCode.BAD_ARGUMENT,
                                  f"'displayName' must be a string; got {type(display_name).__name__}")
        start, end = time_range(start_time, end_time)
        return cls(
            data_source=data_source,
            data_schema=_enum(DataSchema, data_schema, DataSchema.ONE_TABLE, ErrorCode.INVALID_DATA_SCHEMA,
                              "dataSchema"),
            start_time=start,
            end_time=end,
            display_name=display_name or "",
            sliding_window=_integer(sliding_window, "slidingWindow", SLIDING_WINDOW_MIN, SLIDING_WINDOW_MAX,
                                    SLIDING_WINDOW_DEFAULT, ErrorCode.INVALID_SLIDING_WINDOW),
            align_policy=align_policy if isinstance(align_policy, AlignPolicy) else AlignPolicy.from_json(align_policy),
        )

    @classmethod
    def from_json(cls, body: Any) -> "ModelInfo":
        body = _require_mapping(body, "the training request")
        source = _string(body, "dataSource", required=False) or _string(body, "source", required=False)
        return cls.create(source or "", data_schema=body.get("dataSchema"), start_time=body.get("startTime"),
                          end_time=body.get("endTime"), display_name=_string(body, "displayName", required=False),
                          sliding_window=body.get("slidingWindow"), align_policy=body.get("alignPolicy"))

    @property
    def is_ready(self) -> bool:
        return self.status is ModelStatus.READY


@dataclass
class FleetMember(_Contract):
    """Not v1.1: marks a model or batch result as one entity's in a fleet (``workbench.fleet``)."""

    name: str
    entity: str
    fingerprint: str | None = None          # the entity's data and parameters, for skip-on-rerun
    training_seconds: float | None = None
    detection_seconds: float | None = None
    rows: int | None = None
    variables: int | None = None
    epochs: int | None = None
    worker: str | None = None

    @classmethod
    def from_json(cls, body: Mapping[str, Any] | None) -> "FleetMember | None":
        if not body:
            return None
        return cls(str(body["name"]), str(body["entity"]), body.get("fingerprint"), body.get("trainingSeconds"),
                   body.get("detectionSeconds"), body.get("rows"), body.get("variables"), body.get("epochs"),
                   body.get("worker"))


@dataclass
class Model(_Contract):
    """A stored model (the v1.1 ``AnomalyDetectionModel``): id, times and its ``modelInfo``."""

    model_id: str
    created_time: str
    last_updated_time: str
    model_info: ModelInfo
    fleet: FleetMember | None = None  # not v1.1: set for a fleet entity's model

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> "Model":
        raw = _require_mapping(body.get("modelInfo"), "modelInfo")
        info = ModelInfo.from_json(raw)
        info.status = ModelStatus(raw.get("status", ModelStatus.CREATED.value))
        info.errors = _errors(raw.get("errors"))
        info.diagnostics_info = DiagnosticsInfo.from_json(raw.get("diagnosticsInfo") or {})
        return cls(str(body.get("modelId", "")), str(body.get("createdTime", "")),
                   str(body.get("lastUpdatedTime", "")), info, FleetMember.from_json(body.get("fleet")))


def _finite(value: float) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None  # JSON has no NaN: a diverged loss is null


def _errors(raw: Any) -> list[ErrorResponse]:
    return [ErrorResponse(str(e.get("code", "")), str(e.get("message", ""))) for e in raw or []]


# ---------------------------------------------------------------- inference


@dataclass(frozen=True)
class DetectionRequest(_Contract):
    """The v1.1 batch inference request (``MultivariateBatchDetectionOptions``)."""

    data_source: str
    top_contributor_count: int = TOP_CONTRIBUTOR_COUNT_DEFAULT
    start_time: pd.Timestamp | None = None
    end_time: pd.Timestamp | None = None

    @classmethod
    def create(cls, data_source: str, *, top_contributor_count: Any = None, start_time: Any = None,
               end_time: Any = None) -> "DetectionRequest":
        """A validated detection request from Python values (the pandas front door's way in)."""
        if not isinstance(data_source, str) or not data_source:
            raise ValidationError(ErrorCode.BAD_ARGUMENT, "'dataSource' is required")
        start, end = time_range(start_time, end_time)
        top = _integer(
            top_contributor_count, "topContributorCount", 1, MAX_VARIABLES,
            TOP_CONTRIBUTOR_COUNT_DEFAULT, ErrorCode.INVALID_TOP_CONTRIBUTOR_COUNT,
        )
        return cls(data_source, top, start, end)

    @classmethod
    def from_json(cls, body: Any) -> "DetectionRequest":
        body = _require_mapping(body, "the detection request")
        source = _string(body, "dataSource", required=False) or _string(body, "source", required=False)
        return cls.create(source or "", top_contributor_count=body.get("topContributorCount"),
                          start_time=body.get("startTime"), end_time=body.get("endTime"))


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


DetectionSetupInfo = DetectionRequest  # v1.1 echoes the request as the result's ``setupInfo``


@dataclass
class DetectionSummary(_Contract):
    status: ModelStatus
    errors: list[ErrorResponse] = field(default_factory=list)
    variable_states: list[VariableState] = field(default_factory=list)
    setup_info: DetectionRequest | None = None

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> "DetectionSummary":
        setup = body.get("setupInfo")
        return cls(ModelStatus(body["status"]), _errors(body.get("errors")),
                   [VariableState.from_json(v) for v in body.get("variableStates") or []],
                   DetectionRequest.from_json(setup) if setup else None)

    @property
    def is_ready(self) -> bool:
        return self.status is ModelStatus.READY


@dataclass
class DetectionResult(_Contract):
    """A batch detection (``resultId``, ``summary``); ``results`` are filled in when it is read, not stored."""

    result_id: str
    summary: DetectionSummary
    results: list[AnomalyState] = field(default_factory=list)
    fleet: FleetMember | None = None  # not v1.1: set for a fleet entity's result

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> "DetectionResult":
        return cls(str(body.get("resultId", "")),
                   DetectionSummary.from_json(_require_mapping(body.get("summary"), "summary")),
                   fleet=FleetMember.from_json(body.get("fleet")))


@dataclass
class LastDetectionResult(_Contract):
    variable_states: list[VariableState]
    results: list[AnomalyState]

__all__ = [
    "SLIDING_WINDOW_MIN",
    "SLIDING_WINDOW_MAX",
    "SLIDING_WINDOW_DEFAULT",
    "EPOCHS_DEFAULT",
    "MAX_TIMESTAMPS",
    "RECOMMENDED_MIN_TIMESTAMPS",
    "TOP_CONTRIBUTOR_COUNT_DEFAULT",
    "FLEET_ATTENTION_SEVERITY",
    "MAX_VARIABLES",
    "MODELS_PAGE_DEFAULT",
    "MAX_MODELS",
    "AlignMode",
    "FillNAMethod",
    "DataSchema",
    "ModelStatus",
    "DetectionStatus",
    "AlignPolicy",
    "VariableState",
    "ModelInfo",
    "Model",
    "FleetMember",
    "ModelState",
    "DiagnosticsInfo",
    "DetectionRequest",
    "VariableValues",
    "LastDetectionRequest",
    "CorrelationChanges",
    "Interpretation",
    "AnomalyValue",
    "AnomalyState",
    "DetectionSetupInfo",
    "DetectionSummary",
    "DetectionResult",
    "LastDetectionResult",
]
