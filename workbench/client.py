"""An Azure-compatible facade: the method names of ``azure-ai-anomalydetector`` 3.0's ``AnomalyDetectorClient``.

Methods take and return v1.1 JSON dicts, so code written for the retired
service ports by swapping the client.  Everything runs locally against a
:class:`~workbench.service.registry.Registry` (``$WORKBENCH_HOME`` by default).
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from concurrent.futures import Executor
from pathlib import Path
from typing import Any

from workbench.contracts import (
    MODELS_PAGE_DEFAULT, DetectionRequest, LastDetectionRequest, ModelInfo, ModelStatus,
)
from workbench.data import SourcePolicy
from workbench.exceptions import ErrorCode, ModelStateError, ValidationError
from workbench.service.registry import Registry

_CACHE_SIZE = 8


class AnomalyDetectorClient:
    """Local stand-in for the Anomaly Detector v1.1 client (multivariate and univariate)."""

    def __init__(self, home: str | Path | None = None, *, source_policy: SourcePolicy | None = None,
                 epochs: int = 100, seed: int = 0, executor: Executor | None = None) -> None:
        self.registry = Registry(home)
        self.source_policy = source_policy
        self.executor = executor  # background jobs run here (a bounded pool in the server); else a thread each
        self.epochs = epochs
        self.seed = seed
        self._detectors: OrderedDict[str, Any] = OrderedDict()
        self._cache_lock = threading.Lock()

    # ------------------------------------------------------------ multivariate models

    def train_multivariate_model(self, model_info: dict[str, Any], *, wait: bool = False,
                                 epochs: int | None = None) -> dict[str, Any]:
        """Create a model and train it (in the background unless ``wait``); returns the model JSON."""
        from workbench.service import training

        request = ModelInfo.from_json(model_info)
        if self.source_policy is not None:
            self.source_policy.check(request.data_source)
        if self.registry.count_models() >= self.registry.max_count:
            raise ValidationError(ErrorCode.BAD_ARGUMENT,
                                  f"the registry holds its maximum of {self.registry.max_count} models; delete some")
        model_id = training.submit(self.registry, request, wait=wait, epochs=epochs or self.epochs, seed=self.seed,
                                   executor=self.executor)
        return self.registry.get_model(model_id)

    def get_multivariate_model(self, model_id: str) -> dict[str, Any]:
        return self.registry.get_model(model_id)

    def list_multivariate_models(self, *, skip: int = 0, top: int = MODELS_PAGE_DEFAULT) -> dict[str, Any]:
        """One page of models, newest first: ``models``, ``currentCount``, ``maxCount``, ``nextLink``."""
        for name, value in (("skip", skip), ("top", top)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValidationError(ErrorCode.BAD_ARGUMENT, f"'{name}' must be a non-negative integer; got {value!r}")
        models, total = self.registry.list_models(skip, top)
        following = skip + len(models)
        next_link = f"multivariate/models?skip={following}&top={top}" if following < total and top > 0 else ""
        return {"models": models, "currentCount": total, "maxCount": self.registry.max_count, "nextLink": next_link}

    def delete_multivariate_model(self, model_id: str) -> None:
        self.registry.delete_model(model_id)
        with self._cache_lock:
            self._detectors.pop(model_id, None)

    def export_model(self, model_id: str, path: str | Path) -> Path:
        """Write a READY model to a zip holding all that prediction elsewhere needs."""
        from workbench.mvad.artifacts import export_zip

        self._require_ready(model_id)
        return export_zip(self.registry.model_dir(model_id), path)

    def import_model(self, path: str | Path) -> dict[str, Any]:
        """Register a model zip made by ``export_model``; returns its model JSON (a new id if it clashes)."""
        from workbench.mvad.artifacts import read_zip, save_model

        detector, document = read_zip(path)
        document["modelInfo"]["status"] = ModelStatus.CREATED.value
        model_id = self.registry.create_model(document)
        document = self.registry.get_model(model_id)
        document["modelInfo"]["status"] = ModelStatus.READY.value
        with self.registry.writing_model_dir(model_id) as folder:
            save_model(folder, detector, document)
        return self.registry.update_model(model_id, document)

    # ------------------------------------------------------------ multivariate detection

    def detect_multivariate_batch_anomaly(self, model_id: str, options: dict[str, Any], *,
                                          wait: bool = False) -> dict[str, Any]:
        """Start a batch detection; returns the result JSON with its ``resultId`` (poll it until READY)."""
        from workbench.service import batch

        request = DetectionRequest.from_json(options)
        if self.source_policy is not None:
            self.source_policy.check(request.data_source)
        document = self._require_ready(model_id)
        result_id = batch.submit(self.registry, model_id, document["modelInfo"], lambda: self.detector(model_id),
                                 request, wait=wait, source_policy=self.source_policy,
                                 executor=self.executor)
        return batch.get_result(self.registry, result_id)

    def get_multivariate_batch_detection_result(self, result_id: str) -> dict[str, Any]:
        from workbench.service import batch

        return batch.get_result(self.registry, result_id)

    def detect_multivariate_last_anomaly(self, model_id: str, options: dict[str, Any]) -> dict[str, Any]:
        """Synchronous detection of the latest timestamp (``variableStates`` and one result)."""
        from workbench.mvad.inference import detect_last

        request = LastDetectionRequest.from_json(options)
        document = self._require_ready(model_id)
        return detect_last(self.detector(model_id), document["modelInfo"], request).to_json()

    # ------------------------------------------------------------ univariate

    def detect_univariate_entire_series(self, options: dict[str, Any]) -> dict[str, Any]:
        from workbench.univariate import detect_entire_series

        return detect_entire_series(options)

    def detect_univariate_last_point(self, options: dict[str, Any]) -> dict[str, Any]:
        from workbench.univariate import detect_last_point

        return detect_last_point(options)

    def detect_univariate_change_point(self, options: dict[str, Any]) -> dict[str, Any]:
        from workbench.univariate import detect_change_point

        return detect_change_point(options)

    # ------------------------------------------------------------ helpers

    def detector(self, model_id: str):
        """The fitted detector of a READY model (kept in a small in-process cache)."""
        from workbench.mvad.artifacts import load_model

        with self._cache_lock:
            if model_id in self._detectors:
                self._detectors.move_to_end(model_id)
                return self._detectors[model_id]
        detector, _ = load_model(self.registry.model_dir(model_id))
        with self._cache_lock:
            self._detectors[model_id] = detector
            while len(self._detectors) > _CACHE_SIZE:
                self._detectors.popitem(last=False)
        return detector

    def _require_ready(self, model_id: str) -> dict[str, Any]:
        document = self.registry.get_model(model_id)
        status = document["modelInfo"]["status"]
        if status != ModelStatus.READY.value:
            raise ModelStateError(ErrorCode.MODEL_NOT_READY, f"model '{model_id}' is {status}, not READY")
        return document
