"""The fleet's registry records: what the driver writes as each worker's result arrives, and reads back.

Every model and batch result of a fleet is an ordinary registry entry (listed by ``workbench models list``,
readable by ``load_detections`` and the dashboard), tagged with a
:class:`~workbench.contracts.FleetMember` (fleet name, entity, fingerprint, timings).  A READY model whose
fingerprint (the entity's data and parameters) matches is reused, so re-running a fleet skips what is
already done.  All registry access of the fleet goes through this module.
"""
from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from workbench.contracts import (
    DetectionRequest, DetectionResult, DetectionSummary, ErrorResponse, FleetMember, Model, ModelInfo, ModelStatus,
    VariableState,
)
from workbench.exceptions import ErrorCode, ModelStateError
from workbench.mvad import artifacts
from workbench.mvad.inference import Detections
from workbench.service import batch
from workbench.service.registry import Registry


def _all_models(registry: Registry) -> list[Model]:
    models, _ = registry.list_models(skip=0, top=max(1, registry.count_models()))
    return models  # newest first


def fleet_models(registry: Registry, fleet: str) -> dict[str, Model]:
    """The newest model of each entity of ``fleet`` (any status)."""
    latest: dict[str, Model] = {}
    for model in _all_models(registry):
        if model.fleet is not None and model.fleet.name == fleet and model.fleet.entity not in latest:
            latest[model.fleet.entity] = model
    return latest


def fleet_names(registry: Registry) -> list[str]:
    """Names of the fleets in the registry, the most recently updated first."""
    names: list[str] = []
    for model in _all_models(registry):
        if model.fleet is not None and model.fleet.name not in names:
            names.append(model.fleet.name)
    return names


def ready_models(registry: Registry, fleet: str) -> dict[str, Model]:
    """The newest READY model of each entity of ``fleet``."""
    out: dict[str, Model] = {}
    for model in _all_models(registry):
        member = model.fleet
        if member is not None and member.name == fleet and member.entity not in out and model.model_info.is_ready:
            out[member.entity] = model
    return out


def reusable(ready: dict[str, Model], entity: str, fingerprint: str) -> str | None:
    """The id of the entity's READY model trained on the same data and parameters, if any."""
    model = ready.get(entity)
    if model is not None and model.fleet is not None and model.fleet.fingerprint == fingerprint:
        return model.model_id
    return None


def check_capacity(registry: Registry, new_models: int) -> None:
    """The registry's model cap (``WORKBENCH_MAX_MODELS``, default 1,000) holds for fleets too."""
    count = registry.count_models()
    if count + new_models > registry.max_count:
        raise ModelStateError(ErrorCode.BAD_ARGUMENT,
                              f"training {new_models} entities would make {count + new_models} models; the registry "
                              f"allows {registry.max_count} (set WORKBENCH_MAX_MODELS or delete models)")


def save_trained(registry: Registry, fleet: str, entity: str, fingerprint: str, body: dict[str, Any],
                 outcome: dict[str, Any]) -> str:
    """Register a worker's training outcome: a READY model with its artifact, or a FAILED one with its error."""
    member = FleetMember(fleet, entity, fingerprint, training_seconds=outcome.get("seconds"),
                         rows=outcome.get("rows"), variables=outcome.get("variables"), epochs=body.get("epochs"),
                         worker=outcome.get("worker"))
    if outcome["status"] == ModelStatus.READY.value:
        info = Model.from_json(outcome["document"]).model_info
        info.display_name = info.display_name or entity
        info.status = ModelStatus.RUNNING  # until the files are in place
        model = registry.create_model(info)
        model.fleet = member
        info.status = ModelStatus.READY
        with registry.writing_model_dir(model.model_id) as folder:
            artifacts.write_files(folder, _with_document(outcome["files"], model))
        return registry.update_model(model).model_id
    try:
        info = ModelInfo.from_json({k: v for k, v in body.items() if k != "epochs"})
    except Exception:  # noqa: BLE001 - the template itself was bad: keep what names the entity
        info = ModelInfo.create(str(body.get("dataSource") or entity))
    info = replace(info, display_name=info.display_name or entity, status=ModelStatus.FAILED,
                   errors=[ErrorResponse(**outcome["error"])])
    model = registry.create_model(info)
    model.fleet = member
    return registry.update_model(model).model_id


def model_files(registry: Registry, model_id: str) -> dict[str, bytes]:
    """A READY model's artifact files as bytes, to send to a worker."""
    folder = registry.model_dir(model_id)
    return {name: (folder / name).read_bytes() for name in (artifacts.WEIGHTS, artifacts.METADATA)}


def save_detection(registry: Registry, fleet: str, entity: str, model_id: str, setup: dict[str, Any],
                   outcome: dict[str, Any]) -> str:
    """Register a worker's batch detection as an ordinary batch result (READY with scores, or FAILED)."""
    summary = DetectionSummary(ModelStatus.RUNNING, setup_info=DetectionRequest.from_json(setup))
    result = registry.create_result(model_id, summary)
    result.fleet = FleetMember(fleet, entity, detection_seconds=outcome.get("seconds"), worker=outcome.get("worker"))
    if outcome["status"] == ModelStatus.READY.value:
        summary.variable_states = [VariableState.from_json(v) for v in outcome.get("variable_states", [])]
        batch.store(registry, result, outcome["detections"])
    else:
        summary.status = ModelStatus.FAILED
        summary.errors = [ErrorResponse(**outcome["error"])]
        registry.update_result(result)
    return result.result_id


def latest_result(registry: Registry, model_id: str) -> tuple[DetectionResult | None, Detections | None]:
    """The newest batch result of a model and, when READY, its detections."""
    listing = registry.list_results(model_id)
    if not listing:
        return None, None
    result = registry.get_result(listing[0]["resultId"])
    if not result.summary.is_ready:
        return result, None
    return result, batch.load_detections(registry, result.result_id)


def _with_document(files: dict[str, bytes], model: Model) -> dict[str, bytes]:
    """The artifact with its ``model.json`` naming the registered model (id, times, fleet tag)."""
    payload = json.loads(files[artifacts.METADATA])
    payload["model"] = model.to_json()
    return dict(files, **{artifacts.METADATA: json.dumps(payload).encode("utf-8")})
