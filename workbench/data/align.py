"""Align variables on timestamps (``alignMode``), fill the gaps (``fillNAMethod``), and report ``variableStates``.

Filling uses all the data of the source, then the result is clipped to
``[startTime, endTime]``; the per-variable diagnostics describe the clipped range.
Leading gaps that ``Previous`` cannot fill take the first value, and trailing
gaps that ``Subsequent`` or ``Linear`` cannot fill take the last one, so a
prepared frame never holds NaN.

With ``alignMode`` Outer the timestamps are laid on the data's regular grid (the step more than half
of them are apart) when they all lie on it: timestamps missing in *every* variable become rows too,
filled like any missing cell and counted in ``filledNARatio``, as the v1.1 service measured variables
against the time grid of the requested range (its sample training response: 1,999 of 2,000 minutes,
``filledNARatio`` 0.0005).  Inner keeps only the timestamps every variable has.
Either way :meth:`AlignedData.gaps` lists the stretches where every variable is missing.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

from workbench.contracts import MAX_TIMESTAMPS, AlignMode, AlignPolicy, FillNAMethod, VariableState
from workbench.exceptions import DataError, ErrorCode
from workbench.timegrid import duration_text, format_timestamp, regular_step


@dataclass(frozen=True)
class Column:
    """One variable as :func:`align` reads it: sorted, distinct UTC timestamps (int64 ns) and float64 values.

    What a ``pd.Series`` on a UTC index gives alignment, without building one (the detect-last path hands
    over a body's variables this way)."""

    stamps: np.ndarray
    values: np.ndarray


@dataclass
class AlignedData:
    """The aligned, gap-free values and the mask of the cells that were really observed.

    Kept as arrays; :attr:`frame` is the pandas view of them, built when first asked for (a detect-last call
    scores the arrays and never needs it)."""

    stamps: np.ndarray           # (T,) int64 ns since the epoch, UTC, increasing
    values: np.ndarray           # (T, V) float64, no NaN
    names: list[str]             # the V variables, in order
    observed: np.ndarray         # (T, V) bool: False where a value was filled
    step: int = 0                # ns between timestamps on the data's regular grid; 0: no regular grid
    unfilled: str = ""           # why timestamps missing in every variable were not filled in (empty: they were)

    @cached_property
    def frame(self) -> pd.DataFrame:
        """(T, V) float64 on a UTC DatetimeIndex (sharing :attr:`values`)."""
        index = pd.DatetimeIndex(self.stamps.view("datetime64[ns]")).tz_localize("UTC")
        return pd.DataFrame(self.values, index=index, columns=self.names, copy=False)

    def timestamp(self, row: int) -> pd.Timestamp:
        """The UTC timestamp of ``row``."""
        return pd.Timestamp(int(self.stamps[row]), tz="UTC")

    def clip(self, start: pd.Timestamp | None, end: pd.Timestamp | None) -> "AlignedData":
        """Rows in ``[start, end]`` (bounds outside the data are clipped to it, as v1.1 did)."""
        stamps = self.stamps
        lo = 0 if start is None else int(np.searchsorted(stamps, start.value, side="left"))
        hi = len(stamps) if end is None else int(np.searchsorted(stamps, end.value, side="right"))
        return AlignedData(stamps[lo:hi], self.values[lo:hi], self.names, self.observed[lo:hi], self.step,
                           self.unfilled)

    def gaps(self) -> pd.DataFrame:
        """Stretches where every variable is missing, in time order: ``start`` and ``end`` (the first and last
        missing timestamp), ``timestamps`` (how many), ``duration`` and ``filled`` (rows filled by
        ``fillNAMethod``; False: the index jumps over those points of the grid)."""
        stamps = self.stamps
        rows = []
        empty = ~self.observed.any(axis=1) if self.observed.size else np.zeros(len(stamps), dtype=bool)
        if empty.any():  # runs of rows no variable observed: filled
            edges = np.flatnonzero(np.diff(np.concatenate(([0], empty.view(np.int8), [0]))))
            rows += [(stamps[a], stamps[b - 1], b - a, True) for a, b in zip(edges[::2], edges[1::2])]
        if self.step and len(stamps) > 1:  # jumps of the index over grid points: not filled
            missing = np.diff(stamps) // self.step - 1
            rows += [(stamps[i] + self.step, stamps[i + 1] - self.step, int(missing[i]), False)
                     for i in np.flatnonzero(missing > 0)]
        gaps = pd.DataFrame(rows, columns=["start", "end", "timestamps", "filled"])
        gaps["start"] = pd.to_datetime(gaps["start"].astype(np.int64), utc=True)
        gaps["end"] = pd.to_datetime(gaps["end"].astype(np.int64), utc=True)
        gaps.insert(3, "duration", gaps["end"] - gaps["start"] + pd.Timedelta(self.step))
        return gaps.sort_values("start", ignore_index=True)

    def gaps_note(self, policy: AlignPolicy, shown: int = 3) -> str:
        """The gaps in a sentence (empty when there are none): how many timestamps, how they were handled, and
        the longest ``shown`` with where they are and how long."""
        gaps = self.gaps()
        if gaps.empty:
            return ""
        count, many = int(gaps["timestamps"].sum()), len(gaps) > 1
        longest = gaps.sort_values(["timestamps", "start"], ascending=[False, True]).head(shown)
        listed = "; ".join(f"{duration_text(g.duration) if self.step else _count(g.timestamps)} from "
                           f"{format_timestamp(g.start)} to {format_timestamp(g.end)}" for g in longest.itertuples())
        more = f"; and {len(gaps) - shown} shorter" if len(gaps) > shown else ""
        where = f"in {len(gaps)} gap{'s' if many else ''}: {'the longest ' if many else ''}{listed}{more}"
        if gaps["filled"].all():
            return (f"every variable is missing at {_count(count)} {where} "
                    f"(filled by fillNAMethod {policy.fill_na_method.value}, counted in filledNARatio)")
        return (f"the timestamps skip {count:,} point{'s' if count > 1 else ''} of their {duration_text(self.step)} "
                f"grid {where} (not filled in: {self.unfilled or 'see alignMode'})")

    def variable_states(self) -> list[VariableState]:
        """``variableStates`` sorted by ``filledNARatio`` descending (ties keep the variables' order)."""
        total = len(self.stamps)
        counts = self.observed.sum(axis=0)
        states = []
        stamps: dict[int, pd.Timestamp] = {}  # variables mostly share their first and last rows
        for j, name in enumerate(self.names):
            rows = np.flatnonzero(self.observed[:, j])
            first = self._stamp(stamps, rows[0]) if rows.size else None
            last = self._stamp(stamps, rows[-1]) if rows.size else None
            ratio = float(1.0 - counts[j] / total) if total else 0.0
            states.append(VariableState(str(name), ratio, int(counts[j]), first, last, []))
        order = sorted(range(len(states)), key=lambda j: -states[j].filled_na_ratio)
        return [states[j] for j in order]

    def _stamp(self, known: dict[int, pd.Timestamp], row: int) -> pd.Timestamp:
        if row not in known:
            known[row] = self.timestamp(row)
        return known[row]


def align(variables: dict[str, pd.Series | Column], policy: AlignPolicy) -> AlignedData:
    """Join the variables (series on a sorted UTC index, or :class:`Column`) on their timestamps and fill
    every gap according to ``policy``."""
    if not variables:
        raise DataError(ErrorCode.NO_VARIABLES, "the data source holds no variables")
    names = list(variables)
    indexes = [_stamps(variables[n]) for n in names]
    stamps = _joined_index(indexes, policy.align_mode)
    if stamps.size == 0:
        raise DataError(
            ErrorCode.NOT_ENOUGH_DATA,
            "the variables share no timestamp (alignMode Inner keeps only timestamps present in every variable)",
        )
    step = regular_step(stamps)
    stamps, unfilled = _on_grid(stamps, step, policy.align_mode)
    # column-major: each variable is contiguous (fast fills), and pandas can wrap it without a copy
    values = np.full((stamps.size, len(names)), np.nan, order="F")
    placed = None  # the previous variable's (index, rows, kept): a OneTable's variables share their index
    for j, (name, own) in enumerate(zip(names, indexes)):
        series = _values(variables[name])
        if own.size == stamps.size and np.array_equal(own, stamps):
            values[:, j] = series
            continue
        if placed is None or not (placed[0] is own or (placed[0].size == own.size and np.array_equal(placed[0], own))):
            pos = np.searchsorted(stamps, own)
            placed = (own, pos, (pos < stamps.size) & (stamps[np.minimum(pos, stamps.size - 1)] == own))
        _, pos, keep = placed
        if keep.all():
            values[pos, j] = series
        else:
            values[pos[keep], j] = series[keep]
    observed = ~np.isnan(values)
    for j, name in enumerate(names):
        if not observed[:, j].all():
            _fill(values[:, j], observed[:, j], stamps, policy, name)
    return AlignedData(stamps, values, names, observed, step, unfilled)


def _stamps(variable: pd.Series | Column) -> np.ndarray:
    return variable.stamps if isinstance(variable, Column) else variable.index.asi8


def _values(variable: pd.Series | Column) -> np.ndarray:
    return variable.values if isinstance(variable, Column) else variable.to_numpy(dtype=np.float64)


def _count(timestamps: int) -> str:
    return f"{timestamps:,} timestamp{'s' if timestamps != 1 else ''}"


def _on_grid(stamps: np.ndarray, step: int, mode: AlignMode) -> tuple[np.ndarray, str]:
    """Every point of the regular grid from the first timestamp to the last (Outer), and why not, if not."""
    if not step or stamps.size < 2 or stamps[-1] - stamps[0] == step * (stamps.size - 1):
        return stamps, ""  # no regular grid, or no timestamp missing from it
    if mode is AlignMode.INNER:
        return stamps, "alignMode Inner keeps only the timestamps every variable has; Outer fills them"
    if ((stamps - stamps[0]) % step).any():
        return stamps, f"the timestamps are not all on one {duration_text(step)} grid"
    size = (stamps[-1] - stamps[0]) // step + 1
    if size > MAX_TIMESTAMPS:
        return stamps, f"they would make {size:,} timestamps, over the {MAX_TIMESTAMPS:,} limit"
    return np.arange(stamps[0], stamps[-1] + step, step, dtype=np.int64), ""



def _joined_index(indexes: list[np.ndarray], mode: AlignMode) -> np.ndarray:
    first = indexes[0]
    if all(ix is first or (ix.size == first.size and np.array_equal(ix, first)) for ix in indexes[1:]):
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


def _fill(column: np.ndarray, observed: np.ndarray, stamps: np.ndarray, policy: AlignPolicy, name: str) -> None:
    """Fill the missing cells of ``column`` in place; only those are computed, so a short hole in a long
    column costs little more than finding it."""
    method = policy.fill_na_method
    missing = np.flatnonzero(~observed)
    if method is FillNAMethod.ZERO:
        column[missing] = 0.0
        return
    if method is FillNAMethod.FIXED:
        column[missing] = float(policy.padding_value)
        return
    rows = np.flatnonzero(observed)
    if rows.size == 0:
        raise DataError(
            ErrorCode.NOT_ENOUGH_DATA,
            f"variable '{name}' has no value to fill from; use fillNAMethod Zero or Fixed, or drop the variable",
            column=name,
        )
    if method is FillNAMethod.LINEAR:  # time-weighted; beyond the ends, the first or last value
        column[missing] = np.interp((stamps[missing] - stamps[0]).astype(np.float64),
                                    (stamps[rows] - stamps[0]).astype(np.float64), column[rows])
        return
    after = np.searchsorted(rows, missing)  # the first observed row after each missing one
    if method is FillNAMethod.PREVIOUS:  # a leading gap takes the first value
        column[missing] = column[rows[np.maximum(after - 1, 0)]]
    else:  # Subsequent: the next observed value, the last one for a trailing gap
        column[missing] = column[rows[np.minimum(after, rows.size - 1)]]
