"""The few helpers the notebooks call (opening or training a model, tables, exports), so each cell stays one call.

They sit on the application layer (:mod:`workbench.service`) and the pandas front door, as the
notebooks' own code would.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from workbench._atomic import atomic_write_text
from workbench.exceptions import ErrorCode, ValidationError
from workbench.mvad.pipeline import prepare_detection
from workbench.service import batch, lifecycle
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
    lifecycle.require_ready(model.registry.get_model(model.model_id))
    return model


def models_table(registry: Registry, top: int = 20) -> pd.DataFrame:
    """The registry's newest models, one row each: id, name, status, times, window, variable count."""
    page, _ = registry.list_models(0, top)
    rows = [{
        "modelId": m.model_id, "displayName": m.model_info.display_name, "status": m.model_info.status.value,
        "createdTime": m.created_time, "lastUpdatedTime": m.last_updated_time,
        "slidingWindow": m.model_info.sliding_window,
        "variables": len(m.model_info.diagnostics_info.variable_states),
    } for m in page]
    return pd.DataFrame(rows, columns=["modelId", "displayName", "status", "createdTime", "lastUpdatedTime",
                                       "slidingWindow", "variables"])


def export_result(registry: Registry, result_id: str, folder: str = "", *,
                  episodes: pd.DataFrame | None = None) -> dict[str, str]:
    """Write a READY result as ``<id>.csv`` (scores and contributions per timestamp), ``<id>.json`` (the v1.1
    result) and, given episodes, ``<id>-episodes.json``; ``folder`` ``""`` is ``<home>/exports``.  Returns the paths.
    """
    from workbench.postprocess import episodes_to_json

    detections = batch.load_detections(registry, result_id)
    document = batch.get_result(registry, result_id).to_json()
    target = Path(folder) if folder else registry.home / "exports"
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
    return batch.load_detections(registry, result_id)


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


def detection_data(model, data_source: str, start_time: str | None = None, end_time: str | None = None):
    """The scored rows of a detection as ``PreparedData`` (read with the model's schema and align policy),
    for plotting the raw values beside the scores; filled cells stay known (``history.observed``)."""
    info = lifecycle.require_ready(model.registry.get_model(model.model_id)).model_info
    return prepare_detection(info, data_source, start_time or None, end_time or None)


def result_data(registry: Registry, result_id: str):
    """The data a stored batch result scored (its ``dataSource``, ``startTime``, ``endTime``), as ``PreparedData``."""
    setup = registry.get_result(result_id).summary.setup_info
    info = registry.get_model(registry.result_model_id(result_id)).model_info
    return prepare_detection(info, setup.data_source, setup.start_time, setup.end_time)
