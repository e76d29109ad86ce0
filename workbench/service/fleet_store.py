"""The fleet's registry records: what the driver writes as each worker's result arrives, and reads back.

Every model and batch result of a fleet is an ordinary registry entry (listed by ``workbench models list``,
readable by ``load_detections`` and the dashboard), tagged in its document with
``"fleet": {"name", "entity", "fingerprint", ...}``.  A READY model whose fingerprint (the entity's data and
parameters) matches is reused, so re-running a fleet skips what is already done.  All registry access of
the fleet goes through this module.
"""
from __future__ import annotations

import json
from typing import Any

from workbench.contracts import ModelStatus
from workbench.exceptions import ErrorCode, ModelStateError
from workbench.mvad import artifacts
from workbench.mvad.inference import Detections
from workbench.service.batch import _save as save_detections
from workbench.service.batch import load_detections
from workbench.service.registry import Registry

TAG = "fleet"


def _tag(document: dict[str, Any]) -> dict[str, Any]:
    return document.get(TAG) or {}


def fleet_models(registry: Registry, fleet: str) -> dict[str, dict[str, Any]]:
    """The newest model document of each entity of ``fleet`` (any status)."""
    documents, _ = registry.list_models(skip=0, top=max(1, registry.count_models()))
    latest: dict[str, dict[str, Any]] = {}
    for document in documents:  # newest first
        tag = _tag(document)
        if tag.get("name") == fleet and tag.get("entity") not in latest:
            latest[tag["entity"]] = document
    return latest


def fleet_names(registry: Registry) -> list[str]:
    """Names of the fleets in the registry, the most recently updated first."""
    documents, _ = registry.list_models(skip=0, top=max(1, registry.count_models()))
    names: list[str] = []
    for document in documents:
        name = _tag(document).get("name")
        if name and name not in names:
            names.append(name)
    return names


def ready_models(registry: Registry, fleet: str) -> dict[str, dict[str, Any]]:
    """The newest READY model document of each entity of ``fleet``."""
    documents, _ = registry.list_models(skip=0, top=max(1, registry.count_models()))
    out: dict[str, dict[str, Any]] = {}
    for document in documents:
        tag = _tag(document)
        if (tag.get("name") == fleet and tag.get("entity") not in out
                and document["modelInfo"]["status"] == ModelStatus.READY.value):
            out[tag["entity"]] = document
    return out


def reusable(ready: dict[str, dict[str, Any]], entity: str, fingerprint: str) -> str | None:
    """The id of the entity's READY model trained on the same data and parameters, if any."""
    document = ready.get(entity)
    if document is not None and _tag(document).get("fingerprint") == fingerprint:
        return document["modelId"]
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
    tag = {"name": fleet, "entity": entity, "fingerprint": fingerprint, "trainingSeconds": outcome.get("seconds"),
           "rows": outcome.get("rows"), "variables": outcome.get("variables"), "worker": outcome.get("worker"),
           "epochs": body.get("epochs")}
    if outcome["status"] == ModelStatus.READY.value:
        info = dict(outcome["document"]["modelInfo"], status=ModelStatus.RUNNING.value)
        info.setdefault("displayName", entity)
        info["displayName"] = info["displayName"] or entity
        model_id = registry.create_model({"modelInfo": info, TAG: tag})  # RUNNING until the files are in place
        document = registry.get_model(model_id)
        ready = dict(document, modelInfo=dict(document["modelInfo"], status=ModelStatus.READY.value))
        with registry.writing_model_dir(model_id) as folder:
            artifacts.write_files(folder, _with_document(outcome["files"], ready))
        registry.update_model(model_id, ready)
        return model_id
    info = {k: v for k, v in body.items() if k != "epochs"}
    info.update(displayName=body.get("displayName") or entity, status=ModelStatus.FAILED.value,
                errors=[outcome["error"]], diagnosticsInfo={"modelState": {}, "variableStates": []})
    return registry.create_model({"modelInfo": info, TAG: tag})


def model_files(registry: Registry, model_id: str) -> dict[str, bytes]:
    """A READY model's artifact files as bytes, to send to a worker."""
    folder = registry.model_dir(model_id)
    return {name: (folder / name).read_bytes() for name in (artifacts.WEIGHTS, artifacts.METADATA)}


def save_detection(registry: Registry, fleet: str, entity: str, model_id: str, setup: dict[str, Any],
                   outcome: dict[str, Any]) -> str:
    """Register a worker's batch detection as an ordinary batch result (READY with scores, or FAILED)."""
    summary: dict[str, Any] = {"status": ModelStatus.RUNNING.value, "errors": [], "variableStates": [],
                               "setupInfo": setup}
    document = {"summary": summary, "results": [], "modelId": model_id,
                TAG: {"name": fleet, "entity": entity, "detectionSeconds": outcome.get("seconds"),
                      "worker": outcome.get("worker")}}
    result_id = registry.create_result(model_id, document)
    document["resultId"] = result_id
    if outcome["status"] == ModelStatus.READY.value:
        summary["variableStates"] = outcome.get("variable_states", [])
        save_detections(registry.result_dir(result_id), outcome["detections"])
        summary["status"] = ModelStatus.READY.value
    else:
        summary.update(status=ModelStatus.FAILED.value, errors=[outcome["error"]])
    registry.update_result(result_id, document)
    return result_id


def latest_result(registry: Registry, model_id: str) -> tuple[dict[str, Any] | None, Detections | None]:
    """The newest batch result of a model and, when READY, its detections."""
    listing = registry.list_results(model_id)
    if not listing:
        return None, None
    document = registry.get_result(listing[0]["resultId"])
    if document["summary"]["status"] != ModelStatus.READY.value:
        return document, None
    return document, load_detections(registry, listing[0]["resultId"])


def _with_document(files: dict[str, bytes], document: dict[str, Any]) -> dict[str, bytes]:
    """The artifact with its ``model.json`` naming the registered model (id, times, fleet tag)."""
    payload = json.loads(files[artifacts.METADATA])
    payload["model"] = document
    return dict(files, **{artifacts.METADATA: json.dumps(payload).encode("utf-8")})
