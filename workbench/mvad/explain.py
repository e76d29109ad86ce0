"""Which variables' correlation with a contributor changed: the v1.1 ``correlationChanges`` of an anomaly.

The correlation of each pair over the sliding window that ends at a row is compared with the same pair's
usual correlation over training windows; a pair changed when the difference exceeds both ``MIN_CHANGE``
and ``SPREADS`` times the pair's usual window-to-window spread.
"""
from __future__ import annotations

import numpy as np

MIN_CHANGE = 0.3
SPREADS = 3.0


class CorrelationProfile:
    """Median and spread (IQR / 1.349) of each pair's correlation over training windows."""

    def fit(self, z: np.ndarray, window: int, max_windows: int = 256) -> "CorrelationProfile":
        """Windows of ``window`` rows spread evenly over the training rows ``z`` (at most ``max_windows``,
        fewer for many variables to bound memory)."""
        n_vars = z.shape[1]
        budget = max(8, min(max_windows, int(8_000_000 // max(1, n_vars * n_vars))))
        starts = np.unique(np.linspace(0, len(z) - window, num=min(budget, len(z) - window + 1)).astype(int))
        mats = np.stack([window_correlation(z[s:s + window]) for s in starts])
        q25, q50, q75 = np.percentile(mats, [25, 50, 75], axis=0)
        self.median_ = q50.astype(np.float32)
        self.spread_ = ((q75 - q25) / 1.349).astype(np.float32)
        return self

    def changes(self, window_rows: np.ndarray, shares: np.ndarray, top_k: int, names: list[str]) -> dict[str, list[str]]:
        """For the ``top_k`` largest ``shares`` (the row's contributions): the variables whose correlation with
        it over ``window_rows`` (normalised) changed, most changed first."""
        change = np.abs(window_correlation(window_rows) - self.median_)
        limit = np.maximum(MIN_CHANGE, SPREADS * self.spread_)
        out: dict[str, list[str]] = {}
        for v in np.argsort(-shares, kind="stable")[:top_k]:
            hits = [u for u in np.argsort(-change[v], kind="stable") if u != v and change[v, u] > limit[v, u]]
            out[names[v]] = [names[u] for u in hits]
        return out


def window_correlation(z: np.ndarray) -> np.ndarray:
    """Pearson correlation matrix of a window's rows; 0 where a variable is constant."""
    x = z.astype(np.float64) - z.mean(axis=0)
    norm = np.sqrt((x * x).sum(axis=0))
    ok = norm > 1e-9 * max(1.0, float(np.abs(z).max(initial=0.0)))
    x = np.where(ok, x / np.where(ok, norm, 1.0), 0.0)
    return x.T @ x
