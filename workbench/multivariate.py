"""The pandas front door for notebooks: fit on a DataFrame (or a data source), get a model object back.

``MultivariateModel.fit`` trains and registers a model and raises the coded
:class:`~workbench.exceptions.WorkbenchError` when it cannot (bad data never becomes a
registry entry); ``detect`` returns :class:`~workbench.mvad.inference.Detections`
(DataFrames).  The Azure-compatible facade (:mod:`workbench.client`) is a sibling that keeps the
v1.1 status semantics instead of raising; both go through :mod:`workbench.service` and share
the registry, so a model trained here is listed there.
"""
from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import pandas as pd

from workbench import data
from workbench.contracts import (
    EPOCHS_DEFAULT, SLIDING_WINDOW_DEFAULT, TOP_CONTRIBUTOR_COUNT_DEFAULT, AlignPolicy, DataSchema, DetectionRequest,
    Model, ModelInfo,
)
from workbench.data import CsvDialect
from workbench.exceptions import ErrorCode, ModelStateError
from workbench.mvad.artifacts import load_model
from workbench.mvad.inference import Detections, detect_last_series
from workbench.mvad.pipeline import check_training_arguments, detect, prepare_detection, prepare_training
from workbench.service import lifecycle, models, training
from workbench.service.registry import Registry


class MultivariateModel:
    """A model in the registry, by id: status, diagnostics, detection, export.

    ``MultivariateModel(model_id)`` opens a model and raises ``NotFoundError`` at once for an
    unknown id.
    """

    def __init__(self, model_id: str, registry: Registry | None = None) -> None:
        self.registry = registry or Registry()
        self.model_id = self.registry.get_model(str(model_id)).model_id
        self._detector = None

    @classmethod
    def load(cls, model_id: str, registry: Registry | None = None) -> "MultivariateModel":
        """Open a registered model by its id or a unique prefix of it (the 8 characters the dashboard shows)."""
        registry = registry or Registry()
        return cls(registry.resolve_model_id(model_id), registry)

    # ------------------------------------------------------------ training

    @classmethod
    def fit(
        cls,
        source: pd.DataFrame | str,
        *,
        data_schema: DataSchema | str = DataSchema.ONE_TABLE,
        sliding_window: int = SLIDING_WINDOW_DEFAULT,
        align_policy: AlignPolicy | dict | None = None,
        start_time: str | pd.Timestamp | None = None,
        end_time: str | pd.Timestamp | None = None,
        display_name: str = "",
        epochs: int = EPOCHS_DEFAULT,
        seed: int = 0,
        progress: bool = True,
        wait: bool = True,
        registry: Registry | None = None,
        sep: str = ",",
        decimal: str = ".",
        **detector_params: Any,
    ) -> "MultivariateModel":
        """Train on a DataFrame (timestamp index or column) or a v1.1 ``dataSource``; returns the READY model.

        Raises the coded ``WorkbenchError`` when the request or the data is bad (before anything
        is registered) or when training fails (the model then stays in the registry as FAILED);
        a misspelt keyword is a ``TypeError`` at once.  With ``wait=False`` a ``dataSource`` is read
        and trained on in the background, as in v1.1: poll ``status``.  ``sep``/``decimal`` read CSVs
        written another way (``decimal`` also text cells of a DataFrame), as in :func:`workbench.data.load`.
        """
        is_frame = isinstance(source, pd.DataFrame)
        request = ModelInfo.create("DataFrame" if is_frame else source, data_schema=data_schema,
                                   start_time=start_time, end_time=end_time, display_name=display_name,
                                   sliding_window=sliding_window, align_policy=align_policy)
        check_training_arguments(detector_params, sliding_window=request.sliding_window, epochs=epochs, seed=seed,
                                 caller="MultivariateModel.fit", own=inspect.signature(cls.fit).parameters)
        dialect = CsvDialect.of(sep, decimal)
        registry = registry or Registry()
        prepared = prepare_training(request, source if is_frame else None, dialect=dialect) if wait or is_frame \
            else None
        bar = _progress_bar(epochs) if progress and wait else None
        try:
            model = training.submit(registry, request, prepared=prepared, wait=wait, epochs=epochs, seed=seed,
                                    progress=_advance(bar) if bar is not None else None,
                                    detector_params=detector_params, dialect=dialect)
        finally:
            if bar is not None:
                bar.close()
        if wait:
            _raise_if_failed(model)
        return cls(model.model_id, registry)

    # ------------------------------------------------------------ state

    @property
    def document(self) -> dict[str, Any]:
        """The v1.1 model JSON."""
        return self._model().to_json()

    @property
    def status(self) -> str:
        return self._model().model_info.status.value

    @property
    def errors(self) -> list[dict[str, str]]:
        return [e.to_json() for e in self._model().model_info.errors]

    def diagnostics(self) -> pd.DataFrame:
        """``modelState`` as a table: one row per recorded epoch (train/validation loss, latency)."""
        state = self._model().model_info.diagnostics_info.model_state
        return pd.DataFrame({
            "trainLoss": state.train_losses, "validationLoss": state.validation_losses,
            "latencyInSeconds": state.latencies_in_seconds,
        }, index=pd.Index(state.epoch_ids, name="epoch"))

    def variable_states(self) -> pd.DataFrame:
        """``variableStates`` of the training data, highest ``filledNARatio`` first."""
        return pd.DataFrame([s.to_json() for s in self._model().model_info.diagnostics_info.variable_states])

    @property
    def detector(self):
        """The fitted :class:`~workbench.mvad.detector.MultivariateDetector` (the model must be READY)."""
        if self._detector is None:
            lifecycle.require_ready(self._model())
            self._detector, _ = load_model(self.registry.model_dir(self.model_id))
        return self._detector

    # ------------------------------------------------------------ detection

    def detect(self, source: pd.DataFrame | str, *, start_time=None, end_time=None,
               top_contributor_count: int = TOP_CONTRIBUTOR_COUNT_DEFAULT, sep: str = ",",
               decimal: str = ".") -> Detections:
        """Score a DataFrame or ``dataSource``; rows before ``start_time`` serve as history only."""
        is_frame = isinstance(source, pd.DataFrame)
        request = DetectionRequest.create("DataFrame" if is_frame else source, start_time=start_time,
                                          end_time=end_time, top_contributor_count=top_contributor_count)
        dialect = CsvDialect.of(sep, decimal)
        info = lifecycle.require_ready(self._model()).model_info
        if is_frame:
            prepared = data.from_frame(source, start_time=request.start_time, end_time=request.end_time,
                                       align_policy=info.align_policy, decimal=dialect.decimal)
        else:
            prepared = prepare_detection(info, source, request.start_time, request.end_time, dialect=dialect)
        return detect(self.detector, prepared, request.top_contributor_count)

    def detect_last(self, frame: pd.DataFrame, *, top_contributor_count: int = TOP_CONTRIBUTOR_COUNT_DEFAULT) -> dict:
        """detect-last on the latest timestamp of a DataFrame (earlier rows are its history); the v1.1 JSON."""
        top = DetectionRequest.create("DataFrame", top_contributor_count=top_contributor_count).top_contributor_count
        info = lifecycle.require_ready(self._model()).model_info
        result = detect_last_series(self.detector, data.variables_from_frame(frame), info.align_policy, top)
        return result.to_json()

    def export(self, path: str | Path) -> Path:
        """Write the READY model to a zip (``AnomalyDetectorClient.import_model`` reads it back)."""
        return models.export_model(self.registry, self.model_id, path)

    def __repr__(self) -> str:
        return f"MultivariateModel('{self.model_id}', status={self.status})"

    def _model(self) -> Model:
        return self.registry.get_model(self.model_id)


def _raise_if_failed(model: Model) -> None:
    """Training ended FAILED: raise its first recorded error as the coded exception."""
    info = model.model_info
    if info.status.value == "FAILED":
        first = info.errors[0] if info.errors else None
        raise ModelStateError(first.code if first else ErrorCode.TRAINING_FAILED,
                              f"training of model '{model.model_id}' failed: "
                              + ("; ".join(f"[{e.code}] {e.message}" for e in info.errors) or "no error recorded"))


def _advance(bar):
    """A training progress callback that moves ``bar`` one epoch and shows the losses."""
    def callback(epoch, total, train_loss, validation_loss):
        bar.update(1)
        bar.set_postfix(train=f"{train_loss:.4f}", validation=f"{validation_loss:.4f}", refresh=False)
    return callback


def _progress_bar(total: int):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="training", unit="epoch", leave=True)
