"""Saved detector states of every version, read into today's layout (version 6: composed branches).

Versions 1-4 kept one flat list of parameters and tensor names of their own:

1. the network alone (``model.*``, ``forecast_scale``, ``reconstruction_scale``);
2. with the linear branch (``linear_mean``, ``linear_components``, ``linear_scale``; ``linear_weight``);
3. with the analog branch where it took part (``analog.*``, ``analog_scale``; ``analog_weight``);
4. with the analog anchor (``analog.anchor``).

Version 5 composed branches and one flag rule; version 6 added the flag rule's ``drift_top_share`` (states
saved before it keep the drift raise they were saved with: 0).

:func:`upgrade` turns any of them into version 6 -- ``params`` with the branch and flag-rule specs, one
``branches`` entry of facts per branch, tensors named ``<kind>.<key>`` -- so that each scores as it was
saved (tests: ``tests/test_mvad_state.py``, with states written by the code of each version).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from workbench.exceptions import ErrorCode, ValidationError

STATE_VERSION = 6
DETECTOR_KEYS = ("sliding_window", "epochs", "seed", "validation_fraction", "device", "num_threads", "smoothing",
                 "top_fraction", "chunk_rows")
NETWORK_KEYS = ("context", "hidden", "latent", "batch_size", "learning_rate", "max_windows_per_epoch",
                "max_validation_windows")
FLAG_KEYS = ("threshold_spread", "tail_quantile", "drift_factor")
BEFORE_TOP_SHARE = {"drift_top_share": 0.0}  # the flag rule of states saved before version 6
# options that earlier versions had and the product no longer has: a state may carry them at these values only
RETIRED = {"long_bins": 0, "context_stride": 1, "horizon": 1}
SHARED_TENSORS = ("center", "scale", "correlation_median", "correlation_spread")


def upgrade(tensors: dict[str, np.ndarray], meta: dict[str, Any]) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """``(tensors, meta)`` of any saved version, in version 6's layout."""
    version = meta.get("stateVersion")
    if version == STATE_VERSION:
        return tensors, meta
    if version == 5:
        params = {**meta["params"], "flag_rule": {**BEFORE_TOP_SHARE, **meta["params"]["flag_rule"]}}
        return tensors, {**meta, "stateVersion": STATE_VERSION, "params": params}
    if version not in (1, 2, 3, 4):
        raise ValidationError(ErrorCode.INVALID_MODEL_ARCHIVE, f"unsupported detector state version {version!r}")
    flat = dict(meta["params"])
    for name, value in RETIRED.items():
        if flat.get(name, value) != value:
            raise ValidationError(ErrorCode.INVALID_MODEL_ARCHIVE,
                                  f"the model was saved with {name}={flat[name]!r}, a study option the workbench "
                                  "no longer has; retrain it")
    linear_weight = float(flat.get("linear_weight", 0.5)) if "linear_components" in tensors else 0.0
    out = {name: tensors[name] for name in SHARED_TENSORS}
    out.update({"network." + _network_name(k): v for k, v in tensors.items()
                if k.startswith("model.") or k in ("forecast_scale", "reconstruction_scale")})
    branches = [{"kind": "network", "weight": 1.0 - linear_weight,
                 **{k: flat[k] for k in NETWORK_KEYS if k in flat}}]
    facts: list[dict[str, Any]] = [{"context": meta["context"], "bestEpoch": meta["bestEpoch"],
                                    "trainLosses": meta["trainLosses"], "validationLosses": meta["validationLosses"],
                                    "epochSeconds": meta["epochSeconds"]}]
    if linear_weight > 0:
        branches.append({"kind": "linear", "weight": linear_weight,
                         **({"variance": flat["linear_variance"]} if "linear_variance" in flat else {})})
        facts.append({})
        out.update({"linear." + k[len("linear_"):]: tensors[k] for k in ("linear_mean", "linear_components",
                                                                         "linear_scale")})
    if "analog.layout" in tensors:  # saved where the analogs took part (a version-3 state predicts rows as they were)
        branches.append({"kind": "analog", "weight": float(flat.get("analog_weight", 0.25))})
        facts.append({"active": True})
        out.update({k: v for k, v in tensors.items() if k.startswith("analog.")})
        out["analog.scale"] = tensors["analog_scale"]
    params = {k: flat[k] for k in DETECTOR_KEYS if k in flat}
    params["branches"] = branches
    params["flag_rule"] = {**BEFORE_TOP_SHARE, **{k: flat[k] for k in FLAG_KEYS if k in flat}}
    return out, {"stateVersion": STATE_VERSION, "params": params, "variables": meta["variables"],
                 "threshold": meta["threshold"], "branches": facts}


def _network_name(name: str) -> str:
    return "weights." + name[len("model."):] if name.startswith("model.") else name
