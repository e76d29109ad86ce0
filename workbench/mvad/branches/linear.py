"""The linear reconstruction branch: a PCA of the training rows beside the network.

Each row is projected onto the principal components that explain
``variance`` (default 99%) of the normalised training rows and rebuilt; the
squared residual per variable says how far the row left the linear subspace
the variables normally share.  Where variables move together (server metrics,
generated multichannel signals) this sees a channel whose amplitude, level or
shape changed while its values stay within their usual range, which a
forecaster following the recent rows absorbs (``benchmarks/results/linear_study.md``).

At most one component fewer than the variables that varied in training is
kept, so the residual always has a direction (with one variable: the distance
from the training mean); variables constant in training are rebuilt as they are.
Fitting is one eigen-decomposition of the ``V x V`` covariance; scoring a row
is two ``V x k`` products, so the branch adds nothing noticeable to training
or scoring time.
"""
from __future__ import annotations

import numpy as np
import torch

from workbench.mvad import scoring
from workbench.mvad.branches.base import Branch, Fitting, Rows, register
from workbench.mvad.params import check

CHUNK_ROWS = 65_536
ERROR_FLOOR = 0.03  # its residuals are small on clean data: a lower floor than the network's keeps it sensitive


@register
class LinearBranch(Branch):
    """A PCA of the training rows keeping ``variance`` of it; a variable's error is its squared residual."""

    kind = "linear"
    state_keys = ("mean", "components", "scale")

    def __init__(self, weight: float = 0.5, variance: float = 0.99) -> None:
        self.weight = weight
        self.variance = variance

    def check_params(self) -> None:
        super().check_params()
        check([(0.0 < self.variance <= 1.0, "the linear branch's variance must lie in (0, 1]")])

    def _fit(self, fitting: Fitting) -> None:
        self.mean_, self.components_ = fit_components(fitting.rows.values[:fitting.cut], self.variance)
        held = self._residuals(fitting.rows, fitting.held_out)
        self.scale_ = scoring.error_scale(held, np.maximum(ERROR_FLOOR, fitting.steps))

    def _residuals(self, rows: Rows, targets: np.ndarray) -> np.ndarray:
        if not hasattr(self, "_torch"):  # the fitted arrays on the rows' device, made once
            self._torch = (torch.from_numpy(self.mean_).to(rows.device),
                           torch.from_numpy(self.components_).to(rows.device))
        first = int(targets[0])  # consecutive rows
        out = [_to_numpy(residuals(rows.tensor[first + lo:first + min(lo + CHUNK_ROWS, len(targets))], *self._torch))
               for lo in range(0, len(targets), CHUNK_ROWS)]
        return out[0] if len(out) == 1 else np.concatenate(out)

    def errors(self, rows: Rows, targets: np.ndarray) -> np.ndarray:
        out = self._residuals(rows, targets)
        out /= self.scale_ ** 2
        return out


def fit_components(rows: np.ndarray, variance: float) -> tuple[np.ndarray, np.ndarray]:
    """``(mean, components)`` of ``rows`` (T, V), float32: the leading eigenvectors of the covariance of the
    variables that varied in training, enough to explain ``variance`` of it and at most one fewer than those
    variables, plus a unit vector for each variable constant in training.

    A constant variable has no relation to the others to judge, so it is rebuilt as it is (residual 0): a
    command or status column that never moved in training is left to the network instead of weighing, at
    the branch's low error floor, on every row where it changes."""
    x = np.asarray(rows)
    n_vars = x.shape[1]
    mean = x.mean(axis=0, dtype=np.float64)
    covariance = np.zeros((n_vars, n_vars))
    for lo in range(0, len(x), CHUNK_ROWS):  # a million rows never take a float64 copy at once
        centred = x[lo:lo + CHUNK_ROWS].astype(np.float64) - mean
        covariance += centred.T @ centred
    covariance /= max(1, len(x) - 1)
    varied = np.flatnonzero(np.diag(covariance) > 1e-12)
    eigenvalues, eigenvectors = np.linalg.eigh(covariance[np.ix_(varied, varied)])
    order = np.argsort(eigenvalues)[::-1]
    eigenvalues = np.maximum(eigenvalues[order], 0.0)
    ratio = np.cumsum(eigenvalues) / max(eigenvalues.sum(), 1e-300)
    k = min(int(np.searchsorted(ratio, variance) + 1), max(len(varied) - 1, 0))
    components = np.zeros((n_vars, k + n_vars - len(varied)))
    components[varied, :k] = eigenvectors[:, order[:k]]
    constant = np.setdiff1d(np.arange(n_vars), varied)
    components[constant, k + np.arange(len(constant))] = 1.0
    return mean.astype(np.float32), np.ascontiguousarray(components).astype(np.float32)


def _to_numpy(x: torch.Tensor) -> np.ndarray:
    return (x if x.device.type == "cpu" else x.cpu()).numpy()


def residuals(rows: torch.Tensor, mean: torch.Tensor, components: torch.Tensor) -> torch.Tensor:
    """Squared residuals per variable, ``(batch, V)``, of ``rows`` rebuilt from their projection."""
    centred = rows - mean
    return (centred - (centred @ components) @ components.T).pow(2)  # Tensor.__pow__ is a Python-level wrapper
