"""Models as a whole: the fitted detector of a READY model (cached), export to a zip and import from one.

Both front doors use these, so a model exported from the pandas API and one exported from the
Azure-style client are the same file, checked by the same rules.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path

from workbench.contracts import Model, ModelStatus
from workbench.mvad.artifacts import export_zip, load_model, read_zip, save_model
from workbench.mvad.detector import MultivariateDetector
from workbench.service import lifecycle
from workbench.service.registry import Registry


def export_model(registry: Registry, model_id: str, path: str | Path) -> Path:
    """Write a READY model to a zip holding all that prediction elsewhere needs."""
    lifecycle.require_ready(registry.get_model(model_id))
    return export_zip(registry.model_dir(model_id), path)


def import_model(registry: Registry, path: str | Path) -> Model:
    """Register a model zip made by :func:`export_model` under a new id; returns the READY model."""
    detector, document = read_zip(path)
    info = Model.from_json(document).model_info
    lifecycle.require_capacity(registry)
    info.status = ModelStatus.CREATED
    model = registry.create_model(info)
    info.status = ModelStatus.READY
    with registry.writing_model_dir(model.model_id) as folder:
        save_model(folder, detector, model.to_json())
    return registry.update_model(model)


class DetectorCache:
    """The fitted detectors of the last few READY models used, loaded once (artifacts never change)."""

    def __init__(self, registry: Registry, size: int = 8) -> None:
        self.registry = registry
        self.size = size
        self._detectors: OrderedDict[str, MultivariateDetector] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, model_id: str) -> MultivariateDetector:
        with self._lock:
            if model_id in self._detectors:
                self._detectors.move_to_end(model_id)
                return self._detectors[model_id]
        detector, _ = load_model(self.registry.model_dir(model_id))
        with self._lock:
            self._detectors[model_id] = detector
            while len(self._detectors) > self.size:
                self._detectors.popitem(last=False)
        return detector

    def forget(self, model_id: str) -> None:
        with self._lock:
            self._detectors.pop(model_id, None)
