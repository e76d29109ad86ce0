"""The network branch: a forecaster and an autoencoder trained jointly, as MTAD-GAT's joint objective.

* **forecast** -- an MLP reads the ``context`` rows before row ``t`` (all variables at once, so cross-variable
  and temporal structure are both in view) and predicts row ``t`` as a change from row ``t - 1``;
* **reconstruction** -- an autoencoder squeezes row ``t`` through a bottleneck of about a third of the
  variables and rebuilds it (a nonlinear PCA).

A variable's error is the mean of the two squared errors, each a ratio to its held-out level.  Training
draws at most ``max_windows_per_epoch`` windows per epoch and keeps the weights of the epoch with the
lowest validation loss.  Why this network and these sizes: ``benchmarks/results/model_search.md``.
"""
from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from workbench.mvad import scoring
from workbench.mvad.branches.base import Branch, Fitting, Rows, register
from workbench.mvad.params import check

NETWORK_INPUT_FLOATS = 1 << 22  # 16 MB of float32 inputs per call on the CPU (see ``_call_rows``)
CALL_ROWS = 1024  # rows per scoring call: their windows (5 MB for 38 variables) stay in the cache
SMALL_CALL_ROWS = 64  # up to this many rows (detect-last) skip oneDNN's GELU (``_gelu``)


@dataclass(frozen=True)
class EpochReport:
    """Losses and wall time of one finished epoch."""

    epoch: int
    train_loss: float
    validation_loss: float
    latency_seconds: float


def default_latent(n_variables: int) -> int:
    """Bottleneck width: a third of the variables, at least 2 (at most ``n_variables``)."""
    return max(1, min(n_variables, max(2, n_variables // 3)))


class JointForecastReconstruction(nn.Module):
    """Forecast and reconstruct the last row of ``(batch, context + 1, variables)`` windows."""

    def __init__(self, n_variables: int, context: int, hidden: int = 128, latent: int | None = None) -> None:
        super().__init__()
        latent = latent or default_latent(n_variables)
        self.context = context
        self.lookback = context  # rows before a row that it reads
        self.forecaster = nn.Sequential(
            nn.Flatten(),
            nn.Linear(context * n_variables, hidden), nn.GELU(),
            nn.Linear(hidden, hidden), nn.GELU(),
            nn.Linear(hidden, n_variables),
        )
        half = max(hidden // 2, latent)
        self.autoencoder = nn.Sequential(
            nn.Linear(n_variables, half), nn.GELU(),
            nn.Linear(half, latent), nn.GELU(),
            nn.Linear(latent, half), nn.GELU(),
            nn.Linear(half, n_variables),
        )

    def windows(self, series: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """``(batch, context + 1, V)``: each target row with the ``context`` rows before it."""
        return series[targets[:, None] + torch.arange(-self.context, 1, device=series.device)]

    def forward(self, windows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(forecast, reconstruction)`` of the last row, each ``(batch, variables)``."""
        past, current = windows[:, :-1], windows[:, -1]
        return past[:, -1] + self.forecaster(past), self.autoencoder(current)

    def errors(self, windows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Squared forecast and reconstruction errors per variable, each ``(batch, variables)``."""
        forecast, reconstruction = self(windows)
        current = windows[:, -1]
        return (forecast - current) ** 2, (reconstruction - current) ** 2


@register
class NetworkBranch(Branch):
    """Joint forecasting and reconstruction network (see the module docstring)."""

    kind = "network"
    state_keys = ("forecast_scale", "reconstruction_scale")

    def __init__(self, weight: float = 0.5, context: int = 32, hidden: int = 128, latent: int | None = None,
                 batch_size: int = 256, learning_rate: float = 2e-3, max_windows_per_epoch: int = 2048,
                 max_validation_windows: int = 8192) -> None:
        self.weight = weight
        self.context = context
        self.hidden = hidden
        self.latent = latent
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.max_windows_per_epoch = max_windows_per_epoch
        self.max_validation_windows = max_validation_windows

    def check_params(self) -> None:
        super().check_params()
        check([(self.context >= 1 and self.hidden >= 1 and self.batch_size >= 1, "context, hidden and batch_size "
                "must be >= 1"),
               (self.max_windows_per_epoch >= 1 and self.max_validation_windows >= 1, "the window caps must be >= 1"),
               (self.learning_rate > 0, "learning_rate must be > 0")])

    def step_work(self, n_vars: int) -> int:
        return self.batch_size * (self.context * n_vars * self.hidden + self.hidden ** 2 + self.hidden * n_vars)

    def _context(self, history: int) -> int:
        """Context rows the network reads: ``context``, fewer where the window leaves fewer."""
        return max(1, min(self.context, history))

    def build(self, n_vars: int) -> nn.Module:
        """The network to train for ``n_vars`` variables (a study's subclass builds another)."""
        return JointForecastReconstruction(n_vars, self.context_, hidden=self.hidden, latent=self.latent)

    # ------------------------------------------------------------------ fitting

    def _fit(self, fitting: Fitting) -> None:
        self.context_ = self._context(fitting.history)
        self.model_ = self._train(fitting)
        forecast, reconstruction = self._raw_errors(fitting.rows, fitting.held_out)
        floor = np.maximum(scoring.ERROR_FLOOR, fitting.steps)
        self.forecast_scale_ = scoring.error_scale(forecast, floor)
        self.reconstruction_scale_ = scoring.error_scale(reconstruction, floor)

    def _train(self, fitting: Fitting) -> nn.Module:
        device = fitting.rows.device
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(fitting.seed)
            model = self.build(fitting.rows.values.shape[1]).to(device)
        rng = np.random.default_rng(fitting.seed)
        series = fitting.rows.tensor
        train_targets = np.arange(model.lookback, fitting.cut)
        val_targets = fitting.held_out
        if len(val_targets) > self.max_validation_windows:
            val_targets = val_targets[np.linspace(0, len(val_targets) - 1, self.max_validation_windows).astype(int)]
        optimizer = _Adam(list(model.parameters()), self.learning_rate)
        self.train_losses_, self.validation_losses_, self.epoch_seconds_ = [], [], []
        best_loss, best_state, self.best_epoch_ = math.inf, None, 0
        per_epoch = min(len(train_targets), self.max_windows_per_epoch)
        for epoch in range(1, fitting.epochs + 1):
            started = time.perf_counter()
            model.train()
            chosen = train_targets[rng.permutation(len(train_targets))[:per_epoch]]
            total = 0.0
            for lo in range(0, per_epoch, self.batch_size):
                idx = torch.from_numpy(chosen[lo:lo + self.batch_size]).to(device)
                forecast_err, recon_err = model.errors(model.windows(series, idx))
                loss = forecast_err.mean() + recon_err.mean()
                model.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                total += float(loss.detach()) * len(idx)
            val_loss = self._validation_loss(model, series, val_targets)
            if val_loss < best_loss or best_state is None:
                best_loss, self.best_epoch_ = val_loss, epoch
                best_state = copy.deepcopy(model.state_dict())
            seconds = time.perf_counter() - started
            self.train_losses_.append(total / per_epoch)
            self.validation_losses_.append(val_loss)
            self.epoch_seconds_.append(seconds)
            if fitting.on_epoch is not None:
                fitting.on_epoch(EpochReport(epoch, total / per_epoch, val_loss, seconds))
        model.load_state_dict(best_state)
        return model.eval()

    @torch.no_grad()
    def _validation_loss(self, model: nn.Module, series: torch.Tensor, targets: np.ndarray) -> float:
        model.eval()
        total = 0.0
        step = _call_rows(series, model.context)
        for lo in range(0, len(targets), step):
            idx = torch.from_numpy(targets[lo:lo + step]).to(series.device)
            forecast_err, recon_err = model.errors(model.windows(series, idx))
            total += float((forecast_err.mean(dim=1) + recon_err.mean(dim=1)).sum())
        return total / len(targets)

    # ------------------------------------------------------------------ scoring

    def _raw_errors(self, rows: Rows, targets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Squared forecast and reconstruction errors of the consecutive ``targets`` rows, each ``(len, V)``.

        The network as trained, without its module calls (``_Scorer``); it agrees with the
        trained module to float32 rounding (tests).
        """
        lo, hi = int(targets[0]), int(targets[-1]) + 1
        if type(self.model_) is not JointForecastReconstruction:  # a study's network: its own module
            return _module_errors(self.model_, rows.tensor, targets)
        if getattr(self, "_scorer", None) is None:
            self._scorer = _Scorer(self.model_)
        return self._scorer.errors(rows.tensor, lo, hi)

    def errors(self, rows: Rows, targets: np.ndarray) -> np.ndarray:
        forecast, reconstruction = self._raw_errors(rows, targets)
        forecast /= self.forecast_scale_ ** 2
        forecast += reconstruction / self.reconstruction_scale_ ** 2
        forecast *= 0.5
        return forecast

    # ------------------------------------------------------------------ state

    def state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        tensors, _ = super().state()
        tensors.update({f"weights.{k}": v.detach().cpu().numpy().astype(np.float32)
                        for k, v in self.model_.state_dict().items()})
        meta = {"context": self.context_, "bestEpoch": self.best_epoch_, "trainLosses": self.train_losses_,
                "validationLosses": self.validation_losses_, "epochSeconds": self.epoch_seconds_}
        return tensors, meta

    @classmethod
    def from_state(cls, params, tensors, meta) -> "NetworkBranch":
        branch = super().from_state(params, tensors, meta)
        branch.context_ = int(meta["context"])
        branch.best_epoch_ = int(meta["bestEpoch"])
        branch.train_losses_ = [float(v) for v in meta["trainLosses"]]
        branch.validation_losses_ = [float(v) for v in meta["validationLosses"]]
        branch.epoch_seconds_ = [float(v) for v in meta["epochSeconds"]]
        weights = {k[len("weights."):]: torch.from_numpy(np.array(v, dtype=np.float32))
                   for k, v in tensors.items() if k.startswith("weights.")}
        branch.model_ = branch.build(len(branch.forecast_scale_))
        branch.model_.load_state_dict(weights)
        branch.model_.eval()
        return branch

    def to(self, device: torch.device) -> "NetworkBranch":
        """Move the fitted network to ``device`` (where the detector scores)."""
        self.model_.to(device)
        return self

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "_scorer"}  # rebuilt when first needed


@torch.inference_mode()
def _module_errors(model: nn.Module, series: torch.Tensor, targets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Errors through the module's own ``windows`` and ``errors`` (any network a study builds)."""
    forecast, recon = [], []
    step = _call_rows(series, model.context)
    for lo in range(0, len(targets), step):
        f, r = model.errors(model.windows(series, torch.from_numpy(targets[lo:lo + step]).to(series.device)))
        forecast.append(f.cpu().numpy())
        recon.append(r.cpu().numpy())
    return np.concatenate(forecast), np.concatenate(recon)


class _Scorer:
    """The trained module's forward pass for consecutive rows, functional (no module calls) with the
    weights read once, transposed as the matrix products take them.  The forecaster's first layer reads
    each row's ``context`` rows before it, which lie one after another in the series: ``CALL_ROWS`` rows
    at a time they are copied out as one matrix and multiplied in one product (for many rows a general
    matrix product runs faster than the same sum as a convolution, and a few rows -- detect-last -- take
    the same path)."""

    def __init__(self, model: JointForecastReconstruction) -> None:
        linears = [m for m in model.forecaster if isinstance(m, nn.Linear)]
        self.context = model.context
        self.forecaster = [_layer(m) for m in linears]
        self.autoencoder = [_layer(m) for m in model.autoencoder if isinstance(m, nn.Linear)]

    def errors(self, series: torch.Tensor, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
        if not torch.is_inference_mode_enabled():  # fitting; the detector's scoring calls are in it already
            with torch.inference_mode():
                return self.errors(series, lo, hi)
        n_vars = series.shape[1]
        series = series.contiguous()
        forecast, recon = torch.empty((2, hi - lo, n_vars), dtype=series.dtype, device=series.device).unbind()
        width = self.context * n_vars
        for start in range(lo, hi, CALL_ROWS):
            stop = min(start + CALL_ROWS, hi)
            # row t's window, rows t - context .. t - 1 flattened, starts at element (t - context) * V
            windows = series.as_strided((stop - start, width), (n_vars, 1),
                                        series.storage_offset() + (start - self.context) * n_vars)
            current = series[start:stop]
            out = forecast[start - lo:stop - lo]
            torch.add(series[start - 1:stop - 1], _mlp(windows, self.forecaster), out=out)
            out.sub_(current).mul_(out)
            out = recon[start - lo:stop - lo]
            torch.sub(_mlp(current, self.autoencoder), current, out=out).mul_(out)
        if forecast.device.type != "cpu":
            forecast, recon = forecast.cpu(), recon.cpu()
        return forecast.numpy(), recon.numpy()


def _layer(linear: nn.Linear) -> tuple[torch.Tensor, torch.Tensor]:
    """``(bias, weight transposed)`` of a trained layer, as ``torch.addmm`` takes them."""
    return linear.bias.detach(), linear.weight.detach().T.contiguous()


def _mlp(x: torch.Tensor, layers: list[tuple[torch.Tensor, torch.Tensor]]) -> torch.Tensor:
    """Linear layers with (exact) GELUs between them, as ``nn.Sequential(Linear, GELU, ..., Linear)``."""
    for bias, weight in layers[:-1]:
        x = _gelu(torch.addmm(bias, x, weight))
    return torch.addmm(layers[-1][0], x, layers[-1][1])


def _gelu(x: torch.Tensor) -> torch.Tensor:
    """The exact GELU.  Given a contiguous float32 tensor the CPU's ``gelu`` calls oneDNN, fast on a batch
    but with a fixed cost per call (several microseconds) that is most of what a few rows take; a transposed
    view of a few rows goes to torch's own kernel instead.  Same function, float32 rounding apart."""
    if x.shape[0] <= SMALL_CALL_ROWS:  # not len(x): a Python-level method of Tensor
        return torch.nn.functional.gelu(x.T).T
    return torch.nn.functional.gelu(x)


def _call_rows(series: torch.Tensor, context: int) -> int:
    """Rows per network call: on the CPU at most ``NETWORK_INPUT_FLOATS`` of gathered windows.  glibc hands
    blocks over 32 MB back to the system when freed, so a larger call page-faults its inputs in afresh
    every time (a third of batch scoring's time on SMD); a GPU takes them all."""
    if series.device.type != "cpu":
        return 1 << 30
    return max(1, NETWORK_INPUT_FLOATS // ((context + 1) * series.shape[1]))


class _Adam:
    """Adam (Kingma & Ba, 2015) in a few tensor ops.

    ``torch.optim`` imports ``torch._dynamo`` on its first step, which adds about 75 MB to the peak
    memory of a process; this loop does the same update without it.
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
