"""Extreme-value tails of score distributions: peaks over threshold (POT), as SPOT and OmniAnomaly use it.

The excesses of scores over a high start ``u`` are fitted with a generalised Pareto distribution by
probability-weighted moments (Hosking & Wallis 1987: fast, and defined for the few excesses a held-out
set has); the level exceeded with a small probability is read from the fit.  One implementation for the
univariate margin and the multivariate studies.
"""
from __future__ import annotations

import numpy as np

MAX_SHAPE = 0.95  # the PWM estimate needs a finite mean: shapes are kept below 1


def gpd_fit(excesses: np.ndarray) -> tuple[float, float]:
    """``(shape, scale)`` of a generalised Pareto distribution fitted to positive excesses by
    probability-weighted moments; shape 0 is the exponential tail, above 0 a heavier one."""
    y = np.sort(np.asarray(excesses, dtype=np.float64))
    m = len(y)
    a0 = float(y.mean())
    a1 = float(np.mean(y * (1.0 - (np.arange(1, m + 1) - 0.35) / m)))  # E[Y (1 - F(Y))]
    if a0 <= 2 * a1 or a0 <= 0:  # no spread, or beyond the estimator's range: the heaviest shape kept
        return MAX_SHAPE, max(a0, 1e-12) * (1 - MAX_SHAPE)
    shape = min(MAX_SHAPE, 2.0 - a0 / (a0 - 2 * a1))  # Hosking's k is -shape
    return shape, max(2.0 * a0 * a1 / (a0 - 2 * a1), 1e-12)


def tail_level(start: float, shape: float, scale: float, rarity: float) -> float:
    """The score ``rarity`` times less likely to be exceeded than ``start`` under the fitted tail (``start``
    itself for a rarity of at most 1)."""
    if rarity <= 1:
        return float(start)
    if abs(shape) < 1e-6:
        return float(start + scale * np.log(rarity))
    return float(start + scale / shape * (rarity ** shape - 1.0))
