"""Robust trend + seasonal decomposition on a regular grid, O(n log w).

A moving mean over exactly one period gives a first trend free of the seasonal component; the
seasonal profile is the per-phase median of what is left (robust to spikes); the final trend
is a moving mean of the deseasonalised series after winsorising it around its rolling median
(pandas' skip list).  Window edges are
extrapolated linearly so that the newest point (last-point detection) is judged against
the trend of the points before it rather than a truncated window that lags a slope.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

MAD_TO_SIGMA = 1.4826
WINSOR_SIGMAS = 3.0


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
