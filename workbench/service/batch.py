"""Batch detection jobs (detect-batch): a ``resultId`` with status CREATED -> RUNNING -> READY or FAILED.

Data problems (unreadable source, wrong variables) are found when the job runs
and reported in the result's ``summary.errors``, as the v1.1 service deferred
data verification.  Scores are stored as arrays beside the registry and turned
into the v1.1 ``results`` list when the result is read.
"""
from __future__ import annotations

import json
from concurrent.futures import Executor
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from workbench.contracts import (
    TOP_CONTRIBUTOR_COUNT_DEFAULT, DetectionRequest, DetectionResult, DetectionSummary, ErrorResponse, Model, ModelStatus,
)
from workbench.data import CsvDialect, SourcePolicy
from workbench.exceptions import ErrorCode
from workbench.mvad.detector import MultivariateDetector
from workbench.mvad.inference import Detections, check_variables
from workbench.mvad.pipeline import detect, prepare_detection
from workbench.service import jobs, lifecycle
from workbench.service.registry import Registry

SCORES = "scores.npz"
CHANGES = "correlation_changes.json"


def submit(
    registry: Registry,
    model: Model,
    load_detector: Callable[[], MultivariateDetector],
    request: DetectionRequest,
    *,
    wait: bool = False,
    source_policy: SourcePolicy | None = None,
    executor: Executor | None = None,
    dialect: CsvDialect = CsvDialect(),
    read_first: bool = False,
) -> DetectionResult:
    """Check the rules, record a detection job and run it (in the background unless ``wait``).

    The data (CSVs in ``dialect``) is read when the job runs, as v1.1 deferred data verification, or
    before anything is recorded with ``read_first`` (bad data then raises).
    """
    lifecycle.require_allowed_source(source_policy, request.data_source)
    lifecycle.require_ready(model)
    early = None
    if read_first:
        early = _prepare(model, request, source_policy, dialect)
        check_variables(list(load_detector().variables_), early.variables)
    result = registry.create_result(model.model_id, DetectionSummary(ModelStatus.CREATED, setup_info=request))
    summary = result.summary

    def run() -> None:
        summary.status = ModelStatus.RUNNING
        registry.update_result(result)
        prepared = early or _prepare(model, request, source_policy, dialect)
        summary.variable_states = list(prepared.variable_states)
        store(registry, result, detect(load_detector(), prepared, request.top_contributor_count))

    def fail(error: ErrorResponse) -> None:
        summary.status = ModelStatus.FAILED
        summary.errors = [*summary.errors, error]
        registry.update_result(result)

    jobs.submit(run, fail, failure_code=ErrorCode.DETECTION_FAILED, name=f"detect-{result.result_id}", wait=wait,
                executor=executor)
    return registry.get_result(result.result_id)


def _prepare(model: Model, request: DetectionRequest, source_policy: SourcePolicy | None, dialect: CsvDialect):
    return prepare_detection(model.model_info, request.data_source, request.start_time, request.end_time,
                             source_policy, dialect)


def store(registry: Registry, result: DetectionResult, detections: Detections) -> None:
    """Write a result's scores (atomically), then mark it READY."""
    with registry.writing_result_dir(result.result_id) as folder:
        _save(folder, detections)
    result.summary.status = ModelStatus.READY
    registry.update_result(result)


def _save(folder: Path, detections: Detections) -> None:
    frame = detections.frame
    with open(folder / SCORES, "wb") as handle:
        np.savez(
            handle,
            timestamps=frame.index.asi8, valid=frame["valid"].to_numpy(), is_anomaly=frame["is_anomaly"].to_numpy(),
            severity=frame["severity"].to_numpy(), score=frame["score"].to_numpy(),
            contributions=detections.contributions.to_numpy(dtype=np.float32),
            variables=np.array(detections.variables, dtype=str), threshold=np.float64(detections.threshold),
            release=np.float64(detections.release),
        )
    (folder / CHANGES).write_text(json.dumps({str(k): v for k, v in detections.changed_variables.items()}))


def load_detections(registry: Registry, result_id: str) -> Detections:
    """The stored scores of a READY result (a ``ModelStateError`` with its errors otherwise)."""
    lifecycle.require_ready_result(registry.get_result(result_id))
    folder = registry.result_dir(result_id)
    with np.load(folder / SCORES, allow_pickle=False) as arrays:
        index = pd.DatetimeIndex(arrays["timestamps"].view("datetime64[ns]")).tz_localize("UTC")
        index.name = "timestamp"
        frame = pd.DataFrame({k: arrays[k] for k in ("valid", "is_anomaly", "severity", "score")}, index=index)
        contributions = pd.DataFrame(arrays["contributions"].astype(np.float64), index=index,
                                     columns=[str(v) for v in arrays["variables"]])
        threshold, release = (float(arrays[k]) if k in arrays.files else float("nan")
                              for k in ("threshold", "release"))
    changed = {int(k): v for k, v in json.loads((folder / CHANGES).read_text()).items()}
    return Detections(frame, contributions, changed, threshold, release)


def get_result(registry: Registry, result_id: str) -> DetectionResult:
    """The v1.1 ``DetectionResult`` (``results`` filled in once the job is READY)."""
    result = registry.get_result(result_id)
    if result.summary.is_ready:
        setup = result.summary.setup_info
        top_k = setup.top_contributor_count if setup else TOP_CONTRIBUTOR_COUNT_DEFAULT
        result.results = load_detections(registry, result_id).results(top_k)
    return result
