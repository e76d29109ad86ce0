"""Batch (detect-batch) and streaming (detect-last) inference with v1.1 results.

Batch detection reads the whole source up to ``endTime`` so that rows before
``startTime`` can supply the sliding window; rows that still lack a full window
get ``InsufficientHistoricalData``.  Scores are kept as arrays (``Detections``)
and turned into v1.1 JSON only when asked, so a million rows stay cheap.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from workbench import data
from workbench.contracts import (
    AlignPolicy, AnomalyState, AnomalyValue, CorrelationChanges, ErrorResponse, Interpretation,
    LastDetectionRequest, LastDetectionResult, VariableState,
)
from workbench.exceptions import DataError, ErrorCode, ValidationError
from workbench.timegrid import parse_timestamps

INSUFFICIENT_HISTORY = ErrorResponse(ErrorCode.INSUFFICIENT_HISTORICAL_DATA, "historical data is not enough.")


@dataclass
class Detections:
    """Per-timestamp scores of a detection: the pandas-native result behind the v1.1 JSON."""

    frame: pd.DataFrame            # index: timestamp; columns: valid, is_anomaly, severity, score
    contributions: pd.DataFrame    # (T, V) contribution of each variable, rows sum to 1 (NaN where not valid)
    changed_variables: dict[int, dict[str, list[str]]]   # row -> {variable: changedVariables}, anomalous rows
    threshold: float = float("nan")  # the score threshold applied (raised above the model's for drifted data)
    release: float = float("nan")    # a flagged event went on while the score stayed at or above this

    @property
    def variables(self) -> list[str]:
        return [str(c) for c in self.contributions.columns]

    def __repr__(self) -> str:
        """One line a notebook shows: the range, the counts and the threshold (the tables are ``.frame`` and
        ``.contributions``; printing ``changed_variables`` ran to thousands of characters)."""
        rows, flags = len(self.frame), int(self.frame["is_anomaly"].sum()) if len(self.frame) else 0
        span = (f"{self.frame.index[0]:%Y-%m-%dT%H:%M:%SZ} .. {self.frame.index[-1]:%Y-%m-%dT%H:%M:%SZ}, "
                if rows else "")
        share = f" ({100 * flags / rows:.1f}%)" if rows else ""
        return (f"Detections({span}{rows:,} timestamps, {len(self.variables)} variables, {flags:,} anomalies{share}, "
                f"threshold {self.threshold:.4g})")

    def interpretation(self, row: int, top_k: int) -> list[Interpretation]:
        """Top-k contributors of one row, each with its correlation changes (for anomalous rows)."""
        return interpretation(self.variables, self.contributions.iloc[row].to_numpy(),
                              self.changed_variables.get(row, {}), top_k)

    def evaluate(self, labels, *, window: int = 100) -> dict[str, float]:
        """VUS-PR, AUC-PR and F1 (no point adjustment) against 0/1 ``labels`` per timestamp
        (``workbench.evaluation.evaluate_detections``)."""
        from workbench.evaluation import evaluate_detections

        return evaluate_detections(self, labels, window=window)

    def results(self, top_k: int) -> list[AnomalyState]:
        """The v1.1 ``results`` list; interpretation is given for anomalous rows, as the service did."""
        valid = self.frame["valid"].to_numpy()
        flags = self.frame["is_anomaly"].to_numpy()
        severity = self.frame["severity"].to_numpy()
        score = self.frame["score"].to_numpy()
        return [anomaly_state(ts, bool(valid[i]), bool(flags[i]), float(severity[i]), float(score[i]),
                              self.interpretation(i, top_k) if flags[i] and valid[i] else [])
                for i, ts in enumerate(self.frame.index)]


def interpretation(variables: list[str], weights: np.ndarray, changes: dict[str, list[str]],
                   top_k: int) -> list[Interpretation]:
    """The ``top_k`` contributors of a row by its contribution ``weights``, each with its correlation changes."""
    if np.isnan(weights).all():
        return []
    order = np.argsort(-weights, kind="stable")[:top_k]
    return [Interpretation(variables[j], float(weights[j]), CorrelationChanges(changes.get(variables[j], [])))
            for j in order]


def anomaly_state(timestamp: pd.Timestamp, valid: bool, flag: bool, severity: float, score: float,
                  interpreted: list[Interpretation]) -> AnomalyState:
    """One row of v1.1 ``results``: ``InsufficientHistoricalData`` without a full window, else the value with
    its interpretation (callers give it for anomalous rows only, as the service did)."""
    if not valid:
        return AnomalyState(timestamp, None, [INSUFFICIENT_HISTORY])
    return AnomalyState(timestamp, AnomalyValue(flag, severity, score, interpreted), [])


def check_variables(expected: list[str], actual: list[str]) -> None:
    """Inference data must hold exactly the model's variables."""
    missing = [v for v in expected if v not in set(actual)]
    extra = [v for v in actual if v not in set(expected)]
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"missing variables: {', '.join(missing)}")
        if extra:
            parts.append(f"unexpected variables: {', '.join(extra)}")
        raise DataError(ErrorCode.VARIABLE_MISMATCH,
                        "the data must hold exactly the model's variables; " + "; ".join(parts))


def score_frame(detector, history: pd.DataFrame, first_row: int, top_k: int) -> Detections:
    """Score rows ``first_row..`` of ``history``; the window before them supplies their sliding window."""
    start = max(0, first_row - detector.sliding_window)
    values = history.to_numpy(dtype=np.float64)[start:]
    scored = detector.score(values)
    keep = slice(first_row - start, None)
    index = history.index[first_row:]
    index.name = "timestamp"
    valid = scored.valid[keep]
    frame = pd.DataFrame({
        "valid": valid,
        "is_anomaly": scored.is_anomaly[keep] & valid,
        "severity": np.where(valid, scored.severity[keep], np.nan),
        "score": scored.score[keep],
    }, index=index)
    shares = np.where(valid[:, None], scored.contributions[keep], np.nan)  # no share where no score
    contributions = pd.DataFrame(shares, index=index, columns=history.columns, copy=False)
    changed = {}
    offset = first_row - start
    for row in np.flatnonzero(frame["is_anomaly"].to_numpy()):  # contributions from this pass, not a second one
        changed[int(row)] = detector.correlation_changes(values, int(row) + offset, top_k,
                                                         contributions=scored.contributions[int(row) + offset])
    return Detections(frame, contributions, changed, scored.threshold, scored.release)


class StreamMemo:
    """What a model's latest detect-last call scored: its aligned timestamps and values and its row scores.

    A streaming caller sends the same history again, shifted by the rows that arrived since.  A row's score
    depends only on the rows of its sliding window, so the rows whose values (and timestamps) the two calls
    share keep their scores and only the new rows are scored.  The answered row is always scored alone, so
    the same body gets the same answer to the last digit; a body a few rows on gets a fresh call's answer to
    float32 rounding (its history rows scored in other batches, which move scores by about 1e-7).  Calls of up to
    ``MAX_BYTES`` of aligned values are kept; one snapshot is swapped in whole, so concurrent calls are safe.
    """

    MAX_BYTES = 4 * 1024 * 1024

    def __init__(self) -> None:
        self._last: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None

    @property
    def nbytes(self) -> int:
        last = self._last
        return sum(a.nbytes for a in last) if last is not None else 0

    def known(self, stamps: np.ndarray, values: np.ndarray) -> np.ndarray | None:
        """The scores of the leading rows of a call that the latest call scored with the same values, if any."""
        last = self._last
        if last is None or not len(stamps):
            return None
        old_stamps, old_values, old_scores = last
        shift = int(np.searchsorted(old_stamps, stamps[0]))
        if shift >= len(old_stamps) or old_stamps[shift] != stamps[0]:
            return None
        overlap = min(len(old_stamps) - shift, len(stamps))
        same = (old_stamps[shift:shift + overlap] == stamps[:overlap]) & \
            (old_values[shift:shift + overlap] == values[:overlap]).all(axis=1)
        shared = overlap if same.all() else int(same.argmin())  # rows up to the first that differs
        return old_scores[shift:shift + shared]

    def keep(self, stamps: np.ndarray, values: np.ndarray, scores: np.ndarray) -> None:
        if values.nbytes <= self.MAX_BYTES:
            self._last = (stamps, values, scores)


def detect_last(detector, align_policy: AlignPolicy, request: LastDetectionRequest,
                memo: StreamMemo | None = None) -> LastDetectionResult:
    """Score the latest timestamp of a detect-last body, aligned with the model's ``align_policy``.

    Variables usually share one list of timestamps: each distinct list is parsed (and sorted) once, and the
    variables go to alignment as arrays (``data.Column``), not as a pandas Series each.  ``memo``: the
    model's :class:`StreamMemo` (the rows a streaming caller sent before are not scored again).
    """
    parsed = _ParsedStamps()
    variables = {v.variable: _request_column(v, parsed) for v in request.variables}
    if len(variables) != len(request.variables):
        raise ValidationError(ErrorCode.BAD_ARGUMENT, "a variable appears twice in 'variables'")
    return detect_last_series(detector, variables, align_policy, request.top_contributor_count, memo)


def detect_last_series(detector, variables: dict[str, pd.Series | data.Column], align_policy: AlignPolicy,
                       top_k: int, memo: StreamMemo | None = None) -> LastDetectionResult:
    """Score the latest timestamp of per-variable series (the whole history feeds the drift check).

    The aligned arrays are scored as they are: only the last row is answered, so no table is built for it.
    """
    check_variables(list(detector.variables_), list(variables))
    aligned = data.align({k: variables[k] for k in detector.variables_}, align_policy)
    states: list[VariableState] = aligned.variable_states()
    values = aligned.values
    row = len(values) - 1
    known = memo.known(aligned.stamps, values) if memo is not None else None
    if row > detector.sliding_window and (known is None or len(known) < row):
        known = detector.score(values[:row], known=known).score  # the history the memo lacks, as one batch
    scored = detector.score(values, known=known)  # the last row alone: its answer does not hang on the memo
    if memo is not None:
        memo.keep(aligned.stamps, values, scored.score)
    shares = scored.contributions[row]
    valid = bool(scored.valid[row])
    flagged = bool(scored.is_anomaly[row]) and valid
    interpreted = interpretation(aligned.names, shares, detector.correlation_changes(
        values, row, top_k, contributions=shares), top_k) if flagged else []
    last = anomaly_state(aligned.timestamp(row), valid, flagged, float(scored.severity[row]),
                         float(scored.score[row]), interpreted)
    return LastDetectionResult(states, [last])


class _ParsedStamps:
    """The timestamp lists of one request already parsed: ``(list, index, sorted ns, order or None, duplicated)``;
    variables that share a list share its sorted stamps (one array)."""

    def __init__(self) -> None:
        self.seen: list[tuple[list, pd.DatetimeIndex, np.ndarray, np.ndarray | None, bool]] = []

    def get(self, item) -> tuple[pd.DatetimeIndex, np.ndarray, np.ndarray | None, bool]:
        stamps = item.timestamps
        for known, *parsed in self.seen:
            if known is stamps or (len(known) == len(stamps) and known == stamps):
                return tuple(parsed)
        try:
            index = parse_timestamps(stamps)
        except ValidationError as bad:
            raise ValidationError(bad.code, f"variable '{item.variable}', timestamp at index {bad.row}: "
                                            f"{bad.message}") from None
        ns = index.asi8
        if len(ns) < 2 or (ns[1:] > ns[:-1]).all():  # strictly increasing: sorted, no repeat (what fleets send)
            order, duplicated = None, False
        else:
            duplicated = index.has_duplicates
            order = None if index.is_monotonic_increasing else np.argsort(ns, kind="stable")
        ordered = ns if order is None else ns[order]
        self.seen.append((stamps, index, ordered, order, duplicated))
        return index, ordered, order, duplicated


def _request_column(item, parsed: _ParsedStamps | None = None) -> data.Column:
    """A variable of the body on its sorted timestamps; bad timestamps, then bad values, then repeats refused."""
    index, ordered, order, duplicated = (parsed or _ParsedStamps()).get(item)
    values = _request_values(item)
    if duplicated:
        raise ValidationError(ErrorCode.DUPLICATE_TIMESTAMP,
                              f"variable '{item.variable}' repeats timestamp {index[index.duplicated()][0].isoformat()}")
    return data.Column(ordered, values if order is None else values[order])


def _request_values(item) -> np.ndarray:
    """A variable's values as float64 (``None`` is NaN): one numpy conversion, the element-wise rule on failure."""
    try:
        values = np.array(item.values, dtype=np.float64)
        if values.ndim == 1:
            return values
    except (TypeError, ValueError, OverflowError):
        pass
    try:
        return np.array([np.nan if v is None else float(v) for v in item.values], dtype=np.float64)
    except (TypeError, ValueError):
        raise ValidationError(ErrorCode.INVALID_VALUE,
                              f"variable '{item.variable}' has a value that is not a number") from None
