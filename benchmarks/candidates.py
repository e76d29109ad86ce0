"""Candidates for ``benchmarks/selection.py``: named model changes, flag rules, and the study parts they need.

A candidate is detector parameters (JSON-able: branch specs, a flag rule, aggregation) and optionally a study's
detector class.  The study parts below are branches or detector subclasses handed to the product's own
detector -- never copies of its rules:

* ``AnchoredAnalogBranch`` (kind ``analog_anchored``): the analog branch with a share of each prediction moved by
  how far the row's recent level lies from its references' (the former ``analog_anchor`` option);
* ``WideContextBranch`` (kind ``network_wide``): the network reading a strided context, a context that ends
  ``horizon`` rows before the forecast row, or the whole window as bin means (the former ``context_stride``,
  ``horizon`` and ``long_bins`` options);
* ``NoIndicatorScaling``: a detector that scales two-valued columns like any other.

Their decisions are recorded in ``benchmarks/results/`` (``quality_study.md``, ``selection/``).
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from workbench import tails
from workbench.mvad import scoring
from workbench.mvad.branches import AnalogBranch, NetworkBranch, register
from workbench.mvad.branches import analog
from workbench.mvad.branches.base import Fitting
from workbench.mvad.branches.network import JointForecastReconstruction
from workbench.mvad.detector import MultivariateDetector
from workbench.mvad import flags
from workbench.mvad.flags import FlagRule

# a weight of 0 leaves a branch out of the mix and keeps the training (and the cached errors) the same
NETWORK_ALONE = [{"kind": "network", "weight": 1.0}, {"kind": "linear", "weight": 0.0}, "analog"]

NAMED: dict[str, dict] = {
    # the model's parts (issue 23: re-decide each)
    "no-linear": {"detector": {"branches": NETWORK_ALONE}},
    "no-analog": {"detector": {"branches": ["network", "linear", {"kind": "analog", "weight": 0.0}]}},
    "no-indicator-scaling": {"detector": {}, "detector_class": "benchmarks.candidates:NoIndicatorScaling"},
    "no-events": {"detector": {"flag_rule": {"release": 1.0}}},
    "no-drift-raise": {"detector": {"flag_rule": {"drift_factor": 0.0}}},
    "no-tail-cap": {"detector": {"flag_rule": {"tail_quantile": 1.0}}},
    # options retired from the product (quality study, issue 15)
    "analog-anchor-0.5": {"detector": {"branches": ["network", "linear", {"kind": "analog_anchored", "anchor": 0.5}]}},
    "long-bins-32": {"detector": {"branches": [{"kind": "network_wide", "long_bins": 32}, "linear", "analog"]}},
    "context-stride-2": {"detector": {"branches": [{"kind": "network_wide", "context_stride": 2}, "linear", "analog"]}},
    "horizon-4": {"detector": {"branches": [{"kind": "network_wide", "horizon": 4}, "linear", "analog"]}},
}

# flag rules scored from the default's cached errors (``select --rules``)
POT = "benchmarks.candidates:PeaksOverThreshold"
RULES: dict[str, dict] = {
    "default": {},
    # the tail cap (adopted at 99.5%, issue 23; the rule before capped at 99.9%)
    "cap at q99.9 (the rule before)": {"tail_quantile": 0.999},
    "cap at q99.7": {"tail_quantile": 0.997},
    "cap at q99.3": {"tail_quantile": 0.993},
    "cap at q99": {"tail_quantile": 0.99},
    "cap at q98": {"tail_quantile": 0.98},
    "no tail cap": {"tail_quantile": 1.0},
    "log-normal tail at 4.5 spreads": {"threshold_spread": 4.5},
    "log-normal tail at 4 spreads": {"threshold_spread": 4.0},
    # events
    "crossings only": {"release": 1.0},
    "release at 0.45 of the threshold": {"release": 0.45},
    "release at 0.4 of the threshold": {"release": 0.4},
    # the drift raise (its top-share cap adopted at 0.5%, issue 23)
    "drift raise capped at 3x the median alone": {"drift_top_share": 0.0},
    "drift raise up to the top 0.2%": {"drift_top_share": 0.002},
    "drift raise up to the top 1%": {"drift_top_share": 0.01},
    "drift raise up to the top 2%": {"drift_top_share": 0.02},
    "drift raise from 4x the median": {"drift_factor": 4.0},
    "no drift raise": {"drift_factor": 0.0},
    "drift against the held-out median": {"class": "benchmarks.candidates:HeldDrift"},
    "drift raise up to 10x the median": {"class": "benchmarks.candidates:WideDriftCap", "drift_cap": 10.0},
    # peaks over threshold (SPOT's calibration)
    "POT 1e-3": {"class": POT, "risk": 1e-3},
    "POT 1e-4": {"class": POT, "risk": 1e-4},
    "POT 1e-3, drift against held-out": {"class": POT, "risk": 1e-3, "held_drift": True},
    "log-normal capped at POT 1e-3": {"class": "benchmarks.candidates:PotCap", "risk": 1e-3},
}


class NoIndicatorScaling(MultivariateDetector):
    """The detector with two-valued columns scaled and floored like any other (before issue 15's change)."""

    def _fit_normalizer(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return scoring.fit_normalizer(x, by_step=False)

    def _indicator_steps(self, z: np.ndarray) -> np.ndarray:
        return np.zeros(z.shape[1])


@register
class AnchoredAnalogBranch(AnalogBranch):
    """The analog branch whose predictions follow ``anchor`` of the row's recent level."""

    kind = "analog_anchored"

    def __init__(self, weight: float = 0.25, anchor: float = 0.5) -> None:
        super().__init__(weight)
        self.anchor = anchor

    def _fit_analogs(self, fitting: Fitting):
        return analog.fit(fitting.rows.values, fitting.cut, fitting.history, fitting.seed, self.anchor)


class WideContextNetwork(JointForecastReconstruction):
    """The joint network reading every ``stride``-th row of a context that ends ``horizon`` rows before the
    forecast row, and with ``long_bins`` > 0 also the ``long_bins x bin_rows`` rows before as bin means."""

    def __init__(self, n_variables: int, context: int, hidden: int, latent: int | None, long_bins: int,
                 bin_rows: int, stride: int, horizon: int) -> None:
        super().__init__(n_variables, context, hidden, latent)
        self.long_bins, self.bin_rows, self.stride, self.horizon = long_bins, bin_rows, stride, horizon
        self.lookback = max(horizon + (context - 1) * stride, long_bins * bin_rows)
        if long_bins:
            self.forecaster[1] = nn.Linear((context + long_bins) * n_variables, self.forecaster[1].out_features)

    def windows(self, series: torch.Tensor, targets: torch.Tensor):
        past = torch.arange(-self.horizon - (self.context - 1) * self.stride, 1 - self.horizon, self.stride,
                            device=series.device)
        offsets = torch.cat([past, torch.zeros(1, dtype=past.dtype, device=series.device)])
        windows = series[targets[:, None] + offsets]
        if not self.long_bins:
            return windows, None
        pooled = torch.nn.functional.avg_pool1d(series.T.unsqueeze(0), self.bin_rows, stride=1)[0].T
        starts = torch.arange(-self.long_bins * self.bin_rows, 0, self.bin_rows, device=series.device)
        return windows, pooled[targets[:, None] + starts]

    def forward(self, windows: torch.Tensor, bins: torch.Tensor | None = None):
        past, current = windows[:, :-1], windows[:, -1]
        inputs = past if bins is None else torch.cat([past.flatten(1), bins.flatten(1)], dim=1)
        return past[:, -1] + self.forecaster(inputs), self.autoencoder(current)

    def errors(self, inputs):
        windows, bins = inputs
        forecast, reconstruction = self(windows, bins)
        current = windows[:, -1]
        return (forecast - current) ** 2, (reconstruction - current) ** 2


@register
class WideContextBranch(NetworkBranch):
    """The network branch with the retired context options."""

    kind = "network_wide"

    def __init__(self, weight: float = 0.5, context_stride: int = 1, horizon: int = 1, long_bins: int = 0,
                 **params) -> None:
        super().__init__(weight, **params)
        self.context_stride = context_stride
        self.horizon = horizon
        self.long_bins = long_bins

    def _context(self, history: int) -> int:
        reach = history - self.horizon
        return max(1, min(self.context, reach // self.context_stride + 1))

    def _bin_rows(self) -> int:
        return max(1, self._history // self.long_bins) if self.long_bins else 1

    def _fit(self, fitting: Fitting) -> None:
        self._history = fitting.history
        super()._fit(fitting)

    def build(self, n_vars: int) -> nn.Module:
        return WideContextNetwork(n_vars, self.context_, self.hidden, self.latent, self.long_bins, self._bin_rows(),
                                  self.context_stride, self.horizon)


class PeaksOverThreshold(FlagRule):
    """SPOT's calibration (Siffer et al., KDD 2017; OmniAnomaly's POT): a generalized Pareto tail fitted to the
    held-out scores above their ``level`` quantile (probability-weighted moments, stable for few excesses); the
    model's threshold is the score exceeded with probability ``risk`` per row.  ``held_drift``: a call drifted
    when its median score exceeds ``drift_factor`` x the held-out median (a test of drift alone), rather than
    when ``drift_factor`` x its median exceeds the threshold (which also raises undrifted, tight scores)."""

    def __init__(self, risk: float = 1e-3, level: float = 0.98, held_drift: bool = False,
                 drift_cap: float | None = None, **params) -> None:
        super().__init__(**params)
        self.risk = risk
        self.level = level
        self.held_drift = held_drift
        self.drift_cap = drift_cap

    def _calibrate(self, scores: np.ndarray) -> float:
        finite = scores[np.isfinite(scores)]
        self.held_median_ = float(np.median(finite))
        return pot_threshold(finite, self.risk, self.level)

    def threshold_for(self, scores: np.ndarray) -> float:
        if self.held_drift:
            return _held_drift(self, scores)
        return _capped_drift(self, scores) if self.drift_cap else super().threshold_for(scores)


class PotCap(FlagRule):
    """The product's log-normal threshold capped by the POT level of per-row ``risk`` rather than by the
    held-out scores' ``tail_quantile``: with a few hundred held-out rows that quantile is their maximum,
    which a longer call's clean rows pass by chance; the POT level extrapolates beyond it."""

    def __init__(self, risk: float = 1e-4, level: float = 0.98, **params) -> None:
        super().__init__(**params)
        self.risk = risk
        self.level = level

    def _calibrate(self, scores: np.ndarray) -> float:
        finite = scores[np.isfinite(scores)]
        return min(flags.calibrate_threshold(finite, self.threshold_spread, 1.0),
                   pot_threshold(finite, self.risk, self.level))


class WideDriftCap(FlagRule):
    """The product's rule with the drift raise capped at ``drift_cap`` x the call's median rather than
    ``drift_factor`` x (the trigger stays ``drift_factor``): drifted machines whose own tail lies far above
    3 x their median are flagged less."""

    def __init__(self, drift_cap: float = 10.0, **params) -> None:
        super().__init__(**params)
        self.drift_cap = drift_cap

    def threshold_for(self, scores: np.ndarray) -> float:
        return _capped_drift(self, scores)


def _capped_drift(rule: FlagRule, scores: np.ndarray) -> float:
    """The drift raise capped at ``rule.drift_cap`` x the call's median (and not by the top share)."""
    s = scores[np.isfinite(scores)]
    if rule.drift_factor <= 0 or len(s) < flags.DRIFT_MIN_ROWS or rule.drift_factor * np.median(s) <= rule.threshold_:
        return float(rule.threshold_)
    cap = rule.drift_cap * float(np.median(s))
    return min(flags.drift_threshold(rule.threshold_, s, np.inf, rule.drift_tail_spread, 0.0),
               max(float(rule.threshold_), cap))


class HeldDrift(FlagRule):
    """The product's threshold; a call drifted when its median score exceeds ``drift_factor`` x the held-out
    median (see ``PeaksOverThreshold``)."""

    def _calibrate(self, scores: np.ndarray) -> float:
        self.held_median_ = float(np.median(scores[np.isfinite(scores)]))
        return super()._calibrate(scores)

    def threshold_for(self, scores: np.ndarray) -> float:
        return _held_drift(self, scores)


def _held_drift(rule: FlagRule, scores: np.ndarray) -> float:
    s = scores[np.isfinite(scores)]
    if rule.drift_factor <= 0 or len(s) < flags.DRIFT_MIN_ROWS or np.median(s) <= rule.drift_factor * rule.held_median_:
        return float(rule.threshold_)
    # drifted: the product's own-tail raise, which needs drift_factor x median above the threshold to act
    return flags.drift_threshold(rule.threshold_, s, np.inf, rule.drift_tail_spread, 0.0)


def pot_threshold(scores: np.ndarray, risk: float, level: float) -> float:
    """The score exceeded with probability ``risk``, from the product's GPD fit (``workbench.tails``) of the
    excesses over the ``level`` quantile."""
    s = np.sort(np.asarray(scores, dtype=np.float64))
    start = float(np.quantile(s, level))
    excess = s[s > start] - start
    if len(excess) < 3 or excess.mean() <= 0:
        return float(s[-1])
    shape, scale = tails.gpd_fit(excess)
    return tails.tail_level(start, shape, scale, len(excess) / len(s) / risk)
