"""Accuracy metrics for anomaly scores that hold up: VUS-PR first, point-adjusted F1 kept apart.

* :func:`vus_pr` / :func:`vus_roc`: volume under the range-based PR / ROC
  surface (Paparrizos et al., "Volume Under the Surface", VLDB 2022; the primary
  metric of TSB-AD, NeurIPS 2024).  Each labelled range gets a soft buffer of
  ``sqrt(1 - d / w)`` on both sides (``d = 1 .. w // 2`` rows away); for each of
  ``n_thresholds`` thresholds taken at evenly spaced ranks of the scores, a
  buffer row counts towards recall and precision only where it is predicted,
  recall is weighted by the share of ranges detected (existence), and the
  range-AP (or range-AUC) is averaged over buffer widths ``w = 0 .. window``.
  Vectorised over thresholds: one pass per buffer width.
* :func:`auc_pr` (average precision) and :func:`auc_roc`, exact over every
  distinct threshold (ties as in scikit-learn).
* :func:`best_f1` (oracle threshold: an upper bound, not deployable),
  :func:`f1_score` of a given binary prediction (no point adjustment).
* :func:`point_adjusted_f1` / :func:`best_point_adjusted_f1`: the protocol that
  marks a whole labelled range detected if one row in it is flagged.  A random
  score reaches a high value with it, so it is reported only as a labelled
  extra, never to rank methods.
* :func:`hit_rate`: root-cause HitRate@P% (SMD convention) for per-variable
  contributions against interpretation-label ranges.
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np

from workbench.exceptions import ErrorCode, ValidationError
from workbench.timegrid import parse_timestamps

__all__ = [
    "auc_pr", "auc_roc", "best_f1", "best_point_adjusted_f1", "evaluate", "evaluate_detections", "f1_score",
    "hit_rate", "period_window", "point_adjust", "point_adjusted_f1", "vus_pr", "vus_roc",
]


# ----------------------------------------------------------------------------- validation

def _labels(labels, name: str = "labels") -> np.ndarray:
    y = np.asarray(labels)
    if y.ndim != 1 or y.size == 0:
        raise ValidationError(ErrorCode.BAD_ARGUMENT, f"{name} must be a non-empty 1-D array, got shape {y.shape}")
    if y.dtype != bool:
        if not np.issubdtype(y.dtype, np.number) or not np.isin(y, (0, 1)).all():
            raise ValidationError(ErrorCode.BAD_ARGUMENT, f"{name} must hold only 0 and 1")
    return y.astype(bool)


def _score(score, n: int) -> np.ndarray:
    s = np.asarray(score, dtype=np.float64)
    if s.ndim != 1 or len(s) != n:
        raise ValidationError(ErrorCode.BAD_ARGUMENT, f"score must be 1-D with {n} values like the labels, "
                                                      f"got shape {s.shape}")
    if not np.isfinite(s).all():
        raise ValidationError(ErrorCode.BAD_ARGUMENT, "score must be finite (fill rows without a score first)")
    return s


def _both_classes(y: np.ndarray) -> None:
    if y.all() or not y.any():
        raise ValidationError(ErrorCode.BAD_ARGUMENT, "labels must contain both normal (0) and anomalous (1) rows")


def _window(window: int) -> int:
    if isinstance(window, bool) or not isinstance(window, (int, np.integer)) or window < 0:
        raise ValidationError(ErrorCode.BAD_ARGUMENT, f"window must be a non-negative integer, got {window!r}")
    return int(window)


def _n_thresholds(n_thresholds: int) -> int:
    if isinstance(n_thresholds, bool) or not isinstance(n_thresholds, (int, np.integer)) or n_thresholds < 1:
        raise ValidationError(ErrorCode.BAD_ARGUMENT, f"n_thresholds must be a positive integer, got {n_thresholds!r}")
    return int(n_thresholds)


# ----------------------------------------------------------------------------- helpers

def _ranges(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Inclusive ``(starts, ends)`` of the runs of True in ``y``."""
    d = np.diff(np.concatenate(([0], y.astype(np.int8), [0])))
    return np.flatnonzero(d == 1), np.flatnonzero(d == -1) - 1


def _range_max(s: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Maximum of ``s`` over each inclusive range ``[lo, hi]`` (sorted, disjoint ranges)."""
    idx = np.column_stack([lo, hi + 1]).ravel()
    if idx[-1] == len(s):
        idx = idx[:-1]
    return np.maximum.reduceat(s, idx)[::2]


def _count_at_least(sorted_asc: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """How many values of ``sorted_asc`` are >= each threshold."""
    return len(sorted_asc) - np.searchsorted(sorted_asc, thresholds, side="left")


def _distinct_curve(y: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cumulative (true positives, predicted positives) at each distinct threshold, highest first."""
    order = np.argsort(-s, kind="stable")
    s_sorted = s[order]
    tp = np.cumsum(y[order], dtype=np.float64)
    last_of_tie = np.r_[np.flatnonzero(np.diff(s_sorted) != 0), len(s) - 1]
    return tp[last_of_tie], (last_of_tie + 1).astype(np.float64)


# ----------------------------------------------------------------------------- point metrics

def auc_pr(labels, score) -> float:
    """Average precision: sum of precision times recall gain over every distinct threshold."""
    y = _labels(labels)
    s = _score(score, len(y))
    _both_classes(y)
    tp, npred = _distinct_curve(y, s)
    recall = tp / tp[-1]
    precision = tp / npred
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def auc_roc(labels, score) -> float:
    """Area under the ROC curve (trapezoids over every distinct threshold, so ties count half)."""
    y = _labels(labels)
    s = _score(score, len(y))
    _both_classes(y)
    tp, npred = _distinct_curve(y, s)
    fp = npred - tp
    tpr = np.r_[0.0, tp / tp[-1]]
    fpr = np.r_[0.0, fp / fp[-1]]
    return float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2))


def best_f1(labels, score) -> tuple[float, float]:
    """Highest point F1 over all thresholds (``score >= threshold``) and that threshold.

    It needs the labels to pick the threshold, so it is an upper bound on what a
    deployed detector achieves, not a deployable figure.
    """
    y = _labels(labels)
    s = _score(score, len(y))
    _both_classes(y)
    tp, npred = _distinct_curve(y, s)
    f1 = 2 * tp / (npred + tp[-1])
    k = int(np.argmax(f1))
    thresholds = -np.unique(-s)  # distinct scores, highest first, aligned with the curve
    return float(f1[k]), float(thresholds[k])


def f1_score(labels, pred) -> float:
    """Point F1 of a binary prediction, as flagged (no point adjustment); 0 when nothing is flagged."""
    y = _labels(labels)
    p = _labels(pred, "pred")
    if len(p) != len(y):
        raise ValidationError(ErrorCode.BAD_ARGUMENT, f"pred has {len(p)} values, labels {len(y)}")
    tp = np.count_nonzero(y & p)
    denom = np.count_nonzero(y) + np.count_nonzero(p)
    return float(2 * tp / denom) if denom else 0.0


def point_adjust(labels, pred) -> np.ndarray:
    """The point-adjusted prediction: a labelled range counts as fully flagged if any row in it is."""
    y = _labels(labels)
    p = _labels(pred, "pred").copy()
    if len(p) != len(y):
        raise ValidationError(ErrorCode.BAD_ARGUMENT, f"pred has {len(p)} values, labels {len(y)}")
    starts, ends = _ranges(y)
    flagged = np.r_[0, np.cumsum(p)]
    hit = flagged[ends + 1] - flagged[starts] > 0
    edges = np.zeros(len(p) + 1, dtype=np.int64)
    np.add.at(edges, starts[hit], 1)
    np.add.at(edges, ends[hit] + 1, -1)
    p |= np.cumsum(edges[:-1]) > 0
    return p


def point_adjusted_f1(labels, pred) -> float:
    """F1 after point adjustment (PA-F1).  Inflated by design: report it apart, never rank by it."""
    return f1_score(labels, point_adjust(labels, pred))


def best_point_adjusted_f1(labels, score) -> float:
    """Highest PA-F1 over every distinct threshold: the figure most papers print, shown for contrast."""
    y = _labels(labels)
    s = _score(score, len(y))
    _both_classes(y)
    starts, ends = _ranges(y)
    seg_max = _range_max(s, starts, ends)
    seg_len = (ends - starts + 1).astype(np.float64)
    order = np.argsort(seg_max)
    seg_max, seg_len = seg_max[order], seg_len[order]
    thresholds = np.unique(s)
    # rows of ranges whose maximum reaches the threshold: suffix sums over ranges sorted by maximum
    suffix = np.r_[np.cumsum(seg_len[::-1])[::-1], 0.0]
    tp = suffix[np.searchsorted(seg_max, thresholds, side="left")]
    fp = _count_at_least(np.sort(s[~y]), thresholds).astype(np.float64)
    f1 = 2 * tp / (2 * tp + fp + (y.sum() - tp))
    return float(f1.max())


# ----------------------------------------------------------------------------- VUS

def _range_volumes(y: np.ndarray, s: np.ndarray, window: int, n_thresholds: int) -> tuple[float, float]:
    """(VUS-ROC, VUS-PR): range-AUC and range-AP averaged over buffer widths 0..window."""
    n = len(s)
    n_pos = float(y.sum())
    starts, ends = _ranges(y)
    desc = np.sort(s)[::-1]
    thresholds = desc[np.linspace(0, n - 1, n_thresholds).astype(int)]
    n_pred = _count_at_least(desc[::-1], thresholds)  # >= 1: every threshold is one of the scores
    order = np.argsort(-s, kind="stable")  # rows predicted at threshold k are order[:n_pred[k]]
    at = n_pred - 1
    tp_inside = np.cumsum(y[order], dtype=np.float64)[at]
    y_sorted = y[order]

    roc = np.empty(window + 1)
    ap = np.empty(window + 1)
    buffer = np.zeros(n)
    for w in range(window + 1):
        half = w // 2
        buffer[:] = 0.0
        if half:
            d = np.arange(1, half + 1)
            weight = np.sqrt(1.0 - d / w)
            tail = (ends[:, None] + d[None, :]).ravel()
            head = (starts[:, None] - d[None, :]).ravel()
            w_rep = np.tile(weight, len(starts))
            keep_t, keep_h = tail < n, head >= 0
            np.add.at(buffer, tail[keep_t], w_rep[keep_t])
            np.add.at(buffer, head[keep_h], w_rep[keep_h])
            np.minimum(buffer, 1.0, out=buffer)
        buffered = np.cumsum(np.where(y_sorted, 0.0, buffer[order]))[at]

        # ranges widened by half a buffer on each side, merged where they touch: existence units
        lo = np.maximum(starts - half, 0)
        hi = np.minimum(ends + half, n - 1)
        new_group = np.r_[True, hi[:-1] < lo[1:]]
        g_lo = lo[new_group]
        g_hi = np.maximum.reduceat(hi, np.flatnonzero(new_group))
        g_max = _range_max(s, g_lo, g_hi)
        existence = _count_at_least(np.sort(g_max), thresholds) / len(g_max)

        tp = tp_inside + buffered
        p_new = n_pos + buffered / 2
        tpr = np.minimum(tp / p_new, 1.0) * existence
        fpr = (n_pred - tp) / (n - p_new)
        precision = tp / n_pred
        ap[w] = np.sum(np.diff(np.r_[0.0, tpr]) * precision)
        x, yy = np.r_[0.0, fpr, 1.0], np.r_[0.0, tpr, 1.0]
        roc[w] = np.sum(np.diff(x) * (yy[1:] + yy[:-1]) / 2)
    return float(roc.mean()), float(ap.mean())


def period_window(series, *, max_rows: int = 20_000, max_lag: int = 400, default: int = 125) -> int:
    """TSB-AD's VUS buffer: the dominant period of ``series`` from its autocorrelation.

    The lag (3..300) of the highest local maximum of the autocorrelation over
    the first ``max_rows`` rows; ``default`` when there is none in that range.
    TSB-AD applies it to the first variable of each test series.
    """
    x = np.asarray(series, dtype=np.float64).ravel()[:max_rows]
    if len(x) < 2 or not np.isfinite(x).all():
        raise ValidationError(ErrorCode.BAD_ARGUMENT, "series must hold at least 2 finite values")
    x = x - x.mean()
    size = 1 << int(np.ceil(np.log2(2 * len(x) - 1)))
    spectrum = np.fft.rfft(x, size)
    acov = np.fft.irfft(spectrum * np.conj(spectrum), size)[: max_lag + 1]
    if acov[0] <= 0:
        return default
    acf = acov / acov[0]
    base = 3
    tail = acf[base:]
    inner = np.flatnonzero((tail[1:-1] > tail[:-2]) & (tail[1:-1] > tail[2:])) + 1
    if len(inner) == 0:
        return default
    best = int(inner[np.argmax(tail[inner])])
    return best + base if 3 <= best <= 300 else default


def vus_pr(labels, score, *, window: int = 100, n_thresholds: int = 250) -> float:
    """Volume under the range-based precision-recall surface, buffers 0..``window`` rows."""
    y = _labels(labels)
    s = _score(score, len(y))
    _both_classes(y)
    return _range_volumes(y, s, _window(window), _n_thresholds(n_thresholds))[1]


def vus_roc(labels, score, *, window: int = 100, n_thresholds: int = 250) -> float:
    """Volume under the range-based ROC surface, buffers 0..``window`` rows."""
    y = _labels(labels)
    s = _score(score, len(y))
    _both_classes(y)
    return _range_volumes(y, s, _window(window), _n_thresholds(n_thresholds))[0]


# ----------------------------------------------------------------------------- root causes

def hit_rate(contributions, root_causes: Iterable[tuple[int, int, Sequence[int]]], p: float = 100.0) -> float:
    """Root-cause HitRate@P%, averaged over interpretation ranges.

    For each ``(start, end, truth)`` range (rows ``[start, end)``, ``truth`` the
    0-based variables that explain it), variables are ranked by their mean
    contribution over the range; the rate is the share of ``truth`` found among
    the top ``ceil(P/100 * |truth|)``.  Ties at the cut get fractional credit
    (the expected value under a random tie-break) so that equal contributions
    earn nothing from column order.  Rows with NaN contributions are skipped;
    a range with none scored counts as 0.
    """
    c = np.asarray(contributions, dtype=np.float64)
    if c.ndim != 2:
        raise ValidationError(ErrorCode.BAD_ARGUMENT, f"contributions must be 2-D (rows, variables), got {c.shape}")
    if not (isinstance(p, (int, float)) and p > 0):
        raise ValidationError(ErrorCode.BAD_ARGUMENT, f"p must be a positive percentage, got {p!r}")
    n_rows, n_vars = c.shape
    rates = []
    for start, end, truth in root_causes:
        truth = sorted({int(v) for v in truth})
        if not truth or end <= start:
            continue
        if start < 0 or end > n_rows or truth[0] < 0 or truth[-1] >= n_vars:
            raise ValidationError(ErrorCode.BAD_ARGUMENT,
                                  f"root cause {start}-{end}:{truth} lies outside {n_rows} rows x {n_vars} variables")
        block = c[start:end]
        rows = block[~np.isnan(block).any(axis=1)]
        if len(rows) == 0:
            rates.append(0.0)
            continue
        mean = rows.mean(axis=0)
        k = min(math.ceil(p / 100.0 * len(truth) - 1e-9), n_vars)
        cut = np.sort(mean)[::-1][k - 1]
        above = mean > cut
        tied = mean == cut
        share = (k - above.sum()) / tied.sum()  # slots left for the tied variables
        credit = above[truth].sum() + share * tied[truth].sum()
        rates.append(float(credit) / len(truth))
    if not rates:
        raise ValidationError(ErrorCode.BAD_ARGUMENT, "no non-empty root-cause range to score")
    return float(np.mean(rates))


# ----------------------------------------------------------------------------- all at once

def evaluate(labels, score, pred=None, *, window: int = 100, n_thresholds: int = 250) -> dict[str, float]:
    """Every threshold-free metric for ``score`` and, with ``pred``, the figures of that prediction.

    Keys: ``vus_pr``, ``vus_roc``, ``auc_pr``, ``auc_roc``, ``best_f1``,
    ``pa_f1_best`` and, when ``pred`` is given, ``f1``, ``flagged_share``, ``pa_f1``.
    """
    y = _labels(labels)
    s = _score(score, len(y))
    _both_classes(y)
    roc, pr = _range_volumes(y, s, _window(window), _n_thresholds(n_thresholds))
    out = {"vus_pr": pr, "vus_roc": roc, "auc_pr": auc_pr(y, s), "auc_roc": auc_roc(y, s),
           "best_f1": best_f1(y, s)[0], "pa_f1_best": best_point_adjusted_f1(y, s)}
    if pred is not None:
        p = _labels(pred, "pred")
        out.update(f1=f1_score(y, p), flagged_share=float(p.mean()), pa_f1=point_adjusted_f1(y, p))
    return out


def evaluate_detections(detections, labels, *, window: int = 100) -> dict[str, float]:
    """How well a detection found labelled anomalies: VUS-PR and AUC-PR of its ``score``, and the precision,
    recall and F1 of its ``is_anomaly`` as flagged (no point adjustment).

    ``detections`` is a ``Detections`` (``.frame``: ``valid``, ``is_anomaly``,
    ``score`` per timestamp); ``labels`` holds 0/1 per timestamp: a Series or
    one-column DataFrame indexed by timestamp (every scored timestamp needs a
    label), or an array as long as the frame.  Rows without a score (no full
    window yet) are left out.
    """
    frame = detections.frame
    if hasattr(labels, "index") and hasattr(labels, "reindex"):
        if getattr(labels, "ndim", 1) == 2:
            if labels.shape[1] != 1:
                raise ValidationError(ErrorCode.BAD_ARGUMENT, "labels must be one column of 0/1 per timestamp; got "
                                                              f"the columns {', '.join(map(str, labels.columns))}")
            labels = labels.iloc[:, 0]
        try:  # the one timestamp rule: ISO text as read_csv leaves it, naive datetimes as UTC
            labels = labels.set_axis(parse_timestamps(labels.index))
        except ValidationError as bad:
            raise ValidationError(bad.code, f"labels must be indexed by timestamps: {bad.message}",
                                  row=bad.row) from None
        aligned = labels.reindex(frame.index)
        missing = aligned.isna().to_numpy()
        if missing.any():
            raise ValidationError(ErrorCode.BAD_ARGUMENT, f"labels lack {int(missing.sum())} scored timestamp(s), "
                                                          f"the first {frame.index[missing][0].isoformat()}")
        y = aligned.to_numpy()
    else:
        y = np.asarray(labels)
        if y.ndim != 1 or len(y) != len(frame):
            raise ValidationError(ErrorCode.BAD_ARGUMENT, f"labels must hold one value per timestamp ({len(frame)}); "
                                                          f"got shape {y.shape}")
    valid = frame["valid"].to_numpy(dtype=bool)
    y = _labels(y[valid])
    s = _score(frame["score"].to_numpy()[valid], len(y))
    p = frame["is_anomaly"].to_numpy(dtype=bool)[valid]
    _both_classes(y)
    tp = int(np.count_nonzero(y & p))
    return {"vus_pr": vus_pr(y, s, window=window), "auc_pr": auc_pr(y, s), "f1": f1_score(y, p),
            "precision": tp / int(p.sum()) if p.any() else 0.0, "recall": tp / int(y.sum()),
            "flagged_share": float(p.mean()), "labelled_share": float(y.mean()), "rows": int(len(y))}
