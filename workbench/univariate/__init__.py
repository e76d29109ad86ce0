"""Univariate anomaly detection: the v1.1 /timeseries API and the classic spike/trend/level detectors.

JSON in, JSON out (v1.1 camelCase): :func:`detect_entire_series`, :func:`detect_last_point`,
:func:`detect_change_point`.  Typed: :func:`entire_detection`, :func:`last_detection`,
:func:`change_point_detection` over the ``workbench.contracts`` request dataclasses.  pandas:
:func:`detect_entire`, :func:`detect_last`, :func:`detect_change_points` (a Series indexed by
timestamp in, a DataFrame out).  Classic (seed 003): :func:`score`, :func:`score_with_seasonality`.
"""
from workbench.univariate._period import detect_period
from workbench.univariate.classic import score, score_with_seasonality
from workbench.univariate.detection import (
    change_point_detection,
    detect_change_point,
    detect_change_points,
    detect_entire,
    detect_entire_series,
    detect_last,
    detect_last_point,
    entire_detection,
    last_detection,
)
from workbench.timegrid import infer_granularity

__all__ = [
    "change_point_detection",
    "detect_change_point",
    "detect_change_points",
    "detect_entire",
    "detect_entire_series",
    "detect_last",
    "detect_last_point",
    "detect_period",
    "entire_detection",
    "infer_granularity",
    "last_detection",
    "score",
    "score_with_seasonality",
]
