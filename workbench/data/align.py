"""Align variables on timestamps (``alignMode``), fill the gaps (``fillNAMethod``), and report ``variableStates``.

Filling uses all the data of the source, then the result is clipped to
``[startTime, endTime]``; the per-variable diagnostics describe the clipped range.
Leading gaps that ``Previous`` cannot fill take the first value, and trailing
gaps that ``Subsequent`` or ``Linear`` cannot fill take the last one, so a
prepared frame never holds NaN.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from workbench.contracts import AlignMode, AlignPolicy, FillNAMethod, VariableState
from workbench.exceptions import DataError, ErrorCode


@dataclass
class AlignedData:
    """The aligned, gap-free values and the mask of the cells that were really observed."""

    frame: pd.DataFrame          # (T, V) float64 on a UTC DatetimeIndex
    observed: np.ndarray         # (T, V) bool: False where a value was filled

    def clip(self, start: pd.Timestamp | None, end: pd.Timestamp | None) -> "AlignedData":
        """Rows in ``[start, end]`` (bounds outside the data are clipped to it, as v1.1 did)."""
        stamps = self.frame.index.asi8
        lo = 0 if start is None else int(np.searchsorted(stamps, start.value, side="left"))
        hi = len(stamps) if end is None else int(np.searchsorted(stamps, end.value, side="right"))
        return AlignedData(self.frame.iloc[lo:hi], self.observed[lo:hi])

    def variable_states(self) -> list[VariableState]:
        """``variableStates`` sorted by ``filledNARatio`` descending (ties keep the variables' order)."""
        total = len(self.frame)
        counts = self.observed.sum(axis=0)
        states = []
        for j, name in enumerate(self.frame.columns):
            rows = np.flatnonzero(self.observed[:, j])
            first = self.frame.index[rows[0]] if rows.size else None
            last = self.frame.index[rows[-1]] if rows.size else None
            ratio = float(1.0 - counts[j] / total) if total else 0.0
            states.append(VariableState(str(name), ratio, int(counts[j]), first, last, []))
        order = sorted(range(len(states)), key=lambda j: -states[j].filled_na_ratio)
        return [states[j] for j in order]


def align(variables: dict[str, pd.Series], policy: AlignPolicy) -> AlignedData:
    """Join the variables on their timestamps and fill every gap according to ``policy``."""
    if not variables:
        raise DataError(ErrorCode.NO_VARIABLES, "the data source holds no variables")
    names = list(variables)
    indexes = [variables[n].index.asi8 for n in names]
    stamps = _joined_index(indexes, policy.align_mode)
    if stamps.size == 0:
        raise DataError(
            ErrorCode.NOT_ENOUGH_DATA,
            "the variables share no timestamp (alignMode Inner keeps only timestamps present in every variable)",
        )
    # column-major: each variable is contiguous (fast fills), and pandas can wrap it without a copy
    values = np.full((stamps.size, len(names)), np.nan, order="F")
    for j, (name, own) in enumerate(zip(names, indexes)):
        series = variables[name].to_numpy(dtype=np.float64)
        if own.size == stamps.size and np.array_equal(own, stamps):
            values[:, j] = series
            continue
        pos = np.searchsorted(stamps, own)
        keep = (pos < stamps.size) & (stamps[np.minimum(pos, stamps.size - 1)] == own)
        values[pos[keep], j] = series[keep]
    observed = ~np.isnan(values)
    for j, name in enumerate(names):
        if not observed[:, j].all():
            values[:, j] = _fill(values[:, j], observed[:, j], stamps, policy, name)
    index = pd.DatetimeIndex(stamps.view("datetime64[ns]")).tz_localize("UTC")
    return AlignedData(pd.DataFrame(values, index=index, columns=names, copy=False), observed)


def _joined_index(indexes: list[np.ndarray], mode: AlignMode) -> np.ndarray:
    first = indexes[0]
    if all(ix.size == first.size and np.array_equal(ix, first) for ix in indexes[1:]):
        return first.copy()
    if mode is AlignMode.INNER:
        joined = first
        for ix in indexes[1:]:
            joined = np.intersect1d(joined, ix, assume_unique=True)
        return joined
    # each index is sorted, so a stable sort (timsort) merges the runs in O(n log k); np.unique would hash
    merged = np.sort(np.concatenate(indexes), kind="stable")
    keep = np.empty(merged.size, dtype=bool)
    keep[0] = True
    np.not_equal(merged[1:], merged[:-1], out=keep[1:])
    return merged[keep]


def _fill(column: np.ndarray, observed: np.ndarray, stamps: np.ndarray, policy: AlignPolicy, name: str) -> np.ndarray:
    method = policy.fill_na_method
    if method is FillNAMethod.ZERO:
        return np.where(observed, column, 0.0)
    if method is FillNAMethod.FIXED:
        return np.where(observed, column, float(policy.padding_value))
    rows = np.flatnonzero(observed)
    if rows.size == 0:
        raise DataError(
            ErrorCode.NOT_ENOUGH_DATA,
            f"variable '{name}' has no value to fill from; use fillNAMethod Zero or Fixed, or drop the variable",
            column=name,
        )
    if method is FillNAMethod.LINEAR:
        offsets = (stamps - stamps[0]).astype(np.float64)
        return np.interp(offsets, offsets[rows], column[rows])
    if method is FillNAMethod.PREVIOUS:
        source = np.maximum.accumulate(np.where(observed, np.arange(column.size), -1))
        source[source < 0] = rows[0]
        return column[source]
    # Subsequent: the next observed value, the last one for a trailing gap
    idx = np.where(observed, np.arange(column.size), column.size)
    source = np.minimum.accumulate(idx[::-1])[::-1]
    source[source >= column.size] = rows[-1]
    return column[source]
