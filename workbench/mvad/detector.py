"""The multivariate anomaly detector: fit on normal history, then score, flag and explain rows.

``MultivariateDetector`` is a scikit-learn style estimator around
:class:`workbench.mvad.model.JointForecastReconstruction` and a linear
reconstruction (:mod:`workbench.mvad.linear`, a PCA of the rows):

* ``fit`` normalises each variable with statistics of all its rows, trains the network
  on windows of the first ``1 - validation_fraction`` of the rows, keeps the
  weights with the best loss on the remaining rows, fits the PCA on the same
  training rows, and calibrates on the held-out rows the per-variable error
  scales and the anomaly threshold.
* A variable's error at a row is ``(1 - linear_weight)`` times the network's
  (forecast and reconstruction, each a ratio to its held-out level) plus
  ``linear_weight`` (default 0.5) times the linear residual's ratio to its
  held-out level: the network follows time, the PCA sees a variable leave the
  pattern the variables share while staying in range (GutenTAG VUS-PR 0.52 ->
  0.73 with SMD and SKAB level: ``benchmarks/linear_study.py``).  Plus
  ``analog_weight`` (default 0.25) times the analog branch's error ratio
  (:mod:`workbench.mvad.analog`): what the rest of the sliding window says the
  row should be, for variables whose hours before predict them; a daily shape
  that breaks while its values stay in range (``benchmarks/daily_proxy.py``).
  ``analog_anchor`` (default 0) of its prediction follows the row's own
  recent level: for metrics whose days differ in strength (0.5: daily proxy
  0.83 -> 0.86), at the cost of sustained changes of level or amplitude.
* ``score`` streams the rows through the network in chunks (memory stays
  bounded for a million rows) and returns a :class:`ScoreResult`.

Row ``t`` is scored from rows ``t - sliding_window .. t`` only, so the first
``sliding_window`` rows of any input are not valid and a row gets the same
score whether it is scored in a long batch or as the last row of a short one.
Its flag compares that score with the training threshold, raised for a call
whose rows drifted as a whole (:func:`workbench.mvad.scoring.drift_threshold`:
at least 100 valid rows whose median score exceeds a third of the threshold).
The network itself reads the last ``context`` (default 32) rows (every
``context_stride``-th row back, ending ``horizon`` rows before the forecast
row; with ``long_bins`` > 0 also the rest of the window as that many bin
means: none better on the benchmarks beyond the seed spread within the speed
bounds, so all off by default; see :mod:`workbench.mvad.model` and
``benchmarks/quality_study.py``); the whole window feeds the correlation changes
reported for anomalies.  The training threshold is the robust log-normal tail
of the held-out scores capped at their ``tail_quantile`` (0.999):
:func:`workbench.mvad.scoring.calibrate_threshold`.

An epoch draws at most ``max_windows_per_epoch`` (default 2,048) training
windows at random without replacement, so the cost of an epoch is bounded:
100 epochs over 1,000,000 x 20 rows take minutes, not hours.  More windows per
epoch fit normal data more closely but separated anomalies worse (SMD VUS-PR
at 100 epochs, 3 seeds: 0.51 with 8,192 windows, 0.54 with 2,048).  Validation
losses use at most ``max_validation_windows`` evenly spaced windows; the error
scales and the threshold use every validation row.
"""
from __future__ import annotations

import contextlib
import copy
import inspect
import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from workbench import runtime
from workbench.contracts.multivariate import MAX_VARIABLES
from workbench.exceptions import ErrorCode, ModelStateError, ValidationError
from workbench.mvad import analog, linear, scoring
from workbench.mvad.model import JointForecastReconstruction

MIN_VALIDATION_ROWS = 10
NETWORK_INPUT_FLOATS = 1 << 22  # 16 MB of float32 network inputs per call on the CPU (``_network_rows``)
STATE_VERSION = 4  # 2: the linear branch, 3: the analog branch (older states load without them), 4: its anchor


@dataclass(frozen=True)
class EpochReport:
    """Losses and wall time of one finished epoch."""

    epoch: int
    train_loss: float
    validation_loss: float
    latency_seconds: float


@dataclass
class ScoreResult:
    """Per-row outputs of :meth:`MultivariateDetector.score` (numpy arrays, one row per input row)."""

    valid: np.ndarray          # (T,) bool: a full sliding window precedes the row
    score: np.ndarray          # (T,) float: raw score, NaN where not valid
    severity: np.ndarray       # (T,) in [0, 1]: 0 for normal rows, grows with the score
    is_anomaly: np.ndarray     # (T,) bool: an event from score >= ``threshold`` on, while >= half of it
    contributions: np.ndarray  # (T, V) >= 0: each valid row sums to 1, invalid rows are 0
    threshold: float           # the threshold applied: ``threshold_``, or higher where the data drifted
    release: float             # a flagged event goes on while the score stays at or above this


class MultivariateDetector:
    """Joint forecasting + reconstruction anomaly detector for aligned multivariate series."""

    def __init__(self, sliding_window: int = 300, epochs: int = 100, seed: int = 0,
                 validation_fraction: float = 0.2, device: str = "auto", num_threads: int | None = None,
                 context: int = 32, context_stride: int = 1, long_bins: int = 0, horizon: int = 1, hidden: int = 128, latent: int | None = None, batch_size: int = 256,
                 learning_rate: float = 2e-3, max_windows_per_epoch: int = 2048,
                 max_validation_windows: int = 8192, smoothing: int = 5, top_fraction: float = 0.2,
                 linear_weight: float = scoring.LINEAR_WEIGHT, linear_variance: float = scoring.LINEAR_VARIANCE,
                 analog_weight: float = scoring.ANALOG_WEIGHT, analog_anchor: float = scoring.ANALOG_ANCHOR,
                 threshold_spread: float = scoring.THRESHOLD_SPREAD, tail_quantile: float = scoring.TAIL_QUANTILE,
                 drift_factor: float = scoring.DRIFT_FACTOR,
                 chunk_rows: int = 16384) -> None:
        self.sliding_window = sliding_window
        self.epochs = epochs
        self.seed = seed
        self.validation_fraction = validation_fraction
        self.device = device
        self.num_threads = num_threads
        self.context = context
        self.context_stride = context_stride
        self.horizon = horizon
        self.long_bins = long_bins
        self.hidden = hidden
        self.latent = latent
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.max_windows_per_epoch = max_windows_per_epoch
        self.max_validation_windows = max_validation_windows
        self.smoothing = smoothing
        self.top_fraction = top_fraction
        self.linear_weight = linear_weight
        self.linear_variance = linear_variance
        self.analog_weight = analog_weight
        self.analog_anchor = analog_anchor
        self.threshold_spread = threshold_spread
        self.tail_quantile = tail_quantile
        self.drift_factor = drift_factor
        self.chunk_rows = chunk_rows

    @classmethod
    def _get_param_names(cls) -> list[str]:
        """The constructor's parameter names, read from the signatures (a subclass's own ones included).

        A subclass whose ``__init__`` takes ``**params`` for the rest adds its named parameters
        to those of the class it passes them to, as scikit-learn's ``get_params`` expects.
        """
        names: list[str] = []
        for klass in cls.__mro__:
            if "__init__" not in vars(klass) or klass is object:
                continue
            parameters = list(inspect.signature(klass.__init__).parameters.values())[1:]
            names += [p.name for p in parameters if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
                      and p.name not in names]
            if not any(p.kind is p.VAR_KEYWORD for p in parameters):
                break
        return names

    def get_params(self, deep: bool = True) -> dict:
        """Constructor parameters (JSON-able), as scikit-learn's ``get_params``."""
        return {name: getattr(self, name) for name in self._get_param_names()}

    def set_params(self, **params) -> "MultivariateDetector":
        """Set constructor parameters (refit to apply them); unknown names raise."""
        known = self._get_param_names()
        for name, value in params.items():
            if name not in known:
                raise ValidationError(ErrorCode.BAD_ARGUMENT, f"unknown detector parameter {name!r}; known: {known}")
            setattr(self, name, value)
        return self

    # ------------------------------------------------------------------ public API

    def fit(self, values: np.ndarray, variables: Sequence[str] | None = None,
            on_epoch: Callable[[EpochReport], None] | None = None) -> "MultivariateDetector":
        """Train on ``values`` (T, V), aligned and without NaN; ``on_epoch`` sees every epoch."""
        self._check_params()
        x = _as_matrix(values)
        names = self._check_variables(variables, x.shape[1])
        n_rows = len(x)
        n_val = int(round(n_rows * self.validation_fraction))
        cut = n_rows - n_val
        if cut <= self.sliding_window or n_val < MIN_VALIDATION_ROWS:
            raise ValidationError(
                ErrorCode.NOT_ENOUGH_DATA,
                f"training needs at least {self.minimum_rows()} rows for sliding window {self.sliding_window} "
                f"and validation fraction {self.validation_fraction}; got {n_rows}")
        with self._runtime():
            self.variables_ = names
            self.context_ = self._effective_context()
            self.center_, self.scale_ = scoring.fit_normalizer(x)
            z = scoring.normalize(x, self.center_, self.scale_)
            self._train(z, cut, on_epoch)
            self._calibrate(z, cut)
        return self

    def score(self, values: np.ndarray) -> ScoreResult:
        """Score every row of ``values`` (T, V); the first ``sliding_window`` rows are not valid."""
        self._check_fitted()
        x = _as_matrix(values, n_vars=len(self.variables_))
        with self._runtime():
            return self._score(scoring.normalize(x, self.center_, self.scale_))

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

    def variable_errors(self, values: np.ndarray) -> np.ndarray:
        """(T, V) per-variable errors behind the score: scaled, smoothed, NaN without a full window.

        The score of a row aggregates its largest ``top_fraction`` of these; the contributions are
        their shares.  Studies of other aggregation or threshold rules start here.
        """
        self._check_fitted()
        x = _as_matrix(values, n_vars=len(self.variables_))
        out = np.full(x.shape, np.nan)
        with self._runtime():
            z = np.ascontiguousarray(scoring.normalize(x, self.center_, self.scale_))
            series = torch.from_numpy(z).to(self.device_)
            for lo, hi, smoothed in self._smoothed_errors(series, len(z)):
                out[lo:hi] = smoothed
        return out

    def correlation_changes(self, values: np.ndarray, row: int, top_k: int) -> dict[str, list[str]]:
        """For the ``top_k`` contributors at ``row``: the variables whose correlation with it changed.

        The correlation over the ``sliding_window`` rows ending at ``row`` is
        compared with the same pair's correlation over training windows; a
        pair changed when the difference exceeds both 0.3 and three times the
        pair's usual window-to-window spread.  Most changed first.
        """
        self._check_fitted()
        x = _as_matrix(values, n_vars=len(self.variables_))
        if not self.sliding_window <= row < len(x):
            raise ValidationError(ErrorCode.BAD_ARGUMENT,
                                  f"row must lie in [{self.sliding_window}, {len(x)}) to have a full window; got {row}")
        if top_k < 1:
            raise ValidationError(ErrorCode.INVALID_TOP_CONTRIBUTOR_COUNT, f"top_k must be at least 1; got {top_k}")
        with self._runtime():
            z = scoring.normalize(x[row - self.sliding_window:row + 1], self.center_, self.scale_)
            share = self._score(z).contributions[-1]
        corr = scoring.window_correlation(z[1:])
        change = np.abs(corr - self.correlation_median_)
        limit = np.maximum(0.3, 3.0 * self.correlation_spread_)
        out: dict[str, list[str]] = {}
        for v in np.argsort(-share, kind="stable")[:top_k]:
            hits = [u for u in np.argsort(-change[v], kind="stable") if u != v and change[v, u] > limit[v, u]]
            out[self.variables_[v]] = [self.variables_[u] for u in hits]
        return out

    def minimum_rows(self) -> int:
        """The fewest rows ``fit`` accepts with this window and validation fraction."""
        n = self.sliding_window + 1
        while n - int(round(n * self.validation_fraction)) <= self.sliding_window \
                or int(round(n * self.validation_fraction)) < MIN_VALIDATION_ROWS:
            n += 1
        return n

    def get_state(self) -> tuple[dict[str, np.ndarray], dict]:
        """(arrays for safetensors, JSON-able metadata): all that ``from_state`` needs, no pickle."""
        self._check_fitted()
        tensors = {f"model.{k}": v.detach().cpu().numpy().astype(np.float32)
                   for k, v in self.model_.state_dict().items()}
        tensors.update(center=self.center_, scale=self.scale_, forecast_scale=self.forecast_scale_,
                       reconstruction_scale=self.reconstruction_scale_, linear_mean=self.linear_mean_,
                       linear_components=self.linear_components_, linear_scale=self.linear_scale_,
                       correlation_median=self.correlation_median_, correlation_spread=self.correlation_spread_)
        if self.analogs_ is not None:
            tensors.update({f"analog.{k}": v for k, v in self.analogs_.arrays().items()},
                           analog_scale=self.analog_scale_)
        meta = {
            "stateVersion": STATE_VERSION, "params": self.get_params(), "variables": list(self.variables_),
            "context": self.context_, "threshold": self.threshold_, "bestEpoch": self.best_epoch_,
            "trainLosses": self.train_losses_, "validationLosses": self.validation_losses_,
            "epochSeconds": self.epoch_seconds_,
        }
        return tensors, meta

    @classmethod
    def from_state(cls, tensors: dict[str, np.ndarray], meta: dict) -> "MultivariateDetector":
        """Rebuild a fitted detector from :meth:`get_state` output."""
        if meta.get("stateVersion") not in (1, 2, 3, STATE_VERSION):
            raise ValidationError(ErrorCode.INVALID_MODEL_ARCHIVE,
                                  f"unsupported detector state version {meta.get('stateVersion')!r}")
        # parameters of older versions (e.g. the former threshold_quantile) are dropped: the stored
        # threshold_ keeps their effect
        known = cls._get_param_names()
        params = {"long_bins": 0, "context_stride": 1, "horizon": 1, **meta["params"]}  # states saved before these had none
        if "analog.layout" in tensors and "analog.anchor" not in tensors:
            params["analog_anchor"] = 0.0  # version 3: its analogs predict the rows as they were
        if "linear_components" not in tensors:  # version 1: no linear branch, scores as they were saved
            n_vars = len(meta["variables"])
            params["linear_weight"] = 0.0
            tensors = {**tensors, "linear_mean": np.zeros(n_vars), "linear_components": np.zeros((n_vars, 0)),
                       "linear_scale": np.ones(n_vars)}
        det = cls(**{k: v for k, v in params.items() if k in known})
        det.variables_ = list(meta["variables"])
        det.context_ = int(meta["context"])
        det.threshold_ = float(meta["threshold"])
        det.best_epoch_ = int(meta["bestEpoch"])
        det.train_losses_ = [float(v) for v in meta["trainLosses"]]
        det.validation_losses_ = [float(v) for v in meta["validationLosses"]]
        det.epoch_seconds_ = [float(v) for v in meta["epochSeconds"]]
        for name in ("center", "scale", "forecast_scale", "reconstruction_scale", "correlation_median",
                     "correlation_spread", "linear_mean", "linear_components", "linear_scale"):
            setattr(det, name + "_", np.asarray(tensors[name], dtype=np.float32))
        det.analogs_ = None  # saved without analogs (an older state, or none took part): scores as saved
        if "analog.layout" in tensors:  # version 3 has no anchor: its analogs predict absolute rows, as saved
            det.analogs_ = analog.Analogs(**{k: np.asarray(tensors["analog." + k])
                                             for k in analog.Analogs.__dataclass_fields__ if "analog." + k in tensors})
            det.analog_scale_ = np.asarray(tensors["analog_scale"], dtype=np.float32)
        weights = {k[len("model."):]: torch.from_numpy(np.array(v, dtype=np.float32))
                   for k, v in tensors.items() if k.startswith("model.")}
        try:
            det.device_ = _resolve_device(det.device)
        except ValidationError:  # trained on a GPU this machine lacks: score on what is here
            det.device_ = _resolve_device("auto")
        det.model_ = det.build_network(len(det.variables_))
        det.model_.load_state_dict(weights)
        det.model_.to(det.device_).eval()
        return det

    # ------------------------------------------------------------------ training

    def build_network(self, n_vars: int) -> JointForecastReconstruction:
        """The network to train for ``n_vars`` variables (the seam a study overrides to try another one)."""
        return JointForecastReconstruction(n_vars, self.context_, hidden=self.hidden, latent=self.latent,
                                           long_bins=self.long_bins, bin_rows=self._bin_rows(),
                                           stride=self.context_stride, horizon=self.horizon)

    def _train(self, z: np.ndarray, cut: int, on_epoch: Callable[[EpochReport], None] | None) -> None:
        self.device_ = _resolve_device(self.device)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            model = self.build_network(z.shape[1]).to(self.device_)
        rng = np.random.default_rng(self.seed)
        series = torch.from_numpy(z).to(self.device_)
        prepared = _prepare(model, series)
        train_targets = np.arange(_lookback(model, self.context_), cut)
        val_targets = np.arange(cut, len(z))
        if len(val_targets) > self.max_validation_windows:
            val_targets = val_targets[np.linspace(0, len(val_targets) - 1, self.max_validation_windows).astype(int)]
        optimizer = _Adam(list(model.parameters()), self.learning_rate)
        self.train_losses_, self.validation_losses_, self.epoch_seconds_ = [], [], []
        best_loss, best_state, self.best_epoch_ = math.inf, None, 0
        per_epoch = min(len(train_targets), self.max_windows_per_epoch)
        for epoch in range(1, self.epochs + 1):
            started = time.perf_counter()
            model.train()
            chosen = train_targets[rng.permutation(len(train_targets))[:per_epoch]]
            total = 0.0
            for lo in range(0, per_epoch, self.batch_size):
                idx = torch.from_numpy(chosen[lo:lo + self.batch_size]).to(self.device_)
                forecast_err, recon_err = model.errors(_gather(model, prepared, idx, self.context_))
                loss = forecast_err.mean() + recon_err.mean()
                model.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                total += float(loss.detach()) * len(idx)
            train_loss = total / per_epoch
            val_loss = self._validation_loss(model, prepared, val_targets)
            if val_loss < best_loss or best_state is None:
                best_loss, self.best_epoch_ = val_loss, epoch
                best_state = copy.deepcopy(model.state_dict())
            seconds = time.perf_counter() - started
            self.train_losses_.append(train_loss)
            self.validation_losses_.append(val_loss)
            self.epoch_seconds_.append(seconds)
            if on_epoch is not None:
                on_epoch(EpochReport(epoch, train_loss, val_loss, seconds))
        model.load_state_dict(best_state)
        self.model_ = model.eval()

    @torch.no_grad()
    def _validation_loss(self, model, prepared, targets: np.ndarray) -> float:
        model.eval()
        total = 0.0
        step = _network_rows(model, prepared, self.context_, self.chunk_rows)
        for lo in range(0, len(targets), step):
            idx = torch.from_numpy(targets[lo:lo + step]).to(self.device_)
            forecast_err, recon_err = model.errors(_gather(model, prepared, idx, self.context_))
            total += float((forecast_err.mean(dim=1) + recon_err.mean(dim=1)).sum())
        return total / len(targets)

    def _calibrate(self, z: np.ndarray, cut: int) -> None:
        """Linear branch from the training rows; error scales, threshold and correlation profile from the
        held-out rows (and training rows)."""
        self.linear_mean_, self.linear_components_ = linear.fit_components(z[:cut], self.linear_variance)
        series = torch.from_numpy(z).to(self.device_)
        forecast_err, recon_err, linear_err = self._raw_errors(series, np.arange(cut, len(z)))
        steps = scoring.indicator_steps(z)   # two-valued columns: their errors are judged on their step
        self.forecast_scale_ = scoring.error_scale(forecast_err, np.maximum(scoring.ERROR_FLOOR, steps))
        self.reconstruction_scale_ = scoring.error_scale(recon_err, np.maximum(scoring.ERROR_FLOOR, steps))
        self.linear_scale_ = scoring.error_scale(linear_err, np.maximum(scoring.LINEAR_ERROR_FLOOR, steps))
        self.analogs_ = analog.fit(z, cut, self._analog_span(), self.seed, self.analog_anchor) \
            if self.analog_weight > 0 else None
        if self.analogs_ is not None and not self.analogs_.active:
            self.analogs_ = None  # no variable that its hours before predict: nothing to add, nothing to compute
        self.analog_scale_ = np.ones(z.shape[1], dtype=np.float32)
        if self.analogs_ is not None:
            held = analog.errors(self.analogs_, z, np.arange(cut, len(z)))
            self.analog_scale_ = scoring.error_scale(held, np.maximum(scoring.ERROR_FLOOR, steps))
        held_out = self._score(z[cut - self.sliding_window:])
        self.threshold_ = scoring.calibrate_threshold(held_out.score[self.sliding_window:], self.threshold_spread,
                                                      self.tail_quantile)
        self.correlation_median_, self.correlation_spread_ = scoring.correlation_profile(
            z[:cut], min(self.sliding_window, cut))

    # ------------------------------------------------------------------ scoring

    @torch.no_grad()
    def _raw_errors(self, series: torch.Tensor, targets: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Squared forecast, network-reconstruction and linear-reconstruction errors of the ``targets`` rows
        of a device tensor, each ``(len(targets), V)``."""
        prepared = _prepare(self.model_, series)
        mean = torch.from_numpy(self.linear_mean_).to(self.device_)
        components = torch.from_numpy(self.linear_components_).to(self.device_)
        forecast, recon, lin = [], [], []
        step = _network_rows(self.model_, prepared, self.context_, self.chunk_rows)
        for lo in range(0, len(targets), step):
            idx = torch.from_numpy(targets[lo:lo + step]).to(self.device_)
            f, r = self.model_.errors(_gather(self.model_, prepared, idx, self.context_))
            forecast.append(f.cpu().numpy())
            recon.append(r.cpu().numpy())
            lin.append(linear.residuals(series[idx], mean, components).cpu().numpy())
        return np.concatenate(forecast), np.concatenate(recon), np.concatenate(lin)

    def _smoothed_errors(self, series: torch.Tensor, n_rows: int) -> Iterator[tuple[int, int, np.ndarray]]:
        """``(lo, hi, errors)`` chunk by chunk: rows ``lo..hi`` (all with a full window), scaled and smoothed."""
        w, k = self.sliding_window, self.smoothing
        analogs = getattr(self, "analogs_", None)
        z = series.cpu().numpy() if analogs is not None else None
        for lo in range(w, n_rows, self.chunk_rows):
            hi = min(lo + self.chunk_rows, n_rows)
            # the smoothing reaches back k - 1 rows; context + smoothing fit in the window
            rows = np.arange(lo - k + 1, hi)
            forecast_err, recon_err, linear_err = self._raw_errors(series, rows)
            network = 0.5 * (forecast_err / self.forecast_scale_ ** 2 + recon_err / self.reconstruction_scale_ ** 2)
            errors = (1.0 - self.linear_weight) * network + self.linear_weight * linear_err / self.linear_scale_ ** 2
            if analogs is not None:
                errors += self.analog_weight * analog.errors(analogs, z, rows) / self.analog_scale_ ** 2
            yield lo, hi, scoring.trailing_mean(errors, k)

    def _score(self, z: np.ndarray) -> ScoreResult:
        """Score normalised rows chunk by chunk (extra memory bounded by ``chunk_rows``)."""
        n_rows, n_vars = z.shape
        w = self.sliding_window
        valid = np.arange(n_rows) >= w
        score = np.full(n_rows, np.nan)
        shares = np.zeros((n_rows, n_vars))
        series = torch.from_numpy(np.ascontiguousarray(z)).to(self.device_)
        top = scoring.top_count(n_vars, self.top_fraction)
        for lo, hi, smoothed in self._smoothed_errors(series, n_rows):
            score[lo:hi] = scoring.aggregate(smoothed, top)
            shares[lo:hi] = scoring.contributions(smoothed)
        threshold = scoring.drift_threshold(getattr(self, "threshold_", math.inf), score[valid], self.drift_factor)
        release = scoring.release_level(threshold, score[valid])
        is_anomaly = valid & scoring.flag_events(score, threshold, release)
        return ScoreResult(valid, score, scoring.severity(score, threshold, is_anomaly), is_anomaly, shares,
                           threshold, release)

    # ------------------------------------------------------------------ helpers

    def _effective_context(self) -> int:
        """Context rows the network reads: ``context``, shortened so context + smoothing fits the window."""
        reach = self.sliding_window - self.smoothing - (self.horizon - 1)
        return max(1, min(self.context, reach // self.context_stride + 1))

    def _analog_span(self) -> int:
        """Rows back from a row that its analog context may read: what the smoothing leaves of the window."""
        return self.sliding_window - self.smoothing + 1

    def _bin_rows(self) -> int:
        """Rows per long-context bin: ``long_bins`` bins span what of the window context + smoothing leave."""
        if not self.long_bins:
            return 1
        return max(1, (self.sliding_window - self.smoothing + 1) // self.long_bins)

    def _check_params(self) -> None:
        checks = [
            (isinstance(self.sliding_window, int) and self.sliding_window >= 2, "sliding_window must be an integer >= 2"),
            (isinstance(self.epochs, int) and self.epochs >= 1, "epochs must be an integer >= 1"),
            (0.0 < self.validation_fraction < 1.0, "validation_fraction must lie in (0, 1)"),
            (isinstance(self.smoothing, int) and 1 <= self.smoothing < self.sliding_window,
             "smoothing must be an integer in [1, sliding_window)"),
            (0.0 < self.top_fraction <= 1.0, "top_fraction must lie in (0, 1]"),
            (0.0 <= self.linear_weight <= 1.0 and 0.0 < self.linear_variance <= 1.0,
             "linear_weight must lie in [0, 1] and linear_variance in (0, 1]"),
            (0.0 <= self.analog_weight and 0.0 <= self.analog_anchor <= 1.0,
             "analog_weight must be >= 0 and analog_anchor in [0, 1]"),
            (self.threshold_spread > 0 and self.drift_factor >= 0 and 0.0 < self.tail_quantile <= 1.0,
             "threshold_spread must be > 0, tail_quantile in (0, 1] and drift_factor >= 0"),
            (isinstance(self.long_bins, int) and self.long_bins >= 0, "long_bins must be an integer >= 0"),
            (isinstance(self.context_stride, int) and self.context_stride >= 1, "context_stride must be an integer >= 1"),
            (isinstance(self.horizon, int) and 1 <= self.horizon <= self.sliding_window - self.smoothing,
             "horizon must be an integer in [1, sliding_window - smoothing]"),
            (self.context >= 1 and self.hidden >= 1 and self.batch_size >= 1 and self.chunk_rows >= 1
             and self.max_windows_per_epoch >= 1 and self.max_validation_windows >= 1,
             "context, hidden, batch_size, chunk_rows and the window caps must be >= 1"),
            (self.learning_rate > 0, "learning_rate must be > 0"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValidationError(ErrorCode.BAD_ARGUMENT, message)
        _resolve_device(self.device)

    @staticmethod
    def _check_variables(variables: Sequence[str] | None, n_vars: int) -> list[str]:
        names = [f"series_{i}" for i in range(n_vars)] if variables is None else [str(v) for v in variables]
        if len(names) != n_vars:
            raise ValidationError(ErrorCode.BAD_ARGUMENT, f"{len(names)} variable names for {n_vars} columns")
        if len(set(names)) != len(names):
            raise ValidationError(ErrorCode.DUPLICATE_VARIABLE, "variable names must be unique")
        return names

    def _check_fitted(self) -> None:
        if not hasattr(self, "model_"):
            raise ModelStateError(ErrorCode.MODEL_NOT_READY, "the detector is not fitted yet: call fit first")

    @contextlib.contextmanager
    def _runtime(self) -> Iterator[None]:
        """Run a call with the thread count of :func:`workbench.runtime.threads`: ``num_threads`` when
        set, else one thread per step work that needs it (one for models of the default size), within
        the CPUs this process may use; torch's setting is restored afterwards.  The step's work is
        batch x (context x variables x hidden + hidden^2 + hidden x variables) multiply-accumulates,
        with the v1.1 limit of variables before they are known."""
        n_vars = len(getattr(self, "variables_", ())) or MAX_VARIABLES
        work = self.batch_size * (self.context * n_vars * self.hidden + self.hidden ** 2 + self.hidden * n_vars)
        with runtime.threads(self.num_threads, work):
            yield


class _Adam:
    """Adam (Kingma & Ba, 2015) in a few tensor ops.

    ``torch.optim`` imports ``torch._dynamo`` on its first step, which adds
    about 75 MB to the peak memory of a process; this loop does the same
    update without it.
    """

    def __init__(self, params: list[torch.Tensor], lr: float, betas=(0.9, 0.999), eps: float = 1e-8) -> None:
        self.params, self.lr, self.betas, self.eps, self.steps = params, lr, betas, eps, 0
        self.m = [torch.zeros_like(p) for p in params]
        self.v = [torch.zeros_like(p) for p in params]

    @torch.no_grad()
    def step(self) -> None:
        self.steps += 1
        b1, b2 = self.betas
        c1, c2 = 1.0 - b1 ** self.steps, 1.0 - b2 ** self.steps
        for p, m, v in zip(self.params, self.m, self.v):
            if p.grad is None:
                continue
            m.mul_(b1).add_(p.grad, alpha=1.0 - b1)
            v.mul_(b2).addcmul_(p.grad, p.grad, value=1.0 - b2)
            p.addcdiv_(m, (v / c2).sqrt_().add_(self.eps), value=-self.lr / c1)


def _prepare(model, series: torch.Tensor):
    """The network's per-call preparation of the series (see ``JointForecastReconstruction.prepare``)."""
    return model.prepare(series) if hasattr(model, "prepare") else series


def _gather(model, prepared, idx: torch.Tensor, context: int):
    """The network's inputs for rows ``idx``; plain ``(batch, context + 1, V)`` windows for a network
    without its own ``gather`` (a study's candidate)."""
    if hasattr(model, "gather"):
        return model.gather(prepared, idx)
    return prepared[idx[:, None] + torch.arange(-context, 1, device=idx.device)]


def _network_rows(model, prepared, context: int, chunk_rows: int) -> int:
    """Rows per network call: ``chunk_rows``, on the CPU fewer where their gathered inputs would pass
    ``NETWORK_INPUT_FLOATS``.  glibc hands blocks over 32 MB back to the system when freed, so every call
    page-faulted its inputs in afresh: 16,384 SMD rows (82 MB) took a third of batch scoring's time."""
    series = prepared[0] if isinstance(prepared, tuple) else prepared
    if series.device.type != "cpu":
        return chunk_rows
    per_row = (context + 1 + int(getattr(model, "long_bins", 0))) * series.shape[1]
    return max(1, min(chunk_rows, NETWORK_INPUT_FLOATS // per_row))


def _lookback(model, context: int) -> int:
    """Rows before a scored row that the network reads."""
    return int(getattr(model, "lookback", context))


def _resolve_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device not in ("cpu", "cuda") and not str(device).startswith("cuda:"):
        raise ValidationError(ErrorCode.BAD_ARGUMENT, f"device must be 'auto', 'cpu' or 'cuda'; got {device!r}")
    if str(device).startswith("cuda") and not torch.cuda.is_available():
        raise ValidationError(ErrorCode.BAD_ARGUMENT, "device 'cuda' requested but no CUDA device is available")
    return torch.device(device)


def _as_matrix(values, n_vars: int | None = None) -> np.ndarray:
    x = np.asarray(values, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] == 0:
        raise ValidationError(ErrorCode.BAD_ARGUMENT, f"values must be a 2-D (rows, variables) array; got shape {x.shape}")
    if n_vars is not None and x.shape[1] != n_vars:
        raise ValidationError(ErrorCode.VARIABLE_MISMATCH, f"the model has {n_vars} variables; values have {x.shape[1]}")
    if not np.isfinite(x).all():
        bad = int(np.argwhere(~np.isfinite(x))[0][0])
        raise ValidationError(ErrorCode.INVALID_VALUE, "values must be finite (no NaN or infinity)", row=bad)
    return x
