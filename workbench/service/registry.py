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

from workbench.contracts import MAX_MODELS, ModelStatus
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
        with self._connect() as db:
            for table, key in (("models", "model_id"), ("results", "result_id")):
                rows = db.execute(
                    f"SELECT {key}, owner, document FROM {table} WHERE status IN (?, ?)", _ACTIVE
                ).fetchall()
                for job_id, owner, document in rows:
                    if _owner_alive(owner):
                        continue
                    doc = json.loads(document)
                    error = {"code": ErrorCode.TRAINING_INTERRUPTED if table == "models" else ErrorCode.TRAINING_FAILED,
                             "message": "the process running this job stopped before it finished "
                                        f"(owner {owner or 'unknown'})"}
                    if table == "results":
                        error["code"] = "DetectionInterrupted"
                    _set_status(doc, table, ModelStatus.FAILED, [error])
                    now = utc_now()
                    _touch(doc, table, now)
                    db.execute(
                        f"UPDATE {table} SET status=?, last_updated_time=?, document=? WHERE {key}=?",
                        (ModelStatus.FAILED.value, now, json.dumps(doc), job_id),
                    )
                    failed.append(job_id)
        return failed

    # ------------------------------------------------------------ models

    def create_model(self, document: dict[str, Any]) -> str:
        """Insert a new model document (the v1.1 model JSON); returns its new id."""
        model_id = str(uuid.uuid4())
        now = utc_now()
        document = dict(document, modelId=model_id, createdTime=now, lastUpdatedTime=now)
        status = document["modelInfo"]["status"]
        with self._connect() as db:
            db.execute(
                "INSERT INTO models VALUES (?, ?, ?, ?, ?, ?)",
                (model_id, now, now, status, _owner_token(), json.dumps(document)),
            )
        return model_id

    def update_model(self, model_id: str, document: dict[str, Any]) -> dict[str, Any]:
        now = utc_now()
        document = dict(document, lastUpdatedTime=now)
        with self._connect() as db:
            cur = db.execute(
                "UPDATE models SET status=?, last_updated_time=?, document=? WHERE model_id=?",
                (document["modelInfo"]["status"], now, json.dumps(document), model_id),
            )
            if cur.rowcount == 0:
                raise _model_not_found(model_id)
        return document

    def get_model(self, model_id: str) -> dict[str, Any]:
        with self._connect() as db:
            row = db.execute("SELECT document FROM models WHERE model_id=?", (str(model_id),)).fetchone()
        if row is None:
            raise _model_not_found(model_id)
        return json.loads(row[0])

    def list_models(self, skip: int = 0, top: int = 10) -> tuple[list[dict[str, Any]], int]:
        """Models by last update, newest first: one page and the total count."""
        with self._connect() as db:
            total = db.execute("SELECT COUNT(*) FROM models").fetchone()[0]
            rows = db.execute(
                "SELECT document FROM models ORDER BY last_updated_time DESC, created_time DESC, model_id "
                "LIMIT ? OFFSET ?", (int(top), int(skip)),
            ).fetchall()
        return [json.loads(r[0]) for r in rows], total

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

    @contextmanager
    def writing_model_dir(self, model_id: str) -> Iterator[Path]:
        """A temp folder that becomes the model's artifact folder only if the block succeeds."""
        final = self.model_dir(model_id)
        tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=self.models_dir))
        try:
            yield tmp
            if final.exists():
                shutil.rmtree(final)
            os.replace(tmp, final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise

    @property
    def max_count(self) -> int:
        return int(os.environ.get("WORKBENCH_MAX_MODELS", MAX_MODELS))

    # ------------------------------------------------------------ batch results

    def create_result(self, model_id: str, document: dict[str, Any]) -> str:
        result_id = str(uuid.uuid4())
        now = utc_now()
        document = dict(document, resultId=result_id)
        with self._connect() as db:
            db.execute(
                "INSERT INTO results VALUES (?, ?, ?, ?, ?, ?, ?)",
                (result_id, model_id, now, now, document["summary"]["status"], _owner_token(), json.dumps(document)),
            )
        return result_id

    def update_result(self, result_id: str, document: dict[str, Any]) -> None:
        with self._connect() as db:
            db.execute(
                "UPDATE results SET status=?, last_updated_time=?, document=? WHERE result_id=?",
                (document["summary"]["status"], utc_now(), json.dumps(document), result_id),
            )

    def get_result(self, result_id: str) -> dict[str, Any]:
        with self._connect() as db:
            row = db.execute("SELECT document FROM results WHERE result_id=?", (str(result_id),)).fetchone()
        if row is None:
            raise NotFoundError(ErrorCode.RESULT_NOT_FOUND, f"no detection result with id '{result_id}'")
        return json.loads(row[0])

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


def _set_status(doc: dict[str, Any], table: str, status: ModelStatus, errors: list[dict[str, str]]) -> None:
    target = doc["modelInfo"] if table == "models" else doc["summary"]
    target["status"] = status.value
    target["errors"] = list(target.get("errors") or []) + errors


def _touch(doc: dict[str, Any], table: str, now: str) -> None:
    if table == "models":
        doc["lastUpdatedTime"] = now


def _model_not_found(model_id: str) -> NotFoundError:
    return NotFoundError(ErrorCode.MODEL_NOT_FOUND, f"no model with id '{model_id}'")
