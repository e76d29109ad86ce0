"""The Anomaly Detector v1.1 JSON contract, defined once.

Every request the workbench accepts and every response or stored document it returns goes
through the dataclasses here: ``from_json`` validates a camelCase dict (raising
:class:`~workbench.exceptions.ValidationError` with the v1.1 error code) and ``to_json`` writes
one.  :mod:`.base` holds the JSON plumbing, :mod:`.multivariate` the MVAD shapes and
:mod:`.univariate` the /timeseries shapes; this package re-exports their public names.
"""
from workbench.contracts.base import ErrorResponse, time_range
from workbench.contracts.multivariate import *  # noqa: F401,F403
from workbench.contracts.multivariate import __all__ as _multivariate
from workbench.contracts.univariate import *  # noqa: F401,F403
from workbench.contracts.univariate import __all__ as _univariate
from workbench.timegrid import TimeGranularity, format_timestamp, parse_timestamp

__all__ = ["ErrorResponse", "TimeGranularity", "format_timestamp", "parse_timestamp", "time_range",
           *_multivariate, *_univariate]
