"""The classic detectors of the older Anomaly Detection API (seed 003), over a DataFrame.

``score`` is the Score API (non-seasonal series) and ``score_with_seasonality`` the
ScoreWithSeasonality API; both return the documented columns.  Every detector is causal: a
point is judged against the ``history_window`` points before it.

* TSpike: beyond the history's quartiles by ``sensitivity`` inter-quartile ranges.
* ZSpike: beyond the history's mean by ``sensitivity`` standard deviations.
* Level change (bidirectional): the median of the newest tenth of the window against the median
  of the rest, in robust standard errors; alert above ``bilevel_sensitivity``.
* Slow trend: the t-statistic of the least-squares slope over the window (positive for the
  positive-trend score, negated for the negative one); alert above its sensitivity.

With seasonality, up to ``num_seasonality`` periods are detected and ``transform`` removes the
seasonal (``deseason``) or seasonal and trend (``deseasontrend``) components first; the
detectors then run on ``ProcessedData``.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from workbench.exceptions import ErrorCode, ValidationError
from workbench.univariate._period import detect_periods
from workbench.univariate._seasonal import odd, period_mean, phase_profile, robust_trend
from workbench.timegrid import infer_granularity, parse_timestamps

SEASONAL_COLUMNS = ["Time", "OriginalData", "ProcessedData", "TSpike", "ZSpike", "BiLevelChangeScore",
                    "BiLevelChangeAlert", "PosTrendScore", "PosTrendAlert", "NegTrendScore", "NegTrendAlert"]
SCORE_COLUMNS = ["Time", "Data", "TSpike", "ZSpike", "rpscore", "rpalert", "tscore", "talert"]
HISTORY_RANGE = (10, 2000)
MIN_HISTORY = 10  # points of history before a detector speaks
IQR_TO_SIGMA = 1.349
RECENT_FRACTION = 10  # the level detector's recent part: a tenth of the history window


# ---------------------------------------------------------------- validation


def _choice(value: str, name: str, allowed: tuple[str, ...]) -> str:
    for option in allowed:
        if isinstance(value, str) and value.lower() == option.lower():
            return option
    raise ValidationError(ErrorCode.BAD_ARGUMENT, f"'{name}' must be one of {', '.join(allowed)}; got {value!r}")


def _int(value: Any, name: str, lo: int, hi: float) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not lo <= value <= hi:
        raise ValidationError(ErrorCode.BAD_ARGUMENT, f"'{name}' must be an integer in [{lo}, {hi}]; got {value!r}")
    return int(value)


def _positive(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise ValidationError(ErrorCode.BAD_ARGUMENT, f"'{name}' must be a positive number; got {value!r}")
    return float(value)


def _frame(data: pd.DataFrame | pd.Series) -> tuple[pd.DatetimeIndex, np.ndarray]:
    """``(times, values)`` from a Series indexed by time or a frame with Time and Data (or two) columns."""
    if isinstance(data, pd.Series):
        times, values = data.index, data
    elif isinstance(data, pd.DataFrame) and data.shape[1] >= 2:
        times = data["Time"] if "Time" in data.columns else data.iloc[:, 0]
        values = data["Data"] if "Data" in data.columns else data.iloc[:, 1]
    else:
        raise ValidationError(ErrorCode.BAD_ARGUMENT, "data must be a Series indexed by time or a (Time, Data) frame")
    try:
        stamps = parse_timestamps(times)
        numbers = pd.to_numeric(pd.Series(np.asarray(values)), errors="raise").to_numpy(dtype=float)
    except (TypeError, ValueError) as exc:
        raise ValidationError(ErrorCode.BAD_ARGUMENT, f"cannot read the Time/Data columns: {exc}") from exc
    if len(stamps) < MIN_HISTORY + 2:
        raise ValidationError(ErrorCode.INVALID_SERIES, f"at least {MIN_HISTORY + 2} points are needed")
    order = np.argsort(stamps.asi8, kind="stable")
    stamps, numbers = stamps[order], numbers[order]
    if stamps.has_duplicates:
        raise ValidationError(ErrorCode.INVALID_SERIES, "Time has duplicated timestamps")
    return stamps, numbers


def _regular(stamps: pd.DatetimeIndex, values: np.ndarray, interval: int, func: str,
             replace: str) -> tuple[pd.DatetimeIndex, np.ndarray]:
    """Aggregate into ``interval``-second buckets (or lay on the data's own grid) and impute gaps."""
    series = pd.Series(values, index=stamps)
    if interval > 0:
        bucketed = series.resample(f"{interval}s")
        series = bucketed.count().astype(float) if func == "length" else getattr(bucketed, func)()
        if func != "mean":  # an empty bucket is missing, not zero
            series[bucketed.count() == 0] = np.nan
    else:
        steps = np.diff(stamps.asi8)
        step = int(np.gcd.reduce(steps)) if len(steps) else 0
        if step > 0 and (stamps[-1] - stamps[0]).value // step + 1 <= 2 * len(stamps):
            series = series.reindex(pd.date_range(stamps[0], stamps[-1], freq=pd.Timedelta(step, "ns")))
    if replace == "zero":
        series = series.fillna(0.0)
    elif replace == "mean":
        series = series.fillna(series.mean())
    else:  # lkv: last known value; a leading gap takes the first known one
        series = series.ffill().bfill()
    return pd.DatetimeIndex(series.index), series.to_numpy(dtype=float)


# ---------------------------------------------------------------- detectors


def _history(x: pd.Series, window: int) -> pd.core.window.Rolling:
    """Rolling statistics over the ``window`` points before each one (the point itself excluded)."""
    return x.shift(1).rolling(window, min_periods=min(window, MIN_HISTORY))


def _spikes(x: np.ndarray, window: int, tsens: int, zsens: int, direction: str) -> tuple[np.ndarray, np.ndarray]:
    s = pd.Series(x)
    hist = _history(s, window)
    q1, q3 = hist.quantile(0.25).to_numpy(), hist.quantile(0.75).to_numpy()
    mean, std = hist.mean().to_numpy(), hist.std(ddof=0).to_numpy()
    iqr = q3 - q1
    with np.errstate(invalid="ignore"):
        t_up, t_down = x > q3 + tsens * iqr, x < q1 - tsens * iqr
        z_up, z_down = x > mean + zsens * std, x < mean - zsens * std
    if direction == "Spikes":
        t_down = z_down = np.zeros_like(t_down)
    elif direction == "Dips":
        t_up = z_up = np.zeros_like(t_up)
    return (t_up | t_down).astype(int), (z_up | z_down).astype(int)


def _level_scores(x: np.ndarray, window: int) -> np.ndarray:
    """|median(recent) - median(older)| over its robust standard error, per point."""
    recent = max(3, window // RECENT_FRACTION)
    older = max(window - recent, MIN_HISTORY)
    s = pd.Series(x)
    now = s.rolling(recent, min_periods=recent).median()
    past = s.shift(recent).rolling(older, min_periods=min(older, MIN_HISTORY))
    q1, q3 = past.quantile(0.25), past.quantile(0.75)
    sigma = ((q3 - q1) / IQR_TO_SIGMA).to_numpy()
    count = past.count().to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        se = 1.2533 * sigma * np.sqrt(1.0 / recent + 1.0 / np.maximum(count, 1))  # a median's error
        score = np.abs(now.to_numpy() - past.median().to_numpy()) / se
    score[~np.isfinite(score)] = 0.0
    return score


def _trend_scores(x: np.ndarray, window: int) -> np.ndarray:
    """t-statistic of the least-squares slope over the ``window`` points ending at each point."""
    n = len(x)
    w = min(window, n)
    k = np.arange(n, dtype=float)
    centre = x - x.mean()
    cy, cky, cyy = (np.concatenate(([0.0], np.cumsum(v))) for v in (centre, k * centre, centre * centre))
    sum_y, sum_ky, sum_yy = cy[w:] - cy[:-w], cky[w:] - cky[:-w], cyy[w:] - cyy[:-w]
    k_mean = np.arange(n - w + 1) + (w - 1) / 2.0
    sxx = w * (w * w - 1) / 12.0
    slope = (sum_ky - k_mean * sum_y) / sxx
    rss = np.maximum(sum_yy - sum_y ** 2 / w - slope ** 2 * sxx, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = slope / np.sqrt(rss / (w - 2) / sxx)
    out = np.zeros(n)
    out[w - 1:] = np.where(np.isfinite(t), t, 0.0)
    return out


def _detect(x: np.ndarray, window: int, tsens: int, zsens: int, direction: str) -> dict[str, np.ndarray]:
    tspike, zspike = _spikes(x, window, tsens, zsens, direction)
    return {"TSpike": tspike, "ZSpike": zspike, "level": _level_scores(x, window), "trend": _trend_scores(x, window)}


# ---------------------------------------------------------------- public API


def score(data: pd.DataFrame | pd.Series, *, history_window: int = 500, spikes_dips: str = "Both",
          tspike_sensitivity: int = 3, zspike_sensitivity: int = 3, bilevel_sensitivity: float = 3.25,
          trend_sensitivity: float = 3.25, tail_rows: int = 0) -> pd.DataFrame:
    """The Score API on a non-seasonal series: columns Time, Data, TSpike, ZSpike, rpscore, rpalert, tscore, talert."""
    window = _int(history_window, "historyWindow", *HISTORY_RANGE)
    direction = _choice(spikes_dips, "spikesdips", ("Both", "Spikes", "Dips"))
    tsens = _int(tspike_sensitivity, "tspikedetector.sensitivity", 1, 10)
    zsens = _int(zspike_sensitivity, "zspikedetector.sensitivity", 1, 10)
    level = _positive(bilevel_sensitivity, "bileveldetector.sensitivity")
    trend = _positive(trend_sensitivity, "trenddetector.sensitivity")
    tail = _int(tail_rows, "postprocess.tailRows", 0, math.inf)
    stamps, x = _frame(data)
    r = _detect(x, window, tsens, zsens, direction)
    out = pd.DataFrame({
        "Time": stamps, "Data": x, "TSpike": r["TSpike"], "ZSpike": r["ZSpike"], "rpscore": r["level"],
        "rpalert": (r["level"] > level).astype(int), "tscore": r["trend"], "talert": (r["trend"] > trend).astype(int),
    })
    return out.iloc[-tail:].reset_index(drop=True) if tail else out


def score_with_seasonality(data: pd.DataFrame | pd.Series, *, aggregation_interval: int = 0,
                           aggregation_func: str = "mean", replace_missing: str = "lkv", history_window: int = 500,
                           spikes_dips: str = "Both", bilevel_sensitivity: float = 3.25,
                           postrend_sensitivity: float = 3.25, negtrend_sensitivity: float = 3.25,
                           tspike_sensitivity: int = 3, zspike_sensitivity: int = 3, seasonality_enable: bool = True,
                           num_seasonality: int = 1, transform: str = "deseason", tail_rows: int = 0) -> pd.DataFrame:
    """The ScoreWithSeasonality API: aggregation, imputation, deseasonalising, then the detectors.

    Columns: Time, OriginalData, ProcessedData, TSpike, ZSpike, BiLevelChangeScore,
    BiLevelChangeAlert, PosTrendScore, PosTrendAlert, NegTrendScore, NegTrendAlert.
    """
    interval = _int(aggregation_interval, "preprocess.aggregationInterval", 0, math.inf)
    func = _choice(aggregation_func, "preprocess.aggregationFunc", ("mean", "sum", "length"))
    replace = _choice(replace_missing, "preprocess.replaceMissing", ("zero", "lkv", "mean"))
    window = _int(history_window, "detectors.historyWindow", *HISTORY_RANGE)
    direction = _choice(spikes_dips, "detectors.spikesdips", ("Both", "Spikes", "Dips"))
    level = _positive(bilevel_sensitivity, "bileveldetector.sensitivity")
    pos = _positive(postrend_sensitivity, "postrenddetector.sensitivity")
    neg = _positive(negtrend_sensitivity, "negtrenddetector.sensitivity")
    tsens = _int(tspike_sensitivity, "tspikedetector.sensitivity", 1, 10)
    zsens = _int(zspike_sensitivity, "zspikedetector.sensitivity", 1, 10)
    if not isinstance(seasonality_enable, (bool, np.bool_)):
        raise ValidationError(
            ErrorCode.BAD_ARGUMENT, f"'seasonality.enable' must be true or false; got {seasonality_enable!r}"
        )
    count = _int(num_seasonality, "seasonality.numSeasonality", 1, 2)
    how = _choice(transform, "seasonality.transform", ("none", "deseason", "deseasontrend"))
    tail = _int(tail_rows, "postprocess.tailRows", 0, math.inf)

    stamps, original = _regular(*_frame(data), interval, func, replace)
    processed = original
    if seasonality_enable and how != "none":
        granularity, step = infer_granularity(stamps)
        periods = detect_periods(original, count, granularity, step)
        seasonal = np.zeros_like(original)
        for period in periods:
            rest = original - seasonal
            seasonal += phase_profile(rest - period_mean(rest, period), period)
        processed = original - seasonal
        if how == "deseasontrend":
            span = max([min(window, len(processed) // 4)] + [p * 3 // 2 for p in periods])
            processed = processed - robust_trend(processed, odd(span))
    r = _detect(processed, window, tsens, zsens, direction)
    out = pd.DataFrame({
        "Time": stamps, "OriginalData": original, "ProcessedData": processed, "TSpike": r["TSpike"],
        "ZSpike": r["ZSpike"], "BiLevelChangeScore": r["level"], "BiLevelChangeAlert": (r["level"] > level).astype(int),
        "PosTrendScore": r["trend"], "PosTrendAlert": (r["trend"] > pos).astype(int),
        "NegTrendScore": -r["trend"], "NegTrendAlert": (-r["trend"] > neg).astype(int),
    })
    return out.iloc[-tail:].reset_index(drop=True) if tail else out
