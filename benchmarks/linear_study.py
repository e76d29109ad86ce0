"""Linear study (issue 15): which linear branch, beside the network, and with what share.

The network's smoothed, scaled per-variable errors are those ``quality_study.py`` cached for the
``joint`` candidate (the network alone; 100 epochs, seeds 0-2).  Each linear variant is deterministic
and cheap, so it is computed here from the same normalised rows, scaled by its held-out RMS (floored),
smoothed like the network's errors, and combined per variable before the product's aggregation,
threshold rule and metrics (``quality_study.bench_metrics``).  The adopted variant runs the product's
own code (``workbench.mvad.linear``); the product trained with it gives the same errors to 1e-4
(``quality_study --candidates joint_pca``, which is the evidence in ``results/quality_study.md``).

    .venv/bin/python -m benchmarks.quality_study --cache --candidates joint --seeds 0 1 2   # once
    .venv/bin/python -m benchmarks.linear_study                                             # ~2 min

Variants: ``row`` a PCA of the rows (all variables at once) keeping ``variance`` of the training
variance; ``window-L`` one PCA per variable of its last ``L`` rows (the shape of its recent past), the
residual of the newest row; ``centred`` the row PCA of each row minus the mean of the sliding window
before it (blind to a level that moved as a whole); ``seasonal`` each variable's change from one period
before (TimeEval's "period-aware" idea; the period from the univariate detector).  ``floor``: the least held-out RMS a variable's
residual is scaled by.  ``mean w``: ``(1 - w) x network + w x linear`` per variable; ``max``: the larger.
``codebook-BxK``: the issue's other hint, a path that reads the whole sliding window -- each variable's window as
``B`` block means, its squared distance to the nearest of ``K`` k-means centroids of the training windows (``-c``:
each window's own mean removed first, shape alone); these are mixed with the *product's* errors (``joint_pca``,
the linear branch included), the question being whether they add to it.  So are, for issue 15's temporal
anomalies (``daily_proxy.py``): ``seasonal-gS`` the change from one period before for variables whose period
explains at least ``S`` of their variance (``seasonal2``: the smaller of one and two periods back where both fit);
``analog-GxB`` the analog forecast -- the mean of the training rows whose older context (the window up to ``G``
rows back as ``B`` block means of every variable; ``-p16``: in 16 principal components) is nearest -- with
``-rS`` only for variables it predicts with skill ``S`` over persistence and ``-n`` its error divided by the
context's novelty; ``analog (product)`` is ``workbench.mvad.analog`` itself, as fit builds it (``anchor 0.5`` / ``1``:
with half / all of its prediction following the row's recent level, the product's ``analog_anchor``; default 0).  ``plus w``: the
product's errors plus ``w`` x the variant's (the product keeps its whole error).
Writes ``results/linear_study.md`` and ``.json``.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from benchmarks import quality_study as qs
from workbench.mvad import linear, scoring

HERE = Path(__file__).resolve().parent
CACHE = qs.CACHE / "linear_study"
SMOOTHING = 5
VALIDATION_FRACTION = 0.2

# name -> (kind, variance, floor)
VARIANTS = {
    "row 0.95, floor 0.1": ("row", 0.95, 0.1),
    "row 0.99, floor 0.1": ("row", 0.99, 0.1),
    "row 0.90, floor 0.03": ("row", 0.90, 0.03),
    "row 0.95, floor 0.03": ("row", 0.95, 0.03),
    "row 0.99, floor 0.03": ("row", 0.99, 0.03),
    "row 0.995, floor 0.03": ("row", 0.995, 0.03),
    "row 0.99, floor 0.01": ("row", 0.99, 0.01),
    "window-16, floor 0.1": ("window-16", 0.95, 0.1),
    "window-32, floor 0.1": ("window-32", 0.95, 0.1),
    "centred, floor 0.1": ("centred", 0.99, 0.1),
    "seasonal, floor 0.1": ("seasonal", 0.0, 0.1),
    "codebook-16x64, floor 0.1": ("codebook-16x64", 0.0, 0.1),
    "codebook-16x64-c, floor 0.1": ("codebook-16x64-c", 0.0, 0.1),
    "seasonal-g0.8, floor 0.1": ("seasonal-g0.8", 0.0, 0.1),
    "seasonal-g0.5, floor 0.1": ("seasonal-g0.5", 0.0, 0.1),
    "seasonal2-g0.8, floor 0.1": ("seasonal2-g0.8", 0.0, 0.1),
    "analog-24x16, floor 0.1": ("analog-24x16", 0.0, 0.1),
    "analog-24x16-p16, floor 0.1": ("analog-24x16-p16", 0.0, 0.1),
    "analog-24x16-p16-r0.5, floor 0.1": ("analog-24x16-p16-r0.5", 0.0, 0.1),
    "analog-24x16-p16-r0.8, floor 0.1": ("analog-24x16-p16-r0.8", 0.0, 0.1),
    "analog-24x16-p16-n, floor 0.1": ("analog-24x16-p16-n", 0.0, 0.1),
    "analog-24x16-p16-r0.5-n, floor 0.1": ("analog-24x16-p16-r0.5-n", 0.0, 0.1),
    "analog-24x16-p16-r0.8-n, floor 0.1": ("analog-24x16-p16-r0.8-n", 0.0, 0.1),
    "analog (product)": ("analog-product", 0.0, scoring.ERROR_FLOOR),
    # the product's branch with another share of its prediction following the row's recent level (``anchor``)
    "analog (product), anchor 0.5": ("analog-product-a0.5", 0.0, scoring.ERROR_FLOOR),
    "analog (product), anchor 1": ("analog-product-a1", 0.0, scoring.ERROR_FLOOR),
}
BESIDE_PRODUCT = ("codebook-16x64, floor 0.1", "codebook-16x64-c, floor 0.1", "seasonal-g0.8, floor 0.1",
                  "seasonal-g0.5, floor 0.1", "seasonal2-g0.8, floor 0.1", "analog-24x16, floor 0.1",
                  "analog-24x16-p16, floor 0.1")   # mixed with joint_pca
GATED = ("seasonal-g0.8, floor 0.1", "seasonal-g0.5, floor 0.1", "seasonal2-g0.8, floor 0.1",
         "analog-24x16-p16-r0.5, floor 0.1", "analog-24x16-p16-r0.8, floor 0.1",
         "analog-24x16-p16-r0.5-n, floor 0.1", "analog-24x16-p16-r0.8-n, floor 0.1")
BESIDE_PRODUCT += GATED[3:] + ("analog (product)", "analog (product), anchor 0.5", "analog (product), anchor 1")
ADOPTED = "row 0.99, floor 0.03"
ADOPTED_BESIDE = "analog (product)"  # added on top of the product's errors at 0.25 (``scoring.ANALOG_WEIGHT``)
COMBINATIONS = ("linear alone", "mean 0.3", "mean 0.5", "mean 0.7", "max")


def _row_errors(mean: np.ndarray, components: np.ndarray):
    m, c = torch.from_numpy(mean), torch.from_numpy(components)
    return lambda rows: linear.residuals(torch.from_numpy(rows.astype(np.float32)), m, c).numpy()


def _window_errors(train: np.ndarray, length: int, variance: float):
    """One PCA per variable of its last ``length`` rows; the squared residual of the newest row."""
    def windows(column):
        return column[np.arange(length - 1, len(column))[:, None] + np.arange(1 - length, 1)]
    fits = []
    for v in range(train.shape[1]):
        w = windows(train[:, v])
        fits.append(linear.fit_components(w[np.linspace(0, len(w) - 1, min(len(w), 20_000)).astype(int)], variance))

    def errors(rows):
        out = np.full(rows.shape, np.nan)
        for v, (mean, comps) in enumerate(fits):
            x = windows(rows[:, v]) - mean
            out[length - 1:, v] = (x - (x @ comps) @ comps.T)[:, -1] ** 2
        return out
    return errors


def _centred(rows: np.ndarray, window: int) -> np.ndarray:
    total = np.cumsum(np.vstack([np.zeros((1, rows.shape[1])), rows]), axis=0)
    out = np.full(rows.shape, np.nan)
    out[window:] = rows[window:] - (total[window:-1] - total[:-window - 1]) / window
    return out


def _seasonal_errors(train: np.ndarray, window: int):
    """Each variable's squared change from one period before (its period from the univariate detector, if
    it has one that fits the window; no error otherwise)."""
    from workbench.univariate._period import detect_period
    periods = [detect_period(train[:, v]) for v in range(train.shape[1])]
    periods = [p if 2 <= p <= window - SMOOTHING else 0 for p in periods]

    def errors(rows):
        out = np.zeros(rows.shape)
        for v, p in enumerate(periods):
            if p:
                out[p:, v] = (rows[p:, v] - rows[:-p, v]) ** 2
        return out
    return errors


def _gated_seasonal_errors(train: np.ndarray, window: int, strength: float, lags: int):
    """Like ``seasonal`` but only for variables whose period explains at least ``strength`` of their
    detrended variance (cross-validated R^2), NaN elsewhere (left to the product); with ``lags`` 2 the
    smaller change from one and from two periods before where both fit the window (an anomaly one period
    back then does not echo)."""
    from workbench.univariate._period import detect_period, seasonal_strength
    periods = []
    for v in range(train.shape[1]):
        p = detect_period(train[:, v])
        ok = 2 <= p <= window - SMOOTHING and seasonal_strength(train[:, v], p) >= strength
        periods.append(p if ok else 0)

    def errors(rows):
        out = np.full(rows.shape, np.nan)
        for v, p in enumerate(periods):
            if p:
                out[:, v] = 0.0
                out[p:, v] = (rows[p:, v] - rows[:-p, v]) ** 2
                if lags == 2 and 2 * p <= window - SMOOTHING:
                    out[2 * p:, v] = np.minimum(out[2 * p:, v], (rows[2 * p:, v] - rows[:-2 * p, v]) ** 2)
        return out
    return errors


def _analog_errors(train: np.ndarray, window: int, gap: int, bins: int, components: int = 0, k: int = 5,
                   references: int = 4000, seed: int = 0, least_r2: float | None = None, novelty: bool = False):
    """Analog forecast: each row's older context (its window's rows up to ``gap`` before it, as ``bins``
    block means of every variable) is matched to the ``k`` nearest of ``references`` training rows' older
    contexts (``components`` > 0: in that many principal components of them); the prediction is the mean of
    their values, the error the squared difference per variable.  What time of day it is, and how strong
    the day, is read from the hours before, so a shape that breaks while its values stay in range shows.
    ``least_r2``: only variables whose training rows outside the references it predicts with at least this
    skill over persistence (1 - its squared error / that of the context's newest block mean) get errors
    (NaN elsewhere: left to the product): a level that merely persists is the network's to follow.
    ``novelty``: a context farther from its nearest training context than 99% of training rows' are has
    no analog to trust; its errors are divided by the squared ratio of the distances."""
    n_vars = train.shape[1]

    def contexts(z):
        out = np.full((len(z), n_vars * bins), np.nan)
        out[gap:] = _block_means(z, window - gap, bins)[:-gap].reshape(len(z) - gap, -1)
        return out
    f = contexts(train)
    rows = np.flatnonzero(np.isfinite(f).all(axis=1))
    rows = np.sort(np.random.default_rng(seed).choice(rows, min(len(rows), references), replace=False))
    mean, basis = f[rows].mean(axis=0), None
    if components:
        _, basis = linear.fit_components(f[rows], 1.0)
        basis = basis[:, :components]
    project = (lambda x: (x - mean) @ basis) if components else (lambda x: x - mean)
    ref, target = project(f[rows]), train[rows]
    ref_norm = (ref ** 2).sum(axis=1)
    keep = np.ones(n_vars, dtype=bool)
    usual = [np.inf]  # squared distance to the nearest reference that 99% of training rows stay within

    def errors(z):
        x = contexts(z)
        out = np.full(z.shape, np.nan)
        good = np.flatnonzero(np.isfinite(x).all(axis=1))
        for lo in range(0, len(good), 4096):
            g = good[lo:lo + 4096]
            p = project(x[g])
            d = ref_norm[None] - 2 * p @ ref.T
            nearest = np.argpartition(d, k, axis=1)[:, :k]
            out[g] = (z[g] - target[nearest].mean(axis=1)) ** 2
            if novelty:
                centred = x[g] - mean
                gone = (centred ** 2).sum(axis=1) - (p ** 2).sum(axis=1)   # outside the kept components
                dist = np.maximum(d.min(axis=1) + (p ** 2).sum(axis=1) + gone, 0.0)
                out[g] /= np.maximum(1.0, dist / usual[0])[:, None]
        out[:, ~keep] = np.nan
        return out
    if novelty:
        others = np.setdiff1d(np.flatnonzero(np.isfinite(f).all(axis=1)), rows)
        others = others[np.linspace(0, len(others) - 1, min(len(others), 4000)).astype(int)]
        own = len(others) < 100  # every training row is a reference: the nearest other than itself
        x = f[rows] if own else f[others]
        p = project(x)
        gone = ((x - mean) ** 2).sum(axis=1) - (p ** 2).sum(axis=1)
        dist = np.partition(ref_norm[None] - 2 * p @ ref.T, 1 if own else 0, axis=1)[:, 1 if own else 0] \
            + (p ** 2).sum(axis=1) + gone
        usual[0] = max(float(np.quantile(dist, 0.99)), 1e-12)
    if least_r2 is not None:
        others = np.setdiff1d(np.flatnonzero(np.isfinite(f).all(axis=1)), rows)
        others = others[np.linspace(0, len(others) - 1, min(len(others), 4000)).astype(int)]
        fitted = errors(train)[others]
        newest = f[others].reshape(len(others), n_vars, bins)[:, :, -1]   # persistence: the context's last block
        naive = ((train[others] - newest) ** 2).mean(axis=0)
        keep[:] = 1 - fitted.mean(axis=0) / np.maximum(naive, 1e-12) >= least_r2
    return errors


def _product_analogs(z: np.ndarray, cut: int, window: int, anchor: float = scoring.ANALOG_ANCHOR):
    """The product's analog branch as ``MultivariateDetector`` fits it (span: the window less the smoothing);
    NaN before a row's context is complete, 0 for variables that do not take part."""
    from workbench.mvad import analog
    fitted = analog.fit(z, cut, window - SMOOTHING + 1, seed=0, anchor=anchor)

    def errors(rows):
        out = np.zeros(rows.shape)
        if fitted is None or not fitted.active:
            return out
        start = analog.reach(fitted.layout) - 1
        out[:start] = np.nan
        out[start:] = analog.errors(fitted, rows, np.arange(start, len(rows)))
        return out
    return errors


def _block_means(z: np.ndarray, window: int, bins: int) -> np.ndarray:
    """(T, V, bins): each row's last ``window`` rows as ``bins`` block means (NaN before a full window)."""
    width = max(1, window // bins)
    total = np.vstack([np.zeros((1, z.shape[1])), np.cumsum(z, axis=0, dtype=np.float64)])
    out = np.full((len(z), z.shape[1], bins), np.nan)
    ends = np.arange(width * bins - 1, len(z))
    for b in range(bins):
        hi = ends - (bins - 1 - b) * width + 1
        out[ends, :, b] = (total[hi] - total[hi - width]) / width
    return out


def _codebook_errors(train: np.ndarray, window: int, bins: int, k: int, centred: bool, iterations: int = 25):
    """Per variable: k-means (``k`` centroids, Lloyd) of up to 4,000 training windows' block means; a row's
    error is its window's squared distance to the nearest centroid, per bin."""
    def shapes(z):
        x = _block_means(z, window, bins)
        return x - x.mean(axis=2, keepdims=True) if centred else x
    blocks = shapes(train)[window:]
    chosen = blocks[np.linspace(0, len(blocks) - 1, min(len(blocks), 4000)).astype(int)]
    rng = np.random.default_rng(0)
    books = []
    for v in range(train.shape[1]):
        x = chosen[:, v]
        centroids = x[rng.choice(len(x), size=min(k, len(x)), replace=False)].copy()
        for _ in range(iterations):
            nearest = ((x ** 2).sum(1)[:, None] - 2 * x @ centroids.T + (centroids ** 2).sum(1)).argmin(1)
            for j in range(len(centroids)):
                if (nearest == j).any():
                    centroids[j] = x[nearest == j].mean(0)
        books.append(centroids)

    def errors(rows):
        x = shapes(rows)
        out = np.full(rows.shape, np.nan)
        ok = np.isfinite(x[:, 0, 0])
        for v, c in enumerate(books):
            d = (x[ok, v] ** 2).sum(1)[:, None] - 2 * x[ok, v] @ c.T + (c ** 2).sum(1)
            out[ok, v] = np.maximum(d.min(1), 0.0) / bins
        return out
    return errors


def _branch(kind: str, variance: float, train: np.ndarray, window: int):
    if kind.startswith("codebook-"):
        bins, k = (int(n) for n in kind.split("-")[1].split("x"))
        return _codebook_errors(train, window, bins, k, centred=kind.endswith("-c"))
    if kind == "row":
        return _row_errors(*linear.fit_components(train, variance))
    if kind == "seasonal":
        return _seasonal_errors(train, window)
    if kind.startswith("analog-"):
        parts = kind.split("-")
        gap, bins = (int(n) for n in parts[1].split("x"))
        novelty = parts[-1] == "n"
        parts = parts[:-1] if novelty else parts
        return _analog_errors(train, window, gap, bins, int(parts[2][1:]) if len(parts) > 2 else 0,
                              least_r2=float(parts[3][1:]) if len(parts) > 3 else None, novelty=novelty)
    if kind.startswith("seasonal"):
        return _gated_seasonal_errors(train, window, float(kind.split("-g")[1]), 2 if kind.startswith("seasonal2") else 1)
    if kind.startswith("window-"):
        return _window_errors(train, int(kind.split("-")[1]), variance)
    rows_of = _row_errors(*linear.fit_components(_centred(train, window)[window:], variance))
    return lambda rows: rows_of(np.nan_to_num(_centred(rows, window)))


def cache_variant(name: str) -> None:
    """Per set: the variant's smoothed, scaled per-variable errors of the held-out rows and the scored rows,
    aligned with ``quality_study``'s cache (same normaliser, split, window and history)."""
    kind, variance, floor = VARIANTS[name]
    folder = CACHE / qs._slug(name)
    folder.mkdir(parents=True, exist_ok=True)
    for _, bench, window in qs._sets(["smd", "skab", "gutentag", "synthetic", "noise"]):
        path = folder / f"{qs._slug(bench.name)}.npz"
        if path.is_file():
            continue
        center, scale = scoring.fit_normalizer(bench.train)
        z = scoring.normalize(bench.train, center, scale)
        cut = len(z) - int(round(len(z) * VALIDATION_FRACTION))
        if kind.startswith("analog-product"):  # the product's own branch (workbench.mvad.analog), as fit builds it
            anchor = float(kind.split("-a")[1]) if "-a" in kind else scoring.ANALOG_ANCHOR
            errors_of = _product_analogs(z, cut, window, anchor)
        else:
            errors_of = _branch(kind, variance, z[:cut], window)
        held = errors_of(z[cut - window:])[window:]
        floors = np.maximum(floor, scoring.indicator_steps(z)) if kind.startswith("analog") else floor
        rms = np.maximum(np.sqrt(np.nanmean(held, axis=0)), floors)   # analog: two-valued columns on their step

        def smoothed(rows: np.ndarray) -> np.ndarray:
            out = np.full(rows.shape, np.nan)
            out[SMOOTHING - 1:] = scoring.trailing_mean(errors_of(rows) / rms ** 2, SMOOTHING)
            out[:window] = np.nan
            return out
        arrays = {"held": smoothed(z[cut - window:])[window:].astype(np.float32)}
        for i, case in enumerate(bench.cases):
            history = case.history[-window:] if case.history is not None else case.test[:0]
            rows = scoring.normalize(np.vstack([history, case.test]), center, scale)
            arrays[f"{i}/errors"] = smoothed(rows)[len(history):].astype(np.float32)
        tmp = path.with_suffix(".tmp.npz")
        np.savez_compressed(tmp, **arrays)
        tmp.replace(path)


def _finite(arrays) -> dict:
    """A variant's cached errors with rows it cannot score (codebook: short histories) at 0."""
    return {key: np.nan_to_num(arrays[key], nan=0.0) for key in arrays.files}


def _combine(how: str, network: np.ndarray, lin: np.ndarray) -> np.ndarray:
    how = how.removeprefix("product + ")
    if how == "network alone":
        return network
    if how == "linear alone":
        return lin
    if how == "max":
        return np.maximum(network, lin)
    w = float(how.split()[1])
    if how.startswith("plus "):  # the variant added on top, the base's errors kept whole
        return network + w * lin
    if how.startswith("hinge "):  # added on top only where it exceeds c held-out mean squares: "hinge w c"
        return network + w * np.maximum(lin - float(how.split()[2]), 0.0)
    return (1.0 - w) * network + w * lin


def combined(name: str | None, how: str, seed: int, base: str = "joint"):
    """The cached sets of one seed (``quality_study.load``'s entries): held-out and per-case scores of the
    ``base`` candidate's errors combined (``how``) with the variant's."""
    for path in sorted((qs.CACHE / base / f"s{seed}").glob("*.npz")):
        arrays = np.load(path)
        entry = json.loads(str(arrays["meta"]))
        if name in GATED:
            other = np.load(CACHE / qs._slug(name) / path.name)
            other = {k: np.where(np.isnan(other[k]), arrays[k], other[k]) if k in arrays.files else other[k]
                     for k in other.files}
        else:
            other = _finite(np.load(CACHE / qs._slug(name) / path.name)) if name else arrays
        top = entry["top"]
        entry["held"] = qs._aggregate(_combine(how, arrays["held"], other["held"]), top)
        entry["case_scores"] = [(qs._aggregate(_combine(how, arrays[f"{i}/errors"], other[f"{i}/errors"]), top),
                                 arrays[f"{i}/labels"]) for i in range(entry["cases"])]
        yield entry


def evaluate(name: str | None, how: str, seeds: list[int], base: str = "joint") -> dict:
    """Per group and GutenTAG kind: mean and std over seeds of VUS-PR, own-flag F1 and flagged share, the
    variant mixed with the ``base`` candidate's cached errors (``joint``: the network alone)."""
    per_seed = []
    for seed in seeds:
        groups: dict[str, list[dict]] = {}
        for entry in combined(name, how, seed, base):
            metrics = qs.bench_metrics(entry)
            groups.setdefault(entry["group"], []).append(metrics)
            if entry["group"] == "GutenTAG":
                groups.setdefault("kind:" + entry["meta"]["kind"], []).append(metrics)
        per_seed.append({g: {k: float(np.mean([m[k] for m in ms if k in m])) for k in ("vus_pr", "f1", "flagged")
                             if any(k in m for m in ms)} for g, ms in groups.items()})
    return {g: {k: qs._mean_std([s[g][k] for s in per_seed]) for k in per_seed[0][g]} for g in per_seed[0]}


def markdown(rows: list[tuple[str, str, dict]], command: str) -> str:
    groups = ("SMD", "SKAB", "GutenTAG", "synthetic")
    lines = ["# Linear study (issue 15)", "", f"Command: `{command}`", "",
             ("VUS-PR and F1 of the product's own flags (no point adjustment), mean ± std over the seeds of the "
              "network's cached errors; noise: share of the Azure i.i.d. noise sample flagged.  The adopted "
              f"default is `{ADOPTED}`, `mean 0.5`, and beside it `{ADOPTED_BESIDE}`, `plus 0.25`.  `seasonal` "
              "alone on the noise sample: no variable has a period, every error is 0 and so is the threshold, "
              "hence 100%."), "",
             "| linear variant | combination | " + " | ".join(f"{g} VUS-PR" for g in groups)
             + " | SMD F1 | GutenTAG F1 | noise flagged |", "|---" * (len(groups) + 5) + "|"]
    for name, how, s in rows:
        cells = [qs._fmt(s[g]["vus_pr"]) for g in groups]
        cells += [qs._fmt(s[g]["f1"]) for g in ("SMD", "GutenTAG")]
        cells.append(f"{100 * s['noise']['flagged'][0]:.2f}%")
        lines.append(f"| {name or '-'} | {how} | " + " | ".join(cells) + " |")
    kinds = sorted(k for k in rows[0][2] if k.startswith("kind:"))
    shown = [r for r in rows if r[0] is None or (r[0] == ADOPTED and r[1] in ("linear alone", "mean 0.5"))
             or (r[0] == ADOPTED_BESIDE and r[1] == "product + plus 0.25")]
    lines += ["", "## GutenTAG VUS-PR per anomaly kind", "",
              "| kind | " + " | ".join(f"{n or 'network'} ({h})" for n, h, _ in shown) + " |",
              "|---" * (len(shown) + 1) + "|"]
    for k in kinds:
        lines.append(f"| {k.split(':', 1)[1]} | " + " | ".join(qs._fmt(s[k]["vus_pr"]) for _, _, s in shown) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    args = parser.parse_args(argv)
    started = time.perf_counter()
    rows = [(None, "network alone", evaluate(None, "network alone", args.seeds)),
            (None, "product (joint_pca)", evaluate(None, "network alone", args.seeds, base="joint_pca"))]
    for name in VARIANTS:
        cache_variant(name)
        if name in BESIDE_PRODUCT:
            hows = ("plus 0.25", "plus 0.5") if name == ADOPTED_BESIDE else \
                ("plus 0.25",) if name.startswith(ADOPTED_BESIDE) else ("plus 0.25", "mean 0.25", "max")
            for how in hows:
                rows.append((name, f"product + {how}", evaluate(name, how, args.seeds, base="joint_pca")))
            continue
        for how in (COMBINATIONS if name == ADOPTED else ("linear alone", "mean 0.5")):
            rows.append((name, how, evaluate(name, how, args.seeds)))
        print(f"{name}: {time.perf_counter() - started:.0f} s", flush=True)
    command = ".venv/bin/python -m benchmarks.linear_study " + " ".join(argv if argv is not None else sys.argv[1:])
    text = markdown(rows, command.strip())
    print(text)
    qs.RESULTS.mkdir(exist_ok=True)
    (qs.RESULTS / "linear_study.md").write_text(text)
    (qs.RESULTS / "linear_study.json").write_text(json.dumps(
        {"command": command.strip(), "seeds": args.seeds,
         "rows": [{"variant": n, "combination": h, "summary": s} for n, h, s in rows]}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
