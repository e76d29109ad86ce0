"""Period (seasonality) detection.

Candidates come from the granularity (7 for daily data, 24 and 168 for hourly, ...) and from
the peaks of the autocorrelation function; each is scored by the cross-validated R^2 of its
per-phase means on the detrended, spike-clipped series (leave one cycle out), which charges a
long period for its extra parameters and for having few cycles.  The best candidate wins when
it explains enough variance; a granularity candidate close to the best is preferred, as the
retired service did.  Zero means none.
"""
from __future__ import annotations

import numpy as np

from workbench.univariate._seasonal import period_mean, phase_profile, robust_scale

MIN_PERIOD = 3
MIN_STRENGTH = 0.3  # cross-validated R^2 a period must reach
PREFER_STANDARD = 0.9  # a granularity period within this fraction of the best score is taken
MAX_ANALYSED = 50_000  # long series: the newest points are enough to see a period
ACF_CANDIDATES = 4
MIN_CYCLES_FOUND = 5  # a period seen only in the autocorrelation needs this many cycles
PREFER_HARMONIC = 0.95
ACF_MIN = 0.1

# seasonal periods worth trying first, in grid steps of one granularity unit
GRANULARITY_PERIODS = {
    "yearly": (),
    "monthly": (12,),
    "weekly": (52, 4),
    "daily": (7,),
    "hourly": (24, 168),
    "minutely": (1440, 10080, 60),
    "secondly": (86400, 3600, 60),
    "microsecond": (1000,),
    "none": (),
}


def seasonal_strength(x: np.ndarray, period: int) -> float:
    """Cross-validated R^2 of per-phase means of the detrended series (-inf when under 2 cycles).

    Each point is predicted by the mean of its phase in the other cycles, so a period that only
    fits slow wander (a random walk seen over few cycles) scores near or below zero.
    """
    n = len(x)
    if period < 2 or n < 2 * period + 1:
        return -np.inf
    half = period // 2 + 1
    d = (x - period_mean(x, period))[half:n - half]
    m = len(d)
    if m <= period + 1:
        return -np.inf
    centre, scale = np.median(d), robust_scale(d)
    d = np.clip(d, centre - 4 * scale, centre + 4 * scale)
    phases = (np.arange(m) + half) % period
    counts = np.bincount(phases, minlength=period).astype(float)
    if counts.min() < 2:
        return -np.inf
    means = np.bincount(phases, d, minlength=period) / counts
    # leave-one-cycle-out residual of each point: (d - phase mean) * c / (c - 1)
    loo = (d - means[phases]) * (counts / (counts - 1))[phases]
    sst = float(np.sum((d - d.mean()) ** 2))
    if sst <= 0:
        return -np.inf
    return 1.0 - float(np.sum(loo ** 2)) / sst


def _acf(d: np.ndarray, max_lag: int) -> np.ndarray:
    """Autocorrelation up to ``max_lag + 1`` (FFT), each lag averaged over +-1% of itself."""
    d = d - d.mean()
    size = 1 << (2 * len(d) - 1).bit_length()
    spec = np.fft.rfft(d, size)
    acf = np.fft.irfft(spec * np.conj(spec), size)[:max_lag + 2]
    if acf[0] <= 0:
        return np.zeros(max_lag + 2)
    acf = acf / acf[0]
    lags = np.arange(len(acf))
    half = np.maximum(lags // 100, 0)
    csum = np.concatenate(([0.0], np.cumsum(acf)))
    lo, hi = np.clip(lags - half, 0, len(acf)), np.clip(lags + half + 1, 0, len(acf))
    return (csum[hi] - csum[lo]) / (hi - lo)


def _peaks(acf: np.ndarray, max_lag: int) -> set[int]:
    """The highest and the first strong local maxima, looked for after the ACF first drops to zero."""
    below = (acf[1:max_lag + 1] <= 0).nonzero()[0]
    if not len(below):  # never decorrelates: no cycle to see
        return set()
    lags = np.arange(max(MIN_PERIOD, int(below[0]) + 1), max_lag + 1)
    peak = (acf[lags] > acf[lags - 1]) & (acf[lags] >= acf[lags + 1]) & (acf[lags] > ACF_MIN)
    found = lags[peak]
    if not len(found):
        return set()
    highest = found[np.argsort(-acf[found])][:ACF_CANDIDATES]
    first = found[acf[found] >= 0.5 * acf[found].max()][:ACF_CANDIDATES]  # the fundamental before harmonics
    return set(highest.tolist()) | set(first.tolist())


def _acf_peaks(x: np.ndarray, max_lag: int) -> list[int]:
    """Candidate periods from the autocorrelation of the linearly detrended series and of the
    first differences (which see through a curved trend), spikes clipped."""
    n = len(x)
    t = np.arange(n)
    found: set[int] = set()
    for d in (x - np.polyval(np.polyfit(t, x, 1), t), np.diff(x)):
        centre, scale = np.median(d), robust_scale(d)
        found |= _peaks(_acf(np.clip(d, centre - 5 * scale, centre + 5 * scale), max_lag), max_lag)
    return sorted(found)


def _climb(x: np.ndarray, peak: int, scores: dict[int, float]) -> None:
    """An autocorrelation peak is only roughly placed: step to the neighbouring lag while the
    strength improves, up to 2% away, recording every lag scored."""
    def score(p: int) -> float:
        if p not in scores:
            scores[p] = seasonal_strength(x, p) if p >= MIN_PERIOD else -np.inf
        return scores[p]

    reach = max(1, peak // 50)
    for step in (-1, 1):
        p = peak
        while abs(p + step - peak) <= reach and score(p + step) > score(p):
            p += step


def detect_period(values: np.ndarray, granularity: str = "none", interval: int = 1) -> int:
    """The series' period in grid steps, or 0 when it shows none."""
    x = np.asarray(values, dtype=float)[-MAX_ANALYSED:]
    n = len(x)
    if n < 12 or np.ptp(x) == 0:
        return 0
    standard = [p // interval for p in GRANULARITY_PERIODS.get(granularity, ())
                if p % interval == 0 and p // interval >= MIN_PERIOD and n > 2 * (p // interval)]
    scores = {p: seasonal_strength(x, p) for p in standard}
    for peak in _acf_peaks(x, max(MIN_PERIOD, n // MIN_CYCLES_FOUND)):
        _climb(x, peak, scores)
    scores = {p: v for p, v in scores.items() if p in standard or n >= MIN_CYCLES_FOUND * p}
    if not scores:
        return 0
    best = max(scores, key=scores.get)
    if scores[best] < MIN_STRENGTH:
        return 0
    for p in standard:
        # a standard period close to the best is taken, unless it is a multiple of the best
        if scores[p] >= PREFER_STANDARD * scores[best] and (p == best or p % best != 0):
            return p
    # a harmonic (2p, 3p, ...) fits as well as p itself: keep the shortest that nearly ties
    for p in sorted(scores):
        ratio = round(best / p)
        if p < best and abs(ratio * p - best) <= 1 and scores[p] >= PREFER_HARMONIC * scores[best]:
            return p
    return best


def detect_periods(values: np.ndarray, count: int, granularity: str = "none", interval: int = 1) -> list[int]:
    """Up to ``count`` distinct periods: each next one is sought after removing the ones found."""
    x = np.asarray(values, dtype=float).copy()
    periods: list[int] = []
    for _ in range(count):
        period = detect_period(x, granularity, interval)
        if period == 0 or period in periods:
            break
        periods.append(period)
        x = x - phase_profile(x - period_mean(x, period), period)
    return periods
