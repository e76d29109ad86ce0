"""The analog branch: what the hours before a row say it should be.

The network forecasts a row from the rows just before it, so a shape that breaks slowly -- a daily peak
that does not come, load at night, a day running hours early -- is followed smoothly and never
surprises it, although every value stays in its usual range.  This branch reads the rest of the
sliding window instead: a row's *context* is its window up to ``gap`` rows before it, as ``bins``
block means of each variable that takes part.  The ``NEIGHBOURS`` training rows whose contexts are
nearest (in the contexts' leading principal components) say what the row should be; the error is the
squared difference per variable.  What time of day it is, and how strong the day, is read from the
hours before, as an analyst would.

Two guards keep it quiet where it knows nothing:

* a variable takes part only when, on the held-out rows, the analogs predict it at least
  ``LEAST_SKILL`` better than persistence (the context's newest block mean) does: a level that
  merely persists, or bursts that nothing announces, are the network's to judge.  Skill is first
  measured with every variable in the contexts; those above ``CANDIDATE_SKILL`` are measured again
  with only their own contexts (noisy columns blur the neighbours);
* a context farther from its nearest training context than ``NOVELTY_QUANTILE`` of held-out rows'
  has no analog to trust: its errors are divided by the squared ratio of the distances.

A state may carry an ``anchor`` (a share of each prediction moved by how far the row's recent level lies
from its references'; a study's option, 0 in the product): such a state predicts as it was saved.  A
row's context lies inside its sliding window and is summed slice by slice, so batch and streaming scores
agree exactly.  Evidence: ``benchmarks/results/daily_proxy.md``, ``benchmarks/results/linear_study.md``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property, lru_cache

import numpy as np
import torch

from workbench.mvad import scoring
from workbench.mvad.branches.base import Branch, Fitting, Rows, register

GAP = 24  # rows between a context's end and the row it predicts
BINS = 16  # block means per variable in a context
COMPONENTS = 16  # principal components of the contexts the neighbours are sought in
REFERENCES = 1024  # training rows whose contexts are searched
NEIGHBOURS = 5
LEAST_SKILL = 0.5  # 1 - the analogs' squared error / persistence's, on held-out rows
CANDIDATE_SKILL = 0.25  # ... measured first with every variable in the contexts, to choose whose contexts count
NOVELTY_QUANTILE = 0.99
CHUNK_ROWS = 1024  # rows searched at a time: their distances to the references (4 MB) stay in the cache
MAX_HELD_OUT = 8192  # held-out rows the skill and the usual distance are measured on
SPAN_ROWS = 65_536  # contexts of far-apart rows are taken a stretch of this many rows at a time


@dataclass
class Analogs:
    """A fitted analog branch (float32 arrays, as stored with the model)."""

    layout: np.ndarray      # (3,) int: gap, bins, rows per bin
    mean: np.ndarray        # (bins * K,) mean context of the references
    basis: np.ndarray       # (bins * K, k) principal directions of the contexts
    references: np.ndarray  # (R, k) the references' projected contexts
    targets: np.ndarray     # (R, K) the rows they predicted, of the K variables that take part, less ``anchor`` x
    #                         their context's newest block
    keep: np.ndarray        # (V,) 1.0 for variables that take part, else 0.0
    usual: np.ndarray       # (1,) squared distance to the nearest reference held-out rows stay within
    anchor: np.ndarray = field(default_factory=lambda: np.zeros(1, dtype=np.float32))  # (1,) the share of a
    #                         prediction that follows the row's recent level; 0 in states saved before it

    @cached_property
    def index(self) -> "_Index":
        """The arrays as the search reads them (made once)."""
        return _Index(self)

    def arrays(self) -> dict[str, np.ndarray]:
        """The arrays by name, C-contiguous (safetensors writes the buffer as it lies)."""
        return {name: np.ascontiguousarray(getattr(self, name)) for name in self.__dataclass_fields__}

    @property
    def active(self) -> bool:
        return bool(self.keep.any())


class _Index:
    """The searched arrays of an ``Analogs`` as torch tensors, with its variables and layout (they never change
    once the references are made; ``usual`` is measured after its first searches, so it is read where used)."""

    def __init__(self, analogs: Analogs) -> None:
        self.mean = torch.from_numpy(analogs.mean)
        self.basis = torch.from_numpy(analogs.basis)
        references = torch.from_numpy(analogs.references)
        self.references_t = references.T.contiguous()
        self.norms = (references ** 2).sum(dim=1)
        self.targets = torch.from_numpy(analogs.targets)
        self.neighbours = min(NEIGHBOURS, len(references))
        self.kept = np.flatnonzero(analogs.keep)
        self.shape = tuple(int(v) for v in analogs.layout)


def layout(span: int) -> tuple[int, int, int]:
    """``(gap, bins, rows per bin)`` for contexts that reach at most ``span`` rows back from a row."""
    gap = max(1, min(GAP, span // 4))
    bins = max(1, min(BINS, span - gap))
    return gap, bins, max(1, (span - gap) // bins)


def reach(shape: tuple[int, int, int]) -> int:
    """How many rows up to a row (itself included) a context of this ``(gap, bins, width)`` reads."""
    gap, bins, width = (int(v) for v in shape)
    return gap + bins * width


def contexts(z: np.ndarray, rows: np.ndarray, shape: tuple[int, int, int], columns: np.ndarray) -> np.ndarray:
    """``(len(rows), bins * K)`` float32 contexts of the K ``columns`` (block by block, each holding every
    column) at the sorted ``rows`` of ``z``; each needs ``reach(shape) - 1`` rows before it.  Only those rows
    and columns are read.  Each block mean is summed slice by slice over the same rows whatever the input,
    so a row's context does not depend on where the input starts."""
    gap, bins, width = shape
    first = int(rows[0]) - reach(shape) + 1
    means = scoring.trailing_mean(z[first:int(rows[-1]) - gap + 1, columns], width).astype(np.float32)
    starts = rows[:, None] - (_block_starts(shape) + first)  # (n, bins): each block's first row, less ``first``
    return means[starts].reshape(len(rows), -1)  # means[i]: rows first+i .. first+i+width-1


@lru_cache(maxsize=64)
def _block_starts(shape: tuple[int, int, int]) -> np.ndarray:
    """``(bins,)``: how many rows before a row each block of its context starts, oldest first."""
    gap, bins, width = shape
    starts = gap + (bins - 1 - np.arange(bins)) * width + width - 1
    starts.flags.writeable = False  # shared by every call
    return starts


def fit(z: np.ndarray, cut: int, span: int, seed: int, anchor: float = 0.0) -> Analogs | None:
    """Fit on normalised rows ``z``: references from rows before ``cut``, the guards from the rows after.

    The variables that take part are chosen in two rounds (module docstring); the contexts then keep only
    them (what predicts a variable is mostly its own past and its kin's, and a search over fewer numbers
    is faster).  ``None`` when the training rows are too few to hold ``NEIGHBOURS`` references.
    """
    shape = layout(span)
    n_vars = z.shape[1]
    first = reach(shape) - 1  # the first row with a whole context
    if cut - first <= NEIGHBOURS:
        return None
    rng = np.random.default_rng(seed)
    rows = np.sort(rng.choice(np.arange(first, cut), min(cut - first, REFERENCES), replace=False))
    held = np.arange(cut, len(z))
    held = np.unique(held[np.linspace(0, len(held) - 1, min(len(held), MAX_HELD_OUT)).astype(int)])
    analogs = _references(z, rows, shape, np.ones(n_vars, dtype=np.float32), anchor)
    for least in (CANDIDATE_SKILL, LEAST_SKILL):  # candidates first: noisy columns blur the others' neighbours
        skill, distance = _skill(analogs, z, held)
        chosen = analogs.keep.copy()
        chosen[np.flatnonzero(chosen)[skill < least]] = 0.0
        if not chosen.any():
            analogs.keep = chosen  # none takes part: inactive
            return analogs
        if (chosen != analogs.keep).any():
            analogs = _references(z, rows, shape, chosen, anchor)
            distance = _skill(analogs, z, held)[1]
    analogs.usual = np.array([max(float(np.quantile(distance, NOVELTY_QUANTILE)), 1e-12)], dtype=np.float32)
    return analogs


def _skill(analogs: Analogs, z: np.ndarray, held: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per variable taking part: 1 - the analogs' mean squared error on the ``held`` rows / persistence's (the
    context's newest block); and each held row's squared distance to its nearest reference."""
    columns = np.flatnonzero(analogs.keep)
    shape = tuple(int(v) for v in analogs.layout)
    context = _spaced_contexts(z, held, shape, columns)
    predicted, distance = _nearest(analogs, context)
    newest = _newest(context, shape[1])
    truth = z[held][:, columns]
    skill = 1.0 - ((truth - predicted) ** 2).mean(axis=0) / np.maximum(((truth - newest) ** 2).mean(axis=0), 1e-12)
    return skill, distance


def _references(z: np.ndarray, rows: np.ndarray, shape: tuple[int, int, int], keep: np.ndarray,
                anchor: float) -> Analogs:
    """The searched references: contexts of the ``keep`` variables at ``rows`` in their leading components,
    and the rows they predicted less ``anchor`` x their context's newest block."""
    columns = np.flatnonzero(keep)
    found = _spaced_contexts(z, rows, shape, columns).astype(np.float64)
    mean = found.mean(axis=0)
    basis = np.linalg.svd(found - mean, full_matrices=False)[2][:COMPONENTS].T  # (bins * K, k), k <= references
    targets = z[rows][:, columns] - anchor * _newest(found, shape[1])
    return Analogs(np.array(shape), mean.astype(np.float32), np.ascontiguousarray(basis, dtype=np.float32),
                   ((found - mean) @ basis).astype(np.float32), targets.astype(np.float32), keep,
                   np.array([np.inf], dtype=np.float32), np.array([anchor], dtype=np.float32))


def _newest(context: np.ndarray, bins: int) -> np.ndarray:
    """``(n, K)``: each context's newest block mean (its last ``width`` rows before the gap)."""
    return context.reshape(len(context), bins, -1)[:, -1]


def _spaced_contexts(z: np.ndarray, rows: np.ndarray, shape: tuple[int, int, int],
                     columns: np.ndarray) -> np.ndarray:
    """:func:`contexts` of sorted, possibly far apart ``rows``, a stretch of at most ``SPAN_ROWS`` at a time."""
    groups = np.split(rows, np.flatnonzero(np.diff(rows // SPAN_ROWS)) + 1)
    return np.concatenate([contexts(z, group, shape, columns) for group in groups])


def _nearest(analogs: Analogs, context: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Prediction ``(n, K)`` of the variables that take part and the squared distance ``(n,)`` of each context
    to its nearest reference.  The prediction is the nearest references' rows, with ``anchor`` of it moved by
    how far this context's newest block lies from theirs."""
    if not torch.is_inference_mode_enabled():  # fitting; the detector's scoring calls are in it already
        with torch.inference_mode():
            return _nearest(analogs, context)
    index = analogs.index
    centred = torch.from_numpy(context) - index.mean
    partial = torch.addmm(index.norms, centred @ index.basis, index.references_t, alpha=-2.0)
    nearest, which = torch.topk(partial, index.neighbours, dim=1, largest=False, sorted=False)
    neighbours = index.targets.index_select(0, which.view(-1)).view(*which.shape, -1)
    prediction = neighbours.sum(dim=1).numpy()
    prediction /= which.shape[1]  # the mean as torch's CPU mean takes it (a sum, divided), without its wrappers
    distance = (nearest.amin(dim=1) + centred.pow(2).sum(dim=1)).numpy()  # in the components and outside
    if analogs.anchor[0]:
        prediction += analogs.anchor[0] * _newest(context, index.shape[1])
    return prediction, np.maximum(distance, 0.0)


def errors(analogs: Analogs, z: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Squared analog errors ``(len(rows), V)`` of the consecutive ``rows`` of ``z`` (0 for variables that
    do not take part), divided by the novelty of each row's context."""
    out = np.zeros((len(rows), z.shape[1]), dtype=np.float32)
    index = analogs.index
    kept = index.kept
    usual = float(analogs.usual[0])
    for lo in range(0, len(rows), CHUNK_ROWS):
        chunk = rows[lo:lo + CHUNK_ROWS]
        predicted, distance = _nearest(analogs, contexts(z, chunk, index.shape, kept))
        novelty = np.maximum(1.0, distance / usual)
        out[lo:lo + len(chunk), kept] = (z[chunk[0]:chunk[-1] + 1, kept] - predicted) ** 2 / novelty[:, None]
    return out


@register
class AnalogBranch(Branch):
    """The analog branch (module docstring): added to the variables whose hours before predict them."""

    kind = "analog"
    state_keys = ("scale",)

    def __init__(self, weight: float = 0.25) -> None:
        self.weight = weight

    def _fit(self, fitting: Fitting) -> None:
        self.analogs_ = self._fit_analogs(fitting)
        if self.analogs_ is not None and not self.analogs_.active:
            self.analogs_ = None  # no variable that its hours before predict: nothing to add, nothing to compute
        self.scale_ = np.ones(fitting.rows.values.shape[1], dtype=np.float32)
        if self.analogs_ is not None:
            held = errors(self.analogs_, fitting.rows.values, fitting.held_out)
            self.scale_ = scoring.error_scale(held, np.maximum(scoring.ERROR_FLOOR, fitting.steps))

    def _fit_analogs(self, fitting: Fitting) -> Analogs | None:
        return fit(fitting.rows.values, fitting.cut, fitting.history, fitting.seed)

    @property
    def active(self) -> bool:
        return self.analogs_ is not None

    def errors(self, rows: Rows, targets: np.ndarray) -> np.ndarray:
        out = errors(self.analogs_, rows.values, targets)
        out /= self.scale_ ** 2
        return out

    def state(self):
        if self.analogs_ is None:
            return {}, {"active": False}
        tensors, meta = super().state()
        tensors.update(self.analogs_.arrays())
        return tensors, {"active": True}

    @classmethod
    def from_state(cls, params, tensors, meta) -> "AnalogBranch":
        branch = cls(**params)
        branch.analogs_ = None
        if meta.get("active", True) and "layout" in tensors:
            branch.analogs_ = Analogs(**{k: np.asarray(tensors[k]) for k in Analogs.__dataclass_fields__ if k in tensors})
            branch.scale_ = np.asarray(tensors["scale"], dtype=np.float32)
        return branch
