"""Train and batch-detect every entity of a fleet on Dask; the driver records each result as it arrives.

``train_fleet`` submits one task per entity (``client.submit``), and as each finishes (``as_completed``)
registers its model, READY with its artifact or FAILED with its coded error, so a crash or Ctrl-C loses
only the tasks in flight; re-running skips entities whose READY model was trained on the same data and
parameters.  ``detect_fleet`` scores each entity with its newest READY model and stores an ordinary batch
result.  ``fleet_report`` reads the fleet back from the registry as one ranked row per entity.
"""
from __future__ import annotations

import inspect
import time
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from workbench.contracts import (
    EPOCHS_DEFAULT,
    FLEET_ATTENTION_SEVERITY,
    SLIDING_WINDOW_DEFAULT,
    TOP_CONTRIBUTOR_COUNT_DEFAULT,
    DetectionRequest,
    ModelStatus,
)
from workbench.exceptions import ErrorCode, ValidationError
from workbench.fleet import engine, tasks
from workbench.fleet.report import build_report, entity_row
from workbench.fleet.sources import Fleet, load_fleet
from workbench.mvad.pipeline import check_training_arguments
from workbench.service import fleet_store
from workbench.service.registry import Registry


def train_fleet(source: str | Path | Fleet, template: Mapping[str, Any] | None = None, *, name: str | None = None,
                client: Any = None, scheduler: str | None = None, workers: int | None = None, seed: int = 0,
                retrain: bool = False, home: str | Path | None = None, show_progress: bool = True,
                layout: str = "auto", sep: str = ",", decimal: str = ".", **detector_params: Any) -> pd.DataFrame:
    """Train one model per entity; returns the fleet report (``report.attrs["run"]`` has the run's counts).

    ``template`` is the v1.1 training body shared by all entities (``slidingWindow``, ``alignPolicy``,
    ``startTime``, ``endTime``, ``epochs``); a manifest's columns override it per entity.  ``name`` is the
    fleet's name in the registry (default: the source's name); ``sep``/``decimal`` say how its CSVs are
    written (``";"``, ``","`` as Excel saves them in much of Europe).
    """
    engine.check_engine(client, scheduler, workers)
    fleet = load_fleet(source, template, name=name, layout=layout, sep=sep, decimal=decimal)
    shared = dict(template or {})
    check_training_arguments(detector_params, sliding_window=shared.get("slidingWindow") or SLIDING_WINDOW_DEFAULT,
                             epochs=shared.get("epochs") or EPOCHS_DEFAULT, seed=seed, caller="train_fleet",
                             own=inspect.signature(train_fleet).parameters)
    registry = Registry(home)
    started = time.perf_counter()
    ready = fleet_store.ready_models(registry, fleet.name)
    run = {"fleet": fleet.name, "entities": len(fleet), "trained": 0, "skipped": 0, "failed": 0,
           "task_seconds": 0.0, "task_cpu_seconds": 0.0}
    todo = []
    for entity in fleet.entities:
        fingerprint = entity.fingerprint({"seed": seed, "detector": detector_params})
        if entity.name in fleet.problems:
            error = fleet.problems[entity.name].to_error()
            fleet_store.save_trained(registry, fleet.name, entity.name, fingerprint, entity.body,
                                     {"status": ModelStatus.FAILED.value, "error": error})
            run["failed"] += 1
        elif not retrain and fleet_store.reusable(ready, entity.name, fingerprint):
            run["skipped"] += 1
        else:
            todo.append((entity, fingerprint))
    fleet_store.check_capacity(registry, len(todo))
    if todo:
        with engine.connect(client, scheduler=scheduler, workers=workers, show_dashboard=show_progress) as dask:
            futures = {
                dask.submit(tasks.train_entity, entity.name, entity.body, entity.frame, seed=seed,
                            detector_params=detector_params, dialect=fleet.dialect, key=_key("train", entity.name),
                            pure=False):
                (entity, fingerprint)
                for entity, fingerprint in todo
            }
            for future, outcome in _completed(dask, futures, "training", show_progress):
                entity, fingerprint = futures[future]
                fleet_store.save_trained(registry, fleet.name, entity.name, fingerprint, entity.body, outcome)
                run["trained" if outcome["status"] == ModelStatus.READY.value else "failed"] += 1
                run["task_seconds"] += outcome.get("seconds") or 0.0
                run["task_cpu_seconds"] += outcome.get("cpu_seconds") or 0.0
    run["seconds"] = time.perf_counter() - started
    report = fleet_report(fleet.name, home=registry.home, entities=fleet.names)
    report.attrs["run"] = run
    return report


def detect_fleet(source: str | Path | Fleet, *, name: str | None = None, start_time: str | None = None,
                 end_time: str | None = None, top_contributor_count: int = TOP_CONTRIBUTOR_COUNT_DEFAULT,
                 client: Any = None, scheduler: str | None = None, workers: int | None = None,
                 home: str | Path | None = None, show_progress: bool = True, layout: str = "auto",
                 recent: int = 10, sep: str = ",", decimal: str = ".") -> pd.DataFrame:
    """Batch-detect every entity with its newest READY model; returns the ranked fleet report.

    ``source`` holds the data to score (the training source or new data with the same entities); ``name``
    is the fleet the models were trained under (default: the source's name).  Rows before ``start_time``
    serve as the sliding window's history, as in a single batch detection.
    """
    _check_recent(recent)
    engine.check_engine(client, scheduler, workers)
    fleet = load_fleet(source, None, name=name, layout=layout, sep=sep, decimal=decimal)
    registry = Registry(home)
    started = time.perf_counter()
    ready = fleet_store.ready_models(registry, fleet.name)
    checked = DetectionRequest.create(fleet.origin or fleet.name, top_contributor_count=top_contributor_count,
                                      start_time=start_time, end_time=end_time)  # before any work is done
    setup = {k: v for k, v in checked.to_json().items() if k != "dataSource"}
    run = {"fleet": fleet.name, "entities": len(fleet), "scored": 0, "failed": 0, "no_model": 0,
           "task_seconds": 0.0, "task_cpu_seconds": 0.0}
    todo = [e for e in fleet.entities if e.name in ready]
    run["no_model"] = len(fleet) - len(todo)
    if todo:
        with engine.connect(client, scheduler=scheduler, workers=workers, show_dashboard=show_progress) as dask:
            futures = {}
            for entity in todo:
                model_id = ready[entity.name].model_id
                future = dask.submit(tasks.detect_entity, entity.name, fleet_store.model_files(registry, model_id),
                                     entity.data_source, entity.frame, start_time=setup.get("startTime"),
                                     end_time=setup.get("endTime"), top_contributor_count=checked.top_contributor_count,
                                     dialect=fleet.dialect, key=_key("detect", entity.name), pure=False)
                futures[future] = (entity, model_id)
            for future, outcome in _completed(dask, futures, "detection", show_progress):
                entity, model_id = futures[future]
                request = dict(setup, dataSource=entity.data_source)
                fleet_store.save_detection(registry, fleet.name, entity.name, model_id, request, outcome)
                run["scored" if outcome["status"] == ModelStatus.READY.value else "failed"] += 1
                run["task_seconds"] += outcome.get("seconds") or 0.0
                run["task_cpu_seconds"] += outcome.get("cpu_seconds") or 0.0
    run["seconds"] = time.perf_counter() - started
    report = fleet_report(fleet.name, home=registry.home, entities=fleet.names, recent=recent)
    report.attrs["run"] = run
    return report


def fleet_report(name: str, *, home: str | Path | None = None, entities: list[str] | None = None,
                 recent: int = 10, min_severity: float = FLEET_ATTENTION_SEVERITY, merge_gap: int = 3,
                 top_k: int = 3) -> pd.DataFrame:
    """One row per entity of fleet ``name`` (its newest model and newest batch result), ranked by attention.

    ``entities`` limits the report to these (an entity without a model shows as NO_MODEL); ``recent`` is how
    many of the last scored rows count as "now"; an entity needs attention where an episode reaches
    ``min_severity`` (flags nearer the threshold count in ``anomalies`` but leave it "quiet"; 0 for any flag).
    """
    _check_recent(recent)
    if isinstance(min_severity, bool) or not isinstance(min_severity, (int, float)) or not 0 <= min_severity <= 1:
        raise ValidationError(ErrorCode.BAD_ARGUMENT, f"min_severity must lie in [0, 1]; got {min_severity!r}")
    registry = Registry(home)
    models = fleet_store.fleet_models(registry, name)
    rows = []
    for entity in entities if entities is not None else sorted(models):
        model = models.get(entity)
        result, detections = (None, None)
        if model is not None and model.model_info.is_ready:
            result, detections = fleet_store.latest_result(registry, model.model_id)
        rows.append(entity_row(entity, model, result, detections, recent=recent, min_severity=min_severity,
                               merge_gap=merge_gap, top_k=top_k))
    report = build_report(rows)
    report.attrs["fleet"] = name
    return report


def fleet_names(*, home: str | Path | None = None) -> list[str]:
    """The fleets of a registry, the most recently updated first."""
    return fleet_store.fleet_names(Registry(home))


def fleet_detections(name: str, entity: str | None = None, *, home: str | Path | None = None):
    """The newest stored detections of one entity of a fleet (``None`` without a READY result); with no
    ``entity``, a dict of every entity's."""
    registry = Registry(home)
    models = fleet_store.fleet_models(registry, name)
    wanted = [entity] if entity is not None else sorted(models)
    out = {}
    for item in wanted:
        model = models.get(item)
        ready = model is not None and model.model_info.is_ready
        out[item] = fleet_store.latest_result(registry, model.model_id)[1] if ready else None
    return out[entity] if entity is not None else out


def _completed(client, futures: dict, what: str, show_progress: bool):
    """(future, outcome) as tasks finish; a task whose worker kept dying becomes a coded FAILED outcome."""
    from distributed import as_completed
    from tqdm.auto import tqdm

    bar = tqdm(total=len(futures), desc=f"fleet {what}", unit="entity", disable=not show_progress)
    pending = set(futures)
    try:
        for future in as_completed(list(futures)):
            try:
                outcome = future.result()
            except Exception as exc:  # noqa: BLE001 - KilledWorker, a lost scheduler: record it, go on
                outcome = {"status": ModelStatus.FAILED.value,
                           "error": {"code": ErrorCode.WORKER_LOST,
                                     "message": f"the {what} task did not complete ({type(exc).__name__}: {exc})"}}
            pending.discard(future)
            yield future, outcome
            future.release()
            bar.update(1)
    finally:
        bar.close()
        if pending:  # interrupted: stop what is still queued; the finished entities are already recorded
            client.cancel(list(pending))


def _check_recent(recent: Any) -> None:
    if isinstance(recent, bool) or not isinstance(recent, int) or recent < 1:
        raise ValidationError(ErrorCode.BAD_ARGUMENT, f"recent must be a positive integer; got {recent!r}")


def _key(kind: str, entity: str) -> str:
    return f"fleet-{kind}-{entity}-{uuid.uuid4().hex[:8]}"
