"""From per-variable model errors to scores, thresholds, severity and contributors (numpy only).

Every choice here was measured with ``benchmarks/model_search.py``:

* **Normalisation** -- centre on the training median, divide by the larger of
  the IQR-based and the plain standard deviation (an IQR of 0 on a spiky or
  discrete column would otherwise blow its values up), unit scale for constant
  columns.  Values are clipped only at +-1000 scales, to keep float32 training
  safe: clipping at 50 lost SKAB's anomalies, whose test files sit 30-100
  scales away from the anomaly-free recording.
* **Error scale** -- each variable's squared errors are divided by that
  variable's mean squared error on the held-out validation rows (floored at
  0.1 scale units; the linear branch's residuals, small on clean data, at
  0.03), so a well-predicted variable is not drowned by a noisy one.  The
  network's and the linear branch's ratios are mixed per variable
  (``LINEAR_WEIGHT``, ``benchmarks/linear_study.py``).
* **Smoothing** -- a causal mean over the last 5 rows: anomalies last longer
  than one row, single-row noise does not (VUS-PR SMD +0.04, SKAB +0.02).
* **Aggregation** -- the mean of the largest 20% of the variables' errors:
  about the plain mean where anomalies touch many of 38 variables (SMD -0.01)
  and near the maximum where they touch one of 8 (SKAB +0.06).
* **Threshold** -- robust log-normal tail of the held-out scores capped at
  their 99.9th percentile (``benchmarks/quality_study.py``); for data that
  drifted as a whole, the scored rows' own log-normal tail, at most 3 x their
  median (``benchmarks/threshold_study.py``, ``benchmarks/quality_study.py``).
* **Events** -- a row crossing the threshold starts an event that goes on
  while the score stays above half the threshold (``flag_events``).
"""
from __future__ import annotations

import numpy as np

CLIP = 1000.0
ERROR_FLOOR = 0.1
LINEAR_WEIGHT = 0.5  # share of the linear reconstruction branch in each variable's error
LINEAR_VARIANCE = 0.99  # training variance its principal components keep
ANALOG_WEIGHT = 0.25  # the analog branch's error, added to a variable's mixed error where it takes part
ANALOG_ANCHOR = 0.0  # how much of an analog prediction follows the row's own recent level (``mvad.analog``)
LINEAR_ERROR_FLOOR = 0.03  # its residuals are small on clean data: a lower floor keeps it sensitive
SEVERITY_AT_THRESHOLD = 0.3
THRESHOLD_SPREAD = 5.0  # robust spreads of the held-out log scores above their median
TAIL_QUANTILE = 0.999  # ... or the held-out scores' 99.9th percentile where that is lower
MIN_LOG_SPREAD = 0.1
DRIFT_FACTOR = 3.0  # the threshold for drifted data: at most 3 x their median score ...
DRIFT_TAIL_SPREAD = 3.0  # ... or their log scores' median + 3 lower-half robust spreads, where that is lower
DRIFT_MIN_ROWS = 100
EVENT_RELEASE = 0.5  # a flagged event goes on while the score stays above half the threshold


def fit_normalizer(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-variable ``(center, scale)``: median and max(IQR / 1.349, std), 1 for constant columns.

    A two-valued (indicator) column -- a command, a status flag -- is scaled
    by its step instead: divided by its standard deviation, a flag on in 0.5%
    of rows would switch by 14 scale units and swamp the network's inputs.
    """
    center = np.median(values, axis=0)
    q25, q75 = np.percentile(values, [25, 75], axis=0)
    scale = np.maximum((q75 - q25) / 1.349, values.std(axis=0))
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
    z = (np.asarray(values, dtype=np.float64) - center) / scale
    return np.clip(z, -CLIP, CLIP).astype(np.float32)


def error_scale(squared_errors: np.ndarray, floor: float | np.ndarray = ERROR_FLOOR) -> np.ndarray:
    """Per-variable RMS of validation errors, floored at ``floor`` (one value, or one per variable)."""
    return np.maximum(np.sqrt(squared_errors.mean(axis=0)), floor).astype(np.float32)


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
        return errors.mean(axis=1)
    return np.partition(errors, errors.shape[1] - top, axis=1)[:, -top:].mean(axis=1)


def contributions(errors: np.ndarray) -> np.ndarray:
    """Each row's errors as shares summing to 1 (uniform where all are 0)."""
    total = errors.sum(axis=1, keepdims=True)
    uniform = np.full_like(errors, 1.0 / errors.shape[1])
    return np.divide(errors, total, out=uniform, where=total > 0)


def release_level(threshold: float, scores: np.ndarray, release: float = EVENT_RELEASE) -> float:
    """The score an event must keep to go on: ``release`` x ``threshold``, or the median of the ``scores``
    scored in the same call where that is higher (see :func:`flag_events`)."""
    s = np.asarray(scores, dtype=np.float64)
    s = s[np.isfinite(s)]
    return float(max(release * threshold, np.median(s))) if len(s) else float(release * threshold)


def flag_events(score: np.ndarray, threshold: float, release: float) -> np.ndarray:
    """``isAnomaly`` per row: an event starts where the score reaches ``threshold`` and goes on while it stays
    at or above ``release`` (:func:`release_level`: half the threshold, or the median score of the rows scored
    where that is higher); a row without a score ends it.

    An anomaly's score swings around the threshold while it lasts; flagging
    only the crossings cut one event into fragments and left most of its rows
    unflagged.  The median keeps an event from running on through data that
    drifted as a whole, whose threshold sits just above the typical row
    (:func:`drift_threshold`).  Measured with ``benchmarks/quality_study.py``
    (3 seeds, with ``THRESHOLD_SPREAD`` 4 -> 5): GutenTAG sets flagged within
    half to twice their true share 61% -> 72%, beyond a third or three times
    11 -> 5 of 78, own-flag F1 0.576 -> 0.589; SKAB F1 0.48 -> 0.55; SMD 0.504
    -> 0.510, every machine within twice its true share.  Causal -- a row's
    flag depends on the rows before it only -- so batch and streaming agree.
    """
    s = np.asarray(score, dtype=np.float64)
    finite = np.isfinite(s)
    if not finite.any():
        return np.zeros(len(s), dtype=bool)
    rows = np.arange(len(s))
    above = finite & (s >= threshold)
    held = above | (finite & (s >= release))
    last_crossing = np.maximum.accumulate(np.where(above, rows, -1))
    last_break = np.maximum.accumulate(np.where(held, -1, rows))
    return held & (last_crossing > last_break)


def severity(score: np.ndarray, threshold: float, flags: np.ndarray) -> np.ndarray:
    """0 for rows not flagged; from ``SEVERITY_AT_THRESHOLD`` at the threshold towards 1 as the score grows.

    ``1 - 0.7 * threshold / score``: twice the threshold gives 0.65, ten times
    0.93.  A just-flagged point at 0.3 matches the smallest severities the
    retired service reported for its flagged points.  ``flags`` are the rows'
    ``isAnomaly`` (:func:`flag_events`); one that carries an event on below
    the threshold gets ``0.3 * score / threshold``: under 0.3, in proportion
    to its score.
    """
    s = np.asarray(score, dtype=np.float64)
    flagged = np.isfinite(s) & np.asarray(flags, dtype=bool)
    out = np.zeros_like(s)
    over = flagged & (s >= threshold)
    out[over] = 1.0 - (1.0 - SEVERITY_AT_THRESHOLD) * threshold / s[over]
    under = flagged & ~over
    out[under] = SEVERITY_AT_THRESHOLD * s[under] / threshold
    return np.clip(out, 0.0, 1.0)


def window_correlation(z: np.ndarray) -> np.ndarray:
    """Pearson correlation matrix of a window's rows; 0 where a variable is constant."""
    x = z.astype(np.float64) - z.mean(axis=0)
    norm = np.sqrt((x * x).sum(axis=0))
    ok = norm > 1e-9 * max(1.0, float(np.abs(z).max(initial=0.0)))
    x = np.where(ok, x / np.where(ok, norm, 1.0), 0.0)
    return x.T @ x


def correlation_profile(z: np.ndarray, window: int, max_windows: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """Median and spread (IQR / 1.349) of each pair's correlation over training windows.

    Windows of ``window`` rows are spread evenly over the training rows (at
    most ``max_windows``, fewer for many variables to bound memory), so the
    profile says how much a pair's correlation normally moves from one window
    to the next.
    """
    n_vars = z.shape[1]
    budget = max(8, min(max_windows, int(8_000_000 // max(1, n_vars * n_vars))))
    starts = np.unique(np.linspace(0, len(z) - window, num=min(budget, len(z) - window + 1)).astype(int))
    mats = np.stack([window_correlation(z[s:s + window]) for s in starts])
    q25, q50, q75 = np.percentile(mats, [25, 50, 75], axis=0)
    return q50.astype(np.float32), ((q75 - q25) / 1.349).astype(np.float32)


def calibrate_threshold(scores: np.ndarray, spread_multiple: float = THRESHOLD_SPREAD,
                        tail_quantile: float = TAIL_QUANTILE) -> float:
    """Anomaly threshold from held-out scores: the lower of a robust log-normal tail and their ``tail_quantile``.

    Scores are ratios to each variable's normal error, and where they are
    roughly log-normal ``exp(median + k * IQR / 1.349)`` of the log scores
    (spread floored at ``MIN_LOG_SPREAD``) is a tail that the anomalies an
    unlabeled training period holds do not move (the earlier rule
    ``max(2 x q99, q99.9)`` followed them: SMD own F1 0.37).  Where held-out
    scores are far from log-normal -- periodic data whose error swings with
    the phase, so the log scores spread widely -- that tail lands many times
    above the largest held-out score and nothing is flagged; the
    ``tail_quantile`` (0.999) of the held-out scores caps it (1 turns the cap
    off).  The cap can only lower the threshold, and training anomalies can
    raise it at most to the log-normal tail.  Measured with
    ``benchmarks/quality_study.py`` (3 seeds, with :func:`drift_threshold`):
    on the 29 GutenTAG sets own-flag F1 0.21 -> 0.31, sets flagged within half
    to twice their true share 16% -> 39%, beyond a third or three times 57 ->
    34 of 78 (set x seed); SMD F1 0.51 either way; the Azure noise sample
    0.00% -> 0.03% flagged.  A cap at the 99th percentile calibrates
    GutenTAG a little better (F1 0.32, 45% within twice) but flags about 0.6%
    of the tests' clean periodic series (none without the cap).  ``k`` went
    from 4 to 5 with :func:`flag_events`: an event, once started, now carries
    on below the threshold, so the threshold that starts one can be stricter
    (SMD flagged 7.6% -> 7.0% of rows, true share 7.8%, F1 0.504 -> 0.510).
    Models saved before keep the threshold they were trained with.
    """
    s = np.asarray(scores, dtype=np.float64)
    s = s[np.isfinite(s)]
    if len(s) == 0:
        raise ValueError("no finite held-out scores to calibrate a threshold on")
    logs = np.log(np.maximum(s, 1e-12))
    q25, q50, q75 = np.percentile(logs, [25, 50, 75])
    spread = max((q75 - q25) / 1.349, MIN_LOG_SPREAD)
    threshold = float(np.exp(q50 + spread_multiple * spread))
    if tail_quantile < 1.0:
        threshold = min(threshold, float(np.quantile(s, tail_quantile)))
    return threshold


def drift_threshold(threshold: float, scores: np.ndarray, drift_factor: float = DRIFT_FACTOR,
                    tail_spread: float = DRIFT_TAIL_SPREAD) -> float:
    """The threshold for one scoring call: for data that drifted as a whole, the scored rows' own tail.

    When the typical row of the scored data sits far above the training
    level (the system's normal moved: a new load level, a re-scaled sensor),
    a training-calibrated threshold flags the whole period and nothing is left
    to triage.  Anomalies are then the rows that stand out from the scored
    data's own scores: the data drifted when ``drift_factor`` x their median
    exceeds ``threshold``, and the threshold becomes the log-normal tail of the
    scored rows -- their median log score plus ``tail_spread`` (3) robust
    spreads measured *below* the median, so that anomalies up to half the rows
    do not widen it -- at most ``drift_factor`` x their median, never below
    ``threshold``.  The raise needs at least ``DRIFT_MIN_ROWS`` valid scores, so
    a few rows alone are judged by the training threshold.  A change lasting
    over half the scored rows becomes the new normal: a ``ScoreResult.threshold``
    above the detector's ``threshold_`` says the threshold was raised.
    ``drift_factor`` 0 turns this off.  Measured with
    ``benchmarks/quality_study.py`` (3 seeds, the rule table): on SMD the
    raise lifts own-flag F1 from 0.32 to 0.50; the scored rows' own tail (in
    place of 3 x their median alone) lifts SKAB, whose test files score
    hundreds of times the anomaly-free recording, from 0.15 to 0.48 (flagged
    5.7% -> 15.9%, true 35%) and leaves SMD, GutenTAG and the noise sample as
    they were.

    Where held-out scores are tight (a threshold under 3 x their median:
    about half of the GutenTAG sets, the noise sample) the raise applies to
    undrifted data too and acts as a second, batch-level tail; raising only
    past 2-5 x the held-out median instead lowered GutenTAG's own-flag F1
    0.595 -> 0.565-0.568 and flagged 1.13% of the noise sample (0.17%)
    (``benchmarks/flag_study.py``).  Fewer spreads for far-drifted batches
    (median beyond 3 thresholds) bring SKAB's files nearer their true share
    (beyond a third or three times: 37 -> 19 / 6 of 102 at 2 / 1 spreads) but
    flag 6% / 26% of clean batches whose level merely moved (1.05% at 3).
    """
    s = np.asarray(scores, dtype=np.float64)
    s = s[np.isfinite(s)]
    if drift_factor <= 0 or len(s) < DRIFT_MIN_ROWS:
        return float(threshold)
    median = float(np.median(s))
    if drift_factor * median <= threshold:
        return float(threshold)
    logs = np.log(np.maximum(s, 1e-12))
    log_median = float(np.median(logs))
    lower_spread = (log_median - float(np.quantile(logs, 0.25))) / 0.6745  # a normal's IQR / 2 in sigmas
    own_tail = float(np.exp(log_median + tail_spread * lower_spread))
    return float(max(threshold, min(drift_factor * median, own_tail)))
