"""The few helpers the notebooks call (opening or training a model, tables, exports), so each cell stays one call.

They sit on the application layer (:mod:`workbench.service`) and the pandas front door, as the
notebooks' own code would.
"""

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from workbench._atomic import atomic_write_text
from workbench.contracts import ModelStatus
from workbench.exceptions import ErrorCode, ModelStateError, ValidationError
from workbench.service.registry import Registry

# ---------------------------------------------------------------- helpers the notebooks call


def open_registry(home: str = "") -> Registry:
    """The registry of ``home`` (``""``: ``$WORKBENCH_HOME`` or ``~/.workbench``)."""
    return Registry(home or None)


def model_or_fit(model_id: str, registry: Registry, **fit: Any):
    """The READY model ``model_id``; with ``""`` a new model trained by ``MultivariateModel.fit(**fit)``.

    This lets the inspection and inference notebooks run on their own.
    """
    from workbench import MultivariateModel

    model = MultivariateModel(model_id, registry) if model_id else MultivariateModel.fit(registry=registry, **fit)
    return require_ready(model)


def require_ready(model):
    """The model itself if READY; otherwise a ``ModelStateError`` carrying its status and errors."""
    status = model.status
    if status != ModelStatus.READY.value:
        errors = "; ".join(f"[{e['code']}] {e['message']}" for e in model.errors) or "no error recorded"
        raise ModelStateError(ErrorCode.MODEL_NOT_READY, f"model '{model.model_id}' is {status}: {errors}")
    return model


def models_table(registry: Registry, top: int = 20) -> pd.DataFrame:
    """The registry's newest models, one row each: id, name, status, times, window, variable count."""
    from workbench.client import AnomalyDetectorClient

    page = AnomalyDetectorClient(registry.home).list_multivariate_models(skip=0, top=top)
    rows = [{
        "modelId": m["modelId"], "displayName": m["modelInfo"].get("displayName", ""),
        "status": m["modelInfo"]["status"], "createdTime": m.get("createdTime"),
        "lastUpdatedTime": m.get("lastUpdatedTime"), "slidingWindow": m["modelInfo"].get("slidingWindow"),
        "variables": len(m["modelInfo"]["diagnosticsInfo"].get("variableStates") or []),
    } for m in page["models"]]
    return pd.DataFrame(rows, columns=["modelId", "displayName", "status", "createdTime", "lastUpdatedTime",
                                       "slidingWindow", "variables"])


def export_result(registry: Registry, result_id: str, folder: str = "", *,
                  episodes: pd.DataFrame | None = None) -> dict[str, str]:
    """Write a READY result as ``<id>.csv`` (scores and contributions per timestamp), ``<id>.json`` (the v1.1
    result) and, given episodes, ``<id>-episodes.json``; ``folder`` ``""`` is ``<home>/exports``.  Returns the paths.
    """
    from workbench.service import batch
    from workbench.postprocess import episodes_to_json

    document = batch.get_result(registry, result_id)
    if document["summary"]["status"] != ModelStatus.READY.value:
        raise ValidationError(ErrorCode.BAD_ARGUMENT, f"result '{result_id}' is {document['summary']['status']}")
    target = Path(folder) if folder else registry.home / "exports"
    detections = batch.load_detections(registry, result_id)
    table = detections.frame.join(detections.contributions.add_prefix("contribution_"))
    paths = {"csv": target / f"{result_id}.csv", "json": target / f"{result_id}.json"}
    atomic_write_text(paths["csv"], table.to_csv(date_format="%Y-%m-%dT%H:%M:%SZ"))
    atomic_write_text(paths["json"], json.dumps(document))
    if episodes is not None:
        paths["episodes"] = target / f"{result_id}-episodes.json"
        atomic_write_text(paths["episodes"], json.dumps(episodes_to_json(episodes), indent=2))
    return {k: str(v) for k, v in paths.items()}


def ready_detections(registry: Registry, result_id: str):
    """The cached scores of a batch result; a ``ModelStateError`` with the result's errors unless it is READY."""
    from workbench.service.batch import load_detections

    summary = registry.get_result(result_id)["summary"]
    if summary["status"] != ModelStatus.READY.value:
        errors = "; ".join(f"[{e['code']}] {e['message']}" for e in summary.get("errors") or []) or "no error recorded"
        raise ModelStateError(ErrorCode.BAD_ARGUMENT, f"result '{result_id}' is {summary['status']}: {errors}")
    return load_detections(registry, result_id)


def anomaly_interpretation(detections, rank: int = 0, *, min_severity: float = 0.0, top_k: int = 10):
    """``(timestamp, interpretation)`` of the anomaly ranked ``rank`` by severity (0 = the most severe);
    ``(None, [])`` when fewer anomalies pass ``min_severity``."""
    from workbench.postprocess import flagged

    if isinstance(rank, bool) or not isinstance(rank, int) or rank < 0:
        raise ValidationError(ErrorCode.BAD_ARGUMENT, f"rank must be a non-negative integer; got {rank!r}")
    rows = np.flatnonzero(flagged(detections.frame, min_severity))
    if rank >= rows.size:
        return None, []
    severity = detections.frame["severity"].to_numpy()[rows]
    row = int(rows[np.argsort(-severity, kind="stable")[rank]])
    return detections.frame.index[row], detections.interpretation(row, top_k)


def detection_data(model_info: dict[str, Any], data_source: str, start_time: str | None = None,
                   end_time: str | None = None):
    """The scored rows of a detection as ``PreparedData`` (read with the model's schema and align policy),
    for plotting the raw values beside the scores; filled cells stay known (``history.observed``)."""
    from workbench.contracts import ModelInfo
    from workbench.mvad.pipeline import prepare_detection

    return prepare_detection(ModelInfo.from_json(model_info), data_source, start_time or None, end_time or None)


def result_data(registry: Registry, result_id: str):
    """The data a stored batch result scored (its ``dataSource``, ``startTime``, ``endTime``), as ``PreparedData``."""
    document = registry.get_result(result_id)
    setup = document["summary"].get("setupInfo") or {}
    return detection_data(registry.get_model(document["modelId"])["modelInfo"], setup["dataSource"],
                          setup.get("startTime"), setup.get("endTime"))
