"""A model and result registry that lasts across processes: SQLite index plus artifact folders.

Layout under the home folder (``$WORKBENCH_HOME``, default ``~/.workbench``)::

    registry.sqlite            models and batch-detection results (status, JSON documents, owner process)
    models/<modelId>/          weights.safetensors + model.json, written to a temp folder and renamed whole
    results/<resultId>/        scores.npz + result.json of a batch detection

A model is marked ``READY`` only after its artifact folder is complete, so a
crash never leaves a half-written model that claims to be usable.  Jobs record
their owner process; when the registry opens, ``RUNNING``/``CREATED`` jobs whose
owner is gone are marked ``FAILED`` with a reason.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import sqlite3
import tempfile
import threading
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from workbench.contracts import (
    MAX_MODELS, DetectionResult, DetectionSummary, ErrorResponse, Model, ModelInfo, ModelStatus,
)
from workbench.exceptions import ErrorCode, NotFoundError, ValidationError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS models (
    model_id TEXT PRIMARY KEY,
    created_time TEXT NOT NULL,
    last_updated_time TEXT NOT NULL,
    status TEXT NOT NULL,
    owner TEXT,
    document TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS results (
    result_id TEXT PRIMARY KEY,
    model_id TEXT NOT NULL,
    created_time TEXT NOT NULL,
    last_updated_time TEXT NOT NULL,
    status TEXT NOT NULL,
    owner TEXT,
    document TEXT NOT NULL
);
"""
_ACTIVE = (ModelStatus.CREATED.value, ModelStatus.RUNNING.value)


def default_home() -> Path:
    return Path(os.environ.get("WORKBENCH_HOME") or Path.home() / ".workbench").expanduser()


def utc_now() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _owner_token(pid: int | None = None) -> str:
    """``pid:start-time`` of a process, so a recycled pid is not mistaken for the owner."""
    import psutil

    pid = os.getpid() if pid is None else pid
    try:
        return f"{pid}:{psutil.Process(pid).create_time():.2f}"
    except psutil.Error:
        return f"{pid}:gone"


def _owner_alive(token: str | None) -> bool:
    if not token:
        return False
    pid = int(token.split(":", 1)[0])
    return _owner_token(pid) == token


class Registry:
    """Models and batch results of one home folder; safe to share between threads and processes."""

    def __init__(self, home: str | os.PathLike[str] | None = None) -> None:
        self.home = Path(home).expanduser() if home is not None else default_home()
        self.models_dir = self.home / "models"
        self.results_dir = self.home / "results"
        for folder in (self.home, self.models_dir, self.results_dir):
            folder.mkdir(parents=True, exist_ok=True)
        self._path = self.home / "registry.sqlite"
        self._lock = threading.RLock()
        self._readers = threading.local()  # one read connection per thread, for the detect-last hot path
        with self._lock:
            db = sqlite3.connect(self._path, timeout=30)
            try:
                db.execute("PRAGMA journal_mode=WAL")
                db.executescript(_SCHEMA)
            finally:
                db.close()
        self.recover_interrupted()

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            db = sqlite3.connect(self._path, timeout=30, isolation_level=None)
            try:
                db.execute("BEGIN IMMEDIATE")
                yield db
                db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise
            finally:
                db.close()

    # ------------------------------------------------------------ recovery

    def recover_interrupted(self) -> list[str]:
        """Mark jobs whose owner process died as FAILED; returns their ids."""
        failed = []
        message = "the process running this job stopped before it finished (owner {owner})"
        with self._connect() as db:
            for table, key in (("models", "model_id"), ("results", "result_id")):
                rows = db.execute(
                    f"SELECT {key}, owner, document FROM {table} WHERE status IN (?, ?)", _ACTIVE
                ).fetchall()
                for job_id, owner, document in rows:
                    if _owner_alive(owner):
                        continue
                    now = utc_now()
                    if table == "models":
                        doc: Model | DetectionResult = Model.from_json(json.loads(document))
                        target, code = doc.model_info, ErrorCode.TRAINING_INTERRUPTED
                        doc.last_updated_time = now
                    else:
                        doc = DetectionResult.from_json(json.loads(document))
                        target, code = doc.summary, ErrorCode.DETECTION_INTERRUPTED
                    target.status = ModelStatus.FAILED
                    target.errors = [*target.errors, ErrorResponse(code, message.format(owner=owner or "unknown"))]
                    db.execute(
                        f"UPDATE {table} SET status=?, last_updated_time=?, document=? WHERE {key}=?",
                        (ModelStatus.FAILED.value, now, json.dumps(doc.to_json()), job_id),
                    )
                    failed.append(job_id)
        return failed

    # ------------------------------------------------------------ models

    def create_model(self, info: ModelInfo) -> Model:
        """Record a new model (its status as ``info`` says); returns it with its new id and times."""
        now = utc_now()
        model = Model(str(uuid.uuid4()), now, now, info)
        with self._connect() as db:
            db.execute(
                "INSERT INTO models VALUES (?, ?, ?, ?, ?, ?)",
                (model.model_id, now, now, info.status.value, _owner_token(), json.dumps(model.to_json())),
            )
        return model

    def update_model(self, model: Model) -> Model:
        """Store ``model`` as it is now (its ``last_updated_time`` is set); NotFound if it was deleted."""
        model.last_updated_time = utc_now()
        with self._connect() as db:
            cur = db.execute(
                "UPDATE models SET status=?, last_updated_time=?, document=? WHERE model_id=?",
                (model.model_info.status.value, model.last_updated_time, json.dumps(model.to_json()),
                 model.model_id),
            )
            if cur.rowcount == 0:
                raise _model_not_found(model.model_id)
        return model

    def get_model(self, model_id: str) -> Model:
        with self._connect() as db:
            row = db.execute("SELECT document FROM models WHERE model_id=?", (str(model_id),)).fetchone()
        if row is None:
            raise _model_not_found(model_id)
        return Model.from_json(json.loads(row[0]))

    def model_document(self, model_id: str) -> str:
        """A model's stored JSON text, read without a write lock (what the in-memory model cache checks)."""
        db = getattr(self._readers, "db", None)
        if db is None:
            db = self._readers.db = sqlite3.connect(self._path, timeout=30, isolation_level=None)
        row = db.execute("SELECT document FROM models WHERE model_id=?", (str(model_id),)).fetchone()
        if row is None:
            raise _model_not_found(model_id)
        return row[0]

    def list_models(self, skip: int = 0, top: int = 10) -> tuple[list[Model], int]:
        """Models by last update, newest first: one page and the total count."""
        with self._connect() as db:
            total = db.execute("SELECT COUNT(*) FROM models").fetchone()[0]
            rows = db.execute(
                "SELECT document FROM models ORDER BY last_updated_time DESC, created_time DESC, rowid DESC "
                "LIMIT ? OFFSET ?", (int(top), int(skip)),
            ).fetchall()
        return [Model.from_json(json.loads(r[0])) for r in rows], total

    def count_models(self) -> int:
        with self._connect() as db:
            return db.execute("SELECT COUNT(*) FROM models").fetchone()[0]

    def delete_model(self, model_id: str) -> None:
        with self._connect() as db:
            cur = db.execute("DELETE FROM models WHERE model_id=?", (str(model_id),))
            if cur.rowcount == 0:
                raise _model_not_found(model_id)
        shutil.rmtree(self.model_dir(model_id), ignore_errors=True)

    def model_dir(self, model_id: str) -> Path:
        return self.models_dir / str(uuid.UUID(str(model_id)))

    def writing_model_dir(self, model_id: str):
        """A temp folder that becomes the model's artifact folder only if the block succeeds."""
        return _writing_dir(self.model_dir(model_id))

    @property
    def max_count(self) -> int:
        return int(os.environ.get("WORKBENCH_MAX_MODELS", MAX_MODELS))

    # ------------------------------------------------------------ batch results

    def create_result(self, model_id: str, summary: DetectionSummary) -> DetectionResult:
        result = DetectionResult(str(uuid.uuid4()), summary)
        now = utc_now()
        with self._connect() as db:
            db.execute(
                "INSERT INTO results VALUES (?, ?, ?, ?, ?, ?, ?)",
                (result.result_id, str(model_id), now, now, summary.status.value, _owner_token(),
                 json.dumps(result.to_json())),
            )
        return result

    def update_result(self, result: DetectionResult) -> None:
        with self._connect() as db:
            db.execute(
                "UPDATE results SET status=?, last_updated_time=?, document=? WHERE result_id=?",
                (result.summary.status.value, utc_now(), json.dumps(result.to_json()), result.result_id),
            )

    def get_result(self, result_id: str) -> DetectionResult:
        with self._connect() as db:
            row = db.execute("SELECT document FROM results WHERE result_id=?", (str(result_id),)).fetchone()
        if row is None:
            raise NotFoundError(ErrorCode.RESULT_NOT_FOUND, f"no detection result with id '{result_id}'")
        return DetectionResult.from_json(json.loads(row[0]))

    def result_model_id(self, result_id: str) -> str:
        """The id of the model a batch result was detected with."""
        with self._connect() as db:
            row = db.execute("SELECT model_id FROM results WHERE result_id=?", (str(result_id),)).fetchone()
        if row is None:
            raise NotFoundError(ErrorCode.RESULT_NOT_FOUND, f"no detection result with id '{result_id}'")
        return row[0]

    def list_results(self, model_id: str | None = None) -> list[dict[str, Any]]:
        """Batch results, newest first (optionally of one model): id, model, status and times."""
        query = "SELECT result_id, model_id, status, created_time, last_updated_time FROM results"
        params: tuple = ()
        if model_id is not None:
            query += " WHERE model_id=?"
            params = (str(model_id),)
        with self._connect() as db:
            rows = db.execute(query + " ORDER BY created_time DESC, rowid DESC", params).fetchall()
        keys = ("resultId", "modelId", "status", "createdTime", "lastUpdatedTime")
        return [dict(zip(keys, row)) for row in rows]

    def result_dir(self, result_id: str) -> Path:
        return self.results_dir / str(uuid.UUID(str(result_id)))

    def writing_result_dir(self, result_id: str):
        """A temp folder that becomes the result's folder only if the block succeeds."""
        return _writing_dir(self.result_dir(result_id))

    def resolve_model_id(self, prefix: str) -> str:
        """The full id of the one model whose id starts with ``prefix`` (such as the 8 characters shown).

        NotFoundError when none does; AmbiguousModelId, listing the candidates, when several do.
        """
        text = str(prefix).strip().lower()
        if not text or any(ch not in "0123456789abcdef-" for ch in text):
            raise _model_not_found(prefix)
        with self._connect() as db:
            rows = db.execute(
                "SELECT model_id FROM models WHERE substr(model_id, 1, ?) = ? ORDER BY created_time DESC LIMIT 11",
                (len(text), text),
            ).fetchall()
        ids = [r[0] for r in rows]
        if text in ids or len(ids) == 1:
            return text if text in ids else ids[0]
        if not ids:
            raise _model_not_found(prefix)
        shown = ", ".join(ids[:10]) + (", ..." if len(ids) > 10 else "")
        raise ValidationError(ErrorCode.AMBIGUOUS_MODEL_ID,
                              f"{len(ids) if len(ids) <= 10 else 'more than 10'} models start with '{prefix}': "
                              f"{shown}; give more characters")



@contextmanager
def _writing_dir(final: Path) -> Iterator[Path]:
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=final.parent))
    try:
        yield tmp
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _model_not_found(model_id: str) -> NotFoundError:
    return NotFoundError(ErrorCode.MODEL_NOT_FOUND, f"no model with id '{model_id}'")
