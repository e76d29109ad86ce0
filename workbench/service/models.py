"""Models as a whole: the fitted detector of a READY model (cached), export to a zip and import from one.

Both front doors use these, so a model exported from the pandas API and one exported from the
Azure-style client are the same file, checked by the same rules.
"""
from __future__ import annotations

import json
import os
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

from workbench.contracts import Model, ModelStatus
from workbench.mvad.artifacts import WEIGHTS, export_zip, load_model, read_zip, save_model
from workbench.mvad.detector import MultivariateDetector
from workbench.mvad.inference import StreamMemo
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


class ModelCache:
    """Models as the detection paths use them: the parsed document and the fitted detector, kept in memory.

    Every look-up reads the model's stored JSON text (one indexed read, no write lock) and the identity of
    its weights file: if either differs from what is cached -- the model was updated, its artifact replaced,
    it was deleted (by this process or another worker) -- the entry is dropped and read again, so a cached
    answer is never stale.  At most ``max_models`` entries and about ``max_bytes`` (weights and document
    sizes) are kept, least recently used out.  A miss loads outside the cache's lock, so calls for other
    models go on meanwhile; concurrent misses of one model load it once.
    """

    def __init__(self, registry: Registry, max_models: int = 256, max_bytes: int = 1024 * 1024**2) -> None:
        self.registry = registry
        self.max_models = max_models
        self.max_bytes = max_bytes
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._lock = threading.Lock()

    def model(self, model_id: str) -> Model:
        """The model's current document (NotFound if it is gone); treat it as read-only."""
        return self._entry(model_id).model

    def ready(self, model_id: str) -> tuple[Model, MultivariateDetector]:
        """A READY model and its fitted detector (``ModelStateError`` if it is not READY)."""
        model, detector, _ = self.streaming(model_id)
        return model, detector

    def streaming(self, model_id: str) -> tuple[Model, MultivariateDetector, StreamMemo]:
        """:meth:`ready`, with the detector's memo of its latest detect-last call (it goes with the entry)."""
        entry = self._entry(model_id)
        lifecycle.require_ready(entry.model)
        if entry.detector is None:
            with entry.loading:
                if entry.detector is None:
                    entry.detector, _ = load_model(self.registry.model_dir(model_id))
            self._trim()
        return entry.model, entry.detector, entry.memo

    def detector(self, model_id: str) -> MultivariateDetector:
        return self.ready(model_id)[1]

    def forget(self, model_id: str) -> None:
        with self._lock:
            self._entries.pop(model_id, None)

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, model_id: str) -> bool:
        return model_id in self._entries

    def _entry(self, model_id: str) -> "_Entry":
        try:
            document = self.registry.model_document(model_id)
        except Exception:
            self.forget(model_id)
            raise
        weights = _file_identity(self.registry.model_dir(model_id) / WEIGHTS)
        with self._lock:
            entry = self._entries.get(model_id)
            if entry is not None and entry.document == document and entry.weights == weights:
                self._entries.move_to_end(model_id)
                return entry
        entry = _Entry(document, weights, Model.from_json(json.loads(document)))
        with self._lock:
            self._entries[model_id] = entry
            self._entries.move_to_end(model_id)
        self._trim()
        return entry

    def _trim(self) -> None:
        with self._lock:
            total = sum(e.nbytes for e in self._entries.values())
            while len(self._entries) > 1 and (len(self._entries) > self.max_models or total > self.max_bytes):
                _, dropped = self._entries.popitem(last=False)
                total -= dropped.nbytes


@dataclass
class _Entry:
    document: str
    weights: tuple[int, int, int] | None
    model: Model
    detector: MultivariateDetector | None = None
    loading: threading.Lock = field(default_factory=threading.Lock)
    memo: StreamMemo = field(default_factory=StreamMemo)

    @property
    def nbytes(self) -> int:
        loaded = self.weights[2] if self.weights and self.detector is not None else 0
        return len(self.document) + loaded + self.memo.nbytes


def _file_identity(path: Path) -> tuple[int, int, int] | None:
    """(inode, mtime in ns, size) of a file, or None if there is none: a replaced artifact changes it."""
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return stat.st_ino, stat.st_mtime_ns, stat.st_size
