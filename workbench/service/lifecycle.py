"""The lifecycle rules, each written once, enforced at the boundary every front door goes through.

* a model is used for detection or export only when READY (:func:`require_ready`);
* the registry holds at most ``maxCount`` models (:func:`require_capacity`);
* a ``dataSource`` is read only where the source policy allows (:func:`require_allowed_source`).
"""
from __future__ import annotations

from workbench.contracts import DetectionResult, Model
from workbench.data import SourcePolicy
from workbench.exceptions import ErrorCode, ModelStateError, ValidationError
from workbench.service.registry import Registry


def require_ready(model: Model) -> Model:
    """``model`` itself if READY; else a ``ModelStateError`` with its status and recorded errors."""
    info = model.model_info
    if not info.is_ready:
        raise ModelStateError(ErrorCode.MODEL_NOT_READY,
                              f"model '{model.model_id}' is {info.status.value}, not READY{_causes(info.errors)}")
    return model


def require_ready_result(result: DetectionResult) -> DetectionResult:
    """``result`` itself if READY; else a ``ModelStateError`` with its status and recorded errors."""
    summary = result.summary
    if not summary.is_ready:
        raise ModelStateError(ErrorCode.MODEL_NOT_READY, f"result '{result.result_id}' is {summary.status.value}, "
                                                         f"not READY{_causes(summary.errors)}")
    return result


def require_capacity(registry: Registry) -> None:
    """Room for one more model (the v1.1 service's per-resource cap)."""
    if registry.count_models() >= registry.max_count:
        raise ValidationError(ErrorCode.BAD_ARGUMENT,
                              f"the registry holds its maximum of {registry.max_count} models; delete some")


def require_allowed_source(policy: SourcePolicy | None, data_source: str) -> None:
    """A ``dataSource`` outside the policy's folders and hosts is refused before any job starts."""
    if policy is not None:
        policy.check(data_source)


def _causes(errors) -> str:
    return (": " + "; ".join(f"[{e.code}] {e.message}" for e in errors)) if errors else ""
