"""From raw values to the per-variable errors' score and contributors (numpy only).

* **Normalisation** -- centre on the training median, divide by the larger of the IQR-based and the plain
  standard deviation (an IQR of 0 on a spiky or discrete column would otherwise blow its values up), unit
  scale for constant columns, the step for two-valued columns.  Values are clipped only at +-1000 scales,
  to keep float32 training safe: SKAB's test files sit 30-100 scales from its training file.
* **Error scale** -- each branch divides a variable's squared errors by their mean on the held-out rows
  (floored), so a well-predicted variable is not drowned by a noisy one.
* **Mixing** -- a variable's error is the weighted sum of the branches' errors (each branch's ``weight``).
* **Smoothing** -- a causal mean over the last ``smoothing`` rows: anomalies last longer than one row,
  single-row noise does not.
* **Aggregation** -- the mean of the largest ``top_fraction`` of the variables' errors: about the plain mean
  where anomalies touch many variables and near the maximum where they touch few.

Why these: ``benchmarks/results/model_search.md``.
"""
from __future__ import annotations

import numpy as np

CLIP = 1000.0
ERROR_FLOOR = 0.1


def fit_normalizer(values: np.ndarray, by_step: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Per-variable ``(center, scale)``: median and max(IQR / 1.349, std), 1 for constant columns.

    A two-valued (indicator) column -- a command, a status flag -- is scaled
    by its step instead: divided by its standard deviation, a flag on in 0.5%
    of rows would switch by 14 scale units and swamp the network's inputs.
    """
    center = np.median(values, axis=0)
    q25, q75 = np.percentile(values, [25, 75], axis=0)
    scale = np.maximum((q75 - q25) / 1.349, values.std(axis=0))
    if by_step:
        step = indicator_steps(values)
        scale = np.where(step > 0, step, scale)
    tiny = 1e-9 * np.maximum(1.0, np.abs(center))
    scale = np.where(scale > tiny, scale, 1.0)
    return center.astype(np.float32), scale.astype(np.float32)


def indicator_steps(values: np.ndarray) -> np.ndarray:
    """Per variable: the step between its two values where it takes exactly two (a command, a flag), else 0.

    Also the least error scale such a column gets (:func:`error_scale`): its
    switches come when nothing in its past says they will, and against the
    tiny error of its steady stretches each would outscore every real anomaly;
    judged on its own step, an unforeseen switch weighs like one typical error
    of a continuous variable.
    """
    v = np.asarray(values, dtype=np.float64)
    finite = np.isfinite(v)
    lo = np.min(np.where(finite, v, np.inf), axis=0)
    hi = np.max(np.where(finite, v, -np.inf), axis=0)
    two = (hi > lo) & np.isfinite(hi - lo) & ((v == lo) | (v == hi) | ~finite).all(axis=0)
    return np.where(two, hi - lo, 0.0)


def normalize(values: np.ndarray, center: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """Scaled float32 values, clipped at +-``CLIP``."""
    z = np.subtract(values, center, dtype=np.float64)
    np.divide(z, scale, out=z)
    np.maximum(z, -CLIP, out=z)  # np.clip, without its Python wrapper
    return np.minimum(z, CLIP, out=z).astype(np.float32)


def error_scale(squared_errors: np.ndarray, floor: float | np.ndarray = ERROR_FLOOR) -> np.ndarray:
    """Per-variable RMS of validation errors, floored at ``floor`` (one value, or one per variable)."""
    return np.maximum(np.sqrt(squared_errors.mean(axis=0)), floor).astype(np.float32)


def mix(weighted: list[tuple[float, np.ndarray]]) -> np.ndarray:
    """Each variable's error: the weighted sum of the branches' ``(weight, errors)``, in their order."""
    (weight, errors), *rest = weighted
    out = weight * errors
    for weight, errors in rest:
        out += weight * errors
    return out


def trailing_mean(rows: np.ndarray, k: int) -> np.ndarray:
    """Mean of each row with the ``k - 1`` rows before it; the first ``k - 1`` rows are dropped.

    Summed slice by slice, so a row's value does not depend on where the
    input starts: batch and streaming scores agree exactly.
    """
    n = len(rows) - k + 1
    total = rows[:n].astype(np.float64)
    for j in range(1, k):
        total += rows[j:j + n]
    return total / k


def top_count(n_variables: int, top_fraction: float) -> int:
    """How many of the largest variable errors make a row's score."""
    return max(1, min(n_variables, int(n_variables * top_fraction)))


def aggregate(errors: np.ndarray, top: int) -> np.ndarray:
    """Row score: the mean of the ``top`` largest variable errors."""
    if top >= errors.shape[1]:
        return errors.sum(axis=1) / errors.shape[1]  # the mean, without np.mean's Python wrapper
    largest = errors.copy()
    largest.partition(errors.shape[1] - top, axis=1)  # np.partition, without its Python wrapper
    return largest[:, -top:].sum(axis=1) / top


def contributions(errors: np.ndarray) -> np.ndarray:
    """Each row's errors as shares summing to 1 (uniform where all are 0)."""
    total = errors.sum(axis=1, keepdims=True)
    uniform = np.empty_like(errors)
    uniform.fill(1.0 / errors.shape[1])
    return np.divide(errors, total, out=uniform, where=total > 0)
