"""Anomaly Workbench: local multivariate and univariate anomaly detection with the Anomaly Detector v1.1 contract.

The heavy parts (torch, the registry) load on first use, so ``import workbench`` stays fast.
"""
from __future__ import annotations

from workbench.exceptions import install_warning_format
from workbench.runtime import prefer_passive_waiting as _prefer_passive_waiting

_prefer_passive_waiting()  # before torch loads OpenMP: waiting threads sleep (see workbench.runtime)

__version__ = "0.1.0"
install_warning_format()

_LAZY = {
    "AnomalyDetectorClient": ("workbench.client", "AnomalyDetectorClient"),
    "MultivariateModel": ("workbench.multivariate", "MultivariateModel"),
    "Registry": ("workbench.service.registry", "Registry"),
    "WorkbenchError": ("workbench.exceptions", "WorkbenchError"),
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        module, attribute = _LAZY[name]
        return getattr(importlib.import_module(module), attribute)
    raise AttributeError(f"module 'workbench' has no attribute {name!r}")
