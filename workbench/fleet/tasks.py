"""What runs on a Dask worker: train or score one entity with the core, hand back plain picklable results.

A task reads its entity's data itself (a path the worker can see, a blob SAS URL, or the slice of a long
table it was given), calls :mod:`workbench.mvad.pipeline`, and returns a dict: the artifact's bytes and
diagnostics, or the detections, or a coded error.  It never touches the registry; the driver records
what comes back.  Every failure is caught and returned, so one bad entity never fails the fleet.
"""
from __future__ import annotations

import os
import time
import warnings
from typing import Any

import pandas as pd

from workbench import data, runtime
from workbench.contracts import EPOCHS_DEFAULT, DiagnosticsInfo, Model, ModelInfo, ModelState, ModelStatus
from workbench.exceptions import ErrorCode, error_of
from workbench.mvad import artifacts
from workbench.mvad.pipeline import (
    detect,
    fit_detector,
    prepare_detection,
    prepare_training,
)


def train_entity(entity: str, body: dict[str, Any], frame: pd.DataFrame | None = None, *, seed: int = 0,
                 detector_params: dict[str, Any] | None = None, threads: int = 1,
                 dialect: data.CsvDialect = data.CsvDialect()) -> dict[str, Any]:
    """Train one entity: ``{"status": "READY", "files", "document", "rows", ...}`` or ``{"status": "FAILED", "error"}``."""
    started = time.perf_counter()
    cpu = time.process_time()
    _limit_threads(threads)
    out: dict[str, Any] = {"entity": entity, "worker": _worker_name()}
    try:
        epochs = int(body.get("epochs", EPOCHS_DEFAULT))
        request = ModelInfo.from_json({k: v for k, v in body.items() if k != "epochs"})
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", data.DataWarning)
            prepared = prepare_training(request, frame, dialect=dialect)
        state = ModelState()

        def on_epoch(report) -> None:
            state.record(report.epoch, epochs, report.train_loss, report.validation_loss, report.latency_seconds)

        detector = fit_detector(prepared, request.sliding_window, epochs=epochs, seed=seed, on_epoch=on_epoch,
                                **(detector_params or {}))
        request.status = ModelStatus.READY
        request.diagnostics_info = DiagnosticsInfo(state, list(prepared.variable_states))
        document = {"modelInfo": request.to_json()}
        out.update(status=ModelStatus.READY.value, files=artifacts.dump(detector, document), document=document,
                   rows=len(prepared.frame), variables=len(prepared.variables),
                   warnings=[str(w.message) for w in caught])
    except Exception as exc:  # noqa: BLE001 - every failure becomes this entity's coded error
        out.update(status=ModelStatus.FAILED.value, error=error_of(exc, ErrorCode.TRAINING_FAILED))
    out.update(seconds=time.perf_counter() - started, cpu_seconds=time.process_time() - cpu)
    return out


def detect_entity(entity: str, files: dict[str, bytes], data_source: str, frame: pd.DataFrame | None = None, *,
                  start_time: str | None = None, end_time: str | None = None, top_contributor_count: int = 10,
                  threads: int = 1, dialect: data.CsvDialect = data.CsvDialect()) -> dict[str, Any]:
    """Batch-detect one entity with its model's artifact: ``{"status": "READY", "detections", ...}`` or FAILED."""
    started = time.perf_counter()
    cpu = time.process_time()
    _limit_threads(threads)
    out: dict[str, Any] = {"entity": entity, "worker": _worker_name()}
    try:
        detector, document = artifacts.load_files(files, label=f"model of entity '{entity}'")
        info = Model.from_json(document).model_info
        if frame is not None:
            prepared = data.from_frame(frame, start_time=start_time, end_time=end_time,
                                       align_policy=info.align_policy)
        else:
            prepared = prepare_detection(info, data_source, start_time, end_time, dialect=dialect)
        detections = detect(detector, prepared, top_contributor_count)
        out.update(status=ModelStatus.READY.value, detections=detections,
                   variable_states=[s.to_json() for s in prepared.variable_states])
    except Exception as exc:  # noqa: BLE001
        out.update(status=ModelStatus.FAILED.value, error=error_of(exc, ErrorCode.DETECTION_FAILED))
    out.update(seconds=time.perf_counter() - started, cpu_seconds=time.process_time() - cpu)
    return out


def _limit_threads(threads: int) -> None:
    """One torch thread per worker process: parallelism comes from the workers, not from inside one model."""
    if threads:
        runtime.use_threads(int(threads))


def _worker_name() -> str:
    try:
        from distributed import get_worker

        return get_worker().address
    except (ImportError, ValueError):
        return f"pid {os.getpid()}"
