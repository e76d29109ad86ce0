"""The flag rule: from row scores to ``isAnomaly`` and ``severity``, one object for every caller.

Fitted on the held-out training rows' scores, it keeps the model's threshold (``threshold_``).  Applied to
the scores of one scoring call it:

1. **drift** -- raises the threshold for data that drifted as a whole (the system's normal moved: a new
   load level, a re-scaled sensor), so that the rows standing out from the new level are flagged, not the
   whole period (:meth:`FlagRule.threshold_for`);
2. **events** -- flags a row whose score reaches the threshold and carries the event on while the score
   stays at or above the release level (an anomaly's score swings around the threshold while it lasts);
3. **severity** -- 0 for rows not flagged, ``SEVERITY_AT_THRESHOLD`` at the threshold, towards 1 as the
   score grows.

The rule is causal -- a row's flag depends on the rows before it only -- so batch and streaming agree.
The detector, the fleet report and every study use this object; the evidence for each step is in
``benchmarks/results/`` (``threshold_study.md``, ``quality_study.md``, ``flag_study.md``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from workbench.mvad.params import Parameters, check

SEVERITY_AT_THRESHOLD = 0.3
MIN_LOG_SPREAD = 0.1
DRIFT_MIN_ROWS = 100
FEW_ROWS = 16  # a call scoring at most this many rows (detect-last) is flagged row by row, in Python floats


@dataclass(frozen=True)
class Flags:
    """What the rule says of one call's rows."""

    is_anomaly: np.ndarray  # (T,) bool
    severity: np.ndarray    # (T,) in [0, 1]
    threshold: float        # the threshold applied: the model's, or higher where the data drifted
    release: float          # a flagged event goes on while the score stays at or above this


class FlagRule(Parameters):
    """Threshold from held-out scores, raised for drifted data; events; severity.

    * ``threshold_spread`` -- the model's threshold is the robust log-normal tail of the held-out scores,
      their median log score plus this many robust spreads, so the few anomalies an unlabeled training
      period holds do not move it ...
    * ``tail_quantile`` -- ... capped at this quantile of them: periodic data's errors swing with the phase
      and their log-normal tail would lie above every held-out score; 99.5% rather than 99.9%, which a
      few hundred held-out rows put at their maximum (1 turns the cap off; ``selection/rules.md``);
    * ``drift_factor`` -- a call's rows drifted when this many times their median score exceeds the model's
      threshold; the threshold is then their own log-normal tail (``drift_tail_spread`` spreads measured
      below their median, so a fault lasting up to half the rows does not widen it), at most this many
      times their median, never below the model's threshold (0 turns the raise off) ...
    * ``drift_top_share`` -- ... or at most the score the call's top ``drift_top_share`` of rows reach, where
      that is higher: a drifted call whose own tail lies far above its median (a machine whose load moved)
      is flagged on its few standing-out rows, not on every row over a few times its median (0: the median
      cap alone; ``benchmarks/results/selection/rules.md``);
    * ``release`` -- an event goes on while the score stays at or above this share of the threshold (and at
      or above the median score of the rows scored, so it does not run on through drifted data).
    """

    def __init__(self, threshold_spread: float = 5.0, tail_quantile: float = 0.995, drift_factor: float = 3.0,
                 drift_tail_spread: float = 3.0, drift_top_share: float = 0.005, release: float = 0.5) -> None:
        self.threshold_spread = threshold_spread
        self.tail_quantile = tail_quantile
        self.drift_factor = drift_factor
        self.drift_tail_spread = drift_tail_spread
        self.drift_top_share = drift_top_share
        self.release = release

    def check_params(self) -> None:
        check([(self.threshold_spread > 0 and self.drift_tail_spread > 0, "the flag rule's spreads must be > 0"),
               (0.0 < self.tail_quantile <= 1.0, "tail_quantile must lie in (0, 1]"),
               (self.drift_factor >= 0, "drift_factor must be >= 0"),
               (0.0 <= self.drift_top_share < 1.0, "drift_top_share must lie in [0, 1)"),
               (0.0 < self.release <= 1.0, "release must lie in (0, 1]")])

    def fit(self, held_out_scores: np.ndarray) -> "FlagRule":
        """Calibrate the model's threshold on the held-out rows' scores."""
        self.check_params()
        self.threshold_ = self._calibrate(np.asarray(held_out_scores, dtype=np.float64))
        return self

    def _calibrate(self, scores: np.ndarray) -> float:
        """The model's threshold from the held-out scores (a study's rule overrides this)."""
        return calibrate_threshold(scores, self.threshold_spread, self.tail_quantile)

    def threshold_for(self, scores: np.ndarray) -> float:
        """The threshold for one call's valid ``scores``: the model's, or the drifted rows' own tail."""
        return drift_threshold(self.threshold_, scores, self.drift_factor, self.drift_tail_spread,
                               self.drift_top_share)

    def apply(self, score: np.ndarray, valid: np.ndarray) -> Flags:
        """Flags of one call's rows (``valid``: rows with a score, usually all but the first window)."""
        scored = score[valid]
        threshold = self.threshold_for(scored)
        is_anomaly = np.zeros(len(score), dtype=bool)
        grade = np.zeros(len(score))
        first = int(valid.argmax()) if len(valid) else 0
        rows = slice(first, None) if valid[first:].all() else slice(None)  # a row without a score ends events
        if len(score) - first <= FEW_ROWS and rows.start is not None:
            release = _flag_few(scored.tolist(), first, threshold, self.release, is_anomaly, grade)
            return Flags(is_anomaly, grade, threshold, release)
        release = release_level(threshold, scored, self.release)
        is_anomaly[rows] = valid[rows] & flag_events(score[rows], threshold, release)
        grade[rows] = severity(score[rows], threshold, is_anomaly[rows])
        return Flags(is_anomaly, grade, threshold, release)


def _flag_few(scored: list[float], first: int, threshold: float, share: float, is_anomaly: np.ndarray,
              grade: np.ndarray) -> float:
    """:func:`release_level`, then :func:`flag_events` and :func:`severity` of the few ``scored`` rows (the
    rows from ``first`` on), one by one: the same arithmetic without the numpy calls that most of a
    detect-last call's flagging took.  Returns the release level."""
    finite = sorted(s for s in scored if math.isfinite(s))
    mid = len(finite) // 2
    release = share * threshold
    if finite:
        release = max(release, finite[mid] if len(finite) % 2 else (finite[mid - 1] + finite[mid]) / 2.0)
    on = False
    for row, s in enumerate(scored, start=first):
        if not math.isfinite(s) or (s < threshold and s < release):
            on = False
        elif s >= threshold:
            on = True
        if on:
            is_anomaly[row] = True
            value = 1.0 - (1.0 - SEVERITY_AT_THRESHOLD) * threshold / s if s >= threshold else \
                SEVERITY_AT_THRESHOLD * s / threshold
            grade[row] = min(max(value, 0.0), 1.0)
    return float(release)


def calibrate_threshold(scores: np.ndarray, spread_multiple: float, tail_quantile: float) -> float:
    """The lower of ``exp(median + k * IQR / 1.349)`` of the log scores (spread at least ``MIN_LOG_SPREAD``)
    and their ``tail_quantile``."""
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


def drift_threshold(threshold: float, scores: np.ndarray, drift_factor: float, tail_spread: float,
                    top_share: float) -> float:
    """``threshold``, or for at least ``DRIFT_MIN_ROWS`` scores whose median times ``drift_factor`` exceeds it,
    their median log score plus ``tail_spread`` spreads measured below it, at most ``drift_factor`` x their
    median or the score their top ``top_share`` reach (where higher), and never below ``threshold``.

    Where held-out scores are tight (a threshold under ``drift_factor`` x their median) the raise also acts
    on undrifted data, as a second, batch-level tail (``benchmarks/results/flag_study.md``).
    """
    if drift_factor <= 0 or len(scores) < DRIFT_MIN_ROWS:  # fewer finite ones still
        return float(threshold)
    s = np.asarray(scores, dtype=np.float64)
    s = np.sort(s[np.isfinite(s)])  # sorted once: the median and the quantiles below are read off it
    if len(s) < DRIFT_MIN_ROWS:
        return float(threshold)
    median = _sorted_median(s)
    if drift_factor * median <= threshold:
        return float(threshold)
    logs = np.log(np.maximum(s, 1e-12))
    logs.sort()  # already in order, the logarithm being monotone; sorted still, in case it rounds otherwise
    log_median = _sorted_median(logs)
    lower_spread = (log_median - _sorted_quantile(logs, 0.25)) / 0.6745  # a normal's IQR / 2 in sigmas
    own_tail = float(np.exp(log_median + tail_spread * lower_spread))
    cap = drift_factor * median
    if top_share > 0:
        cap = max(cap, _sorted_quantile(s, 1.0 - top_share))
    return float(max(threshold, min(cap, own_tail)))


def release_level(threshold: float, scores: np.ndarray, release: float) -> float:
    """The score an event must keep to go on: ``release`` x ``threshold``, or the median of the call's
    ``scores`` where that is higher."""
    s = np.asarray(scores, dtype=np.float64)
    s = s[np.isfinite(s)]
    return float(max(release * threshold, _median(s))) if len(s) else float(release * threshold)


def flag_events(score: np.ndarray, threshold: float, release: float) -> np.ndarray:
    """Per row: an event starts where the score reaches ``threshold`` and goes on while it stays at or above
    ``release``; a row without a score ends it."""
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
    """0 for rows not flagged; ``1 - 0.7 x threshold / score`` from the threshold up (0.3 at it, 0.65 at twice
    it: the smallest severities the retired service gave its flagged points were about 0.3); a row that
    carries an event on below the threshold gets ``0.3 x score / threshold``."""
    s = np.asarray(score, dtype=np.float64)
    flagged = np.isfinite(s) & np.asarray(flags, dtype=bool)
    out = np.zeros_like(s)
    over = flagged & (s >= threshold)
    out[over] = 1.0 - (1.0 - SEVERITY_AT_THRESHOLD) * threshold / s[over]
    under = flagged & ~over
    out[under] = SEVERITY_AT_THRESHOLD * s[under] / threshold
    return np.clip(out, 0.0, 1.0)


def _sorted_quantile(s: np.ndarray, q: float) -> float:
    """``np.quantile(s, q)`` (its default, linear method, to the last bit) of the sorted, finite ``s``: read at
    its place rather than found again by a partition."""
    place = (len(s) - 1) * q
    if place >= len(s) - 1:
        return float(s[-1])
    below = math.floor(place)
    gamma = place - below
    a, b = float(s[below]), float(s[below + 1])
    return b - (b - a) * (1 - gamma) if gamma >= 0.5 else a + (b - a) * gamma


def _median(values: np.ndarray) -> float:
    """``np.median`` of finite values, without its overhead (most of a detect-last call's flag rule)."""
    return _sorted_median(np.sort(values))


def _sorted_median(s: np.ndarray) -> float:
    """``np.median`` of the sorted, finite ``s``, to the last bit."""
    mid = len(s) // 2
    return float(s[mid]) if len(s) % 2 else float((s[mid - 1] + s[mid]) / 2.0)
