"""Batch detection jobs (detect-batch): a ``resultId`` with status CREATED -> RUNNING -> READY or FAILED.

Data problems (unreadable source, wrong variables) are found when the job runs
and reported in the result's ``summary.errors``, as the v1.1 service deferred
data verification.  Scores are stored as arrays beside the registry and turned
into the v1.1 ``results`` list when the result is read.
"""
from __future__ import annotations

import json
import logging
import os
import threading
from concurrent.futures import Executor
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd

from workbench.contracts import DetectionRequest, DetectionSummary, ModelStatus
from workbench.data import SourcePolicy
from workbench.exceptions import WorkbenchError
from workbench.contracts import ModelInfo
from workbench.mvad.inference import Detections
from workbench.mvad.pipeline import detect, prepare_detection
from workbench.service.registry import Registry

log = logging.getLogger(__name__)
SCORES = "scores.npz"
CHANGES = "correlation_changes.json"


def submit(
    registry: Registry,
    model_id: str,
    model_info: dict[str, Any],
    load_detector: Callable[[], Any],
    request: DetectionRequest,
    *,
    wait: bool = False,
    source_policy: SourcePolicy | None = None,
    executor: Executor | None = None,
) -> str:
    """Record a detection job and run it (in a thread unless ``wait``); returns the result id."""
    summary = DetectionSummary(ModelStatus.CREATED, setup_info=None)
    document = {"summary": summary.to_json() | {"setupInfo": request.to_json()}, "results": [], "modelId": model_id}
    result_id = registry.create_result(model_id, document)

    def run() -> None:
        _run(registry, result_id, document, model_info, load_detector, request, source_policy)

    if wait:
        run()
    elif executor is not None:
        executor.submit(run)
    else:
        threading.Thread(target=run, name=f"detect-{result_id}", daemon=True).start()
    return result_id


def _run(registry, result_id, document, model_info, load_detector, request, source_policy) -> None:
    summary = document["summary"]
    try:
        summary["status"] = ModelStatus.RUNNING.value
        registry.update_result(result_id, document)
        prepared = prepare_detection(ModelInfo.from_json(model_info), request.data_source, request.start_time,
                                     request.end_time, source_policy)
        summary["variableStates"] = [s.to_json() for s in prepared.variable_states]
        detections = detect(load_detector(), prepared, request.top_contributor_count)
        _save(registry.result_dir(result_id), detections)
        summary["status"] = ModelStatus.READY.value
    except WorkbenchError as exc:
        summary["status"] = ModelStatus.FAILED.value
        summary["errors"] = [exc.to_error()]
    except Exception as exc:
        log.exception("batch detection %s failed", result_id)
        summary["status"] = ModelStatus.FAILED.value
        summary["errors"] = [{"code": "DetectionFailed", "message": f"{type(exc).__name__}: {exc}"}]
    registry.update_result(result_id, document)


def _save(folder: Path, detections: Detections) -> None:
    tmp = folder.with_name(f".{folder.name}.tmp")
    tmp.mkdir(parents=True, exist_ok=True)
    frame = detections.frame
    with open(tmp / SCORES, "wb") as handle:
        np.savez(
            handle,
            timestamps=frame.index.asi8, valid=frame["valid"].to_numpy(), is_anomaly=frame["is_anomaly"].to_numpy(),
            severity=frame["severity"].to_numpy(), score=frame["score"].to_numpy(),
            contributions=detections.contributions.to_numpy(dtype=np.float32),
            variables=np.array(detections.variables, dtype=str), threshold=np.float64(detections.threshold),
        )
    (tmp / CHANGES).write_text(json.dumps({str(k): v for k, v in detections.changed_variables.items()}))
    os.replace(tmp, folder)


def load_detections(registry: Registry, result_id: str) -> Detections:
    """The stored scores of a READY result."""
    folder = registry.result_dir(result_id)
    with np.load(folder / SCORES, allow_pickle=False) as arrays:
        index = pd.DatetimeIndex(arrays["timestamps"].view("datetime64[ns]")).tz_localize("UTC")
        index.name = "timestamp"
        frame = pd.DataFrame({k: arrays[k] for k in ("valid", "is_anomaly", "severity", "score")}, index=index)
        contributions = pd.DataFrame(arrays["contributions"].astype(np.float64), index=index,
                                     columns=[str(v) for v in arrays["variables"]])
        threshold = float(arrays["threshold"]) if "threshold" in arrays.files else float("nan")
    changed = {int(k): v for k, v in json.loads((folder / CHANGES).read_text()).items()}
    return Detections(frame, contributions, changed, threshold)


def get_result(registry: Registry, result_id: str) -> dict[str, Any]:
    """The v1.1 ``DetectionResult`` JSON (results filled in once the job is READY)."""
    document = registry.get_result(result_id)
    summary = document["summary"]
    results: list = []
    if summary["status"] == ModelStatus.READY.value:
        top_k = int(summary.get("setupInfo", {}).get("topContributorCount", 10))
        results = [r.to_json() for r in load_detections(registry, result_id).results(top_k)]
    return {"resultId": result_id, "summary": summary, "results": results}

