"""Robust trend + seasonal decomposition on a regular grid, O(n log w), and the robust
statistics the detectors build on.

A moving mean over exactly one period gives a first trend free of the seasonal component; the
seasonal profile is the per-phase median of what is left (robust to spikes); the final trend
is a moving mean of the deseasonalised series after winsorising it around its rolling median
(pandas' skip list).  Window edges are
extrapolated linearly so that the newest point (last-point detection) is judged against
the trend of the points before it rather than a truncated window that lags a slope.

Also here: a trend fitted with some points left out (:func:`trend_without`), a least trimmed
squares line (:func:`lts_line`), the remedian pyramid of a series (:func:`remedians`), and the
resolution of data recorded on a grid of values (:func:`grid_step`, :func:`dither`).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

MAD_TO_SIGMA = 1.4826
WINSOR_SIGMAS = 3.0
GRID_TOLERANCE = 0.02  # in grid steps: how far a recorded value may sit off its grid point


def odd(window: int) -> int:
    """The smallest odd window >= ``window`` (and >= 3), so that it is centred."""
    window = max(int(window), 3)
    return window if window % 2 else window + 1


def rolling_median(x: np.ndarray, window: int) -> np.ndarray:
    return pd.Series(x).rolling(window, center=True, min_periods=1).median().to_numpy()


def rolling_mean(x: np.ndarray, window: int) -> np.ndarray:
    """Centred moving mean; truncated windows at the edges (extrapolated later)."""
    n = len(x)
    half = window // 2
    csum = np.concatenate(([0.0], np.cumsum(x)))
    lo = np.clip(np.arange(n) - half, 0, n)
    hi = np.clip(np.arange(n) + half + 1, 0, n)
    return (csum[hi] - csum[lo]) / (hi - lo)


def period_mean(x: np.ndarray, period: int) -> np.ndarray:
    """Centred mean over exactly one period (2 x period for an even one: half weight at both
    ends), which cancels a seasonal component of that period; edges extrapolated."""
    n = len(x)
    half = period // 2
    if n < 2 * half + 2:
        return np.full(n, float(np.mean(x)))
    csum = np.concatenate(([0.0], np.cumsum(x)))
    centre = np.arange(half, n - half)
    total = csum[centre + half + 1] - csum[centre - half]
    if period % 2 == 0:
        total -= 0.5 * (x[centre - half] + x[centre + half])
    out = np.empty(n)
    out[half:n - half] = total / period
    out[:half], out[n - half:] = out[half], out[n - half - 1]
    return extrapolate_edges(out, 2 * half + 1)


def robust_scale(r: np.ndarray) -> float:
    """1.4826 * MAD; falls back to the mean absolute deviation, then to a tiny positive number."""
    med = np.median(r)
    dev = np.abs(r - med)
    scale = MAD_TO_SIGMA * float(np.median(dev))
    if scale <= 0:
        scale = 1.2533 * float(np.mean(dev))  # sqrt(pi/2) * mean |dev| is sigma for a normal
    if scale <= 0:
        scale = 1e-9 * max(1.0, float(np.max(np.abs(r))))
    return scale


def extrapolate_edges(trend: np.ndarray, window: int) -> np.ndarray:
    """Replace the half-window at each end (truncated windows) by the line through the next half-window."""
    n = len(trend)
    half = window // 2
    if half < 1 or n < 4 * half + 2:
        return trend
    out = trend.copy()
    steps = np.arange(half + 1, dtype=float)
    # start: fit trend[half : 2*half+1], extend backwards
    slope, icpt = np.polyfit(steps, trend[half:2 * half + 1], 1)
    out[:half] = icpt + slope * (np.arange(half) - half)
    # end: fit trend[n-2*half-1 : n-half], extend forwards
    slope, icpt = np.polyfit(steps, trend[n - 2 * half - 1:n - half], 1)
    out[n - half:] = icpt + slope * (np.arange(half) + half + 1)
    return out


def phase_profile(d: np.ndarray, period: int) -> np.ndarray:
    """Per-phase median of ``d`` (phase = index mod period), centred to zero mean, tiled to len(d)."""
    n = len(d)
    cycles = -(-n // period)
    padded = np.full(cycles * period, np.nan)
    padded[:n] = d
    profile = np.nanmedian(padded.reshape(cycles, period), axis=0)
    profile -= profile.mean()
    return np.tile(profile, cycles)[:n]


def decompose(x: np.ndarray, period: int, trend_window: int) -> tuple[np.ndarray, np.ndarray]:
    """``(trend, seasonal)`` with ``x ~ trend + seasonal``; seasonal is zero when period < 2."""
    seasonal = np.zeros_like(x)
    if period >= 2:
        seasonal = phase_profile(x - period_mean(x, period), period)
    trend = robust_trend(x - seasonal, trend_window)
    if period >= 2:  # second pass: seasonal against the cleaner trend
        seasonal = phase_profile(x - trend, period)
        trend = robust_trend(x - seasonal, trend_window)
    return trend, seasonal


def robust_trend(y: np.ndarray, window: int) -> np.ndarray:
    """Moving mean of ``y`` winsorised at 3 robust sigmas around its moving median."""
    med = extrapolate_edges(rolling_median(y, window), window)
    sigma = robust_scale(y - med)
    clipped = np.clip(y, med - WINSOR_SIGMAS * sigma, med + WINSOR_SIGMAS * sigma)
    return extrapolate_edges(rolling_mean(clipped, window), window)


def trend_without(y: np.ndarray, window: int, excluded: np.ndarray) -> np.ndarray:
    """:func:`robust_trend` of ``y`` with the ``excluded`` points left out.

    Runs of kept points shorter than a quarter of the window between two excluded points are
    left out too (an anomalous stretch is seldom significant at every one of its points, and a
    few of its own points must not anchor the trend inside it).  Each excluded stretch is then
    bridged by a straight line between the levels on either side of it: the median of the
    quarter-window of kept points just before it and of those just after it, so that neither a
    noisy point at an edge nor the other side tilts the bridge.  The trend is fitted as usual to
    the bridged series.
    """
    span = odd(window // 4)
    excluded = _close_gaps(excluded, span)
    if excluded.all() or not excluded.any():
        return robust_trend(y, window)
    keep = np.flatnonzero(~excluded)
    ends_run = np.flatnonzero(np.r_[np.diff(keep) > 1, keep[-1] < len(y) - 1])  # a stretch follows
    starts_run = np.flatnonzero(np.r_[keep[0] > 0, np.diff(keep) > 1])  # a stretch precedes
    # each side's level is the median of its span of kept points, placed at their middle
    left_at, left = _span_medians(keep, y[keep], ends_run, span, forward=False)
    right_at, right = _span_medians(keep, y[keep], starts_run, span, forward=True)
    at, level = np.concatenate([left_at, right_at]), np.concatenate([left, right])
    order = np.argsort(at, kind="stable")
    filled = y.copy()
    filled[excluded] = np.interp(np.flatnonzero(excluded), at[order], level[order])
    return robust_trend(filled, window)


def _span_medians(places: np.ndarray, values: np.ndarray, ends: np.ndarray, span: int,
                  forward: bool) -> tuple[np.ndarray, np.ndarray]:
    """``(middle place, median value)`` of the ``span`` points starting (``forward``) or ending
    at each index in ``ends`` (fewer where the series runs out)."""
    if not len(ends):
        return np.empty(0), np.empty(0)
    offsets = np.arange(span) if forward else np.arange(1 - span, 1)
    rows = ends[:, None] + offsets[None, :]
    inside = (rows >= 0) & (rows < len(values))
    rows = np.clip(rows, 0, len(values) - 1)
    return (np.nanmedian(np.where(inside, places[rows], np.nan), axis=1),
            np.nanmedian(np.where(inside, values[rows], np.nan), axis=1))


def _close_gaps(mask: np.ndarray, shortest: int) -> np.ndarray:
    """``mask`` with every run of False shorter than ``shortest`` between two True set to True."""
    n = len(mask)
    steps = np.arange(n)
    previous = np.maximum.accumulate(np.where(mask, steps, -1))  # last marked point at or before
    following = np.minimum.accumulate(np.where(mask, steps, n)[::-1])[::-1]  # first at or after
    inner = (previous >= 0) & (following < n)
    return mask | (inner & (following - previous - 1 < shortest))


def _line_fit(t: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    mt, my = t.mean(), y.mean()
    spread = float(((t - mt) ** 2).sum())
    slope = float(((t - mt) * (y - my)).sum()) / spread if spread > 0 else 0.0
    return my - slope * mt, slope


def lts_line(y: np.ndarray, h: int, steps: int = 10) -> np.ndarray:
    """Least trimmed squares line: the straight line that best fits the ``h`` points closest to it
    (concentration steps from a flat start and from the least-squares line; the better one wins).
    With ``h`` about half the points it follows the majority, whatever the rest does."""
    n = len(y)
    h = min(max(h, 2), n)
    t = np.arange(n, dtype=float) - (n - 1) / 2.0
    best: tuple[float, float, float] | None = None
    for icpt, slope in ((float(np.median(y)), 0.0), _line_fit(t, y)):
        for _ in range(steps):
            nearest = np.argpartition((y - icpt - slope * t) ** 2, h - 1)[:h]
            new = _line_fit(t[nearest], y[nearest])
            if new == (icpt, slope):
                break
            icpt, slope = new
        cost = float(np.partition((y - icpt - slope * t) ** 2, h - 1)[:h].sum())
        if best is None or cost < best[0]:
            best = (cost, icpt, slope)
    return best[1] + best[2] * t


def _median3(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    return np.maximum(np.minimum(a, b), np.minimum(np.maximum(a, b), c))


def remedians(x: np.ndarray, levels: int) -> list[np.ndarray]:
    """The remedian pyramid: level j is, at each point, the median of three level-(j-1) values
    3^(j-1) apart, so a robust centred summary of the 3^j points around it, in O(n) per level.
    The series is mirrored at both ends so that each level has a value at every point."""
    n = len(x)
    pad = min((3 ** levels - 1) // 2, n - 1)
    current = np.pad(x, pad, mode="reflect") if pad > 0 else x.copy()
    out = []
    for j in range(1, levels + 1):
        lag = 3 ** (j - 1)
        before, after = current.copy(), current.copy()
        if lag < len(current):
            before[lag:] = current[:-lag]
            after[:-lag] = current[lag:]
        current = _median3(before, current, after)
        out.append(current[pad:pad + n])
    return out


def grid_step(x: np.ndarray) -> float:
    """The resolution of values recorded on a grid (integers, 0.1 steps, ...); 0 for real numbers.

    The step is the median of the gaps between neighbouring values that are about one step, and
    every gap must be a whole number of steps to within GRID_TOLERANCE (relative): values stored
    in single precision, or rounded to a few decimals after scaling, sit on their grid only that
    closely."""
    values = np.unique(x[np.isfinite(x)])
    if len(values) < 2 or len(values) > len(x) // 2:  # mostly distinct values: no grid to speak of
        return 0.0
    gaps = np.diff(values)
    step = float(np.median(gaps[gaps < 1.5 * gaps.min()]))
    steps = np.round(gaps / step)
    on_grid = (steps >= 1).all() and (np.abs(gaps / step - steps) <= GRID_TOLERANCE * steps).all()
    return step if on_grid else 0.0


def dither(n: int, step: float) -> np.ndarray:
    """A deterministic, evenly spread offset in [-step/2, step/2) per point (golden-ratio sequence).

    Added to the residuals of gridded data before their scale is measured: with most values on
    one level, the median absolute deviation would otherwise measure only the trend's wiggle
    and make every ordinary step to the next level look extreme."""
    if step <= 0:
        return np.zeros(n)
    return step * (np.modf(np.arange(n) * 0.6180339887498949)[0] - 0.5)
