"""The pandas-native core for notebooks: fit on a DataFrame (or a data source), get a model object back.

``MultivariateModel.fit`` trains and registers a model; ``detect`` returns
:class:`~workbench.mvad.inference.Detections` (DataFrames) and ``to_json``
gives the v1.1 shapes.  The Azure-compatible facade (:mod:`workbench.client`)
and this class share the registry, so a model trained here is listed there.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from workbench.contracts import (
    SLIDING_WINDOW_DEFAULT, TOP_CONTRIBUTOR_COUNT_DEFAULT, AlignPolicy, DataSchema, LastDetectionRequest, ModelInfo,
    ModelStatus, format_timestamp,
)
from workbench.exceptions import ErrorCode, ModelStateError
from workbench.service.registry import Registry


class MultivariateModel:
    """A model in the registry, by id: status, diagnostics, detection, export."""

    def __init__(self, model_id: str, registry: Registry | None = None) -> None:
        self.model_id = str(model_id)
        self.registry = registry or Registry()
        self._detector = None

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
        epochs: int = 100,
        seed: int = 0,
        progress: bool = True,
        wait: bool = True,
        registry: Registry | None = None,
        **detector_params: Any,
    ) -> "MultivariateModel":
        """Train on a DataFrame (timestamp index or column) or a v1.1 ``dataSource``; returns the model."""
        from workbench.service import training

        is_frame = isinstance(source, pd.DataFrame)
        policy = align_policy.to_json() if isinstance(align_policy, AlignPolicy) else align_policy
        body = {
            "dataSource": "DataFrame" if is_frame else source,
            "dataSchema": DataSchema(data_schema).value if isinstance(data_schema, DataSchema) else data_schema,
            "slidingWindow": sliding_window, "alignPolicy": policy, "displayName": display_name,
            "startTime": _iso(start_time), "endTime": _iso(end_time),
        }
        request = ModelInfo.from_json({k: v for k, v in body.items() if v is not None})
        registry = registry or Registry()
        bar = _progress_bar(epochs) if progress and wait else None
        callback = _advance(bar) if bar is not None else None
        try:
            model_id = training.submit(registry, request, frame=source if is_frame else None, wait=wait,
                                       epochs=epochs, seed=seed, progress=callback, detector_params=detector_params)
        finally:
            if bar is not None:
                bar.close()
        return cls(model_id, registry)

    # ------------------------------------------------------------ state

    @property
    def document(self) -> dict[str, Any]:
        """The v1.1 model JSON."""
        return self.registry.get_model(self.model_id)

    @property
    def status(self) -> str:
        return self.document["modelInfo"]["status"]

    @property
    def errors(self) -> list[dict[str, str]]:
        return self.document["modelInfo"]["errors"]

    def diagnostics(self) -> pd.DataFrame:
        """``modelState`` as a table: one row per recorded epoch (train/validation loss, latency)."""
        state = self.document["modelInfo"]["diagnosticsInfo"]["modelState"]
        return pd.DataFrame({
            "trainLoss": state["trainLosses"], "validationLoss": state["validationLosses"],
            "latencyInSeconds": state["latenciesInSeconds"],
        }, index=pd.Index(state["epochIds"], name="epoch"))

    def variable_states(self) -> pd.DataFrame:
        """``variableStates`` of the training data, highest ``filledNARatio`` first."""
        return pd.DataFrame(self.document["modelInfo"]["diagnosticsInfo"]["variableStates"])

    @property
    def detector(self):
        if self._detector is None:
            from workbench.mvad.artifacts import load_model

            if self.status != ModelStatus.READY.value:
                raise ModelStateError(ErrorCode.MODEL_NOT_READY, f"model '{self.model_id}' is {self.status}")
            self._detector, _ = load_model(self.registry.model_dir(self.model_id))
        return self._detector

    # ------------------------------------------------------------ detection

    def detect(self, source: pd.DataFrame | str, *, start_time=None, end_time=None,
               top_contributor_count: int = TOP_CONTRIBUTOR_COUNT_DEFAULT):
        """Score a DataFrame or ``dataSource``; rows before ``start_time`` serve as history only."""
        from workbench import data
        from workbench.mvad.pipeline import detect, prepare_detection

        info = self.document["modelInfo"]
        if isinstance(source, pd.DataFrame):
            prepared = data.from_frame(source, start_time=start_time, end_time=end_time,
                                       align_policy=AlignPolicy.from_json(info.get("alignPolicy")))
        else:
            prepared = prepare_detection(ModelInfo.from_json(info), source, start_time, end_time)
        return detect(self.detector, prepared, top_contributor_count)

    def detect_last(self, frame: pd.DataFrame, *, top_contributor_count: int = TOP_CONTRIBUTOR_COUNT_DEFAULT) -> dict:
        """detect-last on the latest timestamp of a DataFrame; returns the v1.1 JSON."""
        from workbench.data import variables_from_frame
        from workbench.mvad.inference import detect_last

        variables = variables_from_frame(frame)
        body = {"variables": [
            {"variable": name, "timestamps": [format_timestamp(t) for t in s.index], "values": s.tolist()}
            for name, s in variables.items()
        ], "topContributorCount": top_contributor_count}
        request = LastDetectionRequest.from_json(body)
        return detect_last(self.detector, self.document["modelInfo"], request).to_json()

    def export(self, path: str | Path) -> Path:
        from workbench.client import AnomalyDetectorClient

        return AnomalyDetectorClient(self.registry.home).export_model(self.model_id, path)

    def __repr__(self) -> str:
        return f"MultivariateModel('{self.model_id}', status={self.status})"


def _iso(value) -> str | None:
    if value is None:
        return None
    return format_timestamp(pd.Timestamp(value)) if not isinstance(value, str) else value


def _advance(bar):
    """A training progress callback that moves ``bar`` one epoch and shows the losses."""
    def callback(epoch, total, train_loss, validation_loss):
        bar.update(1)
        bar.set_postfix(train=f"{train_loss:.4f}", validation=f"{validation_loss:.4f}", refresh=False)
    return callback


def _progress_bar(total: int):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="training", unit="epoch", leave=True)
