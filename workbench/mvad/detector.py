"""The multivariate anomaly detector: branches mixed into one score, one flag rule on it.

``MultivariateDetector`` is a scikit-learn style estimator that composes parts:

* ``fit`` normalises each variable with statistics of all its rows, fits each branch
  (:mod:`workbench.mvad.branches`) on the first ``1 - validation_fraction`` of the rows with the rest held
  out, scores the held-out rows and fits the flag rule (:class:`workbench.mvad.flags.FlagRule`) on them;
* a variable's error at a row is the weighted sum of the branches' errors (each a ratio to its held-out
  level), averaged over the last ``smoothing`` rows; a row's score is the mean of its largest
  ``top_fraction`` of those; its contributions are their shares (:mod:`workbench.mvad.scoring`);
* ``score`` streams the rows in chunks (memory stays bounded for a million rows) and returns a
  :class:`ScoreResult` with the flag rule's ``isAnomaly`` and ``severity``.

Row ``t`` is scored from rows ``t - sliding_window .. t`` only, so the first ``sliding_window`` rows of any
input are not valid and a row gets the same score (to float32 rounding) whether it is scored in a long batch
or as the last row of a short one.
"""
from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from workbench import runtime
from workbench.contracts.multivariate import MAX_VARIABLES
from workbench.exceptions import ErrorCode, ModelStateError, ValidationError
from workbench.mvad import scoring, state
from workbench.mvad.branches import DEFAULT_BRANCHES, Branch, Fitting, Rows, branch_from_spec
from workbench.mvad.branches.base import branch_class
from workbench.mvad.branches.network import EpochReport, NetworkBranch
from workbench.mvad.explain import CorrelationProfile
from workbench.mvad.flags import FlagRule
from workbench.mvad.params import Parameters, check

MIN_VALIDATION_ROWS = 10

__all__ = ["EpochReport", "MultivariateDetector", "ScoreResult"]


@dataclass
class ScoreResult:
    """Per-row outputs of :meth:`MultivariateDetector.score` (numpy arrays, one row per input row)."""

    valid: np.ndarray          # (T,) bool: a full sliding window precedes the row
    score: np.ndarray          # (T,) float: raw score, NaN where not valid
    severity: np.ndarray       # (T,) in [0, 1]: 0 for normal rows, grows with the score
    is_anomaly: np.ndarray     # (T,) bool: an event from score >= ``threshold`` on, while >= ``release``
    contributions: np.ndarray  # (T, V) >= 0: each valid row sums to 1, invalid rows are 0
    threshold: float           # the threshold applied: ``threshold_``, or higher where the data drifted
    release: float             # a flagged event goes on while the score stays at or above this


class MultivariateDetector(Parameters):
    """Anomaly detector for aligned multivariate series: ``branches`` mixed, one ``flag_rule``.

    ``branches``: a list of :class:`~workbench.mvad.branches.Branch` objects, kinds (``"network"``) or dicts
    (``{"kind": "linear", "weight": 0.3}``); ``None`` for the product's (network, linear, analog).
    ``flag_rule``: a :class:`~workbench.mvad.flags.FlagRule` or a dict of its parameters; ``None`` for the
    default rule.  ``epochs`` and ``seed`` are the training run's; ``device``, ``num_threads`` and
    ``chunk_rows`` where and how it runs.
    """

    def __init__(self, sliding_window: int = 300, epochs: int = 100, seed: int = 0,
                 validation_fraction: float = 0.2, device: str = "auto", num_threads: int | None = None,
                 branches: Sequence[Branch | str | dict] | None = None, flag_rule: FlagRule | dict | None = None,
                 smoothing: int = 5, top_fraction: float = 0.2, chunk_rows: int = 16384) -> None:
        self.sliding_window = sliding_window
        self.epochs = epochs
        self.seed = seed
        self.validation_fraction = validation_fraction
        self.device = device
        self.num_threads = num_threads
        self.branches = branches
        self.flag_rule = flag_rule
        self.smoothing = smoothing
        self.top_fraction = top_fraction
        self.chunk_rows = chunk_rows

    # ------------------------------------------------------------------ public API

    def fit(self, values: np.ndarray, variables: Sequence[str] | None = None,
            on_epoch: Callable[[EpochReport], None] | None = None) -> "MultivariateDetector":
        """Train on ``values`` (T, V), aligned and without NaN; ``on_epoch`` sees every epoch."""
        branches, flag_rule = self._parts()
        x = _as_matrix(values)
        names = _check_variables(variables, x.shape[1])
        n_rows = len(x)
        cut = self.held_out_from(n_rows)
        if cut <= self.sliding_window or n_rows - cut < MIN_VALIDATION_ROWS:
            raise ValidationError(
                ErrorCode.NOT_ENOUGH_DATA,
                f"training needs at least {self.minimum_rows()} rows for sliding window {self.sliding_window} "
                f"and validation fraction {self.validation_fraction}; got {n_rows}")
        self.device_ = _resolve_device(self.device)
        with self._runtime(branches, len(names)):
            self.variables_ = names
            self.center_, self.scale_ = self._fit_normalizer(x)
            rows = Rows(scoring.normalize(x, self.center_, self.scale_), self.device_)
            fitting = Fitting(rows, cut, self._history(), self._indicator_steps(rows.values), self.seed,
                              self.epochs, on_epoch)
            self.branches_ = [branch.fit(fitting) for branch in branches]
            if not self._mixed():
                raise ValidationError(ErrorCode.BAD_ARGUMENT, "no branch with a weight judges any variable of this "
                                      f"data: {[b.spec() for b in self.branches_]}")
            held_out = self._score(Rows(rows.values[cut - self.sliding_window:], self.device_), flags=False)
            self.flag_rule_ = flag_rule.fit(held_out.score[self.sliding_window:])
            self.profile_ = CorrelationProfile().fit(rows.values[:cut], min(self.sliding_window, cut))
        return self

    def score(self, values: np.ndarray, known: np.ndarray | None = None) -> ScoreResult:
        """Score every row of ``values`` (T, V); the first ``sliding_window`` rows are not valid.

        ``known``: the scores of the first ``len(known)`` rows where the caller has them already (a streaming
        caller's overlap with its previous call: a row's score depends on its window only).  Those rows are
        not scored again -- the last row always is -- and get no contributions (0); the flag rule still
        judges every row.
        """
        rows = self._rows(values)
        with self._runtime(), torch.inference_mode():
            return self._score(rows, known=known)

    def score_samples(self, values: np.ndarray) -> np.ndarray:
        """The raw anomaly score of every row (higher is more anomalous, as in PyOD; NaN without a full window)."""
        return self.score(values).score

    def decision_function(self, values: np.ndarray) -> np.ndarray:
        """Score minus the threshold applied to these rows: >= 0 is an anomaly (NaN without a full window)."""
        result = self.score(values)
        return result.score - result.threshold

    def predict(self, values: np.ndarray) -> np.ndarray:
        """``isAnomaly`` of every row (False without a full window)."""
        return self.score(values).is_anomaly

    def branch_errors(self, values: np.ndarray) -> dict[str, np.ndarray]:
        """Each active branch's (T, V) errors by kind, unweighted and unsmoothed, for every row the smoothing
        of a valid row reads (from ``sliding_window - smoothing + 1`` on; NaN before).

        What a study caches to try other mixes and flag rules without training again (``benchmarks/selection.py``).
        """
        rows = self._rows(values)
        out = {b.kind: np.full(rows.values.shape, np.nan, dtype=np.float32) for b in self.branches_ if b.active}
        with self._runtime(), torch.inference_mode():
            for lo, hi in self._chunks(len(rows)):
                targets = np.arange(lo - self.smoothing + 1, hi)
                for branch in self.branches_:
                    if branch.active:
                        out[branch.kind][targets] = branch.errors(rows, targets)
        return out

    def variable_errors(self, values: np.ndarray) -> np.ndarray:
        """(T, V) per-variable errors behind the score: mixed, smoothed, NaN without a full window."""
        rows = self._rows(values)
        out = np.full(rows.values.shape, np.nan)
        with self._runtime(), torch.inference_mode():
            for lo, hi, smoothed in self._smoothed_errors(rows):
                out[lo:hi] = smoothed
        return out

    def correlation_changes(self, values: np.ndarray, row: int, top_k: int,
                            contributions: np.ndarray | None = None) -> dict[str, list[str]]:
        """For the ``top_k`` contributors at ``row``: the variables whose correlation with it changed over the
        ``sliding_window`` rows ending there (:mod:`workbench.mvad.explain`).  ``contributions``: the row's, if
        a scoring pass already gave them (else the row's window is scored for them)."""
        self._check_fitted()
        x = _as_matrix(values, n_vars=len(self.variables_))
        if not self.sliding_window <= row < len(x):
            raise ValidationError(ErrorCode.BAD_ARGUMENT,
                                  f"row must lie in [{self.sliding_window}, {len(x)}) to have a full window; got {row}")
        if top_k < 1:
            raise ValidationError(ErrorCode.INVALID_TOP_CONTRIBUTOR_COUNT, f"top_k must be at least 1; got {top_k}")
        z = scoring.normalize(x[row - self.sliding_window + 1:row + 1], self.center_, self.scale_)
        if contributions is None:
            contributions = self.score(x[row - self.sliding_window:row + 1]).contributions[-1]
        return self.profile_.changes(z, np.asarray(contributions), top_k, self.variables_)

    def held_out_from(self, n_rows: int) -> int:
        """The first of ``n_rows`` training rows that ``fit`` holds out (the last ``validation_fraction``)."""
        return n_rows - int(round(n_rows * self.validation_fraction))

    def minimum_rows(self) -> int:
        """The fewest rows ``fit`` accepts with this window and validation fraction."""
        n = self.sliding_window + 1
        while self.held_out_from(n) <= self.sliding_window or n - self.held_out_from(n) < MIN_VALIDATION_ROWS:
            n += 1
        return n

    # ------------------------------------------------------------------ what fit found

    @property
    def threshold_(self) -> float:
        """The model's threshold: the flag rule's, calibrated on the held-out rows."""
        return self.flag_rule_.threshold_

    @property
    def named_branches_(self) -> dict[str, Branch]:
        """The fitted branches by kind."""
        self._check_fitted()
        return {b.kind: b for b in self.branches_}

    @property
    def network_(self) -> NetworkBranch | None:
        """The network branch, whose epochs make the training history (``None`` without one)."""
        return next((b for b in getattr(self, "branches_", ()) if isinstance(b, NetworkBranch)), None)

    @property
    def train_losses_(self) -> list[float]:
        return list(getattr(self.network_, "train_losses_", []))

    @property
    def validation_losses_(self) -> list[float]:
        return list(getattr(self.network_, "validation_losses_", []))

    @property
    def epoch_seconds_(self) -> list[float]:
        return list(getattr(self.network_, "epoch_seconds_", []))

    @property
    def best_epoch_(self) -> int:
        return int(getattr(self.network_, "best_epoch_", 0))

    # ------------------------------------------------------------------ state

    def get_state(self) -> tuple[dict[str, np.ndarray], dict]:
        """(arrays for safetensors, JSON-able metadata): all that ``from_state`` needs, no pickle."""
        self._check_fitted()
        tensors = {"center": self.center_, "scale": self.scale_, "correlation_median": self.profile_.median_,
                   "correlation_spread": self.profile_.spread_}
        facts = []
        for branch in self.branches_:
            arrays, meta = branch.state()
            tensors.update({f"{branch.kind}.{k}": v for k, v in arrays.items()})
            facts.append(meta)
        params = {**self.get_params(), "branches": [b.spec() for b in self.branches_],
                  "flag_rule": self.flag_rule_.get_params()}
        return tensors, {"stateVersion": state.STATE_VERSION, "params": params, "variables": list(self.variables_),
                         "threshold": self.threshold_, "branches": facts}

    @classmethod
    def from_state(cls, tensors: dict[str, np.ndarray], meta: dict) -> "MultivariateDetector":
        """Rebuild a fitted detector from :meth:`get_state` output (of any state version)."""
        tensors, meta = state.upgrade(tensors, meta)
        params = dict(meta["params"])
        det = cls(**{k: v for k, v in params.items() if k in cls._get_param_names()})
        try:
            det.device_ = _resolve_device(det.device)
        except ValidationError:  # trained on a GPU this machine lacks: score on what is here
            det.device_ = _resolve_device("auto")
        det.variables_ = list(meta["variables"])
        det.center_ = np.asarray(tensors["center"], dtype=np.float32)
        det.scale_ = np.asarray(tensors["scale"], dtype=np.float32)
        det.branches_ = []
        for spec, facts in zip(params["branches"], meta["branches"]):
            kind = spec["kind"]
            prefix = kind + "."
            own = {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}
            branch = branch_class(kind).from_state({k: v for k, v in spec.items() if k != "kind"}, own, facts)
            det.branches_.append(branch.to(det.device_))
        det.flag_rule_ = FlagRule(**params["flag_rule"])
        det.flag_rule_.threshold_ = float(meta["threshold"])
        det.profile_ = CorrelationProfile()
        det.profile_.median_ = np.asarray(tensors["correlation_median"], dtype=np.float32)
        det.profile_.spread_ = np.asarray(tensors["correlation_spread"], dtype=np.float32)
        return det

    # ------------------------------------------------------------------ scoring

    def _mixed(self) -> list[Branch]:
        """The fitted branches that take part in the mix."""
        return [b for b in self.branches_ if b.active and b.weight > 0]

    def _chunks(self, n_rows: int, first: int = 0) -> Iterator[tuple[int, int]]:
        for lo in range(max(self.sliding_window, first), n_rows, self.chunk_rows):
            yield lo, min(lo + self.chunk_rows, n_rows)

    def _smoothed_errors(self, rows: Rows, first: int = 0) -> Iterator[tuple[int, int, np.ndarray]]:
        """``(lo, hi, errors)`` chunk by chunk: rows ``lo..hi`` (all with a full window, from ``first`` on),
        mixed and smoothed.  The one place where branches mix: each variable's error is the weighted sum of
        theirs."""
        k = self.smoothing
        mixed = self._mixed()
        for lo, hi in self._chunks(len(rows), first):
            targets = np.arange(lo - k + 1, hi)  # the smoothing reaches back k - 1 rows, inside the window
            errors = scoring.mix([(branch.weight, branch.errors(rows, targets)) for branch in mixed])
            yield lo, hi, scoring.trailing_mean(errors, k)

    def _score(self, rows: Rows, flags: bool = True, known: np.ndarray | None = None) -> ScoreResult:
        """Score normalised rows chunk by chunk (extra memory bounded by ``chunk_rows``); rows with a
        ``known`` score take it (see :meth:`score`)."""
        n_rows, n_vars = rows.values.shape
        valid = np.arange(n_rows) >= self.sliding_window
        score = np.full(n_rows, np.nan)
        shares = np.zeros((n_rows, n_vars))
        top = scoring.top_count(n_vars, self.top_fraction)
        first = 0
        if known is not None:
            first = min(len(known), n_rows - 1)  # the last row is scored: its contributions are the answer's
            score[self.sliding_window:first] = known[self.sliding_window:first]
        for lo, hi, smoothed in self._smoothed_errors(rows, first):
            score[lo:hi] = scoring.aggregate(smoothed, top)
            shares[lo:hi] = scoring.contributions(smoothed)
        if not flags:  # calibration: the rule is not fitted yet
            nothing = np.zeros(n_rows, dtype=bool)
            return ScoreResult(valid, score, np.zeros(n_rows), nothing, shares, np.inf, np.inf)
        result = self.flag_rule_.apply(score, valid)
        return ScoreResult(valid, score, result.severity, result.is_anomaly, shares, result.threshold, result.release)

    # ------------------------------------------------------------------ helpers

    def _fit_normalizer(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per-variable centre and scale; a two-valued column is scaled by its step (``scoring.fit_normalizer``)."""
        return scoring.fit_normalizer(x)

    def _indicator_steps(self, z: np.ndarray) -> np.ndarray:
        """Per variable, the least error scale: the step of a two-valued column (its switches weigh like one
        ordinary error), else 0."""
        return scoring.indicator_steps(z)

    def _history(self) -> int:
        """Rows before a row that a branch may read: what the smoothing leaves of the window."""
        return self.sliding_window - self.smoothing + 1

    def _rows(self, values: np.ndarray) -> Rows:
        self._check_fitted()
        x = _as_matrix(values, n_vars=len(self.variables_))
        return Rows(scoring.normalize(x, self.center_, self.scale_), self.device_)

    def check_params(self) -> None:
        """Raise a ``BadArgument`` ``ValidationError`` for parameters that cannot work, before any data is read
        (the front doors call it before registering anything)."""
        self._parts()

    def _parts(self) -> tuple[list[Branch], FlagRule]:
        """Check the parameters and return fresh branches and a fresh flag rule to fit."""
        check([
            (isinstance(self.sliding_window, int) and self.sliding_window >= 2, "sliding_window must be an integer >= 2"),
            (isinstance(self.epochs, int) and self.epochs >= 1, "epochs must be an integer >= 1"),
            (0.0 < self.validation_fraction < 1.0, "validation_fraction must lie in (0, 1)"),
            (isinstance(self.smoothing, int) and 1 <= self.smoothing < self.sliding_window,
             "smoothing must be an integer in [1, sliding_window)"),
            (0.0 < self.top_fraction <= 1.0, "top_fraction must lie in (0, 1]"),
            (isinstance(self.chunk_rows, int) and self.chunk_rows >= 1, "chunk_rows must be an integer >= 1"),
        ])
        _resolve_device(self.device)
        branches = [branch_from_spec(spec) for spec in (DEFAULT_BRANCHES if self.branches is None else self.branches)]
        kinds = [b.kind for b in branches]
        check([(len(branches) > 0, "at least one branch is needed"),
               (len(set(kinds)) == len(kinds), f"each branch kind may appear once; got {kinds}")])
        for branch in branches:
            branch.check_params()
        if self.flag_rule is None or isinstance(self.flag_rule, dict):
            flag_rule = FlagRule(**(self.flag_rule or {}))
        elif isinstance(self.flag_rule, FlagRule):
            flag_rule = type(self.flag_rule)(**self.flag_rule.get_params())
        else:
            raise ValidationError(ErrorCode.BAD_ARGUMENT, f"flag_rule must be a FlagRule or a dict; got {self.flag_rule!r}")
        flag_rule.check_params()
        return branches, flag_rule

    def _check_fitted(self) -> None:
        if not hasattr(self, "branches_"):
            raise ModelStateError(ErrorCode.MODEL_NOT_READY, "the detector is not fitted yet: call fit first")

    @contextlib.contextmanager
    def _runtime(self, branches: Sequence[Branch] | None = None, n_vars: int | None = None) -> Iterator[None]:
        """Run a call with the thread count of :func:`workbench.runtime.threads`: ``num_threads`` when set,
        else one thread per step of work that needs it (one for models of the default size), within the CPUs
        this process may use; torch's setting is restored afterwards."""
        work = None
        if self.num_threads is None:  # sized by the work only when not set
            branches = self.branches_ if branches is None else branches
            n_vars = n_vars or len(getattr(self, "variables_", ())) or MAX_VARIABLES
            work = max(branch.step_work(n_vars) for branch in branches)
        with runtime.threads(self.num_threads, work):
            yield


def _check_variables(variables: Sequence[str] | None, n_vars: int) -> list[str]:
    names = [f"series_{i}" for i in range(n_vars)] if variables is None else [str(v) for v in variables]
    if len(names) != n_vars:
        raise ValidationError(ErrorCode.BAD_ARGUMENT, f"{len(names)} variable names for {n_vars} columns")
    if len(set(names)) != len(names):
        raise ValidationError(ErrorCode.DUPLICATE_VARIABLE, "variable names must be unique")
    return names


def _resolve_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device not in ("cpu", "cuda") and not str(device).startswith("cuda:"):
        raise ValidationError(ErrorCode.BAD_ARGUMENT, f"device must be 'auto', 'cpu' or 'cuda'; got {device!r}")
    if str(device).startswith("cuda") and not torch.cuda.is_available():
        raise ValidationError(ErrorCode.BAD_ARGUMENT, "device 'cuda' requested but no CUDA device is available")
    return torch.device(device)


def _as_matrix(values: Any, n_vars: int | None = None) -> np.ndarray:
    x = np.asarray(values, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] == 0:
        raise ValidationError(ErrorCode.BAD_ARGUMENT, f"values must be a 2-D (rows, variables) array; got shape {x.shape}")
    if n_vars is not None and x.shape[1] != n_vars:
        raise ValidationError(ErrorCode.VARIABLE_MISMATCH, f"the model has {n_vars} variables; values have {x.shape[1]}")
    if not np.isfinite(x).all():
        bad = int(np.argwhere(~np.isfinite(x))[0][0])
        raise ValidationError(ErrorCode.INVALID_VALUE, "values must be finite (no NaN or infinity)", row=bad)
    return x
