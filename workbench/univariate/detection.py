"""Univariate detection with the v1.1 /timeseries contract: entire series, last point, change points.

Each series is laid on its regular time grid (granularity x customInterval), gaps are imputed
(imputeMode), the period is detected when not given, and a robust decomposition
(``_seasonal``) gives each point's expected value.  A point is an anomaly when its residual
exceeds ``margin = k * sigma`` (sigma: the residuals' robust scale; k: a Bonferroni-style
normal quantile for the series length, widened as ``sensitivity`` drops below 99), keeping at
most ``maxAnomalyRatio`` of the points, the largest residuals first.  As in the service,
``upperBoundary = expectedValue + upperMargin`` separates normal from anomalous points.

Change points test, at every point, for a level step and for a slope bend within the
``stableTrendWindow`` points on each side (against one straight line); the confidence is that
test's probability raised to the number of points, so a threshold of 0.9 means at most
about a 10% chance of one false change point in a whole clean series.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from scipy.ndimage import maximum_filter1d
from scipy.signal import fftconvolve
from scipy.special import erfc
from scipy.stats import norm

from workbench.contracts import (
    CHANGE_POINT_THRESHOLD_DEFAULT,
    MAX_ANOMALY_RATIO_DEFAULT,
    SENSITIVITY_DEFAULT,
    ImputeMode,
    TimeGranularity,
    UnivariateChangePointDetectionOptions,
    UnivariateChangePointDetectionResult,
    UnivariateDetectionOptions,
    UnivariateEntireDetectionResult,
    UnivariateLastDetectionResult,
)
from workbench.exceptions import ErrorCode, ValidationError
from workbench.univariate._period import detect_period
from workbench.univariate._seasonal import decompose, odd, period_mean, phase_profile, robust_scale, robust_trend

MAX_MISSING_RATIO = 0.5
FALSE_ALARM_RATE = 0.05  # chance of one false anomaly in a clean series at sensitivity 99
MIN_THRESHOLD = 3.0  # sigmas, for short series
SENSITIVITY_SPAN = 33.0  # each 33 sensitivity points below 99 add one more threshold width
CHI2_1_MEDIAN = 0.4549364  # median of a chi-square with 1 degree of freedom
REFITS = 2  # trend refits with the flagged points taken out
TREND_WINDOW = (7, 1441)  # bounds of the trend window, n / 10 within them
# suggestedWindow without a period: the service's default history per granularity
SUGGESTED_WINDOWS = {
    "yearly": 12, "monthly": 12, "weekly": 12, "daily": 28, "hourly": 168,
    "minutely": 1440, "secondly": 1440, "microsecond": 1000, "none": 1440,
}


# ---------------------------------------------------------------- grid and imputation


def _fill(values: np.ndarray, at: np.ndarray, length: int, mode: ImputeMode, fixed: float | None) -> np.ndarray:
    """Values on the full grid of ``length`` steps, the gaps imputed by ``mode``."""
    if length == len(values):
        return values
    steps = np.arange(length)
    if mode in (ImputeMode.AUTO, ImputeMode.LINEAR):
        return np.interp(steps, at, values)
    grid = np.full(length, 0.0 if mode is ImputeMode.ZERO else (fixed if mode is ImputeMode.FIXED else np.nan))
    grid[at] = values
    if mode is ImputeMode.PREVIOUS:  # the first point is always present
        last = np.zeros(length, dtype=np.int64)
        last[at] = at
        grid = grid[np.maximum.accumulate(last)]
    return grid


def _grid(values: pd.Series, positions: list[int] | None, mode: ImputeMode,
          fixed: float | None) -> tuple[np.ndarray, np.ndarray]:
    """``(grid values, grid step of each input point)``; notFill and granularity none keep the points as given."""
    x = values.to_numpy(dtype=float)
    if positions is None or mode is ImputeMode.NOT_FILL:
        return x, np.arange(len(x))
    at = np.asarray(positions, dtype=np.int64)
    length = int(at[-1]) + 1
    if length - len(x) > MAX_MISSING_RATIO * length:
        raise ValidationError(
            ErrorCode.INVALID_SERIES,
            f"Ratio of missing points should be less than 50%: the timestamps span {length} steps "
            f"but only {len(x)} points are given.",
        )
    return _fill(x, at, length, mode, fixed), at


def _period_of(grid: np.ndarray, period: int | None, granularity: TimeGranularity, interval: int) -> int:
    if period is not None:
        return period if period >= 2 else 0
    return detect_period(grid, granularity.value, interval)


# ---------------------------------------------------------------- entire / last


def threshold(n: int, sensitivity: int) -> float:
    """Margin in robust sigmas: the normal quantile that keeps one false alarm in a clean series
    of ``n`` points at FALSE_ALARM_RATE (at least MIN_THRESHOLD), widened below sensitivity 99."""
    base = max(MIN_THRESHOLD, float(norm.isf(FALSE_ALARM_RATE / (2 * n))))
    return base * (1.0 + (SENSITIVITY_DEFAULT - sensitivity) / SENSITIVITY_SPAN)


def _trend_window(n: int, period: int) -> int:
    """A tenth of the series (within TREND_WINDOW), and at least 1.5 periods: entire detection
    judges each point against a slow trend, so that a stretch shorter than half of it stands out."""
    lo, hi = TREND_WINDOW
    return odd(max(min(max(n // 10, lo), hi), period * 3 // 2))


def _detect(x: np.ndarray, period: int, sensitivity: int, max_ratio: float) -> dict[str, np.ndarray]:
    """Per grid point: expected value, margins, anomaly flags and severity."""
    n = len(x)
    window = _trend_window(n, period)
    trend, seasonal = decompose(x, period, window)
    k = threshold(n, sensitivity)
    cap = max(1, math.ceil(n * max_ratio))
    for refit in range(REFITS + 1):
        resid = x - trend - seasonal
        size = np.abs(resid)
        margin = k * robust_scale(resid)
        outside = size > margin
        flagged = outside.copy()
        if flagged.sum() > cap:  # keep the largest residuals only
            keep = np.argpartition(-size, cap - 1)[:cap]
            flagged[:] = False
            flagged[keep] = True
            flagged &= outside
        if refit == REFITS or not flagged.any() or flagged.all():
            break
        # the trend must not follow an anomalous stretch: refit it with the flagged points interpolated
        steps = np.arange(n)
        y = x - seasonal
        trend = robust_trend(np.interp(steps, steps[~flagged], y[~flagged]), window)
    expected = trend + seasonal
    margins = np.full(n, margin)
    # a point left unflagged by the cap gets a margin that contains it, so boundary and flag agree
    margins[outside & ~flagged] = size[outside & ~flagged] * 1.01
    severity = np.where(flagged, 1.0 - margin / np.maximum(size, 1e-300), 0.0)
    return {
        "expected": expected, "margin": margins, "anomaly": flagged,
        "negative": flagged & (resid < 0), "positive": flagged & (resid > 0), "severity": severity,
    }


def _run(options: UnivariateDetectionOptions) -> tuple[int, dict[str, np.ndarray]]:
    grid, at = _grid(options.values, options.positions, options.impute_mode, options.impute_fixed_value)
    period = _period_of(grid, options.period, options.granularity, options.custom_interval)
    result = _detect(grid, period, options.sensitivity, options.max_anomaly_ratio)
    return period, {k: v[at] for k, v in result.items()}


def entire_detection(options: UnivariateDetectionOptions) -> UnivariateEntireDetectionResult:
    """Detect anomalies over the whole series (``/timeseries/entire/detect``)."""
    period, r = _run(options)
    return UnivariateEntireDetectionResult(
        period=period, expected_values=r["expected"], upper_margins=r["margin"], lower_margins=r["margin"],
        is_anomaly=r["anomaly"], is_negative_anomaly=r["negative"], is_positive_anomaly=r["positive"],
        severity=r["severity"],
    )


def last_detection(options: UnivariateDetectionOptions) -> UnivariateLastDetectionResult:
    """The newest point's status given the points before it (``/timeseries/last/detect``)."""
    period, r = _run(options)
    window = 4 * period + 1 if period else SUGGESTED_WINDOWS[options.granularity.value] + 1
    return UnivariateLastDetectionResult(
        period=period, suggested_window=window, expected_value=float(r["expected"][-1]),
        upper_margin=float(r["margin"][-1]), lower_margin=float(r["margin"][-1]),
        is_anomaly=bool(r["anomaly"][-1]), is_negative_anomaly=bool(r["negative"][-1]),
        is_positive_anomaly=bool(r["positive"][-1]), severity=float(r["severity"][-1]),
    )


# ---------------------------------------------------------------- change points


def _break_kernels(w: int) -> tuple[np.ndarray, np.ndarray]:
    """Unit filters that measure, over 2w points, a level step and a slope bend at the middle,
    each orthogonal to a straight line (so a steady trend scores zero)."""
    k = np.arange(2 * w, dtype=float)
    line = np.column_stack([np.ones(2 * w), k - k.mean()])
    kernels = []
    for shape in ((k >= w).astype(float), np.maximum(k - (w - 0.5), 0.0)):
        shape = shape - line @ np.linalg.lstsq(line, shape, rcond=None)[0]
        kernels.append(shape / np.linalg.norm(shape))
    return kernels[0], kernels[1]


def _change_points(x: np.ndarray, period: int, w: int, level: float) -> tuple[np.ndarray, np.ndarray]:
    """``(is_change_point, confidence)`` per grid point.

    At each t, the 2w points around it are projected on a level step and on a slope bend at t
    (both orthogonal to a straight line): each squared projection over sigma^2 is a chi-square
    with one degree of freedom, largest exactly at a break.  Each is deflated by its median over
    the series when the noise is not white, and the larger of the two becomes a confidence
    across all n points (Bonferroni; neighbouring windows overlap, so it is conservative).
    """
    n = len(x)
    if period >= 2:
        x = x - phase_profile(x - period_mean(x, period), period)
    sigma = robust_scale(np.diff(x, 2)) / math.sqrt(6.0)  # second differences ignore level and slope
    y = (x - np.median(x)) / sigma
    q = np.zeros(n)
    for kernel in _break_kernels(w):
        stat = fftconvolve(y, kernel[::-1], mode="valid")[:n - 2 * w + 1] ** 2  # t = w .. n - w
        stat /= max(1.0, float(np.median(stat)) / CHI2_1_MEDIAN)
        q[w:n - w + 1] = np.maximum(q[w:n - w + 1], stat)
    false_alarm = np.minimum(1.0, 2.0 * erfc(np.sqrt(q / 2.0)))  # two tests at each point
    with np.errstate(divide="ignore"):  # q == 0 (no full window on one side): log(0) -> confidence 0
        confidence = np.exp(n * np.log1p(-false_alarm))
    peak = q == maximum_filter1d(q, size=2 * w + 1, mode="constant")
    return peak & (confidence >= level) & (q > 0), confidence


def change_point_detection(options: UnivariateChangePointDetectionOptions) -> UnivariateChangePointDetectionResult:
    """Trend change points (``/timeseries/changepoint/detect``)."""
    grid, at = _grid(options.values, options.positions, ImputeMode.LINEAR, None)
    period = _period_of(grid, options.period, options.granularity, options.custom_interval)
    is_cp, confidence = _change_points(grid, period, options.stable_trend_window, options.threshold)
    return UnivariateChangePointDetectionResult(period=period, is_change_point=is_cp[at],
                                                confidence_scores=confidence[at])


# ---------------------------------------------------------------- public API: v1.1 JSON


def detect_entire_series(request: dict[str, Any]) -> dict[str, Any]:
    """v1.1 ``UnivariateDetectionOptions`` JSON in, ``UnivariateEntireDetectionResult`` JSON out."""
    return entire_detection(UnivariateDetectionOptions.from_json(request)).to_json()


def detect_last_point(request: dict[str, Any]) -> dict[str, Any]:
    """v1.1 ``UnivariateDetectionOptions`` JSON in, ``UnivariateLastDetectionResult`` JSON out."""
    return last_detection(UnivariateDetectionOptions.from_json(request)).to_json()


def detect_change_point(request: dict[str, Any]) -> dict[str, Any]:
    """v1.1 ``UnivariateChangePointDetectionOptions`` JSON in, its result JSON out."""
    return change_point_detection(UnivariateChangePointDetectionOptions.from_json(request)).to_json()


# ---------------------------------------------------------------- public API: pandas


def infer_granularity(index: pd.Index) -> tuple[str, int]:
    """``(granularity, customInterval)`` that lays a DatetimeIndex on its grid; ``("none", 1)`` otherwise."""
    if not isinstance(index, pd.DatetimeIndex) or len(index) < 2:
        return "none", 1
    ts = index.as_unit("ns")
    months = ((ts.year - ts[0].year) * 12 + (ts.month - ts[0].month)).to_numpy()
    if (ts.day == ts[0].day).all() and (ts - ts.normalize() == ts[0] - ts[0].normalize()).all() \
            and (np.diff(months) > 0).all():
        step = int(np.gcd.reduce(np.diff(months)))
        return ("yearly", step // 12) if step % 12 == 0 else ("monthly", step)
    step = int(np.gcd.reduce(np.diff(ts.asi8)))
    for name, unit in (("weekly", 7 * 86_400 * 10**9), ("daily", 86_400 * 10**9), ("hourly", 3_600 * 10**9),
                       ("minutely", 60 * 10**9), ("secondly", 10**9), ("microsecond", 10**6)):
        if step > 0 and step % unit == 0:
            return name, step // unit
    return "none", 1


def _params(series: pd.Series, granularity: str | None, custom_interval: int | None, **fields: Any) -> dict[str, Any]:
    if granularity is None:
        granularity, inferred = infer_granularity(series.index)
        custom_interval = inferred if custom_interval is None else custom_interval
    body = {"granularity": granularity, "customInterval": custom_interval}
    body.update(fields)
    return {k: v for k, v in body.items() if v is not None}


def detect_entire(series: pd.Series, *, granularity: str | None = None, custom_interval: int | None = None,
                  period: int | None = None, sensitivity: int = SENSITIVITY_DEFAULT,
                  max_anomaly_ratio: float = MAX_ANOMALY_RATIO_DEFAULT, impute_mode: str = "auto",
                  impute_fixed_value: float | None = None) -> pd.DataFrame:
    """Entire-series detection on a Series indexed by timestamp (NaN = missing point).

    Granularity and interval are inferred from the index when not given.  Returns one row per
    non-missing point: value, expected_value, upper_margin, lower_margin, is_anomaly,
    is_negative_anomaly, is_positive_anomaly, severity; ``attrs["period"]`` holds the period.
    """
    options = UnivariateDetectionOptions.from_series(series, _params(
        series, granularity, custom_interval, period=period, sensitivity=sensitivity,
        maxAnomalyRatio=max_anomaly_ratio, imputeMode=impute_mode, imputeFixedValue=impute_fixed_value))
    period_found, r = _run(options)
    frame = pd.DataFrame({
        "value": options.values.to_numpy(), "expected_value": r["expected"], "upper_margin": r["margin"],
        "lower_margin": r["margin"], "is_anomaly": r["anomaly"], "is_negative_anomaly": r["negative"],
        "is_positive_anomaly": r["positive"], "severity": r["severity"],
    }, index=series.index[series.notna().to_numpy()])
    frame.attrs["period"] = period_found
    return frame


def detect_last(series: pd.Series, **params: Any) -> pd.Series:
    """Last-point detection on a Series indexed by timestamp; same keywords as :func:`detect_entire`.

    Returns the newest point's row with ``period`` and ``suggested_window`` added.
    """
    frame = detect_entire(series, **params)
    row = frame.iloc[-1].copy()
    period = frame.attrs["period"]
    granularity = params.get("granularity") or infer_granularity(series.index)[0]
    row["period"] = period
    row["suggested_window"] = 4 * period + 1 if period else SUGGESTED_WINDOWS[granularity] + 1
    return row


def detect_change_points(series: pd.Series, *, granularity: str | None = None, custom_interval: int | None = None,
                         period: int | None = None, stable_trend_window: int | None = None,
                         threshold: float = CHANGE_POINT_THRESHOLD_DEFAULT) -> pd.DataFrame:
    """Change points of a Series indexed by timestamp: columns value, is_change_point, confidence_score."""
    options = UnivariateChangePointDetectionOptions.from_series(series, _params(
        series, granularity, custom_interval, period=period, stableTrendWindow=stable_trend_window,
        threshold=threshold))
    result = change_point_detection(options)
    frame = pd.DataFrame({"value": options.values.to_numpy(), "is_change_point": result.is_change_point,
                          "confidence_score": result.confidence_scores},
                         index=series.index[series.notna().to_numpy()])
    frame.attrs["period"] = result.period
    return frame
