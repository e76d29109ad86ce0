"""Training jobs with the v1.1 lifecycle: CREATED -> RUNNING -> READY or FAILED.

``submit`` records the model, then trains in the calling thread (``wait=True``)
or a background thread; either way the registry shows the status and the
``diagnosticsInfo`` (losses and latencies every 10 epochs, ``variableStates``)
while training runs.
"""
from __future__ import annotations

import logging
import math
import threading
from concurrent.futures import Executor
from typing import Any, Callable

import pandas as pd

from workbench import data
from workbench.contracts import EPOCHS_DEFAULT, DiagnosticsInfo, ModelInfo, ModelStatus
from workbench.exceptions import ErrorCode, WorkbenchError
from workbench.mvad.artifacts import save_model
from workbench.mvad.pipeline import fit_detector, prepare_training
from workbench.service.registry import Registry

log = logging.getLogger(__name__)
DIAGNOSTIC_EVERY = 10

ProgressCallback = Callable[[int, int, float, float], None]  # (epoch, epochs, train_loss, validation_loss)


def new_document(request: ModelInfo) -> dict[str, Any]:
    """The v1.1 model JSON of a model that was just created."""
    info = request.to_json()
    info.update(status=ModelStatus.CREATED.value, errors=[], diagnosticsInfo=DiagnosticsInfo().to_json())
    return {"modelInfo": info}


def submit(
    registry: Registry,
    request: ModelInfo,
    *,
    frame: pd.DataFrame | None = None,
    wait: bool = True,
    epochs: int = EPOCHS_DEFAULT,
    seed: int = 0,
    progress: ProgressCallback | None = None,
    detector_params: dict[str, Any] | None = None,
    executor: Executor | None = None,
) -> str:
    """Create the model record and train it; returns the model id (status READY/FAILED when ``wait``)."""
    model_id = registry.create_model(new_document(request))
    job = _TrainingJob(registry, model_id, request, frame, epochs, seed, progress, detector_params or {})
    if wait:
        job.run()
    elif executor is not None:
        executor.submit(job.run)
    else:
        threading.Thread(target=job.run, name=f"train-{model_id}", daemon=True).start()
    return model_id


class _TrainingJob:
    def __init__(self, registry, model_id, request, frame, epochs, seed, progress, detector_params):
        self.registry = registry
        self.model_id = model_id
        self.request = request
        self.frame = frame
        self.epochs = epochs
        self.seed = seed
        self.progress = progress
        self.detector_params = detector_params
        self.document = registry.get_model(model_id)

    def run(self) -> None:
        try:
            self._set(status=ModelStatus.RUNNING)
            prepared = prepare_training(self.request, self.frame)
            self._info["diagnosticsInfo"]["variableStates"] = [s.to_json() for s in prepared.variable_states]
            self._save()
            detector = self._fit(prepared)
            with self.registry.writing_model_dir(self.model_id) as folder:
                save_model(folder, detector, self._ready_document())
            self._set(status=ModelStatus.READY)
        except WorkbenchError as exc:
            self._set(status=ModelStatus.FAILED, errors=[exc.to_error()])
        except Exception as exc:  # a bug or resource failure: keep the registry truthful, log the traceback
            log.exception("training of model %s failed", self.model_id)
            self._set(status=ModelStatus.FAILED,
                      errors=[{"code": ErrorCode.TRAINING_FAILED, "message": f"{type(exc).__name__}: {exc}"}])

    @property
    def _info(self) -> dict[str, Any]:
        return self.document["modelInfo"]

    def _fit(self, prepared: data.PreparedData):
        state = self._info["diagnosticsInfo"]["modelState"]

        def on_epoch(report) -> None:
            if report.epoch % DIAGNOSTIC_EVERY == 0 or report.epoch == self.epochs:
                state["epochIds"].append(int(report.epoch))
                state["trainLosses"].append(_finite(report.train_loss))
                state["validationLosses"].append(_finite(report.validation_loss))
                state["latenciesInSeconds"].append(float(report.latency_seconds))
                self._save()
            if self.progress is not None:
                self.progress(report.epoch, self.epochs, report.train_loss, report.validation_loss)

        return fit_detector(prepared, self.request.sliding_window, epochs=self.epochs, seed=self.seed,
                            on_epoch=on_epoch, **self.detector_params)

    def _ready_document(self) -> dict[str, Any]:
        doc = dict(self.document)
        doc["modelInfo"] = dict(self._info, status=ModelStatus.READY.value)
        return doc

    def _set(self, status: ModelStatus, errors: list[dict[str, str]] | None = None) -> None:
        self._info["status"] = status.value
        if errors:
            self._info["errors"] = list(self._info.get("errors") or []) + errors
        self._save()

    def _save(self) -> None:
        self.document = self.registry.update_model(self.model_id, self.document)


def _finite(value: float) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None
