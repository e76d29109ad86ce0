"""The linear reconstruction branch: a PCA of the training rows beside the network.

Each row is projected onto the principal components that explain
``variance`` (default 99%) of the normalised training rows and rebuilt; the
squared residual per variable says how far the row left the linear subspace
the variables normally share.  Where variables move together (server metrics,
generated multichannel signals) this sees a channel whose amplitude, level or
shape changed while its values stay within their usual range, which a
forecaster following the recent rows absorbs.  ``benchmarks/linear_study.py``
(issue 15) measured it beside the network: GutenTAG VUS-PR 0.520 -> 0.734
(3 seeds), level on SMD and SKAB.

At most ``n_variables - 1`` components are kept, so the residual always has a
direction (with one variable: the distance from the training mean).
Fitting is one eigen-decomposition of the ``V x V`` covariance; scoring a row
is two ``V x k`` products, so the branch adds nothing noticeable to training
or scoring time.
"""
from __future__ import annotations

import numpy as np
import torch

CHUNK_ROWS = 65_536


def fit_components(rows: np.ndarray, variance: float) -> tuple[np.ndarray, np.ndarray]:
    """``(mean, components)`` of ``rows`` (T, V): the leading eigenvectors (V, k) of their covariance
    that explain at least ``variance`` of it, at most ``V - 1`` of them (float32)."""
    x = np.asarray(rows)
    mean = x.mean(axis=0, dtype=np.float64)
    covariance = np.zeros((x.shape[1], x.shape[1]))
    for lo in range(0, len(x), CHUNK_ROWS):  # a million rows never take a float64 copy at once
        centred = x[lo:lo + CHUNK_ROWS].astype(np.float64) - mean
        covariance += centred.T @ centred
    eigenvalues, eigenvectors = np.linalg.eigh(covariance / max(1, len(x) - 1))
    order = np.argsort(eigenvalues)[::-1]
    eigenvalues = np.maximum(eigenvalues[order], 0.0)
    total = eigenvalues.sum()
    if total <= 0.0:  # every variable constant in training: nothing to project on
        k = 0
    else:
        k = int(np.searchsorted(np.cumsum(eigenvalues) / total, variance) + 1)
    k = min(k, x.shape[1] - 1)
    return mean.astype(np.float32), np.ascontiguousarray(eigenvectors[:, order[:k]]).astype(np.float32)


def residuals(rows: torch.Tensor, mean: torch.Tensor, components: torch.Tensor) -> torch.Tensor:
    """Squared residuals per variable, ``(batch, V)``, of ``rows`` rebuilt from their projection."""
    centred = rows - mean
    return (centred - (centred @ components) @ components.T) ** 2
