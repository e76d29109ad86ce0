"""Training jobs with the v1.1 lifecycle: CREATED -> RUNNING -> READY or FAILED.

``submit`` records the model, then trains in the calling thread (``wait=True``)
or in the background; either way the registry shows the status and the
``diagnosticsInfo`` (losses and latencies every 10 epochs, ``variableStates``)
while training runs.  The work itself is the core's
(:mod:`workbench.mvad.pipeline`); this module only keeps the registry in step.
"""
from __future__ import annotations

from concurrent.futures import Executor
from typing import Any, Callable

import pandas as pd

from workbench.contracts import EPOCHS_DEFAULT, ErrorResponse, Model, ModelInfo, ModelStatus
from workbench.data import CsvDialect, PreparedData, SourcePolicy
from workbench.exceptions import ErrorCode
from workbench.mvad.artifacts import save_model
from workbench.mvad.pipeline import check_training_arguments, fit_detector, prepare_training
from workbench.service import jobs, lifecycle
from workbench.service.registry import Registry

ProgressCallback = Callable[[int, int, float, float], None]  # (epoch, epochs, train_loss, validation_loss)


def submit(
    registry: Registry,
    request: ModelInfo,
    *,
    frame: pd.DataFrame | None = None,
    prepared: PreparedData | None = None,
    wait: bool = True,
    epochs: int = EPOCHS_DEFAULT,
    seed: int = 0,
    progress: ProgressCallback | None = None,
    detector_params: dict[str, Any] | None = None,
    executor: Executor | None = None,
    source_policy: SourcePolicy | None = None,
    dialect: CsvDialect = CsvDialect(),
    read_first: bool = False,
) -> Model:
    """Check the rules, record the model and train it; returns the model (READY/FAILED when ``wait``).

    The data is ``prepared`` (already read and aligned: bad data then never becomes a model),
    else ``frame``, else the request's ``dataSource`` (CSVs in ``dialect``), read when the job runs as in
    v1.1, or before anything is recorded with ``read_first`` (bad data then raises).
    """
    check_training_arguments(detector_params or {}, sliding_window=request.sliding_window, epochs=epochs, seed=seed,
                             caller="train")
    if frame is None and prepared is None:
        lifecycle.require_allowed_source(source_policy, request.data_source)
    lifecycle.require_capacity(registry)
    if read_first and prepared is None:
        prepared = prepare_training(request, frame, source_policy, dialect)
    model = registry.create_model(request)
    job = _TrainingJob(registry, model, frame, prepared, epochs, seed, progress, detector_params or {},
                       source_policy, dialect)
    jobs.submit(job.run, job.fail, failure_code=ErrorCode.TRAINING_FAILED, name=f"train-{model.model_id}",
                wait=wait, executor=executor)
    return registry.get_model(model.model_id)


class _TrainingJob:
    def __init__(self, registry, model, frame, prepared, epochs, seed, progress, detector_params, source_policy,
                 dialect):
        self.registry = registry
        self.model: Model = model
        self.frame = frame
        self.prepared = prepared
        self.epochs = epochs
        self.seed = seed
        self.progress = progress
        self.detector_params = detector_params
        self.source_policy = source_policy
        self.dialect = dialect

    @property
    def info(self) -> ModelInfo:
        return self.model.model_info

    def run(self) -> None:
        self._set(ModelStatus.RUNNING)
        prepared = self.prepared or prepare_training(self.info, self.frame, self.source_policy, self.dialect)
        self.info.diagnostics_info.variable_states = list(prepared.variable_states)
        self._save()
        detector = fit_detector(prepared, self.info.sliding_window, epochs=self.epochs, seed=self.seed,
                                on_epoch=self._on_epoch, **self.detector_params)
        self.info.status = ModelStatus.READY
        with self.registry.writing_model_dir(self.model.model_id) as folder:
            save_model(folder, detector, self.model.to_json())
        self._save()

    def fail(self, error: ErrorResponse) -> None:
        self.info.errors = [*self.info.errors, error]
        self._set(ModelStatus.FAILED)

    def _on_epoch(self, report) -> None:
        state = self.info.diagnostics_info.model_state
        if state.record(report.epoch, self.epochs, report.train_loss, report.validation_loss, report.latency_seconds):
            self._save()
        if self.progress is not None:
            self.progress(report.epoch, self.epochs, report.train_loss, report.validation_loss)

    def _set(self, status: ModelStatus) -> None:
        self.info.status = status
        self._save()

    def _save(self) -> None:
        self.model = self.registry.update_model(self.model)
