"""An Azure-compatible facade: the method names of ``azure-ai-anomalydetector`` 3.0's ``AnomalyDetectorClient``.

Methods take and return v1.1 JSON dicts, so code written for the retired
service ports by swapping the client.  Everything runs locally against a
:class:`~workbench.service.registry.Registry` (``$WORKBENCH_HOME`` by default).
"""
from __future__ import annotations

from concurrent.futures import Executor
from pathlib import Path
from typing import Any

from workbench import univariate
from workbench.contracts import EPOCHS_DEFAULT, MODELS_PAGE_DEFAULT, DetectionRequest, LastDetectionRequest, ModelInfo
from workbench.data import CsvDialect, SourcePolicy
from workbench.exceptions import ErrorCode, ValidationError
from workbench.mvad.inference import detect_last
from workbench.service import batch, models, training
from workbench.service.registry import Registry


class AnomalyDetectorClient:
    """Local stand-in for the Anomaly Detector v1.1 client (multivariate and univariate)."""

    def __init__(self, home: str | Path | None = None, *, source_policy: SourcePolicy | None = None,
                 epochs: int = EPOCHS_DEFAULT, seed: int = 0, executor: Executor | None = None,
                 cache_models: int = 256, cache_mb: int = 1024) -> None:
        """``cache_models``/``cache_mb``: how many models' documents and detectors stay in memory, and about
        how many MiB they may take (least recently used out; every use checks the registry, so never stale)."""
        self.registry = Registry(home)
        self.source_policy = source_policy
        self.executor = executor  # background jobs run here (a bounded pool in the server); else a thread each
        self.epochs = epochs
        self.seed = seed
        self._models = models.ModelCache(self.registry, cache_models, cache_mb * 1024**2)

    # ------------------------------------------------------------ multivariate models

    def train_multivariate_model(self, model_info: dict[str, Any], *, wait: bool = False, epochs: int | None = None,
                                 sep: str = ",", decimal: str = ".", read_first: bool = False) -> dict[str, Any]:
        """Create a model and train it (in the background unless ``wait``); returns the model JSON.

        Not in the SDK: ``sep``/``decimal`` read CSVs written another way (``";"``, ``","`` as Excel saves
        them in much of Europe); ``read_first`` reads the data before recording the model, so bad data
        raises its coded error instead of leaving a FAILED model (the ``workbench`` command does).
        """
        model = training.submit(self.registry, ModelInfo.from_json(model_info), wait=wait,
                                epochs=self.epochs if epochs is None else epochs, seed=self.seed, executor=self.executor,
                                source_policy=self.source_policy, dialect=CsvDialect.of(sep, decimal),
                                read_first=read_first)
        return model.to_json()

    def get_multivariate_model(self, model_id: str) -> dict[str, Any]:
        return self._models.model(model_id).to_json()

    def list_multivariate_models(self, *, skip: int = 0, top: int = MODELS_PAGE_DEFAULT) -> dict[str, Any]:
        """One page of models, newest first: ``models``, ``currentCount``, ``maxCount``, ``nextLink``."""
        for name, value in (("skip", skip), ("top", top)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValidationError(ErrorCode.BAD_ARGUMENT, f"'{name}' must be a non-negative integer; got {value!r}")
        page, total = self.registry.list_models(skip, top)
        following = skip + len(page)
        next_link = f"multivariate/models?skip={following}&top={top}" if following < total and top > 0 else ""
        return {"models": [m.to_json() for m in page], "currentCount": total, "maxCount": self.registry.max_count,
                "nextLink": next_link}

    def delete_multivariate_model(self, model_id: str) -> None:
        self.registry.delete_model(model_id)
        self._models.forget(model_id)

    def export_model(self, model_id: str, path: str | Path) -> Path:
        """Write a READY model to a zip holding all that prediction elsewhere needs."""
        return models.export_model(self.registry, model_id, path)

    def import_model(self, path: str | Path) -> dict[str, Any]:
        """Register a model zip made by ``export_model``; returns its model JSON (under a new id)."""
        return models.import_model(self.registry, path).to_json()

    # ------------------------------------------------------------ multivariate detection

    def detect_multivariate_batch_anomaly(self, model_id: str, options: dict[str, Any], *, wait: bool = False,
                                          sep: str = ",", decimal: str = ".",
                                          read_first: bool = False) -> dict[str, Any]:
        """Start a batch detection; returns the result JSON with its ``resultId`` (poll it until READY).

        ``sep``, ``decimal`` and ``read_first`` as for :meth:`train_multivariate_model`.
        """
        request = DetectionRequest.from_json(options)
        result = batch.submit(self.registry, self.registry.get_model(model_id),
                              lambda: self._models.detector(model_id), request, wait=wait,
                              source_policy=self.source_policy, executor=self.executor,
                              dialect=CsvDialect.of(sep, decimal), read_first=read_first)
        return batch.get_result(self.registry, result.result_id).to_json()

    def get_multivariate_batch_detection_result(self, result_id: str) -> dict[str, Any]:
        return batch.get_result(self.registry, result_id).to_json()

    def detect_multivariate_last_anomaly(self, model_id: str, options: dict[str, Any]) -> dict[str, Any]:
        """Synchronous detection of the latest timestamp (``variableStates`` and one result)."""
        request = LastDetectionRequest.from_json(options)
        model, detector, memo = self._models.streaming(model_id)
        return detect_last(detector, model.model_info.align_policy, request, memo).to_json()

    # ------------------------------------------------------------ univariate

    def detect_univariate_entire_series(self, options: dict[str, Any]) -> dict[str, Any]:
        return univariate.detect_entire_series(options)

    def detect_univariate_last_point(self, options: dict[str, Any]) -> dict[str, Any]:
        return univariate.detect_last_point(options)

    def detect_univariate_change_point(self, options: dict[str, Any]) -> dict[str, Any]:
        return univariate.detect_change_point(options)
