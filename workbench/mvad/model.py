"""The multivariate network: a forecaster and an autoencoder trained jointly.

Each scored row ``t`` is judged two ways, like MTAD-GAT's joint objective:

* **forecast** -- an MLP reads the ``context`` rows before ``t`` (all variables
  at once, so cross-variable and temporal structure are both in view) and
  predicts row ``t`` as a change from row ``t - 1``: surprises in time.
* **reconstruction** -- an autoencoder squeezes row ``t`` through a bottleneck
  of about a third of the variables and rebuilds it: rows that break the usual
  relations between variables (a nonlinear PCA).

Both branches are small MLPs.  Beside this network the detector keeps a linear
reconstruction (a PCA of the rows, :mod:`workbench.mvad.linear`), which took
GutenTAG's VUS-PR from 0.52 to 0.73 where no network change within the speed
bounds moved it beyond the seed spread (below).  ``benchmarks/model_search.py`` ran this design
and the alternatives through the same training and scoring (100 epochs, seed
0, VUS-PR): joint MLP SMD 0.53 / SKAB 0.89 in 27 s; an MTAD-GAT-style network
(convolution, feature and temporal attention, GRU, forecast and
reconstruction heads) 0.53 / 0.90 in 419 s; linear autoencoder (PCA) 0.51 /
0.89; the autoencoder alone 0.47 / 0.91; the forecaster alone 0.52 / 0.55; a
GRU forecaster 0.49 / 0.57; the harness's PCA baseline 0.46 / 0.80.  Equal
accuracy at a fifteenth of the cost decided for the joint MLP.  A 64-row
context moved SMD up (+0.03) and SKAB down (-0.04) at 60% more time.

**Long context (``long_bins``, off by default).**  The forecaster can also
read the whole sliding window, not only its last ``context`` rows: the
``long_bins x bin_rows`` rows before the scored one as ``long_bins`` bin
means (running means over ``bin_rows`` rows, computed once per call by
:meth:`prepare` and gathered per row by :meth:`gather`), fed beside the dense
context.  ``benchmarks/quality_study.py`` (issue 15) ran 32 bins against the
default through the same pipeline (VUS-PR, mean +- std over seeds): 29
GutenTAG sets 0.522 +- 0.009 against 0.520 +- 0.003 (3 seeds), worse on the
temporal kinds it was meant for (frequency 0.66 vs 0.72, pattern 0.40 vs
0.42, pattern-shift 0.32 vs 0.34), better on mean and amplitude shifts; SMD
0.471 +- 0.014 vs 0.471 +- 0.027 and SKAB 0.89 vs 0.86 (2 seeds, spread
0.02-0.08 per seed); 1.5-2.2x the epoch time and half the batch-scoring
rows/s.  Not ahead beyond the seed spread, so not the default.  In the same
study a 64-row context was ahead on GutenTAG (0.537 +- 0.006) and level on
SMD / SKAB, but at 1.8-2.0x the epoch time and half the scoring rate (the
speed bounds) and worse on frequency and pattern anomalies; a 32-row context
of every other row (``stride``: 63 rows back at today's cost) was slightly
behind (0.513 +- 0.010).  Both are parameters, off by default.
"""
from __future__ import annotations

import torch
from torch import nn


def default_latent(n_variables: int) -> int:
    """Bottleneck width: a third of the variables, at least 2 (at most ``n_variables``)."""
    return max(1, min(n_variables, max(2, n_variables // 3)))


class JointForecastReconstruction(nn.Module):
    """Forecast and reconstruct the last row of ``(batch, context + 1, variables)`` windows."""

    def __init__(self, n_variables: int, context: int, hidden: int = 128, latent: int | None = None,
                 long_bins: int = 0, bin_rows: int = 1, stride: int = 1, horizon: int = 1) -> None:
        super().__init__()
        latent = latent or default_latent(n_variables)
        self.n_variables = n_variables
        self.context = context
        self.long_bins = long_bins
        self.bin_rows = bin_rows
        self.stride = stride  # the context is every ``stride``-th row back from the previous one
        self.horizon = horizon  # the context ends ``horizon`` rows before the forecast row
        # rows before the scored one that the network reads
        self.lookback = max(horizon + (context - 1) * stride, long_bins * bin_rows)
        self.forecaster = nn.Sequential(
            nn.Flatten(),
            nn.Linear((context + long_bins) * n_variables, hidden), nn.GELU(),
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

    def prepare(self, series: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """What :meth:`gather` reads for a ``(T, variables)`` series: the series and, with a long
        context, its running means over ``bin_rows`` rows (``pooled[i]`` = mean of rows ``i .. i + bin_rows - 1``,
        each computed from its own rows only, so batch and streaming scores agree)."""
        if not self.long_bins:
            return series, None
        pooled = torch.nn.functional.avg_pool1d(series.T.unsqueeze(0), self.bin_rows, stride=1)[0].T
        return series, pooled

    def gather(self, prepared, targets: torch.Tensor):
        """Network inputs for the ``targets`` rows: ``(batch, context + 1, V)`` windows and, with a long
        context, ``(batch, long_bins, V)`` bin means covering the ``long_bins x bin_rows`` rows before each."""
        series, pooled = prepared
        past = torch.arange(-self.horizon - (self.context - 1) * self.stride, 1 - self.horizon, self.stride,
                            device=series.device)
        offsets = torch.cat([past, torch.zeros(1, dtype=past.dtype, device=series.device)])
        windows = series[targets[:, None] + offsets]
        if pooled is None:
            return windows, None
        starts = torch.arange(-self.long_bins * self.bin_rows, 0, self.bin_rows, device=series.device)
        return windows, pooled[targets[:, None] + starts]

    def forward(self, windows: torch.Tensor, bins: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """``(forecast, reconstruction)`` of the last row, each ``(batch, variables)``."""
        past, current = windows[:, :-1], windows[:, -1]
        inputs = past if bins is None else torch.cat([past.flatten(1), bins.flatten(1)], dim=1)
        forecast = past[:, -1] + self.forecaster(inputs)
        return forecast, self.autoencoder(current)

    def errors(self, inputs) -> tuple[torch.Tensor, torch.Tensor]:
        """Squared forecast and reconstruction errors per variable, each ``(batch, variables)``.

        ``inputs``: what :meth:`gather` returns, or plain ``(batch, context + 1, V)`` windows."""
        windows, bins = inputs if isinstance(inputs, tuple) else (inputs, None)
        forecast, reconstruction = self(windows, bins)
        current = windows[:, -1]
        return (forecast - current) ** 2, (reconstruction - current) ** 2
