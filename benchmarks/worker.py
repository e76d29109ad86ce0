"""Run one method (product or baseline) on given arrays, in its own process.

Same protocol as ``anchor_runner.py`` so that every method is measured the same
way (fresh process, honest peak RSS)::

    python -m benchmarks.worker IN.npz OUT_PREFIX '{"method": "pca", "mode": "fit_score", ...}'

Methods: ``product`` (``workbench.mvad.detector.MultivariateDetector``),
``pca`` (reconstruction error of a PCA fitted on train), ``iforest``
(scikit-learn IsolationForest), ``random`` (uniform scores).  Each baseline's
own threshold is the 99th percentile of its scores on the training data
(``random``: flags 1%), which is what a user would deploy without labels.
"""
from __future__ import annotations

import json
import os
import resource
import sys
import time

import numpy as np

BASELINE_QUANTILE = 0.99


def _peak_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


class _Standardizer:
    """z-score with training statistics; constant training columns keep unit scale."""

    def fit(self, x: np.ndarray) -> "_Standardizer":
        self.mean_ = x.mean(axis=0)
        std = x.std(axis=0)
        self.std_ = np.where(std > 1e-8, std, 1.0)
        return self

    def transform(self, x: np.ndarray) -> np.ndarray:
        return (x - self.mean_) / self.std_


class PCABaseline:
    """Squared reconstruction error of a PCA (95% of train variance) fitted on train."""

    def __init__(self, seed: int = 0, variance: float = 0.95):
        self.seed = seed
        self.variance = variance

    def fit(self, train: np.ndarray) -> "PCABaseline":
        from sklearn.decomposition import PCA
        self.scaler_ = _Standardizer().fit(train)
        self.pca_ = PCA(n_components=self.variance, svd_solver="full", random_state=self.seed)
        self.pca_.fit(self.scaler_.transform(train))
        self.threshold_ = float(np.quantile(self._errors(train).mean(axis=1), BASELINE_QUANTILE))
        return self

    def _errors(self, x: np.ndarray) -> np.ndarray:
        z = self.scaler_.transform(x)
        return (z - self.pca_.inverse_transform(self.pca_.transform(z))) ** 2

    def score(self, x: np.ndarray) -> dict[str, np.ndarray]:
        err = self._errors(x)
        score = err.mean(axis=1)
        total = err.sum(axis=1, keepdims=True)
        contrib = np.divide(err, total, out=np.full_like(err, 1.0 / err.shape[1]), where=total > 0)
        return {"score": score, "is_anomaly": score > self.threshold_, "contributions": contrib}


class IForestBaseline:
    """scikit-learn IsolationForest on z-scored rows (no per-variable contributions)."""

    def __init__(self, seed: int = 0):
        self.seed = seed

    def fit(self, train: np.ndarray) -> "IForestBaseline":
        from sklearn.ensemble import IsolationForest
        self.scaler_ = _Standardizer().fit(train)
        self.forest_ = IsolationForest(n_estimators=100, random_state=self.seed, n_jobs=1)
        self.forest_.fit(self.scaler_.transform(train))
        train_scores = -self.forest_.score_samples(self.scaler_.transform(train))
        self.threshold_ = float(np.quantile(train_scores, BASELINE_QUANTILE))
        return self

    def score(self, x: np.ndarray) -> dict[str, np.ndarray]:
        score = -self.forest_.score_samples(self.scaler_.transform(x))
        return {"score": score, "is_anomaly": score > self.threshold_}


class RandomBaseline:
    """Uniform random scores and contributions: the floor every metric must be read against."""

    def __init__(self, seed: int = 0):
        self.seed = seed

    def fit(self, train: np.ndarray) -> "RandomBaseline":
        self.rng_ = np.random.default_rng(self.seed)
        self.n_vars_ = train.shape[1]
        return self

    def score(self, x: np.ndarray) -> dict[str, np.ndarray]:
        score = self.rng_.random(len(x))
        contrib = self.rng_.random((len(x), self.n_vars_))
        contrib /= contrib.sum(axis=1, keepdims=True)
        return {"score": score, "is_anomaly": score > BASELINE_QUANTILE, "contributions": contrib}


class ProductMethod:
    """The workbench's ``MultivariateDetector`` behind the same fit/score shape as the baselines."""

    def __init__(self, window: int, epochs: int | None, seed: int, threads: int, detector: dict | None = None):
        self.window = window
        self.epochs = epochs
        self.seed = seed
        self.threads = threads
        self.detector = detector or {}  # other detector parameters (a study's candidate); {} is the product

    def fit(self, train: np.ndarray, variables: list[str]) -> "ProductMethod":
        from workbench.mvad.detector import MultivariateDetector
        kwargs = {} if self.epochs is None else {"epochs": self.epochs}  # None: the product's default
        self.detector_ = MultivariateDetector(sliding_window=self.window, seed=self.seed,
                                              num_threads=self.threads, **kwargs, **self.detector)
        self.detector_.fit(train, variables)
        return self

    def score(self, x: np.ndarray) -> dict[str, np.ndarray]:
        result = self.detector_.score(x)
        valid = np.asarray(result.valid, dtype=bool)
        out = {"score": np.where(valid, np.asarray(result.score, dtype=np.float64), np.nan),
               "is_anomaly": np.asarray(result.is_anomaly, dtype=bool) & valid,
               "severity": np.where(valid, np.asarray(result.severity, dtype=np.float64), np.nan)}
        contrib = np.asarray(result.contributions, dtype=np.float64)
        out["contributions"] = np.where(valid[:, None], contrib, np.nan)
        return out

    def detect_last(self, x: np.ndarray, top_k: int = 10) -> None:
        """What a detect-last response needs: the last row's score and its contributors' correlation changes
        (from the contributions of the same scoring pass, as ``inference.score_frame`` does)."""
        result = self.detector_.score(x)
        self.detector_.correlation_changes(x, len(x) - 1, top_k, contributions=result.contributions[-1])


def _make(params: dict):
    method, seed = params["method"], int(params.get("seed", 0))
    if method == "pca":
        return PCABaseline(seed=seed)
    if method == "iforest":
        return IForestBaseline(seed=seed)
    if method == "random":
        return RandomBaseline(seed=seed)
    if method == "product":
        epochs = params.get("epochs")
        return ProductMethod(int(params["window"]), None if epochs is None else int(epochs), seed,
                             int(params.get("threads", 1)), params.get("detector"))
    raise SystemExit(f"unknown method {method!r}")


def main(argv: list[str]) -> int:
    in_path, out_prefix, params = argv[1], argv[2], json.loads(argv[3])
    threads = int(params.get("threads", 1))
    t0 = time.perf_counter()
    if params["method"] == "product":
        import torch
        torch.set_num_threads(threads)
        import workbench  # noqa: F401  (import time is part of the product's cost)
    import_s = time.perf_counter() - t0

    data = np.load(in_path, allow_pickle=False)
    variables = [str(v) for v in data["variables"]]
    train = np.asarray(data["train"], dtype=np.float32)
    n_cases = int(sum(1 for k in data.files if k.startswith("test_")))
    model = _make(params)
    t0 = time.perf_counter()
    if params["method"] == "product":
        model.fit(train, variables)
    else:
        model.fit(train)
    fit_s = time.perf_counter() - t0
    report: dict = {"method": params["method"], "mode": params["mode"], "params": params, "import_s": import_s,
                    "fit_s": fit_s, "peak_rss_after_fit_bytes": _peak_rss_bytes(),
                    "n_train_rows": int(len(train)), "n_vars": len(variables)}
    epoch_s = getattr(getattr(model, "detector_", None), "epoch_seconds_", None)
    if epoch_s is not None:
        report["epoch_s"] = [float(s) for s in epoch_s]

    arrays: dict[str, np.ndarray] = {}
    if params["mode"] == "fit_score":
        score_s = []
        for i in range(n_cases):
            test = np.asarray(data[f"test_{i}"], dtype=np.float32)
            key = f"history_{i}"
            history = np.asarray(data[key], dtype=np.float32) if key in data.files else test[:0]
            t0 = time.perf_counter()
            out = model.score(np.vstack([history, test]))
            score_s.append(time.perf_counter() - t0)
            for name, arr in out.items():
                arrays[f"{name}_{i}"] = np.asarray(arr)[len(history):]
        report["score_s"] = score_s
    elif params["mode"] == "latency":
        if not hasattr(model, "detect_last"):
            raise SystemExit(f"{params['method']} has no detect-last path")
        # the smallest request that yields one result: a full window before the last row
        last = np.asarray(data["test_0"], dtype=np.float32)[-(int(params["window"]) + 1):]
        latencies = []
        for _ in range(int(params.get("n_calls", 50))):
            t0 = time.perf_counter()
            model.detect_last(last)
            latencies.append(time.perf_counter() - t0)
        report["latency_s"] = latencies
    else:
        raise SystemExit(f"unknown mode {params['mode']!r}")
    report["peak_rss_bytes"] = _peak_rss_bytes()
    np.savez_compressed(out_prefix + ".npz", **arrays)
    with open(out_prefix + ".json", "w") as fh:
        json.dump(report, fh, indent=1)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("TQDM_DISABLE", "1")
    sys.exit(main(sys.argv))
