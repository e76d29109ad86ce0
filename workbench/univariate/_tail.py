"""Thresholds from a score distribution's own tail: peaks over threshold (POT, as SPOT does).

The peaks of the top ``tail`` share of the scores are fitted with a generalised Pareto distribution
(probability-weighted moments, Hosking & Wallis 1987: fast and defined for shapes below 1), and the
threshold is the score that the fitted tail exceeds with probability ``risk``.  A Gaussian margin
understates the spread of bursty or zero-inflated metrics (mostly one value, occasional blips)
by orders of magnitude; their own tail does not.
"""
from __future__ import annotations

import numpy as np

from workbench.tails import gpd_fit, tail_level

TAIL_SHARE = 0.02  # the top 2% of the scores make the tail (SPOT's initial threshold at the 98th percentile)
MIN_EXCESSES = 20  # peaks a fit needs; fewer and there is no tail to speak of
MAX_SAMPLE = 100_000  # a strided sample of longer score arrays is as good a tail estimate, and faster
CONTINUOUS = 0.2  # share of excesses within half their median of the start: a GPD tail has 0.27 or more


def _peaks(z: np.ndarray, base: float) -> np.ndarray:
    """The largest score of each run of scores over ``base`` (runs declustering)."""
    at = np.flatnonzero(z > base)
    if not len(at):
        return np.empty(0)
    starts = np.flatnonzero(np.r_[True, np.diff(at) > 1])
    return np.maximum.reduceat(z[at], starts)


def tail_margin(scores: np.ndarray, base: float, risk: float, tail: float = TAIL_SHARE) -> float:
    """``base``, or the score that the scores' own tail beyond it exceeds with probability ``risk``
    when that tail is heavier (peaks over threshold; never below ``base``).

    Scores beyond ``base`` count by runs, each by its peak: a long anomalous stretch is one event,
    however many of its points pass.  The tail is the noise's own only when at least MIN_EXCESSES
    runs pass ``base`` and their peaks spread continuously from it, as a generalised Pareto tail
    does (at least CONTINUOUS of them within half their median excess of ``base``): a few long
    stretches, or a group of peaks far beyond ``base`` with none in between, are anomalies, not a
    heavier tail.  The fit uses the peaks over the (1 - ``tail``) quantile of the scores, or every
    peak when those are fewer.
    """
    z = np.asarray(scores, dtype=float)
    stride = max(1, len(z) // MAX_SAMPLE)
    z = z[::stride]
    peaks = _peaks(z, base)
    excesses = peaks - base
    if len(excesses) < MIN_EXCESSES or np.mean(excesses <= 0.5 * np.median(excesses)) < CONTINUOUS:
        return base
    u = base
    if len(excesses) > tail * len(z) >= MIN_EXCESSES:  # the usual POT start, the 98th percentile
        top = float(np.partition(z, int(len(z) * (1 - tail)))[int(len(z) * (1 - tail))])
        if np.count_nonzero(peaks > top) >= MIN_EXCESSES:
            u, excesses = top, peaks[peaks > top] - top
    shape, scale = gpd_fit(excesses)
    return max(base, tail_level(u, shape, scale, len(excesses) / len(z) / risk))
