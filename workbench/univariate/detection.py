"""Univariate detection with the v1.1 /timeseries contract: entire series, last point, change points.

Each series is laid on its regular time grid (granularity x customInterval), gaps are imputed
(imputeMode), the period is detected when not given, and a robust decomposition
(``_seasonal``) gives each point's expected value: seasonal profile plus a trend over a tenth of
the series.  A point is anomalous when

* its residual exceeds ``k * sigma`` (sigma: the residuals' robust scale; k: a Bonferroni-style
  normal quantile for the series length, widened as ``sensitivity`` drops below 99) -- or, where
  the residuals' own tail beyond ``k`` is heavier than normal noise allows and spreads on from it
  (a bursty or mostly-constant metric, not a cluster of outliers), the level that tail exceeds
  with probability TAIL_RISK (peaks over threshold, ``_tail``), or
* it sits in a stretch whose residuals are off together: the remedian (median of medians of
  three) of the 3, 9, 27, ... points centred on it exceeds its own threshold, the same false-alarm
  budget shared among those scales.  A level shift or a drift of a few sigma, too small for any
  single point, is found along its length this way, while a lone spike moves no remedian.

The trend must not follow what it should judge.  Before any local fit, the deseasonalised series
is tested against its global robust level and against the least-trimmed-squares line through
its best-fitting (1 - maxAnomalyRatio) points: stretches far off either stay out of every trend
fit.  Then the trend is refitted twice without every point found anomalous (not only those
reported), excluded stretches bridged between the levels on either side, and sigma is measured
on the other points (its floor too: differences one period apart between points not found
anomalous).  So a shift lasting longer than the trend window is still measured from the
level before it instead of being taken for the new norm.  Values recorded on a grid (integers,
fixed steps) are spread evenly over their grid step before their scale is measured, so that a
series sitting mostly on one level does not make every step to the next level an anomaly.

At most ``maxAnomalyRatio`` of the points are reported, those farthest from their expected value
first.  As in the service, ``upperBoundary = expectedValue + upperMargin`` separates normal from
anomalous points: the margin is the point threshold times sigma except where a flag says otherwise (a point over
the cap gets a margin that contains it, a point flagged for its stretch one that it just
exceeds).  ``severity``
is ``1 - 1 / evidence`` for a reported point (evidence: how many times its threshold it exceeds,
at its strongest scale) and 0 otherwise.

Change points test, at every point, for a level step and for a slope bend within the
``stableTrendWindow`` points on each side (against one straight line); the confidence is that
test's probability raised to the number of points, so a threshold of 0.9 means at most
about a 10% chance of one false change point in a whole clean series.  A change point starts a
lasting trend: a spike, or any departure shorter than half the window, is none.
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
    TimestampPolicy,
    UnivariateChangePointDetectionOptions,
    UnivariateChangePointDetectionResult,
    UnivariateDetectionOptions,
    UnivariateEntireDetectionResult,
    UnivariateLastDetectionResult,
)
from workbench.exceptions import ErrorCode, ValidationError
from workbench.timegrid import infer_granularity, parse_timestamps, step_text
from workbench.univariate._period import detect_period
from workbench.univariate._seasonal import (
    decompose,
    dither,
    grid_step,
    lts_line,
    odd,
    period_mean,
    phase_profile,
    remedians,
    robust_scale,
    rolling_median,
    trend_without,
)
from workbench.univariate._tail import tail_margin

MAX_MISSING_RATIO = 0.5
FALSE_ALARM_RATE = 0.05  # chance of one false anomaly in a clean series at sensitivity 99
MIN_THRESHOLD = 3.0  # sigmas, for short series
SENSITIVITY_SPAN = 33.0  # each 33 sensitivity points below 99 add one more threshold width
SPIKE_SIGMAS = 3.0  # change points: values are clipped this far around their running median
CHI2_1_MEDIAN = 0.4549364  # median of a chi-square with 1 degree of freedom
QUARTILE_ABS_NORMAL = 0.3186394  # lower quartile of |z| for a standard normal z
TAIL_RISK: float | None = 1e-3  # chance that a normal point passes a margin from the residuals' own tail
# (None: the Gaussian margin alone, the rule before; benchmarks/univariate_bench.py --study compares)
REFITS = 2  # trend refits with the anomalous points taken out
MIN_WINDOWS = 10  # disjoint windows a stretch scale needs in the series
SCALE_SAMPLE = 100_000  # points sampled to centre and scale each remedian level
FLOAT_NOISE = 1e-9  # residuals below this fraction of the largest |value| are rounding noise
REMEDIAN_SPREAD = 2.0 / 3.0  # sd of a median of three normal values (or remedians), in their sd
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


def _grid(values: pd.Series, positions: list[int] | None, mode: ImputeMode, fixed: float | None,
          options: Any = None) -> tuple[np.ndarray, np.ndarray]:
    """``(grid values, grid step of each input point)``; notFill and granularity none keep the points as given."""
    x = values.to_numpy(dtype=float)
    if positions is None or mode is ImputeMode.NOT_FILL:
        return x, np.arange(len(x))
    at = np.asarray(positions, dtype=np.int64)
    length = int(at[-1]) + 1
    if length - len(x) > MAX_MISSING_RATIO * length:
        hint = ""
        if options is not None and options.timestamps is not None:
            dominant = infer_granularity(options.timestamps)
            hint = (f" The grid is {options.granularity.value} with {options.custom_interval} as interval "
                    f"({step_text(options.granularity, options.custom_interval)}) while the series' most common step "
                    f"is {step_text(*dominant)}: give granularity/customInterval for that step.")
        raise ValidationError(
            ErrorCode.INVALID_SERIES,
            f"Ratio of missing points should be less than 50%: the timestamps span {length} steps "
            f"but only {len(x)} points are given.{hint}",
        )
    return _fill(x, at, length, mode, fixed), at


WEEK = 7  # a detected period repeated this often (days in a week) is tried as the period
WEEKLY_GAIN = 0.5  # ... and kept when it halves the spread of the differences one period apart


def _period_of(grid: np.ndarray, period: int | None, granularity: TimeGranularity, interval: int) -> int:
    if period is not None:
        return period if period >= 2 else 0
    found = detect_period(grid, granularity.value, interval)
    return _weekly(grid, found)


def _weekly(x: np.ndarray, period: int) -> int:
    """``WEEK x period`` instead of a daily ``period`` when the series holds more than two such
    periods and differences one week apart are much steadier than one day apart (weekdays and
    weekends follow different daily patterns: one daily profile would flag every weekend)."""
    week = WEEK * period
    if period < 2 or len(x) <= 2 * week:
        return period
    stride = max(1, (len(x) - week) // SCALE_SAMPLE)
    daily, weekly = np.std(x[period::stride] - x[:-period:stride]), np.std(x[week::stride] - x[:-week:stride])
    return week if weekly < WEEKLY_GAIN * daily else period


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


def _scale_thresholds(n: int, sensitivity: int, levels: int) -> float:
    """Margin in robust sigmas for the stretch tests: the same false-alarm budget as the point
    test, shared among the ``levels`` stretch scales (Bonferroni over levels x n windows)."""
    base = max(MIN_THRESHOLD, float(norm.isf(FALSE_ALARM_RATE / (2 * n * max(levels, 1)))))
    return base * (1.0 + (SENSITIVITY_DEFAULT - sensitivity) / SENSITIVITY_SPAN)


def _levels(n: int, longest: float) -> int:
    """Remedian levels for the stretch tests: scales 3, 9, 27, ... up to ``longest`` points, each
    with at least MIN_WINDOWS disjoint windows in the series to measure its spread."""
    levels = 0
    while 3 ** (levels + 1) <= min(longest, n / MIN_WINDOWS):
        levels += 1
    return levels


def _noise(resid: np.ndarray, normal: np.ndarray, floor: float) -> tuple[float, float]:
    """``(centre, sigma)`` of the residuals of the ``normal`` points (all of them when fewer than
    half are): the noise is measured on the points not found anomalous, as in ESD."""
    use = resid[normal] if normal.sum() >= len(resid) // 2 else resid
    return float(np.median(use)), max(robust_scale(use), floor)


def _evidence(resid: np.ndarray, normal: np.ndarray, k: float, k_stretch: float, levels: int,
              floor: float, widen: float = 1.0) -> tuple[np.ndarray, float]:
    """Per point, the strongest evidence that it is anomalous, in units of its threshold (> 1:
    anomalous): its own residual against the point margin, or the remedian of the 3, 9, 27, ...
    points centred on it against ``k_stretch`` times that remedian's spread; and the point
    margin in robust sigmas.

    The point margin is ``k`` (the Gaussian one), or the level the residuals' own tail exceeds
    with probability TAIL_RISK where that tail is heavier (:func:`~._tail.tail_margin`), widened
    alike below sensitivity 99 (``widen``): bursty or zero-inflated metrics, whose median
    absolute deviation measures only their quiet majority, are not flagged at every blip.

    A long shift or drift that no single point makes significant is found at the scale of its
    length; an isolated spike moves no remedian, and a stretch's edges do not bleed outwards.
    Centres and spreads come from the ``normal`` points.  A level's spread is its own robust
    scale, but never less than what white noise of the residuals' sigma gives (2/3 per level for
    a remedian of normal noise): a level's values are strongly correlated, so its own scale rests
    on few independent windows.  Points whose window at a level runs off the series are not
    tested at that level.  ``floor`` bounds sigma from below (rounding noise is no anomaly).
    """
    n = len(resid)
    centre, sigma = _noise(resid, normal, floor)
    z = np.abs(resid - centre) / sigma
    k_point = k if TAIL_RISK is None else tail_margin(z, k / widen, TAIL_RISK) * widen
    ratio = z / k_point
    use = normal if normal.sum() >= n // 2 else np.ones(n, dtype=bool)
    stride = max(1, n // SCALE_SAMPLE)  # the centre and spread of a level from a sample of it
    for j, level in enumerate(remedians(resid, levels), start=1):
        inner = slice((3 ** j - 1) // 2, n - (3 ** j - 1) // 2)
        sample = level[inner][use[inner]][::stride]
        spread = max(robust_scale(sample), sigma * REMEDIAN_SPREAD ** j)
        z = np.abs(level[inner] - np.median(sample)) / spread
        ratio[inner] = np.maximum(ratio[inner], z / k_stretch)
    return ratio, k_point


def _strongest(score: np.ndarray, candidates: np.ndarray, limit: int) -> np.ndarray:
    """``candidates`` reduced to the ``limit`` points with the largest ``score``."""
    if candidates.sum() <= limit:
        return candidates
    keep = np.zeros_like(candidates)
    keep[np.argpartition(-score, limit - 1)[:limit]] = True
    return keep & candidates


def _seasonal_noise(x: np.ndarray, period: int, excluded: np.ndarray | None = None) -> float:
    """The noise's sigma from differences one period apart of the detrended series (they cancel a
    steady seasonal pattern), leaving out those that touch an ``excluded`` point:
    a floor for the residuals' own scale, which a seasonal profile fitted to few periods shrinks
    (each phase's profile follows its own few points), so that clean series are not flagged."""
    if period < 2 or len(x) < 3 * period:
        return 0.0
    stride = max(1, (len(x) - period) // SCALE_SAMPLE)  # a sample is as good a scale, and faster
    d = x[period::stride] - x[:-period:stride]
    if excluded is not None and excluded.any():
        clean = ~(excluded[period::stride] | excluded[:-period:stride])
        if clean.sum() >= len(d) // 4:  # enough left: the differences of points not found anomalous,
            return robust_scale(d[clean]) / math.sqrt(2.0)  # the median's more efficient scale
    # the lower quartile of |d - median| (0.3186 sigma for normal noise): anomalies, which sit in
    # two differences each, move it less than the median
    return float(np.quantile(np.abs(d - np.median(d)), 0.25)) / QUARTILE_ABS_NORMAL / math.sqrt(2.0)


def _detect(x: np.ndarray, period: int, sensitivity: int, max_ratio: float) -> dict[str, np.ndarray]:
    """Per grid point: expected value, margins, anomaly flags and severity."""
    n = len(x)
    window = _trend_window(n, period)
    trend, seasonal = decompose(x, period, window)
    k = threshold(n, sensitivity)
    widen = 1.0 + (SENSITIVITY_DEFAULT - sensitivity) / SENSITIVITY_SPAN
    cap = max(1, math.ceil(n * max_ratio))
    most = max(cap, n // 2)  # robust fits break down beyond half of the points
    jitter = dither(n, grid_step(x))  # gridded values: measured scales see the grid step
    rounding = FLOAT_NOISE * float(np.max(np.abs(x))) if n else 0.0
    floor = max(rounding, _seasonal_noise(x - trend, period))
    y = x - seasonal
    everything = np.ones(n, dtype=bool)

    def evidence(resid: np.ndarray, longest: float, normal: np.ndarray) -> tuple[np.ndarray, float]:
        levels = _levels(n, longest)
        k_stretch = _scale_thresholds(n, sensitivity, levels)
        return _evidence(resid + jitter, normal, k, k_stretch, levels, floor, widen)

    # 1. a global look first: stretches far off the series' robust level or off the line through
    # its best-fitting (1 - maxAnomalyRatio) points stay out of every trend fit (a trend over a
    # tenth of the series would take a longer shift for the norm)
    first = np.maximum(evidence(y - np.median(y), n, everything)[0],
                       evidence(y - lts_line(y, n - cap), n, everything)[0])
    held_out = _strongest(first, first > 1, most)
    if held_out.any():
        trend = trend_without(y, window, held_out)
    # 2. refits: the trend leaves out every point found anomalous, not only the reported ones, and
    # the noise is measured on the others
    found = np.zeros(n, dtype=bool)
    for refit in range(REFITS + 1):
        resid = x - trend - seasonal
        ratio, k_point = evidence(resid, window / 3, ~found)  # the trend absorbs longer stretches
        if refit == REFITS:
            break
        found = _strongest(ratio, ratio > 1, most)
        if not (found | held_out).any():
            break
        trend = trend_without(y, window, found | held_out)
        floor = max(rounding, _seasonal_noise(x - trend, period, found | held_out))
    size = np.abs(resid)
    # maxAnomalyRatio: the points farthest from their expected value first
    flagged = _strongest(size, (ratio > 1) & (size > 0), cap)
    margin = k_point * _noise(resid + jitter, ~found, floor)[1]
    margins = np.full(n, margin)
    # margins that agree with the flags: a point over the cap gets a margin that contains it, a
    # point flagged for its stretch one that it just exceeds
    over = (size > margin) & ~flagged
    margins[over] = size[over] * 1.01
    under = flagged & (size <= margin)
    margins[under] = size[under] * 0.99
    severity = np.where(flagged, 1.0 - 1.0 / np.maximum(ratio, 1.0), 0.0)
    return {
        "expected": trend + seasonal, "margin": margins, "anomaly": flagged,
        "negative": flagged & (resid < 0), "positive": flagged & (resid > 0), "severity": severity,
    }


def _run(options: UnivariateDetectionOptions) -> tuple[int, dict[str, np.ndarray]]:
    grid, at = _grid(options.values, options.positions, options.impute_mode, options.impute_fixed_value, options)
    period = _period_of(grid, options.period, options.granularity, options.custom_interval)
    result = _detect(grid, period, options.sensitivity, options.max_anomaly_ratio)
    return period, {k: v[at] for k, v in result.items()}


def entire_detection(options: UnivariateDetectionOptions) -> UnivariateEntireDetectionResult:
    """Detect anomalies over the whole series (``/timeseries/entire/detect``); one entry per input
    point, also when a ``timestampPolicy`` merged or reordered them."""
    period, r = _run(options)
    if options.source_rows is not None:
        r = {k: v[options.source_rows] for k, v in r.items()}
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

    A change point starts a trend that lasts (``stableTrendWindow`` is the shortest stable trend
    on either side): values are first clipped to SPIKE_SIGMAS around their running median over
    the window, which keeps every step and bend (a running median follows them) but leaves a
    spike, or any departure shorter than half the window, no weight.
    """
    n = len(x)
    if period >= 2:
        x = x - phase_profile(x - period_mean(x, period), period)
    sigma = robust_scale(np.diff(x, 2)) / math.sqrt(6.0)  # second differences ignore level and slope
    y = (x - np.median(x)) / sigma
    local = rolling_median(y, odd(w))
    y = np.clip(y, local - SPIKE_SIGMAS, local + SPIKE_SIGMAS)
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
    grid, at = _grid(options.values, options.positions, ImputeMode.LINEAR, None, options)
    period = _period_of(grid, options.period, options.granularity, options.custom_interval)
    is_cp, confidence = _change_points(grid, period, options.stable_trend_window, options.threshold)
    rows = at if options.source_rows is None else at[options.source_rows]
    return UnivariateChangePointDetectionResult(period=period, is_change_point=is_cp[rows],
                                                confidence_scores=confidence[rows])


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


def _timestamps(series: Any) -> Any:
    """``series`` with an index of ISO-8601 strings (or datetime objects) read as UTC timestamps by the one
    rule of CSV cells and v1.1 bodies (:func:`workbench.timegrid.parse_timestamps`); numbers and
    DatetimeIndexes as given.  The one place the pandas entry points convert an index, so that a series
    answers the same whether its timestamps are strings or datetimes; a string that is no ISO-8601
    timestamp is an error naming its row."""
    if not isinstance(series, pd.Series) or isinstance(series.index, pd.DatetimeIndex):
        return series
    kind = pd.api.types.infer_dtype(series.index, skipna=False)
    if kind not in ("string", "mixed", "datetime", "datetime64", "date"):
        return series  # positions (a RangeIndex, numbers): granularity none
    try:
        return series.set_axis(parse_timestamps(series.index))
    except ValidationError as exc:
        raise ValidationError(exc.code, f"the series' index: {exc.message}", row=exc.row) from None


def _params(series: pd.Series, granularity: str | None, custom_interval: int | None, **fields: Any) -> dict[str, Any]:
    if granularity is None:
        index = series.index[series.notna().to_numpy()] if isinstance(series, pd.Series) else None
        granularity, inferred = infer_granularity(index)
        custom_interval = inferred if custom_interval is None else custom_interval
    body = {"granularity": granularity, "customInterval": custom_interval}
    body.update(fields)
    return {k: v for k, v in body.items() if v is not None}


def _index(series: pd.Series, options: Any) -> pd.Index:
    """The output rows: the non-missing points, or the points a timestamp policy left."""
    if options.source_rows is not None:
        naive = isinstance(series.index, pd.DatetimeIndex) and series.index.tz is None
        return options.timestamps.tz_localize(None) if naive else options.timestamps
    return series.index[series.notna().to_numpy()]


def _policy(value: Any) -> dict[str, Any] | None:
    policy = TimestampPolicy.of(value)
    return None if policy.strict else policy.to_json()


def detect_entire(series: pd.Series, *, granularity: str | None = None, custom_interval: int | None = None,
                  period: int | None = None, sensitivity: int = SENSITIVITY_DEFAULT,
                  max_anomaly_ratio: float = MAX_ANOMALY_RATIO_DEFAULT, impute_mode: str = "auto",
                  impute_fixed_value: float | None = None, timestamp_policy: Any = None) -> pd.DataFrame:
    """Entire-series detection on a Series indexed by timestamp (NaN = missing point).

    Granularity and interval are inferred from the index when not given (its most common step).
    ``timestamp_policy="lenient"`` accepts irregular timestamps: points off the grid are snapped to
    it, repeated timestamps (the hour clocks go back) averaged and the series sorted; a dict such as
    ``{"snap": True, "duplicates": "last"}`` picks each rule (:class:`~workbench.contracts.TimestampPolicy`).
    Returns one row per non-missing point (per regular point with a policy): value, expected_value,
    upper_margin, lower_margin, is_anomaly, is_negative_anomaly, is_positive_anomaly, severity;
    ``attrs["period"]`` holds the period.  An index of ISO-8601 strings is read as timestamps (UTC).
    """
    series = _timestamps(series)
    options = UnivariateDetectionOptions.from_series(series, _params(
        series, granularity, custom_interval, period=period, sensitivity=sensitivity,
        maxAnomalyRatio=max_anomaly_ratio, imputeMode=impute_mode, imputeFixedValue=impute_fixed_value,
        timestampPolicy=_policy(timestamp_policy)))
    period_found, r = _run(options)
    frame = pd.DataFrame({
        "value": options.values.to_numpy(), "expected_value": r["expected"], "upper_margin": r["margin"],
        "lower_margin": r["margin"], "is_anomaly": r["anomaly"], "is_negative_anomaly": r["negative"],
        "is_positive_anomaly": r["positive"], "severity": r["severity"],
    }, index=_index(series, options))
    frame.attrs["period"] = period_found
    return frame


def detect_last(series: pd.Series, **params: Any) -> pd.Series:
    """Last-point detection on a Series indexed by timestamp; same keywords as :func:`detect_entire`.

    Returns the newest point's row with ``period`` and ``suggested_window`` added.
    """
    series = _timestamps(series)
    frame = detect_entire(series, **params)
    row = frame.iloc[-1].copy()
    period = frame.attrs["period"]
    granularity = params.get("granularity") or infer_granularity(series.index)[0]
    row["period"] = period
    row["suggested_window"] = 4 * period + 1 if period else SUGGESTED_WINDOWS[granularity] + 1
    return row


def detect_change_points(series: pd.Series, *, granularity: str | None = None, custom_interval: int | None = None,
                         period: int | None = None, stable_trend_window: int | None = None,
                         threshold: float = CHANGE_POINT_THRESHOLD_DEFAULT,
                         timestamp_policy: Any = None) -> pd.DataFrame:
    """Change points of a Series indexed by timestamp: columns value, is_change_point, confidence_score;
    ``timestamp_policy`` as in :func:`detect_entire`."""
    series = _timestamps(series)
    options = UnivariateChangePointDetectionOptions.from_series(series, _params(
        series, granularity, custom_interval, period=period, stableTrendWindow=stable_trend_window,
        threshold=threshold, timestampPolicy=_policy(timestamp_policy)))
    result = change_point_detection(options)
    if options.source_rows is not None:  # one row per regular point, as the values
        first = np.unique(options.source_rows, return_index=True)[1]
        result = UnivariateChangePointDetectionResult(
            period=result.period, is_change_point=np.asarray(result.is_change_point)[first],
            confidence_scores=np.asarray(result.confidence_scores)[first])
    frame = pd.DataFrame({"value": options.values.to_numpy(), "is_change_point": result.is_change_point,
                          "confidence_score": result.confidence_scores},
                         index=_index(series, options))
    frame.attrs["period"] = result.period
    return frame
